package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dropsync/dropsync/pkg/telemetry"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// setup runs telemetry.Setup and shuts it down at the end of the test.
func setup(t *testing.T, cfg telemetry.Config) {
	t.Helper()
	shutdown, err := telemetry.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// TestSetupPrometheus: /metrics is always served from the service's own
// meter provider; OTEL_METRICS_EXPORTER=prometheus adds no second server.
func TestSetupPrometheus(t *testing.T) {
	for _, metrics := range []string{"prometheus", "none", ""} {
		t.Run(metrics, func(t *testing.T) {
			port := freePort(t)
			t.Setenv("OTEL_TRACES_EXPORTER", "none")
			t.Setenv("OTEL_METRICS_EXPORTER", metrics)
			t.Setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
			t.Setenv("OTEL_EXPORTER_PROMETHEUS_PORT", port)
			setup(t, telemetry.Config{ServiceName: "orders"})

			if _, ok := otel.GetMeterProvider().(*sdkmetric.MeterProvider); !ok {
				t.Fatalf("global meter provider is %T, want the SDK's", otel.GetMeterProvider())
			}
			c, err := otel.Meter("test").Int64Counter("dropsync.test.deliveries", metric.WithUnit("{delivery}"))
			if err != nil {
				t.Fatal(err)
			}
			c.Add(context.Background(), 3)

			srv := httptest.NewServer(telemetry.FromContext(context.Background()).MetricsHandler())
			defer srv.Close()
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = res.Body.Close() }()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics: %s\n%s", res.Status, body)
			}
			for _, want := range []string{"dropsync_test_deliveries_total", `service_name="orders"`, "go_goroutines"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("/metrics lacks %s:\n%s", want, body)
				}
			}
			d := net.Dialer{Timeout: 200 * time.Millisecond}
			if conn, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:"+port); err == nil {
				_ = conn.Close()
				t.Errorf("a second /metrics server listens on OTEL_EXPORTER_PROMETHEUS_PORT %s", port)
			}
		})
	}
}

func TestSetupServiceNameFromEnv(t *testing.T) {
	tests := []struct {
		name, envName, envAttrs, want string
	}{
		{"default", "", "", `"Value":"orders"`},
		{"OTEL_SERVICE_NAME wins", "checkout-orders", "service.name=other", `"Value":"checkout-orders"`},
		{"OTEL_RESOURCE_ATTRIBUTES", "", "service.name=attrs-orders,deployment.environment.name=staging", `"Value":"attrs-orders"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_EXPORTER", "")
			t.Setenv("OTEL_METRICS_EXPORTER", "none")
			t.Setenv("OTEL_SERVICE_NAME", tt.envName)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", tt.envAttrs)
			var out bytes.Buffer
			shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "orders", Exporter: telemetry.ExporterStdout, Writer: &out})
			if err != nil {
				t.Fatal(err)
			}
			_, span := otel.Tracer("test").Start(context.Background(), "work")
			span.End()
			if err := shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), `"Key":"service.name","Value":{"Type":"STRING",`+tt.want) {
				t.Errorf("service.name is not %s:\n%s", tt.want, out.String())
			}
		})
	}
}

func TestSetupSamplerFromEnv(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	setup(t, telemetry.Config{ServiceName: "orders", Exporter: telemetry.ExporterStdout, Writer: io.Discard})
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	defer span.End()
	if sc := span.SpanContext(); !sc.IsValid() || sc.IsSampled() {
		t.Errorf("span context valid %v, sampled %v; want always_off from OTEL_TRACES_SAMPLER", sc.IsValid(), sc.IsSampled())
	}
}

func TestSetupUnknownExporter(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "statsd")
	if _, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "orders"}); err == nil || !strings.Contains(err.Error(), "OTEL_METRICS_EXPORTER") {
		t.Errorf("Setup with an unknown metrics exporter: %v", err)
	}
}
