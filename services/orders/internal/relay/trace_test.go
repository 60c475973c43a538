package relay_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/orders/internal/relay"
)

// TestRelayContinuesStoredTrace: an event stored with the trace context of
// the append that made it is published in a span that is a child of that
// context, and the message carries the same trace on.
func TestRelayContinuesStoredTrace(t *testing.T) {
	f := newFixture(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	stored := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	md := map[string]string{"traceparent": "00-" + stored.TraceID().String() + "-" + stored.SpanID().String() + "-01"}
	e := &eventsv1.Envelope{
		EventId: envelope.ID("shopify:s:9", "status"), OrderId: "shopify:s:9", OccurredAt: timestamppb.Now(),
		Event: &eventsv1.Envelope_OrderStatusChanged{OrderStatusChanged: &eventsv1.OrderStatusChanged{To: eventsv1.Tab_TAB_PENDING}},
	}
	b, err := envelope.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(context.Background(), "order-shopify:s:9", eventstore.NoStream(),
		eventstore.EventData{ID: e.GetEventId(), Type: envelope.Type(e), Data: b, Metadata: md}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := relay.New(f.store, bus.NewPublisher(f.js, bus.PublisherConfig{Telemetry: &telemetry.Providers{Tracer: tp}}), f.cp,
		relay.Config{CheckpointEvery: 10 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	f.eventually("the event published", func() bool { return f.published() == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	s, err := f.js.Stream(context.Background(), bus.StreamOrder)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	msgCtx := telemetry.Propagator().Extract(context.Background(), bus.HeaderCarrier(m.Header))
	if got := trace.SpanContextFromContext(msgCtx).TraceID(); got != stored.TraceID() {
		t.Errorf("published message's trace %s, want the stored %s", got, stored.TraceID())
	}
	var send sdktrace.ReadOnlySpan
	f.eventually("the publish span ended", func() bool {
		for _, sp := range exp.GetSpans().Snapshots() {
			if sp.SpanKind() == trace.SpanKindProducer {
				send = sp
				return true
			}
		}
		return false
	})
	if send.Parent().SpanID() != stored.SpanID() || send.SpanContext().TraceID() != stored.TraceID() {
		t.Errorf("publish span %q: trace %s parent %s, want a child of the stored %s/%s",
			send.Name(), send.SpanContext().TraceID(), send.Parent().SpanID(), stored.TraceID(), stored.SpanID())
	}
}
