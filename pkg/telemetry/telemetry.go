package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Exporters Config.Exporter accepts: the values of DROPSYNC_TRACE_EXPORTER,
// an alias that applies only when OTEL_TRACES_EXPORTER is unset.
const (
	// ExporterNone records nothing: spans still get trace and span ids, so
	// logs correlate and trace context crosses services, but no span is
	// sampled or exported by this service.
	ExporterNone = "none"
	// ExporterStdout writes finished spans as JSON lines to Config.Writer
	// (standard output by default); for development.
	ExporterStdout = "stdout"
	// ExporterOTLP sends spans over OTLP as OTEL_EXPORTER_OTLP_* configure
	// it; the same as OTEL_TRACES_EXPORTER=otlp.
	ExporterOTLP = "otlp"
)

// The OpenTelemetry SDK variables Setup itself looks at; the SDK and
// autoexport read the rest (OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_PROMETHEUS_HOST and _PORT,
// OTEL_TRACES_SAMPLER_ARG).
const (
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envMetricsExporter = "OTEL_METRICS_EXPORTER"
	envTracesSampler   = "OTEL_TRACES_SAMPLER"
	envOTLPEndpoint    = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPTraces      = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPMetrics     = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"

	metricsPrometheus = "prometheus"
)

// Config configures Setup.
type Config struct {
	// ServiceName is the service.name of every span and metric, e.g.
	// "orders"; OTEL_SERVICE_NAME, when set, overrides it.
	ServiceName string `envconfig:"SERVICE_NAME"`
	// ServiceVersion is the service.version of every span; optional.
	ServiceVersion string `envconfig:"SERVICE_VERSION"`
	// Exporter is ExporterNone, ExporterStdout or ExporterOTLP, used only
	// when OTEL_TRACES_EXPORTER is unset; empty means otlp when an OTLP
	// endpoint variable is set, none otherwise.
	Exporter string `envconfig:"EXPORTER"`
	// SampleRatio is the share of new traces recorded, in (0, 1]; zero
	// means 1. A trace started upstream follows the upstream decision.
	// OTEL_TRACES_SAMPLER, when set, replaces it.
	SampleRatio float64 `envconfig:"SAMPLE_RATIO" default:"1"`
	// Writer receives the stdout exporter's output; nil is os.Stdout.
	Writer io.Writer `ignored:"true"`
	// Readers are metric readers added to the meter provider besides the
	// exporter's, e.g. an in-process ManualReader that a live view
	// summarises (metrics.Snapshot).
	Readers []sdkmetric.Reader `ignored:"true"`
	// FixedServiceName keeps ServiceName as the service.name even when
	// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name another: under
	// make run every service shares the process's variables and keeps
	// its own name.
	FixedServiceName bool `ignored:"true"`
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.ServiceName == "" {
		errs = append(errs, errors.New("telemetry: service name is required"))
	}
	switch c.Exporter {
	case "", ExporterNone, ExporterStdout, ExporterOTLP:
	default:
		errs = append(errs, fmt.Errorf("telemetry: exporter %q: want %q, %q or %q", c.Exporter, ExporterNone, ExporterStdout, ExporterOTLP))
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("telemetry: sample ratio %g: want 0 to 1", c.SampleRatio))
	}
	return errors.Join(errs...)
}

// Setup installs, as the global ones, the tracer and meter providers New
// returns for cfg, and the W3C TraceContext and Baggage propagators.
// Instrumentation that is given no providers, and FromContext on a context
// without any, uses these.
//
// The returned function flushes and stops both providers; call it once, at
// the very end of shutdown.
func Setup(ctx context.Context, cfg Config) (shutdown func(context.Context) error, err error) {
	p, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	otel.SetTracerProvider(p.Tracer)
	otel.SetMeterProvider(p.Meter)
	otel.SetTextMapPropagator(Propagator())
	global.Store(p)
	return p.Shutdown, nil
}

