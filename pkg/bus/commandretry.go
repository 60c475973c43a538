package bus

import "time"

// The store connectors' command retry policy, one for Shopify, WooCommerce
// and Wix: a command that fails for a transient reason (the store's 5xx, a
// timeout, 429 past its budget, the orders service or the notifier
// unreachable) is redelivered after CommandBackoff, growing to an hour,
// for CommandMaxDeliver deliveries: about a day (CommandRetrySpan). A
// store outage of several hours ends with the command carried out; only
// past that horizon does the connector publish the retryable failure fact
// (FulfillmentFailed), and RetryFulfillment can ask again. The connectors'
// configuration defaults are these values (a test in each says so).
const (
	// CommandMaxDeliver is the deliveries of one command under the policy.
	CommandMaxDeliver = 30
	// CommandRetryHorizon is the least time CommandBackoff spreads
	// CommandMaxDeliver deliveries over (without jitter).
	CommandRetryHorizon = 24 * time.Hour
)

// CommandBackoff is the policy's redelivery delay after each failed
// delivery; the last, an hour, repeats.
var CommandBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// RetrySpan is the time from a message's first delivery to its
// maxDeliver-th under a backoff schedule (ConsumerConfig.Backoff: the n-th
// failure waits backoff[n-1], the last repeats), jitter left out.
func RetrySpan(backoff []time.Duration, maxDeliver int) time.Duration {
	var d time.Duration
	for n := 1; n < maxDeliver && len(backoff) > 0; n++ {
		d += backoff[min(n-1, len(backoff)-1)]
	}
	return d
}
