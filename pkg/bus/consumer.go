package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/telemetry"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Defaults of ConsumerConfig.
const (
	// DefaultMaxDeliver is how many times a message is handled before it is
	// dead-lettered.
	DefaultMaxDeliver = 5
	// DefaultAckWait is how long JetStream waits for an ack before it
	// redelivers; Consume extends it while a handler runs.
	DefaultAckWait = 30 * time.Second
	// DefaultHandlerTimeout bounds one handler call.
	DefaultHandlerTimeout = 2 * time.Minute
	// DefaultShutdownTimeout bounds how long in-flight handlers may run
	// after Consume's context ends.
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultPrefetch is how many messages are pulled ahead of the handlers.
	DefaultPrefetch = 128
	// DefaultMaxAckPending bounds the consumer's unacknowledged messages
	// (prefetched, in flight, or waiting for a retry).
	DefaultMaxAckPending = 1000
)

// DefaultBackoff is the redelivery delay after each failed attempt; the
// last one repeats.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// ErrPanic: the handler panicked. A panic is an ordinary, retried error.
var ErrPanic = errors.New("bus: handler panicked")

// Handler processes one message. Returning nil acks it, so return nil only
// once the message's effect is durable. A returned error is retried with
// backoff up to MaxDeliver times, then dead-lettered; wrap it with Permanent
// when retrying cannot help. On the last delivery (Message.Last) a handler
// that can record a failure as a fact (FulfillmentFailed, ...) does so and
// returns nil, so the message ends in a fact rather than a dead letter.
// Handlers must be idempotent: every message can be delivered more than
// once (a crash before the ack, a replay, an at-least-once publisher).
type Handler func(ctx context.Context, msg *Message) error

// Middleware wraps a Handler, e.g. to log or count. Consume always adds
// decoding, tracing, panic recovery, retries and dead-lettering around any
// middleware given.
type Middleware func(Handler) Handler

// Message is one delivered event.
type Message struct {
	// Envelope is the decoded event.
	Envelope *eventsv1.Envelope
	// Subject the message was published on.
	Subject string
	// Header holds the message headers; do not modify it.
	Header nats.Header
	// Data is the encoded envelope.
	Data []byte
	// Stream and Consumer the message was delivered by.
	Stream, Consumer string
	// Sequence is the message's sequence in Stream.
	Sequence uint64
	// Deliveries counts deliveries to this consumer, 1 the first time.
	Deliveries uint64
	// Last is set on the consumer's last delivery of the message (MaxDeliver
	// reached, or passed when earlier deliveries had no outcome): an error
	// returned now dead-letters it, so a handler that can report the
	// failure as a fact does it now.
	Last bool
	// Timestamp is when JetStream stored the message.
	Timestamp time.Time
}

// EventType is the envelope's event type name, e.g. "StoreOrderCreated".
func (m *Message) EventType() string {
	if t := m.Header.Get(HeaderEventType); t != "" {
		return t
	}
	return envelope.Type(m.Envelope)
}

// LastDelivery reports whether m is its message's last delivery: the bus
// says so (Last), or it was delivered maxDeliver times, for a handler
// driven without the bus, as in tests.
func (m *Message) LastDelivery(maxDeliver int) bool {
	return m.Last || maxDeliver > 0 && m.Deliveries >= uint64(maxDeliver)
}

// permanentError marks an error retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that will never succeed (a rule the event
// breaks, a payload the handler cannot use): the message is dead-lettered
// at once instead of being retried. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// laterError asks for a redelivery after a delay, even on the last one.
type laterError struct {
	err   error
	after time.Duration
}

func (e *laterError) Error() string { return e.err.Error() }
func (e *laterError) Unwrap() error { return e.err }

