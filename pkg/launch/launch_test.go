package launch_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
)

type testConfig struct {
	config.Telemetry
	Addr string
}

func spec(run func(ctx context.Context, cfg testConfig, lis net.Listener, log *slog.Logger) error) launch.Spec[testConfig] {
	return launch.Spec[testConfig]{
		Name: "test",
		Load: func(c *testConfig) error {
			c.Telemetry = config.Telemetry{LogLevel: "info", LogFormat: "text", TraceExporter: "none"}
			c.Addr = "127.0.0.1:0"
			return nil
		},
		Telemetry: func(c *testConfig) config.Telemetry { return c.Telemetry },
		Addr:      func(c *testConfig) string { return c.Addr },
		Run:       run,
	}
}

// Run binds the configured address, hands the listener and a logger to
// the service, and returns when the service does.
func TestRunServesUntilTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var logs bytes.Buffer
	var bound string
	err := launch.Run(ctx, spec(func(ctx context.Context, _ testConfig, lis net.Listener, log *slog.Logger) error {
		bound = lis.Addr().String()
		log.Info("serving")
		return lis.Close()
	}), &logs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bound, "127.0.0.1:") || !strings.Contains(logs.String(), "serving") {
		t.Fatalf("bound %q, logs %q", bound, logs.String())
	}
}

func TestRunReportsEachStep(t *testing.T) {
	boom := errors.New("boom")
	s := spec(func(context.Context, testConfig, net.Listener, *slog.Logger) error { return boom })
	if err := launch.Run(context.Background(), s, &bytes.Buffer{}); !errors.Is(err, boom) {
		t.Errorf("run error = %v", err)
	}
	s.Load = func(*testConfig) error { return errors.New("DROPSYNC_X: required") }
	if err := launch.Run(context.Background(), s, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "DROPSYNC_X") {
		t.Errorf("load error = %v", err)
	}
	s = spec(nil)
	s.Addr = func(*testConfig) string { return "256.0.0.1:1" }
	s.Run = func(context.Context, testConfig, net.Listener, *slog.Logger) error { return nil }
	if err := launch.Run(context.Background(), s, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "listen 256.0.0.1:1") {
		t.Errorf("listen error = %v", err)
	}
	if err := launch.Run(context.Background(), launch.Spec[testConfig]{Name: "x"}, &bytes.Buffer{}); err == nil {
		t.Error("an incomplete Spec ran")
	}
}