// New returns a service's own tracer and meter providers, configured by
// cfg and the standard OpenTelemetry variables, without installing them:
// `make run` gives each service of the process its own, so each keeps its
// service.name.
//
// Traces go where OTEL_TRACES_EXPORTER says (otlp, console, none), else
// where cfg.Exporter says, else over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, else nowhere. Metrics are
// always readable in the Prometheus text format from Providers.Metrics
// (each service serves it as /metrics on its ops port), and go besides
// where OTEL_METRICS_EXPORTER says (otlp, console, none; prometheus adds
// nothing, /metrics is already there), else over OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set.
func New(ctx context.Context, cfg Config) (*Providers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	topts, err := traceOptions(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(append(topts, sdktrace.WithResource(res))...)
	prom, metrics, err := prometheusReader()
	if err != nil {
		return nil, errors.Join(err, tp.Shutdown(ctx))
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if reader, err := metricReader(ctx); err != nil {
		return nil, errors.Join(err, tp.Shutdown(ctx))
	} else if reader != nil {
		mopts = append(mopts, sdkmetric.WithReader(reader))
	}
	for _, r := range cfg.Readers {
		mopts = append(mopts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	return &Providers{
		Tracer:  tp,
		Meter:   mp,
		Metrics: metrics,
		shutdown: func(ctx context.Context) error {
			return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
		},
	}, nil
}

// newResource describes the service: cfg's name and version, overridden by
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	attrs := []resource.Option{
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)),
		resource.WithTelemetrySDK(),
	}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(cfg.ServiceVersion)))
	}
	// Later detectors win: the environment overrides the defaults above.
	attrs = append(attrs, resource.WithFromEnv())
	if cfg.FixedServiceName {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)))
	}
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// traceOptions picks the span exporter and the sampler.
func traceOptions(ctx context.Context, cfg Config) ([]sdktrace.TracerProviderOption, error) {
	var exp sdktrace.SpanExporter
	switch name := tracesExporter(cfg); name {
	case ExporterNone:
	case ExporterStdout:
		w := cfg.Writer
		if w == nil {
			w = os.Stdout
		}
		e, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("telemetry: stdout exporter: %w", err)
		}
		exp = e
	default: // OTEL_TRACES_EXPORTER is set, or otlp.
		e, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: %s %q: %w", envTracesExporter, name, err)
		}
		if !autoexport.IsNoneSpanExporter(e) {
			exp = e
		}
	}
	if exp == nil {
		return []sdktrace.TracerProviderOption{sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample()))}, nil
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp)}
	if _, ok := os.LookupEnv(envTracesSampler); !ok {
		// Without a sampler option the SDK reads OTEL_TRACES_SAMPLER and
		// OTEL_TRACES_SAMPLER_ARG itself.
		ratio := cfg.SampleRatio
		if ratio == 0 {
			ratio = 1
		}
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	}
	return opts, nil
}

// tracesExporter is OTEL_TRACES_EXPORTER when set, else the alias
// cfg.Exporter, else otlp when an OTLP endpoint is set, else none.
func tracesExporter(cfg Config) string {
	if v := os.Getenv(envTracesExporter); v != "" {
		return v
	}
	if cfg.Exporter != "" {
		return cfg.Exporter
	}
	if os.Getenv(envOTLPEndpoint) != "" || os.Getenv(envOTLPTraces) != "" {
		return ExporterOTLP
	}
	return ExporterNone
}

// metricReader is the reader OTEL_METRICS_EXPORTER names, or an OTLP one
// when it is unset and an OTLP endpoint is set; nil for none.
func metricReader(ctx context.Context) (sdkmetric.Reader, error) {
	name := os.Getenv(envMetricsExporter)
	if name == "" && os.Getenv(envOTLPEndpoint) == "" && os.Getenv(envOTLPMetrics) == "" {
		return nil, nil
	}
	if name == metricsPrometheus {
		// Served as /metrics on the ops port already; autoexport's own
		// server would be a second listener (one per service under make
		// run, all on one port).
		return nil, nil
	}
	r, err := autoexport.NewMetricReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s %q: %w", envMetricsExporter, name, err)
	}
	if autoexport.IsNoneMetricReader(r) {
		return nil, nil
	}
	return r, nil
}

// Propagator is the propagator Setup installs: W3C TraceContext and Baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