// RetryLater marks err as a failure the handler could still cure later
// but has no fact to record for: the message is redelivered after the
// delay after, even on its last delivery, instead of being dead-lettered
// (a command that would succeed once a peer is back, or whose effect is
// done and only its fact could not be published yet). Past MaxDeliver
// each such delivery is logged at ERROR. RetryLater(nil, d) is nil.
func RetryLater(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &laterError{err: err, after: after}
}

// RetryLaterDelay reports whether err, or an error it wraps, was marked
// with RetryLater, and its delay.
func RetryLaterDelay(err error) (time.Duration, bool) {
	var l *laterError
	if !errors.As(err, &l) {
		return 0, false
	}
	return l.after, true
}

// ConsumerConfig configures Consume. Stream and Durable are required.
type ConsumerConfig struct {
	// Stream to consume, e.g. StreamStore.
	Stream string
	// Durable names the consumer; JetStream keeps its position under this
	// name. Callers declare it as a constant: renaming it creates a new
	// consumer that replays the whole stream.
	Durable string
	// FilterSubjects restricts the consumer to these subjects (wildcards
	// allowed); empty takes the whole stream.
	FilterSubjects []string
	// MaxDeliver is how many times a message is handled before it is
	// dead-lettered with the last error. Default DefaultMaxDeliver.
	MaxDeliver int
	// AckWait is how long JetStream waits for an ack before redelivering.
	// While a handler runs, Consume tells JetStream it is in progress every
	// AckWait/2, so a slow handler is not redelivered; but prefetched
	// messages wait too, so keep AckWait above Prefetch x handler time /
	// Concurrency. Default DefaultAckWait.
	AckWait time.Duration
	// Backoff is the delay before the next attempt after the n-th failed
	// one (index n-1, the last repeats), with ±10% jitter. Default
	// DefaultBackoff.
	Backoff []time.Duration
	// Concurrency is how many handlers run at once. Messages are
	// partitioned by order (the subject's first four tokens), so events of
	// one order are handled one at a time, in stream order. Default 1.
	Concurrency int
	// Prefetch is how many messages are pulled ahead of the handlers.
	// Default DefaultPrefetch.
	Prefetch int
	// MaxAckPending bounds the unacknowledged messages JetStream hands to
	// this consumer. Default DefaultMaxAckPending.
	MaxAckPending int
	// HandlerTimeout bounds one handler call; its context is canceled then
	// and the call counts as failed. Default DefaultHandlerTimeout.
	HandlerTimeout time.Duration
	// ShutdownTimeout is how long in-flight handlers may still run after
	// Consume's context ends before their contexts are canceled. Default
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Middleware wraps the handler, first outermost.
	Middleware []Middleware
	// Logger receives retries, dead letters and panics; default
	// slog.Default().
	Logger *slog.Logger
	// Started, if set, is called once the durable consumer exists and its
	// messages are being pulled (a service's readiness waits for it).
	Started func()
}

// withDefaults fills zero fields.
func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Prefetch == 0 {
		c.Prefetch = DefaultPrefetch
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = DefaultHandlerTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c ConsumerConfig) Validate() error {
	var errs []error
	if c.Stream == "" {
		errs = append(errs, errors.New("bus: consumer: stream is required"))
	}
	if c.Durable == "" {
		errs = append(errs, errors.New("bus: consumer: durable name is required"))
	} else if strings.ContainsAny(c.Durable, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("bus: consumer: durable name %q has '.', '*', '>' or whitespace", c.Durable))
	}
	if c.MaxDeliver < 0 {
		errs = append(errs, fmt.Errorf("bus: consumer %s: max deliver %d is negative", c.Durable, c.MaxDeliver))
	}
	for name, d := range map[string]time.Duration{"ack wait": c.AckWait, "handler timeout": c.HandlerTimeout, "shutdown timeout": c.ShutdownTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("bus: consumer %s: %s %s is negative", c.Durable, name, d))
		}
	}
	for _, d := range c.Backoff {
		if d < 0 {
			errs = append(errs, fmt.Errorf("bus: consumer %s: backoff %s is negative", c.Durable, d))
		}
	}
	if c.Concurrency < 0 || c.Prefetch < 0 || c.MaxAckPending < 0 {
		errs = append(errs, fmt.Errorf("bus: consumer %s: concurrency, prefetch and max ack pending must not be negative", c.Durable))
	}
	return errors.Join(errs...)
}

