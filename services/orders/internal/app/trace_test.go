package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/orders/internal/app"
)

// TestOneTracePerOrderJourney: the events an order's first fact makes are
// stored with the trace context of their append; a later fact that comes
// on another trace is decided in the order's journey, linked to its own
// trace, by this App and by a fresh one (another replica, a restart) that
// learns the journey from the stream.
func TestOneTracePerOrderJourney(t *testing.T) {
	s := newStore(t)
	exp := tracetest.NewInMemoryExporter()
	tel := &telemetry.Providers{Tracer: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))}
	newTraced := func() *app.App {
		return app.New(s, noRevisions{}, app.Config{Telemetry: tel}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	tracer := tel.Tracer.Tracer("test")
	const id = "shopify:acme:7001"

	a := newTraced()
	webhook, span := tracer.Start(context.Background(), "webhook")
	if err := a.HandleFact(webhook, storeFact(id, "created", false)); err != nil {
		t.Fatal(err)
	}
	span.End()
	journey := span.SpanContext().TraceID()

	for rec, err := range s.ReadStream(context.Background(), order.StreamName(id), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Metadata["traceparent"] == "" {
			t.Fatalf("event %d stored without trace context: %v", rec.Revision, rec.Metadata)
		}
	}

	for name, a := range map[string]*app.App{"same app": a, "fresh app": newTraced()} {
		exp.Reset()
		poll, span := tracer.Start(context.Background(), "poll")
		fact := storeFact(id, "paid-"+name, true)
		if err := a.HandleFact(poll, fact); err != nil {
			t.Fatal(err)
		}
		span.End()
		var decide sdktrace.ReadOnlySpan
		for _, sp := range exp.GetSpans().Snapshots() {
			if sp.Name() == app.SpanDecide {
				decide = sp
			}
		}
		if decide == nil {
			t.Fatalf("%s: no decide span", name)
		}
		if got := decide.SpanContext().TraceID(); got != journey {
			t.Errorf("%s: decide in trace %s, want the journey %s", name, got, journey)
		}
		if l := decide.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != span.SpanContext().SpanID() {
			t.Errorf("%s: decide links %v, want one to the poll span %s", name, l, span.SpanContext().SpanID())
		}
	}
}
