// Package domain holds what the Wix connector decides, with no I/O: how a
// Wix order, fulfilment or webhook event (after the JWT is verified)
// becomes dropsync events with deterministic ids, which Wix shipping
// provider a supplier's logistics name becomes, what a fulfilment request
// sends to Wix, and which of an order's fulfilments is one dropsync made.
package domain
