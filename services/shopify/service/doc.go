// Package service wires the Shopify connector: configuration, the NATS
// connection, the webhook endpoint, the command consumer and the
// reconciliation passes, started together and stopped together.
package service
