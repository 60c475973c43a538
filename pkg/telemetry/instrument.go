package telemetry

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// GRPCServerHandler is the stats handler of a gRPC server: a server span
// per call, continuing the caller's trace, and the rpc.server metrics.
// Health checks and reflection are left out.
func (p *Providers) GRPCServerHandler() stats.Handler {
	return otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(p.Tracer),
		otelgrpc.WithMeterProvider(p.Meter),
		otelgrpc.WithPropagators(Propagator()),
		otelgrpc.WithFilter(notProbe),
	)
}

// GRPCDialOption makes a gRPC client trace its calls (a client span per
// call, its context sent in the request metadata) and measure them.
func (p *Providers) GRPCDialOption() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(p.Tracer),
		otelgrpc.WithMeterProvider(p.Meter),
		otelgrpc.WithPropagators(Propagator()),
		otelgrpc.WithFilter(notProbe),
	))
}

// notProbe keeps health checks and reflection, which probes and tools
// call every few seconds, out of the traces.
func notProbe(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.") && !strings.HasPrefix(info.FullMethodName, "/grpc.reflection.")
}

// HTTPHandler wraps an HTTP server's handler: a server span per request
// named "<method> <operation>" (continuing a trace the caller sent) and the
// http.server metrics. Probe and /metrics requests are left out.
func (p *Providers) HTTPHandler(h http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(h, operation,
		otelhttp.WithTracerProvider(p.Tracer),
		otelhttp.WithMeterProvider(p.Meter),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !opsPath(r.URL.Path) }),
		otelhttp.WithSpanNameFormatter(func(operation string, r *http.Request) string { return r.Method + " " + operation }),
	)
}

// HTTPTransport wraps an HTTP client's transport (nil: the default): a
// client span per request, its context sent in the request headers, and
// the http.client metrics with p's meter. The span is made by the provider
// of the request context's span, so a client shared by services in one
// process traces each call for the service that made it.
func (p *Providers) HTTPTransport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithMeterProvider(p.Meter),
		otelhttp.WithPropagators(Propagator()),
	)
}

// Ops paths, served next to a service's own endpoints and left out of its
// traces.
const (
	// LivePath answers 200 while the process serves HTTP.
	LivePath = "/livez"
	// ReadyPath answers 200 once the service is ready, 503 before.
	ReadyPath = "/readyz"
	// HealthPath is ReadyPath under its older name.
	HealthPath = "/healthz"
	// MetricsPath serves the service's metrics in the Prometheus format.
	MetricsPath = "/metrics"
)

func opsPath(p string) bool {
	return p == LivePath || p == ReadyPath || p == HealthPath || p == MetricsPath
}
