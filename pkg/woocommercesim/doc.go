// Package woocommercesim is a strict, in-memory simulator of one WooCommerce
// store (one WordPress site): the REST API v3 under /wp-json/wc/v3, the
// WooCommerce Shipment Tracking extension under
// /wp-json/wc-shipment-tracking/v3, the customer e-mails WooCommerce would
// send, and signed webhooks. dropsync's WooCommerce connector is tested
// against it over real HTTP.
//
// # Authentication
//
// As WooCommerce does it (WC_REST_Authentication): over HTTPS
// ([Config.HTTPS]) the consumer key and secret come as HTTP Basic
// credentials, or as the consumer_key and consumer_secret query
// parameters; over plain HTTP only OAuth 1.0a one-legged is accepted
// (oauth_consumer_key, oauth_timestamp within 15 minutes, oauth_nonce never
// reused, oauth_signature_method HMAC-SHA1 or HMAC-SHA256, oauth_signature
// over the base string with the key "<consumer secret>&"), and Basic
// credentials are ignored. A failure is a 401 with WooCommerce's JSON error
// shape {"code", "message", "data": {"status": 401}}.
//
// # Endpoints
//
//	GET    /wp-json/wc/v3/orders                        list: status, modified_after/_before, after/before,
//	                                                    dates_are_gmt, orderby, order, include, page, per_page (1..100)
//	GET    /wp-json/wc/v3/orders/{id}
//	PUT    /wp-json/wc/v3/orders/{id}                   status (and customer_note)
//	DELETE /wp-json/wc/v3/orders/{id}                   trash, or delete with force=true
//	POST   /wp-json/wc/v3/orders/batch                  update and delete, at most 100 items
//	GET    /wp-json/wc/v3/orders/{id}/notes
//	POST   /wp-json/wc/v3/orders/{id}/notes             customer_note=true e-mails the customer
//	DELETE /wp-json/wc/v3/orders/{id}/notes/{note id}   force=true only (notes have no trash)
//	GET    /wp-json/wc/v3/orders/{id}/refunds
//	GET    /wp-json/wc/v3/settings/email_customer_completed_order/enabled
//	GET    /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings
//	POST   /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings
//	DELETE /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings/{tracking id}
//	GET    /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings/providers
//
// Bodies are read only when sent as application/json, as WordPress does: a
// status sent in a body of another type changes nothing.
//
// Without the extension ([Config.ShipmentTracking] false) its routes answer
// 404 rest_no_route, as WordPress does for a plugin that is not installed.
// Lists carry X-WP-Total, X-WP-TotalPages and a Link header. Dates are
// rendered twice, site-local without a zone (date_modified) and UTC without
// a zone (date_modified_gmt); modified_after is site-local unless
// dates_are_gmt=true, so a client that forgets it reads the wrong window.
//
// # E-mails
//
// The simulator records every customer e-mail WooCommerce would send
// ([Sim.Emails]): "customer_processing_order", "customer_on_hold_order",
// "customer_completed_order" (on every transition to completed, when the
// store's Completed order e-mail is enabled, [Sim.SetCompletedEmail]), with
// the tracking numbers the Shipment Tracking extension adds to it,
// "customer_refunded_order" and "customer_note" (a note added with
// customer_note=true). WooCommerce has no API flag to complete an order
// without its Completed e-mail: only that store setting decides.
//
// # Webhooks
//
// [Sim.AddWebhook] registers a webhook for order.created, order.updated,
// order.deleted or order.restored and sends the activation ping at once:
// a form-encoded POST "webhook_id=N" with no signature, which must get
// exactly 200. Deliveries are asynchronous, as with WooCommerce's Action
// Scheduler: a delivery of a resource still queued is not queued twice, and
// the body (the REST resource; {"id": N} for order.deleted) is built when
// it is sent, so it shows the order as it is then. Headers:
// X-WC-Webhook-Source, -Topic, -Resource, -Event, -Signature (base64
// HMAC-SHA256 of the body with the webhook's secret), -ID and -Delivery-ID,
// which, like WooCommerce's wp_hash(webhook id . time()), is the same for
// two deliveries of one webhook in the same second.
//
// A failed delivery (not 2xx, 301 or 302, or no answer in time) is never
// retried. WooCommerce counts consecutive failures and disables the webhook
// on a failure that finds the count already above
// woocommerce_max_webhook_delivery_failures (5): the simulator does the
// same ([Config.MaxDeliveryFailures]), so six failures are counted and the
// seventh disables it; a disabled webhook sends nothing more until
// [Sim.ActivateWebhook]. A success resets the count.
//
// # Faults
//
// [Faults] injects 429s, 5xx answers, lost answers (the call took effect,
// the client sees a 504), slow answers and dropped webhooks, each on a
// share of calls, from a seeded generator.
package woocommercesim
