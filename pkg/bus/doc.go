// Package bus carries dropsync's domain events over NATS JetStream: the
// stream topology, a Publisher, and Consume, which runs a durable pull
// consumer with decoding, tracing, retries and dead-lettering as
// middleware, so handlers hold only their decision.
//
// # Topology
//
// Four streams, file storage, created by EnsureStreams:
//
//	STORE_EVENTS     store.<platform>.<store>.<order>
//	SUPPLIER_EVENTS  supplier.<platform>.<store>.<order>
//	ORDER_EVENTS     order.<platform>.<store>.<order>.<EventType>
//	DEAD_LETTER      dlq.<original stream>
//
// The tokens come from the order id "<platform>:<store>:<store order id>";
// each is encoded with EncodeToken, which leaves letters, digits, '-' and
// '_' alone and escapes anything else ('.' is "~2E"), so shop domains and
// store order ids never break a subject and can be read back with
// ParseSubject. Order events end with the event type, so a connector
// subscribes to what is addressed to it, e.g.
// "order.shopify.*.*.FulfillmentRequested" (OrderFilter).
//
// Durability: streams use the synchronous persist mode, and the embedded
// server fsyncs every write (`sync_interval: always`; see
// natsserver.Options.RelaxedSync for the documented way to relax it). An
// external cluster must be run the same way.
//
// # Publishing
//
// Publisher.Publish sets Nats-Msg-Id to the event id, so JetStream drops a
// re-publish inside the duplicate window (Config.DuplicateWindow, 2 h by
// default); beyond it, a duplicate is stored again and consumers must drop
// it: the order aggregate dedupes on event id. It also sets the event type
// (Dropsync-Event-Type), the order id, the content type and the W3C trace
// context, and returns once JetStream has stored the message.
// PublishAsync and PublishBatch pipeline many messages with a bounded number
// in flight.
//
// # Consuming
//
// Consume runs one durable pull consumer with explicit acks. The durable
// name is the consumer's position in the stream: declare it as a constant
// in the service, with a comment that renaming it replays the stream.
//
// A message is acked only after its handler returned nil, so handlers
// return nil only once their effect is durable, and are idempotent: every
// message may come again after a crash, a lost ack or a replay.
//
// Ordering: by default one handler runs at a time per consumer, so messages
// are handled in stream order. With Concurrency n, messages are spread over
// n workers by the order they belong to (the subject's first four tokens):
// events of one order keep their order, different orders run in parallel.
// A failing message does not block the rest: it is naked with a delay and
// the following messages, including later events of the same order, go on.
// So a handler sees an order's events in order except around a retry, and
// must decide on the state it has (the aggregate does). Several processes
// on one durable share its messages and lose per-order ordering between
// them: run one active process per durable.
//
// Failures: an error is retried after ConsumerConfig.Backoff, up to
// MaxDeliver deliveries. Every message that decodes reaches its handler,
// the last delivery marked with Message.Last (also a delivery past
// MaxDeliver, when earlier ones had no outcome), so a handler that can
// report a failure as a fact does so before anything is dead-lettered. A
// Permanent error, an error on the last delivery, or a message that does
// not decode ("decode: ...") is dead-lettered: its
// original bytes and headers go to "dlq.<stream>" with
//
//	Dropsync-Dlq-Reason      why (the last error)
//	Dropsync-Dlq-Stream      the original stream
//	Dropsync-Dlq-Subject     the original subject
//	Dropsync-Dlq-Consumer    the durable that gave up
//	Dropsync-Dlq-Deliveries  how many deliveries it had
//	Dropsync-Dlq-Sequence    its sequence in the original stream
//
// and only once that is stored is the original terminated. Original
// "Nats-*" headers are kept as "Dropsync-Dlq-Orig-Nats-*", so JetStream
// does not act on them twice. A panic in a handler is an ordinary error.
// DeadLetters reads them back.
package bus
