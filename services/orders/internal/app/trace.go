package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// One trace per order journey. The order's first event is stored with the
// trace context of the fact that created it (the store webhook's trace);
// that is the order's journey. Every later decision about the order is
// made in a span of the journey, linked to the trace that brought the fact
// or command in (an AliExpress poll, a PlaceOrders call), and its events
// are stored with that span's context, so the relay's publishes, the
// connectors' commands, their platform calls and the notifier's
// confirmation all join the journey too.

// instrumentation names the tracer of the decide and append spans.
const instrumentation = "github.com/dropsync/dropsync/services/orders/internal/app"

// Span names of the application layer.
const (
	// SpanDecide is the span of one load-and-decide round: the order
	// folded (or taken from the cache) and the aggregate's decision. It is
	// in the order's journey, linked to the caller's trace when that is
	// another.
	SpanDecide = "decide"
	// SpanAppend is the span of appending the decided events; its trace
	// context is stored with them, so the relay's publish continues it.
	SpanAppend = "append"
)

// Span attributes of the application layer.
const (
	attrOrderID  = "dropsync.order.id"
	attrAttempt  = "dropsync.attempt"
	attrEvents   = "dropsync.events"
	attrRevision = "dropsync.expected_revision"
)

// journeys keeps each order's journey: the trace context its first event
// was stored with. It is safe for concurrent use.
type journeys struct {
	c    *lru.Cache[string, trace.SpanContext]
	prop propagation.TextMapPropagator
}

func newJourneys(size int) *journeys {
	c, err := lru.New[string, trace.SpanContext](size)
	if err != nil {
		panic(err) // size is checked positive by New
	}
	return &journeys{c: c, prop: propagator}
}

// remember records the journey of an order from its first event's
// metadata; an order stored without one (before traces were stored) is
// remembered as having none, so it is not looked for again.
func (j *journeys) remember(key string, md map[string]string) {
	var sc trace.SpanContext
	if len(md) > 0 {
		sc = trace.SpanContextFromContext(j.prop.Extract(context.Background(), propagation.MapCarrier(md)))
	}
	j.c.Add(key, sc)
}

// known reports whether the order's journey is known.
func (j *journeys) known(key string) bool { return j.c.Contains(key) }

// learnJourney reads the order's first event for its journey, when the
// order was folded from a snapshot, its journey is not known yet and the
// caller's trace is sampled: one read more, once per order and process,
// only while tracing.
func (a *App) learnJourney(ctx context.Context, key, stream string) {
	if a.journeys.known(key) || !trace.SpanContextFromContext(ctx).IsSampled() {
		return
	}
	for rec, err := range a.store.ReadStream(ctx, stream, 0) {
		if err == nil {
			a.journeys.remember(key, rec.Metadata)
		}
		break
	}
}

// parent is the context a decision about the order is made in: ctx, or
// the order's journey when ctx is in another trace, with a link to ctx's
// span.
func (j *journeys) parent(ctx context.Context, key string) (context.Context, []trace.Link) {
	sc, ok := j.c.Get(key)
	if !ok || !sc.IsValid() {
		return ctx, nil
	}
	caller := trace.SpanContextFromContext(ctx)
	if caller.TraceID() == sc.TraceID() {
		return ctx, nil
	}
	var links []trace.Link
	if caller.IsValid() {
		links = []trace.Link{{SpanContext: caller}}
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc), links
}

// decide loads the order and lets decide return new events, and returns
// the context of the decide span (in the order's journey) for the append.
// The span starts before the load, though its parent is known only after.
func (a *App) decide(ctx context.Context, id order.ID, attempt int, decide func(*order.Order) ([]*eventsv1.Envelope, error)) (context.Context, *order.Order, []*eventsv1.Envelope, error) {
	start := time.Now()
	key := id.String()
	o, err := a.load(ctx, id, attempt > 0)
	if err == nil {
		a.orders.put(key, o)
	}
	parent, links := a.journeys.parent(ctx, key)
	dctx, span := a.tracer.Start(parent, SpanDecide, trace.WithTimestamp(start), trace.WithLinks(links...))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(attribute.String(attrOrderID, key))
		if attempt > 0 {
			span.SetAttributes(attribute.Int(attrAttempt, attempt))
		}
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return dctx, nil, nil, err
	}
	events, err := decide(o)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else if span.IsRecording() {
		span.SetAttributes(attribute.Int(attrEvents, len(events)))
	}
	return dctx, o, events, err
}

// append writes events after the stream's first next events, in a span
// whose trace context is stored with each event (eventstore.EventData's
// Metadata), so whoever delivers them continues the trace. The first
// events of an order start its journey.
func (a *App) append(ctx context.Context, stream string, next uint64, events []*eventsv1.Envelope) (err error) {
	ctx, span := a.tracer.Start(ctx, SpanAppend, trace.WithSpanKind(trace.SpanKindClient))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("db.collection.name", stream), attribute.Int64(attrRevision, int64(next)-1), attribute.Int(attrEvents, len(events)))
	}
	md := traceMetadata(ctx)
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		b, err := envelope.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s: %w", envelope.Type(e), err)
		}
		data[i] = eventstore.EventData{ID: e.GetEventId(), Type: envelope.Type(e), Data: b, ContentType: envelope.ContentType, Metadata: md}
	}
	expected := eventstore.NoStream()
	if next > 0 {
		expected = eventstore.Exact(next - 1)
	}
	_, err = a.store.Append(ctx, stream, expected, data...)
	if key, isOrder := strings.CutPrefix(stream, order.StreamPrefix); err == nil && next == 0 && isOrder {
		a.journeys.remember(key, md)
	}
	return err
}

// traceMetadata is ctx's trace context as event metadata, shared by the
// events of one append (read only); nil without a valid span context.
func traceMetadata(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	md := make(propagation.MapCarrier, 2)
	propagator.Inject(ctx, md)
	return md
}

// propagator writes and reads the trace context stored with events.
var propagator = telemetry.Propagator()
