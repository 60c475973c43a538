// Package ports holds what the Shopify connector is asked: the webhook
// decoder (Shopify topics to store events), the command handler
// (FulfillmentRequested, TrackingUpdateRequested, ResyncRequested) and the
// reconciliation lister.
package ports