// jetstreamConfig is the durable consumer's server-side configuration.
// MaxDeliver is unlimited on the server: Consume counts deliveries itself
// and dead-letters after the last one, so a message never stays behind in
// JetStream's "max deliveries reached" state, where nobody would see it.
// A single filter goes as FilterSubject, so the create request's subject
// carries it and the server checks it: a NATS user allowed only that
// subject cannot widen the filter (pkg/natsperm).
func (c ConsumerConfig) jetstreamConfig() jetstream.ConsumerConfig {
	cfg := c.baseJetstreamConfig()
	if len(cfg.FilterSubjects) == 1 {
		cfg.FilterSubject, cfg.FilterSubjects = cfg.FilterSubjects[0], nil
	}
	return cfg
}

func (c ConsumerConfig) baseJetstreamConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        c.Durable,
		Description:    "dropsync consumer " + c.Durable + " (renaming it replays the stream)",
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.AckWait,
		MaxDeliver:     -1,
		FilterSubjects: c.FilterSubjects,
		MaxAckPending:  c.MaxAckPending,
		ReplayPolicy:   jetstream.ReplayInstantPolicy,
	}
}

// Consume creates or updates the durable pull consumer cfg describes and
// hands its messages to h until ctx ends. Then it stops fetching, hands
// prefetched messages back to JetStream, lets in-flight handlers finish
// (their contexts are canceled after ShutdownTimeout), flushes their acks
// and returns nil. While NATS is unreachable it waits: creating the
// consumer is retried, and pulls resume after a reconnect. It returns an
// error when JetStream refuses the consumer's configuration, or when the
// consumer stops on its own (deleted, connection closed): a restart
// recreates it.
//
// For each message, Consume decodes the envelope (a message that does not
// decode is dead-lettered at once with reason "decode: ..."), starts a
// consumer span (telemetry.FromContext(ctx)'s tracer, the messaging
// semantic conventions) whose parent is the trace context in the headers,
// calls the middleware and h, and recovers a panic as an error. Every decoded message
// reaches h, Message.Last set from the MaxDeliver-th delivery on (also
// past it, when earlier deliveries had no outcome). Then: nil acks; a
// RetryLater error naks it with its own delay, even on the last delivery;
// a Permanent error, or another error on the last delivery, dead-letters
// the message; any other error naks it with the Backoff delay. Dead-letter
// means publishing the original bytes and headers, plus Dropsync-Dlq-*
// headers, to "dlq.<stream>", and only once that is stored, terminating
// the original, so nothing is lost and nothing blocks what follows.
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	cons, err := createConsumer(ctx, js, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return err
	}
	iter, err := cons.Messages(
		jetstream.PullMaxMessages(cfg.Prefetch),
		jetstream.WithMessagesErrOnMissingHeartbeat(false),
	)
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", cfg.Stream, cfg.Durable, err)
	}
	if cfg.Started != nil {
		cfg.Started()
	}

	for i := len(cfg.Middleware) - 1; i >= 0; i-- {
		h = cfg.Middleware[i](h)
	}
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	c := &consumer{
		js:      js,
		cfg:     cfg,
		handler: h,
		hctx:    hctx,
		tracer:  telemetry.FromContext(ctx).Tracer.Tracer(instrumentation),
		prop:    propagator,
		log:     cfg.Logger.With("stream", cfg.Stream, "consumer", cfg.Durable),
		pending: metrics.ConsumerPendingGauge.Series(
			attribute.String(metrics.LabelStream, cfg.Stream), attribute.String(metrics.LabelDurable, cfg.Durable)),
	}

	parts := make([]chan jetstream.Msg, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range parts {
		parts[i] = make(chan jetstream.Msg, 4)
		wg.Go(func() { c.work(parts[i]) })
	}

	// A pull on a consumer that is gone gets no answer the iterator reports,
	// so a watchdog checks every AckWait that the consumer still exists.
	wctx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	watch.Go(func() { c.watch(wctx, cons, iter) })
	runErr := c.dispatch(ctx, iter, parts)
	stopWatch()
	watch.Wait()

	// Stop intake: what was pulled but not started goes back to JetStream
	// at once rather than after AckWait.
	c.stopping.Store(true)
	iter.Drain()
	for {
		msg, err := iter.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			break
		}
		_ = msg.Nak()
	}
	for _, p := range parts {
		close(p)
	}
	cancelLate := time.AfterFunc(cfg.ShutdownTimeout, hcancel)
	wg.Wait()
	cancelLate.Stop()
	if nc := js.Conn(); nc != nil && !nc.IsClosed() {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			c.log.Warn("flush acks", "err", err)
		}
	}
	return runErr
}

