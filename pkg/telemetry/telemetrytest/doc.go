// Package telemetrytest helps measure what telemetry costs: Switch is a
// tracer provider that traces fully (every span sampled, batched and sent
// over OTLP/HTTP to a local sink) or not at all (the SDK's
// ParentBased(NeverSample), as a service runs with no exporter), switched
// at run time, so a benchmark alternates the two on one warmed server.
package telemetrytest
