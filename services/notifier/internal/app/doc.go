// Package app decides shipping confirmations: once per shipment, recorded
// in a durable ledger before anything else happens, and announced on the
// bus as a ShippingConfirmationIssued event.
//
// # Ordering between fulfilment and confirmation
//
// dropsync never e-mails a customer itself. The store does, as part of
// creating the fulfilment: Shopify's fulfillmentCreate with notifyCustomer,
// WooCommerce's Completed e-mail, Wix's fulfilment e-mail. So the one
// confirmation of a shipment is a side effect of the one store fulfilment
// of that shipment, and the order of steps is:
//
//  1. decision recorded: the store connector, carrying out a
//     FulfillmentRequested, calls IssueConfirmation. With no record for the
//     shipment yet, the notifier reads the order and the store's settings
//     from the orders service, decides (NOTIFY when the setting is on and
//     dropsync still syncs the order; SKIP otherwise) and records the
//     decision in the ledger with create-if-absent (a JetStream KV bucket,
//     key = order id + shipment id). That write is the commit point: the
//     decision never changes afterwards. For NOTIFY it then publishes
//     ShippingConfirmationIssued (event id derived from order id and
//     shipment id) and marks the record published;
//  2. store fulfilment created with the notify flag: the connector creates
//     the fulfilment, idempotently (one per shipment), with the notify flag
//     set exactly when the decision is NOTIFY, through the one channel the
//     record names;
//  3. the store itself sends the e-mail, atomically with creating the
//     fulfilment.
//
// Why exactly one: an e-mail goes out only when a fulfilment is created
// with the flag; the connector creates at most one fulfilment per shipment;
// and the flag on it comes from a ledger record that is written once and
// read by every later attempt. At most one, then; and at least one for a
// NOTIFY decision, because the connector retries the fulfilment (and asks
// again, getting the same answer) until it exists.
//
// What each crash leaves behind:
//
//   - before the ledger write (connector or notifier down, orders service
//     unreachable): nothing is recorded, nothing is sent; the retry decides
//     afresh, on the settings of that moment;
//   - after the ledger write, before the event is published: the retry
//     returns the recorded decision and publishes; the background pass
//     (Republish) does the same for records nobody asks about again;
//   - after publishing, before marking the record published: the next
//     publish carries the same event id, so JetStream drops it within its
//     duplicate window and the order aggregate drops it by event id beyond;
//   - after IssueConfirmation answered, before the fulfilment is created:
//     the FulfillmentRequested is redelivered, the retry gets the same
//     decision and the fulfilment is created with the same flag: one
//     e-mail, or none;
//   - after the fulfilment was created, before the connector acknowledged:
//     the retry gets the same decision and the connector's idempotent
//     fulfilment finds the existing one (Shopify's fulfillment order is
//     closed, Wix answers 409): no second fulfilment, no second e-mail;
//   - the setting flipped, or the order was fulfilled by hand, between two
//     attempts: the recorded decision stands, so the flag cannot differ
//     between the attempt that may have reached the store and the next;
//   - two notifier replicas deciding the same shipment at once: the ledger
//     create succeeds for one of them; the other reads and returns that
//     record, so both callers get the same decision.
//
// ShippingConfirmationIssued therefore means "the customer is to be told
// through the store's fulfilment", decided and recorded, not that the store
// has delivered the e-mail: it is published before the fulfilment exists.
// If the store refuses the fulfilment for good, no e-mail goes out although
// the record says NOTIFY; a later successful attempt sends exactly that one.
package app
