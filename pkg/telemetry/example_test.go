package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"

	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Every line logged with a traced context carries its trace and span ids.
func ExampleNewLogHandler() {
	inner := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // a stable output for the example
			}
			return a
		},
	})
	log := slog.New(telemetry.NewLogHandler(inner))

	// A span context as a consumer gets it from message headers.
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	log.InfoContext(ctx, "order placed", "order_id", "shopify:acme:1001")
	log.Info("no context, no ids")
	// Output:
	// {"level":"INFO","msg":"order placed","order_id":"shopify:acme:1001","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
	// {"level":"INFO","msg":"no context, no ids"}
}

// Setup runs first in a service's run function; its shutdown runs last.
func ExampleSetup() {
	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "orders", Exporter: telemetry.ExporterNone})
	if err != nil {
		panic(err)
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()
	// ... start servers and consumers; the bus carries trace context.
	// Output:
}

// A service's own providers, handed to it through its context: what it
// builds with FromContext (gRPC servers and clients, webhook servers, the
// bus) traces and measures with them, and Metrics serves /metrics.
func ExampleWithProviders() {
	ctx := context.Background()
	p, err := telemetry.New(ctx, telemetry.Config{ServiceName: "orders", Exporter: telemetry.ExporterNone})
	if err != nil {
		panic(err)
	}
	defer func() { _ = p.Shutdown(context.WithoutCancel(ctx)) }()
	ctx = telemetry.WithProviders(ctx, p)
	// ... service.RunOn(ctx, ...)
	fmt.Println(telemetry.FromContext(ctx) == p)
	// Output: true
}
