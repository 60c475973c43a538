package app

import "errors"

// Sentinel errors. Compare with [errors.Is]. Refusals that follow from a
// SPEC rule are [*order.RuleError] values instead (RULE_4_SHIPMENT_NOT_FULFILLED).
var (
	// ErrNotFound: the ledger has no decision for the shipment.
	ErrNotFound = errors.New("notifier: no confirmation recorded for the shipment")
	// ErrOrderNotFound: the orders service does not know the order.
	ErrOrderNotFound = errors.New("notifier: order not found")
	// ErrOrdersUnavailable: the orders service could not be reached or
	// failed; nothing was recorded, asking again is safe.
	ErrOrdersUnavailable = errors.New("notifier: orders service unavailable")
	// ErrLedgerUnavailable: the ledger could not be read or written.
	ErrLedgerUnavailable = errors.New("notifier: ledger unavailable")
	// ErrNotPublished: the decision is recorded but its
	// ShippingConfirmationIssued event is not stored on the bus yet; asking
	// again returns the decision and publishes it.
	ErrNotPublished = errors.New("notifier: decision recorded, event not published")
	// ErrBadPageToken: a page token is not one this filter gave out.
	ErrBadPageToken = errors.New("notifier: invalid page token")
)
