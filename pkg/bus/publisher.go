package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/telemetry"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// instrumentation names the tracer of this package.
const instrumentation = "github.com/dropsync/dropsync/pkg/bus"

// propagator carries trace context in message headers: W3C TraceContext and
// Baggage, whatever the global propagator is.
var propagator = telemetry.Propagator()

// Defaults of PublisherConfig.
const (
	// DefaultMaxInFlight bounds PublishAsync's unacknowledged messages.
	DefaultMaxInFlight = 1024
	// DefaultAckTimeout bounds the wait for one PubAck.
	DefaultAckTimeout = 10 * time.Second
)

// ErrAckTimeout: JetStream did not acknowledge an async publish in time. The
// message may or may not be stored; publishing it again is safe, the event
// id makes it a duplicate.
var ErrAckTimeout = errors.New("bus: publish ack timeout")

// PublisherConfig tunes a Publisher.
type PublisherConfig struct {
	// MaxInFlight bounds the messages PublishAsync has sent and not yet had
	// acknowledged; PublishAsync blocks when it is reached. The JetStream
	// context's own limit (jetstream.WithPublishAsyncMaxPending, 4000 by
	// default) must not be lower. Default DefaultMaxInFlight.
	MaxInFlight int
	// AckTimeout bounds the wait for each async PubAck. Default
	// DefaultAckTimeout.
	AckTimeout time.Duration
	// Telemetry makes the publish spans; default the global providers.
	Telemetry *telemetry.Providers
}

// EventPublisher is what code that emits events needs of the bus: Publish
// returns once the event is stored (or known as a duplicate). *Publisher is
// one; tests pass recorders. Every package that publishes takes this one
// interface rather than declaring its own.
type EventPublisher interface {
	Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error
}

// Publisher publishes envelopes to JetStream: Nats-Msg-Id is the event id,
// so JetStream drops a re-publish within the stream's duplicate window; the
// event type, order id and content type go into headers, and so does the
// caller's trace context. Publish returns once the message is stored. A
// Publisher is safe for concurrent use.
type Publisher struct {
	js         jetstream.JetStream
	sem        chan struct{}
	ackTimeout time.Duration
	tracer     trace.Tracer
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.JetStream, cfg PublisherConfig) *Publisher {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Telemetry == nil {
		cfg.Telemetry = telemetry.FromContext(context.Background())
	}
	return &Publisher{
		js:         js,
		sem:        make(chan struct{}, cfg.MaxInFlight),
		ackTimeout: cfg.AckTimeout,
		tracer:     cfg.Telemetry.Tracer.Tracer(instrumentation),
	}
}

// Publish publishes env on subject and waits until JetStream has stored it
// (or recognised it as a duplicate, which is not an error).
func (p *Publisher) Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error {
	ctx, span := p.startSpan(ctx, subject, env)
	defer span.End()
	msg, err := newMsg(ctx, subject, env)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("publish %s %s: %w", envelope.Type(env), env.GetEventId(), err)
	}
	return nil
}

// PubFuture is the outcome of one PublishAsync.
type PubFuture struct {
	done chan struct{}
	ack  *jetstream.PubAck
	err  error
}

// Done is closed when the outcome is known.
func (f *PubFuture) Done() <-chan struct{} { return f.done }

// Err is the outcome once Done is closed: nil when the message is stored.
func (f *PubFuture) Err() error {
	<-f.done
	return f.err
}

// Ack is JetStream's acknowledgement once Done is closed, or nil on error.
// Ack().Duplicate tells that the event id was already in the stream.
func (f *PubFuture) Ack() *jetstream.PubAck {
	<-f.done
	return f.ack
}

// Wait waits for the outcome or for ctx to end.
func (f *PubFuture) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PublishAsync sends env on subject without waiting for the PubAck, for
// throughput: many messages travel while earlier ones are being stored. It
// blocks while MaxInFlight messages are unacknowledged, and returns a
// future that tells whether the message is stored. Messages published from
// one goroutine are stored in the order they were sent. Nothing is durable
// until its future says so: a webhook is acknowledged only after Wait.
func (p *Publisher) PublishAsync(ctx context.Context, subject string, env *eventsv1.Envelope) (*PubFuture, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sctx, span := p.startSpan(ctx, subject, env)
	msg, err := newMsg(sctx, subject, env)
	if err != nil {
		<-p.sem
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return nil, err
	}
	paf, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		<-p.sem
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return nil, fmt.Errorf("publish %s %s: %w", envelope.Type(env), env.GetEventId(), err)
	}
	f := &PubFuture{done: make(chan struct{})}
	typ, id := envelope.Type(env), env.GetEventId()
	go func() {
		defer func() { <-p.sem }()
		defer close(f.done)
		defer span.End()
		timer := time.NewTimer(p.ackTimeout)
		defer timer.Stop()
		select {
		case f.ack = <-paf.Ok():
		case err := <-paf.Err():
			f.err = fmt.Errorf("publish %s %s: %w", typ, id, err)
		case <-timer.C:
			f.err = fmt.Errorf("publish %s %s: %w", typ, id, ErrAckTimeout)
		}
		if f.err != nil {
			span.SetStatus(codes.Error, f.err.Error())
		}
	}()
	return f, nil
}

// Outgoing is one message of a batch.
type Outgoing struct {
	// Subject to publish on, e.g. from SubjectFor.
	Subject string
	// Envelope to publish.
	Envelope *eventsv1.Envelope
}

// PublishBatch publishes msgs pipelined, in order, and returns once every
// one is stored; the error joins every failure. On error some messages may
// be stored: publishing the batch again is safe, stored ones are duplicates.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []Outgoing) error {
	futures := make([]*PubFuture, 0, len(msgs))
	var errs []error
	for _, m := range msgs {
		f, err := p.PublishAsync(ctx, m.Subject, m.Envelope)
		if err != nil {
			errs = append(errs, err)
			break
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		if err := f.Wait(ctx); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// startSpan starts the producer span of one publish.
func (p *Publisher) startSpan(ctx context.Context, subject string, env *eventsv1.Envelope) (context.Context, trace.Span) {
	kind, _, _ := strings.Cut(subject, ".")
	return p.tracer.Start(ctx, "send "+kind,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(subject),
			semconv.MessagingMessageID(env.GetEventId()),
		))
}

// newMsg encodes env into a message with the dropsync headers and ctx's
// trace context.
func newMsg(ctx context.Context, subject string, env *eventsv1.Envelope) (*nats.Msg, error) {
	if env.GetEventId() == "" {
		return nil, fmt.Errorf("publish %s: envelope has no event id", envelope.Type(env))
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", env.GetEventId(), err)
	}
	h := make(nats.Header, 8)
	h.Set(jetstream.MsgIDHeader, env.GetEventId())
	h.Set(HeaderEventType, envelope.Type(env))
	h.Set(HeaderContentType, envelope.ContentType)
	if id := env.GetOrderId(); id != "" {
		h.Set(HeaderOrderID, headerValue(id, 1024))
	}
	propagator.Inject(ctx, HeaderCarrier(h))
	return &nats.Msg{Subject: subject, Data: data, Header: h}, nil
}
