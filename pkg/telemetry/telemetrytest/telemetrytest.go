package telemetrytest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Switch is a tracer provider that is on (full sampling, exported) or off.
type Switch struct {
	embedded.TracerProvider
	on       atomic.Bool
	onTP     *sdktrace.TracerProvider
	offTP    *sdktrace.TracerProvider
	received atomic.Int64
}

// NewSwitch returns a Switch, off, whose spans, when on, are exported over
// OTLP/HTTP to a sink that reads and discards them. Both providers stop at
// the end of tb.
func NewSwitch(tb testing.TB) *Switch {
	tb.Helper()
	s := &Switch{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.received.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink.URL+"/v1/traces"))
	if err != nil {
		tb.Fatal(err)
	}
	s.onTP = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	s.offTP = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	tb.Cleanup(func() {
		_ = s.onTP.Shutdown(context.Background())
		_ = s.offTP.Shutdown(context.Background())
		sink.Close()
	})
	return s
}

// Set turns tracing on or off.
func (s *Switch) Set(on bool) { s.on.Store(on) }

// Flush exports the spans ended so far.
func (s *Switch) Flush(ctx context.Context) error { return s.onTP.ForceFlush(ctx) }

// Received is how many bytes of spans the sink has been sent.
func (s *Switch) Received() int64 { return s.received.Load() }

// Providers are providers for a service: s's tracer, a meter provider
// with no reader.
func (s *Switch) Providers() *telemetry.Providers {
	return &telemetry.Providers{Tracer: s, Meter: sdkmetric.NewMeterProvider()}
}

// Tracer implements trace.TracerProvider.
func (s *Switch) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &switchTracer{s: s, on: s.onTP.Tracer(name, opts...), off: s.offTP.Tracer(name, opts...)}
}

type switchTracer struct {
	embedded.Tracer
	s       *Switch
	on, off trace.Tracer
}

// Start implements trace.Tracer.
func (t *switchTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if t.s.on.Load() {
		return t.on.Start(ctx, name, opts...)
	}
	return t.off.Start(ctx, name, opts...)
}