// createConsumer creates or updates the durable consumer, again and again
// while NATS is unreachable or the stream is not there yet; a request
// JetStream refuses (a bad configuration) is returned at once, for no
// retry or restart can fix it.
func createConsumer(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig) (jetstream.Consumer, error) {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, cfg.jetstreamConfig())
		if err == nil {
			return cons, nil
		}
		err = fmt.Errorf("consume %s/%s: create consumer: %w", cfg.Stream, cfg.Durable, err)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.Code == 400 && !errors.Is(err, jetstream.ErrStreamNotFound) ||
			errors.Is(err, nats.ErrConnectionClosed) || ctx.Err() != nil {
			return nil, err
		}
		if attempt%10 == 1 {
			cfg.Logger.WarnContext(ctx, "consumer not created yet, will retry", "stream", cfg.Stream, "consumer", cfg.Durable, "err", err, "attempt", attempt)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// consumer is one running Consume.
type consumer struct {
	js       jetstream.JetStream
	cfg      ConsumerConfig
	handler  Handler
	hctx     context.Context // parent of handler contexts: outlives Consume's ctx by ShutdownTimeout
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	log      *slog.Logger
	pending  *metrics.Series // the consumer's lag
	stopping atomic.Bool
	gone     atomic.Pointer[error] // why the watchdog stopped the iterator
}

// watch stops iter, recording why, when the consumer or its stream no
// longer exists.
func (c *consumer) watch(ctx context.Context, cons jetstream.Consumer, iter jetstream.MessagesContext) {
	t := time.NewTicker(c.cfg.AckWait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		info, err := cons.Info(ctx)
		if err == nil {
			c.pending.Set(int64(info.NumPending))
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			c.gone.Store(&err)
			iter.Stop()
			return
		}
	}
}

// dispatch pulls messages and hands each to the worker of its order until
// ctx ends (nil) or the iterator closes (an error).
func (c *consumer) dispatch(ctx context.Context, iter jetstream.MessagesContext, parts []chan jetstream.Msg) error {
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			select {
			case <-ctx.Done():
				// Stopping: the pull ended because Consume's context did.
				// That is the normal way out, not a failure.
				return nil
			default:
			}
			if gone := c.gone.Load(); gone != nil {
				c.log.Error("consumer gone; stopping so that a restart recreates it", "err", *gone)
				return fmt.Errorf("consume %s/%s: %w", c.cfg.Stream, c.cfg.Durable, *gone)
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) ||
				errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrBadRequest) {
				c.log.Error("consumer stopped; stopping so that a restart recreates it", "err", err)
				return fmt.Errorf("consume %s/%s: %w", c.cfg.Stream, c.cfg.Durable, err)
			}
			// Transient: a leadership change, a reconnect. The iterator
			// carries on.
			c.log.Warn("pull", "err", err)
			continue
		}
		p := parts[0]
		if len(parts) > 1 {
			hash := fnv.New32a()
			_, _ = hash.Write([]byte(partitionKey(msg.Subject())))
			p = parts[hash.Sum32()%uint32(len(parts))]
		}
		select {
		case p <- msg:
		case <-ctx.Done():
			_ = msg.Nak()
			return nil
		}
	}
}

