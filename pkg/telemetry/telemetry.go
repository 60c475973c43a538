package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Exporters Config.Exporter accepts.
const (
	// ExporterNone records nothing: spans still get trace and span ids, so
	// logs correlate and trace context crosses services, but no span is
	// sampled or exported by this service.
	ExporterNone = "none"
	// ExporterStdout writes finished spans as JSON lines to Config.Writer
	// (standard output by default); for development.
	ExporterStdout = "stdout"
)

// Config configures Setup.
type Config struct {
	// ServiceName is the service.name of every span, e.g. "orders".
	ServiceName string `envconfig:"SERVICE_NAME"`
	// ServiceVersion is the service.version of every span; optional.
	ServiceVersion string `envconfig:"SERVICE_VERSION"`
	// Exporter is ExporterNone or ExporterStdout; empty means none.
	Exporter string `envconfig:"EXPORTER" default:"none"`
	// SampleRatio is the share of new traces recorded, in (0, 1]; zero
	// means 1. A trace started upstream follows the upstream decision.
	SampleRatio float64 `envconfig:"SAMPLE_RATIO" default:"1"`
	// Writer receives the stdout exporter's output; nil is os.Stdout.
	Writer io.Writer `ignored:"true"`
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ServiceName == "" {
		errs = append(errs, errors.New("telemetry: service name is required"))
	}
	switch c.Exporter {
	case "", ExporterNone, ExporterStdout:
	default:
		errs = append(errs, fmt.Errorf("telemetry: exporter %q: want %q or %q", c.Exporter, ExporterNone, ExporterStdout))
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("telemetry: sample ratio %g: want 0 to 1", c.SampleRatio))
	}
	return errors.Join(errs...)
}

// Setup installs a tracer provider for cfg as the global one, and the W3C
// TraceContext and Baggage propagators as the global propagator. The
// returned function flushes and stops the provider; call it once, at the
// very end of shutdown.
func Setup(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	attrs := []resource.Option{
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)),
		resource.WithTelemetrySDK(),
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(cfg.ServiceVersion)))
	}
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	ratio := cfg.SampleRatio
	if ratio == 0 {
		ratio = 1
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	switch cfg.Exporter {
	case ExporterStdout:
		w := cfg.Writer
		if w == nil {
			w = os.Stdout
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("telemetry: stdout exporter: %w", err)
		}
		opts = append(opts,
			sdktrace.WithBatcher(exp),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	default:
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
	return tp.Shutdown, nil
}

// Propagator is the propagator Setup installs: W3C TraceContext and Baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
