// Package wixsim is a strict simulator of the Wix eCommerce platform for
// tests and local runs: the REST API under /ecom/v1 as an http.Handler,
// the merchant's and customers' actions as methods, and webhooks signed as
// Wix signs them, delivered as Wix delivers them.
//
// # API
//
//	GET  /ecom/v1/orders/{id}
//	POST /ecom/v1/orders/search                                   cursor paging, filter, sort
//	POST /ecom/v1/fulfillments/orders/{orderId}/create-fulfillment
//	GET  /ecom/v1/fulfillments/orders/{orderId}
//	PATCH /ecom/v1/fulfillments/{fulfillmentId}/orders/{orderId}  trackingInfo only, no e-mail
//	POST /ecom/v1/fulfillments/orders/bulk/create-fulfillments    1 to 100 orders
//
// Every call is authenticated: "Authorization: <OAuth access token>" with
// no scheme, or "Authorization: <API key>" plus the site in "wix-site-id".
// A missing or unknown credential is a 401, an API key without or outside
// its site a 403, each with Wix's error body {"message", "details":
// {"applicationError": {"code", "description"}}} (validation errors carry
// details.validationError.fieldViolations instead). Each app instance may
// make Config.RateLimit requests (200) per Config.RateWindow (a minute,
// sliding, real time); beyond it the answer is 429 with Retry-After.
// POST bodies must be application/json and hold no unknown fields.
//
// Search Orders never returns INITIALIZED orders, sorts by createdDate
// DESC unless told otherwise, pages by opaque cursors (limit 1 to 100,
// default 100) and filters in Wix's query language ($eq, $ne, $in, $nin,
// $gt, $gte, $lt, $lte, $and) on id, status, paymentStatus,
// fulfillmentStatus, number, createdDate and updatedDate.
//
// Create Fulfillment only works on APPROVED orders. It refuses an unknown
// line item or more than a line's unfulfilled quantity (400), a custom
// shipping provider without trackingLink (400: only the predefined
// Providers get a link from Wix), and a fulfilment that exists already
// (409 ALREADY_EXISTS): one with the same tracking number for any of the
// same line items, or lines with nothing left to fulfil. A line's quantity
// may be split over several fulfilments.
//
// Creating a fulfilment with tracking (by the API, in bulk, or by the
// merchant: Fulfill) sends the customer Wix's shipping confirmation,
// recorded in Emails, unless the site's e-mail is off (Site.ShippingEmailOff,
// SetShippingEmail: a dashboard setting; the API has no per-fulfilment
// switch). A fulfilment without trackingInfo sends none.
//
// # Webhooks
//
// Every change sends events to WebhookConfig.URL: order_created,
// order_approved (actionEvent.body.order: the one to start fulfilment
// from), order_updated, order_canceled, order_payment_status_updated and
// fulfillments_updated. The body is a JWT signed RS256 with the app's key
// (Config.PrivateKey; PublicKeyPEM is what the connector is configured
// with), Content-Type text/plain. Its claims are {"data": "<json>", "iat",
// "exp"}; data parses to {"eventType", "instanceId", "data": "<json>",
// "identity"}; that inner data parses to the event: {"id" (receivers dedupe
// on it), "entityFqdn", "slug", "entityId", "eventTime" and one of
// createdEvent {entity}, updatedEvent {currentEntity}, actionEvent
// {body}}. EncodeClaims and SignRS256 build the same tokens for tests.
//
// A delivery fails on anything but a 200 within 1250 ms and is retried 12
// times over about two days (DefaultRetries), a schedule tests compress
// with WebhookConfig.TimeScale. Faults drop, duplicate and reorder
// deliveries, and answer a share of API calls 429, 500/503 (nothing done)
// or 504 after the change was made (a lost response).
package wixsim