// work handles the messages of one partition, one at a time.
func (c *consumer) work(in <-chan jetstream.Msg) {
	for msg := range in {
		if c.stopping.Load() {
			_ = msg.Nak()
			continue
		}
		c.process(msg)
	}
}

// observe records the consumer's lag as of a delivery (the watchdog
// records it every AckWait too, when nothing is delivered) and counts a
// redelivery.
func (c *consumer) observe(meta *jetstream.MsgMetadata) {
	c.pending.Set(int64(meta.NumPending))
	if meta.NumDelivered > 1 {
		metrics.RecordRedelivery(c.hctx, c.cfg.Stream, c.cfg.Durable)
	}
}

// process handles one message and settles it: ack, nak with delay, or dead
// letter.
func (c *consumer) process(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery; cannot happen on a pull consumer.
		c.log.Error("message without metadata", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	m := &Message{
		Subject:    msg.Subject(),
		Header:     msg.Headers(),
		Data:       msg.Data(),
		Stream:     meta.Stream,
		Consumer:   meta.Consumer,
		Sequence:   meta.Sequence.Stream,
		Deliveries: meta.NumDelivered,
		Timestamp:  meta.Timestamp,
	}
	c.observe(meta)
	ctx := c.prop.Extract(c.hctx, HeaderCarrier(m.Header))
	ctx, span := c.tracer.Start(ctx, "process "+c.cfg.Durable,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(m.Subject),
			semconv.MessagingConsumerGroupName(c.cfg.Durable),
			semconv.MessagingMessageID(m.Header.Get(jetstream.MsgIDHeader)),
			semconv.MessagingMessageBodySize(len(m.Data)),
		))
	defer span.End()
	// Only failures are logged, so the logger with the message's attributes
	// is built only then.
	log := func() *slog.Logger {
		l := c.log.With("subject", m.Subject, "seq", m.Sequence, "deliveries", m.Deliveries)
		if m.Envelope != nil {
			l = l.With("event_id", m.Envelope.GetEventId(), "event_type", m.EventType())
		}
		return l
	}

	// Past MaxDeliver, earlier deliveries had no outcome (the handler
	// outlived AckWait, the process stopped while it ran, the dead letter
	// could not be stored): the handler is still called, told it is the
	// last time, so it can turn the message into a fact.
	m.Last = m.Deliveries >= uint64(c.cfg.MaxDeliver)
	env, err := envelope.Unmarshal(m.Data)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		c.deadLetter(ctx, log, msg, m, "decode: "+err.Error())
		return
	}
	m.Envelope = env

	hb := startHeartbeat(msg, c.cfg.AckWait/2)
	err = c.call(ctx, log, m)
	hb.stop()

	var later *laterError
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			log().WarnContext(ctx, "ack", "err", err)
		}
		return
	case c.hctx.Err() != nil:
		// Shutting down and out of time: not the message's fault.
		span.SetStatus(codes.Error, err.Error())
		_ = msg.Nak()
	case errors.As(err, &later) && !IsPermanent(err):
		span.SetStatus(codes.Error, err.Error())
		if m.Last {
			log().ErrorContext(ctx, "handler failed on the last delivery, will retry later", "err", err, "delay", later.after)
		} else {
			log().WarnContext(ctx, "handler failed, will retry later", "err", err, "delay", later.after)
		}
		if err := msg.NakWithDelay(later.after); err != nil {
			log().WarnContext(ctx, "nak", "err", err)
		}
	case IsPermanent(err), m.Last:
		span.SetStatus(codes.Error, err.Error())
		c.deadLetter(ctx, log, msg, m, err.Error())
	default:
		span.SetStatus(codes.Error, err.Error())
		delay := c.backoff(m.Deliveries)
		log().WarnContext(ctx, "handler failed, will retry", "err", err, "delay", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log().WarnContext(ctx, "nak", "err", err)
		}
	}
}

