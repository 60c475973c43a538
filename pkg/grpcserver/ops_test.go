package grpcserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestOpsHandler: /livez always, /readyz as the health service says,
// /metrics from the server's own providers.
func TestOpsHandler(t *testing.T) {
	p, err := telemetry.New(context.Background(), telemetry.Config{ServiceName: "orders", Exporter: telemetry.ExporterNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	c, err := p.Meter.Meter("test").Int64Counter("dropsync.test.calls", metric.WithUnit("{call}"))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 2)

	srv := grpcserver.New(slog.New(slog.DiscardHandler), grpcserver.Telemetry(p))
	ops := httptest.NewServer(srv.OpsHandler())
	t.Cleanup(ops.Close)

	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if code, _ := get(t, ops.URL+"/livez"); code != http.StatusOK {
		t.Errorf("/livez: %d, want 200", code)
	}
	if code, _ := get(t, ops.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while NOT_SERVING: %d, want 503", code)
	}
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if code, _ := get(t, ops.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz while SERVING: %d, want 200", code)
	}
	code, body := get(t, ops.URL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "dropsync_test_calls_total") || !strings.Contains(body, `service_name="orders"`) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
}
