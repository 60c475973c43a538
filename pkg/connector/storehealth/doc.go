// Package storehealth keeps the connection health of a connector's stores
// (the platform refused the store's credentials with a 401 or 403, or took
// them again) and publishes each change as a StoreConnectionChanged event,
// the store connectors' counterpart of the AliExpress connector's
// SupplierConnectionChanged.
//
// A Tracker is the client.HealthObserver of the connector's API client:
// a burst of refusals is one change, the first success after them
// another. Publish sends the changes to the bus in order, none dropped.
//
// A command that fails because the platform refused the credentials is
// held, not failed: Hold turns the error into a bus.RetryLater with a
// growing delay (HoldDelay), so it is never dead-lettered and completes by
// itself once the platform takes the credentials again.
package storehealth
