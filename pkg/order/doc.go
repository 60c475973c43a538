// Package order is the order aggregate: one store order (Shopify,
// WooCommerce, Wix) folded from its events, and the decisions dropsync takes
// about it. It is pure: no I/O, no clock, no randomness. Time, settings and
// supplier mappings come in as arguments ([Context], [PlaceCommand]); the
// ids of new events are derived deterministically from what caused them
// ([DeriveEventID]).
//
// # Ids and streams
//
// An order id is "<platform>:<store>:<store order id>" ([ID], [ParseID],
// [NewID]), e.g. "shopify:acme:5012345678"; its store key is
// "<platform>:<store>" and its event stream "order-<id>" ([StreamName]).
//
// # Using it
//
// The orders service loads an order by folding its stream ([Rebuild], or
// [Order.Apply] event by event), then either takes in a fact with
// [Order.Handle] or runs a command ([Order.Place], [Order.Retry],
// [Order.FulfillManually], [Order.Resync], [Order.ResolveConflict],
// [Order.CheckAttention]). Each returns the events to append — nothing is
// changed in the order — and the service appends them with the expected
// revision Revision()-1 ("no stream" when Revision() is 0), then applies
// them. On a concurrency error it loads the order again and decides again;
// because new event ids are deterministic, deciding again after a crash gives
// the same ids, and the event store drops a retried append.
//
// [Order.Apply] is the one switch over event types. It never fails: unknown
// events and events naming things the order does not have change nothing but
// the revision.
//
// # Tabs
//
// The tab ([Order.Tab]) is derived from the folded state each time it is
// asked for, never stored; OrderStatusChanged events are recorded for
// watchers, not read back. The first rule that holds decides:
//
//  1. Fulfilled — fulfilled by hand (rules 5, 6) or on the store by someone
//     else (rule 7), whatever else is true;
//  2. Canceled — canceled or refunded on the store, wholly or partly, or
//     lines canceled at the supplier that are not placed again (rule 8);
//  3. Failed — the last placement failed at the supplier or was rejected by
//     dropsync (SKU_NOT_MAPPED) and lines are still not placed (rule 9);
//  4. Pending — the customer's payment is not captured (rule 1);
//  5. Awaiting order — active lines (not canceled on the store, not
//     fulfilled elsewhere) not all placed;
//  6. Fulfilled — every active line shipped and written to the store;
//  7. Awaiting fulfillment — every active line shipped, a fulfilment not
//     written to the store yet; or some lines shipped and a shipped part not
//     yet asked of the store (the store waits for the whole order:
//     WooCommerce always, Shopify with the whole-order setting).
//     Awaiting shipment — some lines shipped, every shipped part asked of the
//     store (the store fulfils each part now: Shopify's each-part setting,
//     Wix always), the rest awaits shipment;
//  8. Awaiting shipment — every supplier order paid (or shipped); else
//     Awaiting payment.
//
// Step 7 is derived from the FulfillmentRequested events recorded, so the
// tab never depends on settings at fold time. A placement in flight does not
// change the tab: an order stays in Awaiting order, Failed or Canceled until
// the supplier answers.
//
// # Facts and decisions
//
// Every store event carries the store's whole order; whichever comes first
// creates the order, so a payment captured before the creation webhook, or a
// cancel as first event, folds sensibly. A snapshot older than the one held
// (by store_updated_at) changes nothing. A shipment proves its placement and
// payment, so supplier facts may come in any order too.
//
// A store cancel or refund that names lines applies to those lines only
// (rule 8): the order shows Canceled, and its other lines are still placed,
// shipped and fulfilled; one that names no line cancels the whole order,
// which is never placed again. Lines canceled at the supplier may be placed
// again ([Order.Retry], or [Order.Place]).
//
// From a fact, [Order.Handle] decides (see [Policy]):
//
//   - FulfillmentRequested: each-part stores (Shopify's setting, Wix always)
//     get one per shipment as it ships; whole-order stores (WooCommerce
//     always, Shopify's setting) get one for the whole order, completes_order
//     set, once every active line has tracking. A request asks only for what
//     the store still has to fulfil (not canceled, not fulfilled elsewhere,
//     not asked before), at most once per shipment, and never once the order
//     was fulfilled by hand or on the store — its shipments are then
//     "not synced".
//   - TrackingUpdateRequested: a shipment written to the store got a new
//     tracking number (not after rules 5-7).
//   - ConflictDetected: the store changed line items, quantities or the
//     shipping address of an order dropsync holds (rule 11). dropsync keeps
//     its own version and refuses to place until [Order.ResolveConflict];
//     a store version already reported or already decided is not reported
//     again.
//   - AttentionRaised when the store refuses a fulfilment;
//     [Order.CheckAttention] flags a supplier order paid with no tracking
//     after N days, and a shipment not delivered whose tracking has not
//     moved for M hours (SPEC "Watching"; DSers: 7 days, 48 hours).
//   - OrderStatusChanged when the tab changed.
//
// SupplierTrackingProgressed folds a shipment's newest tracking checkpoint
// and its delivery into the shipment; it decides nothing, and clears a
// TRACKING_STALE attention. A checkpoint no newer than the one held, or
// anything after delivery, says nothing new (nil, nil); one for a shipment
// the order does not have gives [ErrUnknownShipment], so that the service
// retries it until the shipment's SupplierShipmentCreated is in.
//
// A StoreOrderFulfilled that dropsync asked for — its store fulfillment id
// came back in a FulfillmentPushed, one of its tracking numbers was in a
// FulfillmentRequested, or it has no tracking and covers only lines dropsync
// asked to fulfil — is dropsync's own echo, not a fulfilment on the store.
// Any other is the merchant's or another app's (rule 7): for the lines it
// names, or the whole order when it names none.
//
// A StoreFulfillmentCanceled (a fulfilment cancelled on the store, or ended
// in failure) undoes what that fulfilment did: a foreign one's lines are
// open again (exactly what it added), and dropsync's own leaves its
// shipments failed, not pushed, with a FULFILLMENT_FAILED attention. Its id
// is remembered, so a StoreOrderFulfilled of it arriving late changes
// nothing. A StoreTrackingChanged records the tracking the store shows for
// a fulfilment; numbers the order already holds for it (dropsync's own
// echo) say nothing new, and a change made on the store never makes
// dropsync send its own numbers again.
//
// Fulfilment attempts: each FulfillmentRequested is one attempt at a
// shipment (attempt 1 first). A FulfillmentFailed of the latest attempt,
// permanent or retryable (the connector publishes it only past its retry
// horizon), leaves the shipments it covers failed with the store's reason
// and raises FULFILLMENT_FAILED; one of an earlier attempt is stale.
// [Order.RetryFulfillment] records the next attempt for each failed
// fulfilment, its event id derived from the shipment and the attempt.
//
// ShippingConfirmationIssued is decided by the notifier, and taken in by
// Handle only when it is the first for a fulfilled shipment of an order
// still synced, with the store's setting on (rule 4); [Order.ConfirmationsDue]
// lists the shipments due.
//
// # Duplicates and idempotency
//
// Duplicates are decided in the aggregate, so deduplication outlives any
// broker's window: the order keeps the ids of every event it applied (16
// bytes each), Apply folds an id only once, and Handle returns nil, nil for
// an id already applied. Facts that say nothing new (a poll repeating a known
// supplier payment, an unchanged store order) also return nil, nil.
//
// Every command carries a request id (rule 10). The order records it with
// the command's events; the same request id again returns nil, nil — the
// same outcome, nothing new ([Order.Request] tells what it was) — and a
// request id reused for another command is refused ([ErrRequestReused]).
// Refusals record nothing: asking again is evaluated again. One request id
// may place many orders (bulk): event ids include the order id.
//
// # Errors
//
// Sentinels are compared with errors.Is. A refusal that follows from a SPEC
// rule is a [*RuleError] carrying the rule's code (e.g.
// RULE_5_FULFILLED_MANUALLY) for the gRPC layer's FailedPrecondition;
// [Code] gives the code of any error of this package.
//
// # Cost
//
// Folding runs at millions of events per second (BenchmarkRebuild: 6.5M to
// 7.5M events/s, 8 allocations for a 22-event order, on a noisy 2-core test
// machine). A fulfilled two-line order rebuilt from stored events keeps about
// 3.4 KB of heap (BenchmarkOrderMemory), mostly the store snapshot and the
// supplier and shipment messages it points into; the documented budget is
// 8 KiB per order, checked by TestOrderMemoryBudget.
//
// Each decision works on a copy of the order ([Order.Clone]); the copy
// shares the order's set of seen event ids, which is persistent (immutable
// sorted levels shared between copies, a short tail copied), so a decision
// costs the same at an order's first event as at its 500th
// (BenchmarkHandleAt), not a copy of every id seen.
//
// # Snapshots
//
// [Order.Snapshot] encodes the order's whole state (seen ids included) and
// [FromSnapshot] restores it: restoring and folding the events after the
// snapshot's revision gives the order folding every event gives (the fuzz
// test goes on from a restored order at every step). The format has a
// version, [SnapshotVersion]; a snapshot of another version is refused
// with [ErrSnapshotVersion] and the caller folds the events instead. Both
// are pure: the orders service stores the bytes beside the event store.
package order
