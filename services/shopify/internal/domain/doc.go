// Package domain holds what the Shopify connector decides, with no I/O: how
// a Shopify order, fulfilment or refund (from a webhook body or the GraphQL
// API) becomes dropsync events with deterministic ids, which tracking
// company a supplier's logistics name becomes, and how requested line
// quantities are spread over fulfillment orders.
package domain
