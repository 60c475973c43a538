package service_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/natsserver"
	"github.com/dropsync/dropsync/services/wix/service"
)

// freePort is a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// statusOf is the status of method url, or the error of the request.
func statusOf(method, url string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// TestStartsBeforeNATS: started as its main does (service.Run, its own
// NATS connection) with no NATS server on its port, the connector serves
// HTTP at once: alive, not ready, and a webhook gets 503 (never a 4xx,
// which would make the platform disable it). Once the server starts on
// that port it becomes ready and webhooks reach the handler (unsigned:
// 401).
func TestStartsBeforeNATS(t *testing.T) {
	cfg := newHarness(t, options{}).cfg // its NATS is not this connector's: it starts without
	port := freePort(t)
	cfg.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, lis, logger()) }()
	var srv *natsserver.Server
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("connector stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("connector did not stop within 30s")
		}
		if srv != nil {
			srv.Stop()
		}
	})
	// await polls method path until it answers want.
	await := func(t *testing.T, method, path string, want int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := statusOf(method, base+path)
			if err == nil && got == want {
				return
			}
			select {
			case err := <-done:
				t.Fatalf("the connector exited: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: %d (%v) after 60s, want %d", method, path, got, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cases := []struct {
		name          string
		method, path  string
		before, after int
	}{
		{name: "liveness", method: http.MethodGet, path: "/livez", before: http.StatusOK, after: http.StatusOK},
		{name: "readiness", method: http.MethodGet, path: "/readyz", before: http.StatusServiceUnavailable, after: http.StatusOK},
		{name: "healthz is readiness", method: http.MethodGet, path: "/healthz", before: http.StatusServiceUnavailable, after: http.StatusOK},
		{name: "webhook", method: http.MethodPost, path: cfg.Wix.WebhookPath, before: http.StatusServiceUnavailable, after: http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run("before NATS/"+tc.name, func(t *testing.T) { await(t, tc.method, tc.path, tc.before) })
	}
	srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run("after NATS/"+tc.name, func(t *testing.T) { await(t, tc.method, tc.path, tc.after) })
	}
}
