// Package telemetry sets up OpenTelemetry tracing and metrics for a dropsync
// service and ties logs to traces.
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
