package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
)

// Providers are one service's tracer and meter providers, and its metrics
// in the Prometheus text format. A service takes them from its context
// (FromContext) and hands them to what it builds: gRPC servers and
// clients, publishers, consumers, HTTP servers.
type Providers struct {
	// Tracer makes the service's spans.
	Tracer trace.TracerProvider
	// Meter makes the service's instruments.
	Meter metric.MeterProvider
	// Metrics serves Meter's metrics in the Prometheus text format; nil
	// when the providers are not New's (then /metrics answers 404).
	Metrics http.Handler

	shutdown func(context.Context) error
}

// Shutdown flushes and stops the providers New made; other Providers have
// nothing to stop.
func (p *Providers) Shutdown(ctx context.Context) error {
	if p == nil || p.shutdown == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// global holds the Providers Setup installed.
var global atomic.Pointer[Providers]

type providersKey struct{}

// WithProviders returns ctx carrying p: the service run with it uses p
// instead of the global providers.
func WithProviders(ctx context.Context, p *Providers) context.Context {
	return context.WithValue(ctx, providersKey{}, p)
}

// FromContext returns the Providers ctx carries (WithProviders), else the
// ones Setup installed, else the global OpenTelemetry providers.
func FromContext(ctx context.Context) *Providers {
	if p, ok := ctx.Value(providersKey{}).(*Providers); ok && p != nil {
		return p
	}
	if p := global.Load(); p != nil {
		return p
	}
	return &Providers{Tracer: otel.GetTracerProvider(), Meter: otel.GetMeterProvider()}
}

// MetricsHandler serves p's metrics in the Prometheus text format, or 404
// when p has none.
func (p *Providers) MetricsHandler() http.Handler {
	if p == nil || p.Metrics == nil {
		return http.NotFoundHandler()
	}
	return p.Metrics
}

// prometheusReader is a reader exposing a meter provider's metrics, with
// the Go runtime's and the process's, on its own registry.
func prometheusReader() (sdkmetric.Reader, http.Handler, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	// Registering on a fresh registry fails only on a duplicate; ignore.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return exp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}), nil
}
