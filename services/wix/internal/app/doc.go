// Package app carries out the Wix connector's work: the commands addressed
// to Wix stores (FulfillmentRequested, ResyncRequested), the
// reconciliation listing, and the store registry and settings they use.
//
// # Fulfilment, line item by line item
//
// Each FulfillmentRequested names one shipment: the line items (and
// quantities) it carries and its tracking number. Commands makes one Wix
// fulfilment of exactly those lines, so two items shipped at different
// times become two fulfilments, each created once however often the
// command is delivered: Wix answers 409 ALREADY_EXISTS to a fulfilment
// with the same tracking number for the same lines (or for lines with
// nothing left to fulfil), and the connector then lists the order's
// fulfilments and counts the 409 as done only when one matches its own
// tracking number and lines (domain.Ours).
//
// # Shipping confirmations on Wix
//
// The notifier decides, once per shipment, whether the customer is told
// (channel "wix.fulfillment_email"). Wix's Create Fulfillment API has no
// "notify customer" parameter (its body is lineItems, trackingInfo and
// fulfilment status fields): Wix sends its "Shipping confirmation" e-mail
// itself when a fulfilment with a tracking number is added, as long as
// the site's setting (eCommerce / Checkout settings > Emails &
// Notifications > Shipping confirmation) is on. That setting is the
// merchant's, in the dashboard; no public API lets an app switch it or
// suppress the e-mail per fulfilment. So the fulfilment is always created
// with its tracking info, and Wix e-mails if the site's setting is on:
// dropsync never drops a tracking number to avoid an e-mail, and the
// orders service refuses to turn a Wix store's confirmation setting off
// (order.PlatformFacts.CannotSkipConfirmation). SKIP_NOT_SYNCED fulfils
// nothing. FulfillmentPushed.customer_notified is true on a NOTIFY
// decision; whether Wix then mailed depends on the site's setting, which
// the API does not show.
package app
