// Package reconcile is the periodic pass every store connector runs to
// catch what webhooks missed: Shopify tells apps to run one because a
// webhook can be lost or arrive a day late, and WooCommerce, which does not
// retry failed deliveries, depends on it.
//
// Every Interval, a Reconciler asks the platform's Lister for the orders
// changed since its checkpoint (minus an Overlap, for clock skew and for
// orders changed in the same second), publishes the envelopes the Lister
// made of them and then moves the checkpoint, kept in a JetStream key-value
// bucket (KVCheckpoints), to the newest change seen. A failed pass leaves
// the checkpoint where it was.
//
// Event ids are derived from the order and its updated_at (EventID), so
// re-reading an unchanged order publishes a duplicate that JetStream (or,
// past its window, the order aggregate, which ignores snapshots no newer
// than the one it holds) drops. Facts the platform identifies itself (a
// fulfilment, a refund) should carry the ids their webhooks give, so the
// two paths meet on one event. A webhook and a reconciliation of the same
// order state carry different event ids and the same snapshot: the
// aggregate applies whichever comes first and finds nothing new in the
// second.
package reconcile
