package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/slogtest"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/dropsync/dropsync/pkg/telemetry"
)

func TestSetupStdout(t *testing.T) {
	var out bytes.Buffer
	shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "orders", Exporter: telemetry.ExporterStdout, Writer: &out})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "place order")
	if !span.SpanContext().IsSampled() {
		t.Error("span not sampled with ratio 1")
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Name":"place order"`, `"Value":"orders"`, span.SpanContext().TraceID().String()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("exported spans lack %s:\n%s", want, out.String())
		}
	}
	fields := otel.GetTextMapPropagator().Fields()
	for _, f := range []string{"traceparent", "tracestate", "baggage"} {
		if !slices.Contains(fields, f) {
			t.Errorf("propagator fields %v lack %s", fields, f)
		}
	}
}

func TestSetupNoneStillHasIDs(t *testing.T) {
	shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	defer span.End()
	if sc := span.SpanContext(); !sc.IsValid() || sc.IsSampled() {
		t.Errorf("span context valid %v, sampled %v; want ids for logs, nothing recorded", sc.IsValid(), sc.IsSampled())
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  telemetry.Config
		ok   bool
	}{
		{"defaults", telemetry.Config{ServiceName: "orders"}, true},
		{"stdout", telemetry.Config{ServiceName: "orders", Exporter: "stdout", SampleRatio: 0.5}, true},
		{"no service", telemetry.Config{}, false},
		{"otlp", telemetry.Config{ServiceName: "orders", Exporter: "otlp"}, true},
		{"unknown exporter", telemetry.Config{ServiceName: "orders", Exporter: "jaeger"}, false},
		{"ratio above 1", telemetry.Config{ServiceName: "orders", SampleRatio: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := telemetry.Setup(context.Background(), telemetry.Config{}); err == nil {
		t.Error("Setup accepted an invalid config")
	}
}

// spanContext returns a context with a fixed, valid span.
func spanContext() (context.Context, trace.SpanContext) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

// jsonLine logs through NewLogHandler over a JSON handler and decodes the line.
func jsonLine(t *testing.T, ctx context.Context, build func(*slog.Logger) *slog.Logger) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log := build(slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))))
	log.InfoContext(ctx, "hello", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	delete(m, "time")
	return m
}

func TestLogHandler(t *testing.T) {
	ctx, sc := spanContext()
	tid, sid := sc.TraceID().String(), sc.SpanID().String()
	tests := []struct {
		name  string
		ctx   context.Context
		build func(*slog.Logger) *slog.Logger
		want  string
	}{
		{"no span", context.Background(), func(l *slog.Logger) *slog.Logger { return l },
			`{"level":"INFO","msg":"hello","k":"v"}`},
		{"span", ctx, func(l *slog.Logger) *slog.Logger { return l },
			`{"level":"INFO","msg":"hello","k":"v","trace_id":"` + tid + `","span_id":"` + sid + `"}`},
		{"attrs", ctx, func(l *slog.Logger) *slog.Logger { return l.With("svc", "orders") },
			`{"level":"INFO","msg":"hello","svc":"orders","k":"v","trace_id":"` + tid + `","span_id":"` + sid + `"}`},
		{"group keeps ids at top level", ctx,
			func(l *slog.Logger) *slog.Logger { return l.With("svc", "orders").WithGroup("req").With("id", 7) },
			`{"level":"INFO","msg":"hello","svc":"orders","trace_id":"` + tid + `","span_id":"` + sid + `","req":{"id":7,"k":"v"}}`},
		{"nested groups", ctx,
			func(l *slog.Logger) *slog.Logger { return l.WithGroup("a").With("x", 1).WithGroup("b") },
			`{"level":"INFO","msg":"hello","trace_id":"` + tid + `","span_id":"` + sid + `","a":{"x":1,"b":{"k":"v"}}}`},
		{"group without span", context.Background(),
			func(l *slog.Logger) *slog.Logger { return l.WithGroup("req") },
			`{"level":"INFO","msg":"hello","req":{"k":"v"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jsonLine(t, tt.ctx, tt.build)
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("got  %s\nwant %s", gj, wj)
			}
		})
	}
}

// TestLogHandlerConformance runs the standard library's handler test suite
// over NewLogHandler.
func TestLogHandlerConformance(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		buf.Reset()
		return telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, buf.String())
		}
		return m
	})
}

func TestNewLogger(t *testing.T) {
	ctx, sc := spanContext()
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, "warn", "json")
	log.InfoContext(ctx, "dropped")
	log.WarnContext(ctx, "kept")
	out := buf.String()
	if strings.Contains(out, "dropped") || !strings.Contains(out, `"msg":"kept"`) || !strings.Contains(out, sc.TraceID().String()) {
		t.Errorf("output:\n%s", out)
	}
	buf.Reset()
	telemetry.NewLogger(&buf, "", "text").InfoContext(ctx, "plain")
	if out := buf.String(); !strings.Contains(out, "msg=plain") || !strings.Contains(out, "trace_id="+sc.TraceID().String()) {
		t.Errorf("text output:\n%s", out)
	}
}
