// Package telemetry sets up OpenTelemetry tracing and metrics for a dropsync
// service and ties logs to traces.
//
// New makes a service's own Providers (a tracer provider, a meter provider
// with a Prometheus reader behind Providers.Metrics, and whatever the
// OTEL_* variables select); WithProviders hands them to the service through
// its context, and what the service builds takes them with FromContext:
// gRPC servers and clients (GRPCServerHandler, GRPCDialOption), HTTP
// servers and transports (HTTPHandler, HTTPTransport), the bus. `make run`
// gives each service its own, so each keeps its service.name in one
// process.
//
// Setup installs the global tracer and meter providers, configured by the
// standard OTEL_* variables (exporters, OTLP endpoints, Prometheus,
// resource, sampler), and the W3C TraceContext and Baggage propagators,
// which the bus uses to carry trace context in message headers; call it
// first in run, and call the shutdown function it returns last, so spans
// and metrics are flushed. NewLogHandler wraps a slog.Handler so every
// log line written with a context carries that context's trace_id and
// span_id.
package telemetry
