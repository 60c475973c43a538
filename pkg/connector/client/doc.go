// Package client is the outbound HTTP machinery every dropsync connector
// uses to call its platform (Shopify, WooCommerce, Wix, AliExpress).
//
// A [Client] wraps an *http.Client and adds, per call:
//
//   - rate limiting per key (a store, an app key): a token bucket whose rate
//     and capacity follow the platform's own signals. An [Observer] reads
//     them from each response — Shopify GraphQL's throttleStatus
//     ([ShopifyGraphQL]), REST's X-Shopify-Shop-Api-Call-Limit
//     ([ShopifyREST]) — and a fixed limit such as Wix's 200 requests a
//     minute is just a [Limit] ([PerMinute]). HTTP 429 with Retry-After
//     pauses the key's bucket for that long, for every caller of the key.
//   - retries of 5xx, 408, 429, timeouts and connection errors, with
//     exponential backoff and full jitter, bounded by MaxAttempts and
//     MaxElapsed, and stopped at once when the context ends.
//   - classification: a platform's [Classifier] turns a response into an
//     error, so that "HTTP 200 with an error body" (AliExpress's
//     error_response) is retried or refused like any other failure.
//
// Errors are [*Error]: the request's method and URL (credentials
// redacted), the status, the attempts made, and whether retrying could
// help ([IsRetryable], [IsPermanent]). A bus handler returns
// [HandlerError](err), which marks permanent failures with bus.Permanent so
// the message is dead-lettered at once instead of being retried.
//
// Credentials never reach error text or logs: query parameters such as
// access_token and sign are replaced by "REDACTED" ([RedactURL],
// [RedactString]); headers and bodies are never part of an error.
//
// Requests are retried as sent, so the body must be replayable
// (http.NewRequestWithContext sets GetBody for bytes and strings readers)
// and the call idempotent on the platform's side (AliExpress out_order_id,
// Shopify idempotency keys). A call that is not idempotent says so with
// [NotIdempotent]: it is retried only when the platform certainly did not
// act on it (429, 503, a refused connection).
package client