// call runs the handler chain with the handler timeout, turning a panic
// into an error.
func (c *consumer) call(ctx context.Context, log func() *slog.Logger, m *Message) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
			log().ErrorContext(ctx, "handler panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	return c.handler(ctx, m)
}

// backoff is the delay after the n-th failed delivery, with ±10% jitter.
func (c *consumer) backoff(n uint64) time.Duration {
	b := c.cfg.Backoff
	d := b[min(int(n)-1, len(b)-1)]
	if d <= 0 {
		return 0
	}
	return d - d/10 + rand.N(d/5+1)
}

// deadLetter publishes the message to "dlq.<stream>" and then terminates
// it. If the dead letter cannot be stored the message is naked, to be
// dead-lettered on a later delivery: it is never dropped.
func (c *consumer) deadLetter(ctx context.Context, log func() *slog.Logger, msg jetstream.Msg, m *Message, reason string) {
	reason = headerValue(reason, 1024)
	h := make(nats.Header, len(m.Header)+8)
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Nats-") {
			k = HeaderDLQOrigPrefix + k
		}
		h[k] = append([]string(nil), v...)
	}
	h.Set(HeaderDLQReason, reason)
	h.Set(HeaderDLQStream, m.Stream)
	h.Set(HeaderDLQSubject, m.Subject)
	h.Set(HeaderDLQConsumer, m.Consumer)
	h.Set(HeaderDLQDeliveries, strconv.FormatUint(m.Deliveries, 10))
	h.Set(HeaderDLQSequence, strconv.FormatUint(m.Sequence, 10))
	// One dead letter per message and consumer, even if this one is
	// retried after a crash between the publish and the term.
	h.Set(jetstream.MsgIDHeader, m.Stream+":"+m.Consumer+":"+strconv.FormatUint(m.Sequence, 10))

	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.js.PublishMsg(pctx, &nats.Msg{Subject: DeadLetterSubject(m.Stream), Data: m.Data, Header: h}); err != nil {
		delay := c.backoff(m.Deliveries)
		log().ErrorContext(ctx, "dead letter not stored, will retry", "reason", reason, "err", err, "delay", delay)
		_ = msg.NakWithDelay(delay)
		return
	}
	if err := msg.TermWithReason(headerValue(reason, 200)); err != nil {
		log().WarnContext(ctx, "term dead-lettered message", "err", err)
	}
	metrics.RecordDeadLettered(ctx, m.Stream, c.cfg.Durable)
	log().ErrorContext(ctx, "dead-lettered", "reason", reason)
}

// headerValue makes s fit a header value: one line, at most n bytes.
func headerValue(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// heartbeat tells JetStream a message is still being worked on, so a long
// handler does not get its message redelivered under it.
type heartbeat struct {
	mu      sync.Mutex
	msg     jetstream.Msg
	every   time.Duration
	timer   *time.Timer
	stopped bool
}

// startHeartbeat sends InProgress for msg every interval until stop.
func startHeartbeat(msg jetstream.Msg, every time.Duration) *heartbeat {
	hb := &heartbeat{msg: msg, every: every}
	if every <= 0 {
		hb.stopped = true
		return hb
	}
	hb.mu.Lock()
	hb.timer = time.AfterFunc(every, hb.beat)
	hb.mu.Unlock()
	return hb
}

func (hb *heartbeat) beat() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.stopped {
		return
	}
	_ = hb.msg.InProgress()
	hb.timer.Reset(hb.every)
}

func (hb *heartbeat) stop() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.stopped = true
	if hb.timer != nil {
		hb.timer.Stop()
	}
}
