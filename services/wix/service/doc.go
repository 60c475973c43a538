// Package service wires the Wix connector: configuration, the NATS
// connection, the webhook endpoint, the command consumer, the settings
// follower and one reconciler per store, started together and stopped
// together.
package service
