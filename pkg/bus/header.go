package bus

import (
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// Message headers set by Publisher. Nats-Msg-Id (jetstream.MsgIDHeader) is
// the event id; the W3C trace context travels as "traceparent",
// "tracestate" and "baggage".
const (
	// HeaderEventType is the event's type name, e.g. "StoreOrderCreated", so
	// tools can read it without decoding the body.
	HeaderEventType = "Dropsync-Event-Type"
	// HeaderOrderID is the envelope's order id, readable where the subject
	// has it encoded.
	HeaderOrderID = "Dropsync-Order-Id"
	// HeaderContentType is the body's content type (envelope.ContentType).
	HeaderContentType = "Content-Type"
)

// Headers added to a dead letter, next to the original headers.
const (
	// HeaderDLQReason says why the message was dead-lettered: "decode: ...",
	// a permanent error, or the last error after MaxDeliver attempts.
	HeaderDLQReason = "Dropsync-Dlq-Reason"
	// HeaderDLQStream is the stream the message came from.
	HeaderDLQStream = "Dropsync-Dlq-Stream"
	// HeaderDLQSubject is the message's original subject.
	HeaderDLQSubject = "Dropsync-Dlq-Subject"
	// HeaderDLQConsumer is the durable consumer that gave up.
	HeaderDLQConsumer = "Dropsync-Dlq-Consumer"
	// HeaderDLQDeliveries is how many times the message was delivered to
	// that consumer.
	HeaderDLQDeliveries = "Dropsync-Dlq-Deliveries"
	// HeaderDLQSequence is the message's sequence in its original stream.
	HeaderDLQSequence = "Dropsync-Dlq-Sequence"
	// HeaderDLQOrigPrefix prefixes original headers that JetStream would
	// act on again ("Nats-Msg-Id", "Nats-Expected-..."): they are kept as
	// "Dropsync-Dlq-Orig-Nats-Msg-Id" and so on.
	HeaderDLQOrigPrefix = "Dropsync-Dlq-Orig-"
)

// HeaderCarrier adapts nats.Header to propagation.TextMapCarrier, so trace
// context is injected into and extracted from message headers.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set sets key to value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys present.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
