// Package aliexpresssim is a strict simulator of the AliExpress Open
// Platform's dropshipping APIs, as shared/PLATFORMS.md describes them. It is
// an http.Handler: tests run it on an httptest server, `make run` on a
// listener (Sim.Serve), and a connector talks to it exactly as it would to
// https://api-sg.aliexpress.com.
//
// # What it enforces
//
// Every call goes to /sync?method=<api name> (business APIs) or
// /rest/<path> (system APIs: /rest/auth/token/create and
// /rest/auth/token/refresh), parameters in the query or a form body. The
// simulator checks the system parameters — app_key known, access_token
// valid, not expired and not revoked (business APIs), timestamp in epoch
// milliseconds within Config.TimestampWindow of its clock, sign_method
// sha256, format json, v present — and the signature: every parameter but
// sign, sorted by name, concatenated as key1value1key2value2..., with the
// API path in front for /rest, HMAC-SHA256 keyed with the app secret, in
// upper-case hex. Any violation, an over-quota or over-limit call, or an
// injected fault is answered the way AliExpress does: HTTP 200 with
//
//	{"error_response":{"code":...,"msg":...,"sub_code":...,"sub_msg":...,"request_id":...}}
//
// where code is a string for gateway errors ("IncompleteSignature",
// "IllegalAccessToken", "MissingParameter", "ApiCallLimit") and a number
// for the older numeric ones (7 "App Call Limited" for the daily quota, 27
// "Invalid session" for an expired token, 15 "Remote service error" for a
// business refusal).
//
// Success is {"<method with underscores>_response": {...}}. Lists come
// wrapped in an object named after their element
// ({"aeop_child_order_info": [...]}) and, per Config.Singletons, a
// one-element list sometimes comes as a bare object; with Config.BareLists
// every list is a bare array, as the field tables document. Numeric ids (order,
// product and SKU ids) are JSON numbers; SKU ids exceed 2^53, so a client
// must not decode them as float64.
//
// # APIs
//
//   - aliexpress.ds.order.create: param_place_order_request4_open_api_d_t_o
//     (a JSON string: out_order_id, logistics_address, product_items) and
//     ds_extend_request. Validates the address and every item against the
//     catalog (Sim.AddProduct), is idempotent on out_order_id, and splits
//     the items into one AliExpress order per seller. Besides the real
//     order_list {"number": [...]}, the result lists which order holds which
//     item in order_product_list {"aeop_order_product": [...]} (order_id,
//     product_id, sku_id, sku_attr, product_count): a simulator extension
//     that stands for what a connector would otherwise learn from the
//     orders' child lists once they are visible. Config.OrderIDsOnly
//     leaves it out, as the real API does.
//   - aliexpress.trade.ds.order.get: single_order_query {"order_id": N}. An
//     order is not visible until Config.VisibleAfter (10 s) after its
//     creation, on the simulator's clock.
//   - aliexpress.ds.order.tracking.get: ae_order_id, language; one entry per
//     package, with its items.
//   - aliexpress.ds.order.list: the account's orders by creation window and
//     status, paged.
//   - /rest/auth/token/create (code from Sim.AuthCode) and
//     /rest/auth/token/refresh (refresh_token).
//
// With Config.ChildrenWithoutProductID the children of
// trade.ds.order.get carry sku_id but no product_id, as its sample does.
//
// # Controls
//
// Orders move by the simulator's clock (Config.Now; Clock is a settable
// one) and by controls, as a merchant and a seller would move them:
// Sim.Pay (PLACE_ORDER_SUCCESS -> WAIT_SELLER_SEND_GOODS), Sim.RiskControl
// (RISK_CONTROL for a while), Sim.Ship (some or all items with a tracking
// number: SELLER_PART_SEND_GOODS, then WAIT_BUYER_ACCEPT_GOODS),
// Sim.ChangeTracking, Sim.Cancel (FINISH with children ended CANCELED),
// Sim.Finish. Sim.FailPlacement makes placements fail with a given code,
// Sim.InjectFault answers calls with an error_response, a 5xx or a
// timeout, and every call is recorded (Sim.Calls). The same controls are
// served over HTTP under /_sim/ for `make run`.
package aliexpresssim
