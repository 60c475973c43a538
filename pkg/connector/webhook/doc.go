// Package webhook is the inbound side every store connector shares: an
// http.Handler that turns a platform's signed webhook into domain events
// stored on NATS JetStream, and only then says 200.
//
// One delivery goes through these steps, in this order:
//
//  1. The raw body is read up to Config.MaxBodyBytes (413 beyond it).
//  2. The Verifier checks the signature over the RAW bytes, before anything
//     parses them (401 and the bad_signature counter on failure; nothing is
//     published). HMACVerifier covers detached base64 HMAC-SHA256 headers
//     (Shopify X-Shopify-Hmac-Sha256, WooCommerce X-WC-Webhook-Signature);
//     JWTVerifier covers a body that is itself an RS256 JWT (Wix).
//  3. The Decoder maps the verified payload and headers to a Delivery: a
//     dedupe key made of the platform's own delivery id and zero or more
//     envelopes with deterministic event ids. A payload that does not parse
//     is a 400 with a logged reason; a topic the connector does not use is a
//     200, counted as ignored (ErrIgnored); a decoder that needs the platform
//     and cannot reach it answers 503 (Unavailable), so the platform retries.
//  4. A delivery whose key the Dedupe record holds is a duplicate: 200, not
//     published again.
//  5. Every envelope is published durably (bus.Publisher: Nats-Msg-Id is the
//     event id). A failure answers 503, so the platform delivers again.
//  6. The delivery key is remembered, then the platform gets its 200.
//
// # Deduplication
//
// Three layers, each outliving the one before: JetStream drops a
// re-published event id within the stream's duplicate window (2 h by
// default); the Dedupe record (KVDedupe: a JetStream key-value bucket whose
// TTL, 72 h by default, exceeds every platform's retry window: Shopify
// retries for 4 h, Wix for about 2 days) drops a redelivered webhook
// however late it comes; and the order aggregate ignores an event id it has
// already applied, whatever the age.
//
// # Counters
//
// Handler.Stats returns the counters (accepted, duplicate, bad_signature,
// bad_body, ignored, publish_failed, too_large, unavailable); they are also
// exported as the OpenTelemetry counter "dropsync.webhook.deliveries" with
// the attributes platform and outcome.
package webhook
