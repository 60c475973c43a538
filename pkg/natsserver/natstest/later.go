package natstest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/natsserver"
)

// FreePort is a loopback port nothing listens on.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return port
}

// Check is one expectation of a running service, retried until it holds.
type Check struct {
	Name  string
	Holds func() error
}

// StartsBeforeNATS runs a service started before its NATS server, as a
// NATS rollout starts it: run starts the service against natsURL and
// returns once ctx ends. The before checks must hold while nothing listens
// there, the after checks once a server has started on that port. Each
// check is retried for a minute at most, and the test fails at once if
// the service exits on its own; at the end the service must stop cleanly.
func StartsBeforeNATS(t *testing.T, run func(ctx context.Context, natsURL string) error, before, after []Check) {
	t.Helper()
	port := FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, fmt.Sprintf("nats://127.0.0.1:%d", port)) }()
	var srv *natsserver.Server
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the service stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the service did not stop within 30s")
		}
		if srv != nil {
			srv.Stop()
		}
	})
	await := func(when string, checks []Check) {
		for _, c := range checks {
			t.Run(when+"/"+c.Name, func(t *testing.T) {
				deadline := time.Now().Add(time.Minute)
				for {
					err := c.Holds()
					if err == nil {
						return
					}
					select {
					case err := <-done:
						t.Fatalf("the service exited: %v", err)
					default:
					}
					if time.Now().After(deadline) {
						t.Fatalf("still %v after a minute", err)
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		}
	}
	await("before NATS", before)
	var err error
	if srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	await("after NATS", after)
}

// HTTPStatus holds when method url answers want.
func HTTPStatus(method, url string, want int) func() error {
	return func() error {
		req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
		}
		return nil
	}
}

// GRPCHealth holds when the gRPC health service of cc says want for
// service ("" for the server).
func GRPCHealth(cc grpc.ClientConnInterface, service string, want healthpb.HealthCheckResponse_ServingStatus) func() error {
	health := healthpb.NewHealthClient(cc)
	return func() error {
		r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return err
		}
		if r.GetStatus() != want {
			return fmt.Errorf("health %q: %v, want %v", service, r.GetStatus(), want)
		}
		return nil
	}
}

// Probes are the checks of a store connector's HTTP probes and webhook
// path before NATS is up (alive, not ready, webhooks 503: never a 4xx,
// which makes a platform disable its webhooks) and after (ready,
// unsigned webhooks reach the handler and get 401).
func Probes(base, webhookPath string) (before, after []Check) {
	for _, c := range []struct {
		name, method, path string
		before, after      int
	}{
		{"liveness", http.MethodGet, "/livez", http.StatusOK, http.StatusOK},
		{"readiness", http.MethodGet, "/readyz", http.StatusServiceUnavailable, http.StatusOK},
		{"healthz is readiness", http.MethodGet, "/healthz", http.StatusServiceUnavailable, http.StatusOK},
		{"webhook", http.MethodPost, webhookPath, http.StatusServiceUnavailable, http.StatusUnauthorized},
	} {
		before = append(before, Check{c.name, HTTPStatus(c.method, base+c.path, c.before)})
		after = append(after, Check{c.name, HTTPStatus(c.method, base+c.path, c.after)})
	}
	return before, after
}
