// Package shopifysim is a strict Shopify simulator for tests and `make
// run`: the part of the GraphQL Admin API the Shopify connector uses, the
// merchant's side of a shop, and signed webhooks, with faults on demand.
//
// # API
//
// Sim is an http.Handler serving POST /admin/api/<version>/graphql.json
// (optionally behind a "/<shop domain>" prefix, so one address serves
// several shops; the Host header or the access token pick the shop
// otherwise). It enforces what Shopify enforces:
//
//   - X-Shopify-Access-Token must be the shop's token (401 otherwise) and
//     the body application/json with a query;
//   - the query is parsed and validated (github.com/vektah/gqlparser)
//     against the schema subset it serves, written in SDL in
//     schema/admin.graphql (fields, arguments, argument and variable types,
//     input object fields, selections on objects and none on scalars,
//     declared and used variables, fragments), then checked for Shopify's
//     own rules (first or last on connections, at most 250): errors come
//     back as Shopify's do ({"errors":[{message, locations,
//     extensions.code}]}, graphql-ruby's codes); fragments, @skip and
//     @include work as the spec says, @defer and introspection are refused;
//   - every answer carries extensions.cost {requestedQueryCost,
//     actualQueryCost, throttleStatus {maximumAvailable,
//     currentlyAvailable, restoreRate}}: a leaky bucket per shop (1000
//     points, 100 a second by default), charged the requested cost and
//     refunded the difference; a query dearer than what is available gets
//     {"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}]}
//     with HTTP 200, one dearer than the bucket MAX_COST_EXCEEDED.
//
// Served: order(id) with its line items, shipping address, fulfillment
// orders (status, line items with remainingQuantity), fulfilments (status,
// trackingInfo, fulfillmentLineItems) and refunds; orders(first, after,
// query: "updated_at:>='...'", sortKey: UPDATED_AT) with cursors and
// pageInfo; fulfillmentOrder(id); fulfillment(id); shop;
// fulfillmentCreate(fulfillment: FulfillmentInput!) with
// lineItemsByFulfillmentOrder, trackingInfo {company number(s) url(s)} and
// notifyCustomer, refusing with userErrors what Shopify refuses (unknown
// fulfillment order or line, more than the remaining quantity, a closed or
// cancelled fulfillment order, fulfillment orders of two orders, a bad
// tracking URL); and fulfillmentTrackingInfoUpdate.
//
// # Merchant side and webhooks
//
// CreateOrder, MarkPaid, EditQuantity, Cancel (refused once fulfilled, as
// Shopify does), Refund, FulfillByMerchant, CancelFulfillment (the
// fulfilled lines open again, a closed fulfillment order reopens) and
// UpdateTrackingByMerchant change a shop's orders; each
// change, and each fulfilment or tracking change made through the API,
// sends the webhooks Shopify sends (orders/create, orders/paid,
// orders/updated, orders/edited, orders/cancelled, refunds/create,
// fulfillments/create, fulfillments/update, orders/fulfilled,
// orders/partially_fulfilled) with REST-shaped bodies, signed with the
// app secret (X-Shopify-Hmac-Sha256 over the raw body) and the X-Shopify-*
// headers. A delivery that does not get a 2xx within the timeout (5 s) is
// retried 8 times (on a shortened schedule by default) with the same body
// and event id.
//
// # Faults and records
//
// Faults (SetFaults) inject 429 with Retry-After, 5xx, answers lost after
// the effect happened (504), slow answers, and dropped, duplicated and
// reordered webhooks, each as a share of calls, optionally aimed at one
// operation. Fulfillments, Notifications, TrackingUpdates, Deliveries and
// Stats record what happened, so a test can assert "exactly one fulfilment
// per shipment, exactly one e-mail".
package shopifysim
