package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/dropsync/dropsync/pkg/telemetry"
)

// instrument serves /metrics from ctx's providers and traces the rest of h.
func instrument(ctx context.Context, h http.Handler) http.Handler {
	tel := telemetry.FromContext(ctx)
	metrics, traced := tel.MetricsHandler(), tel.HTTPHandler(h, "webhook")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == telemetry.MetricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			metrics.ServeHTTP(w, r)
			return
		}
		traced.ServeHTTP(w, r)
	})
}

// Serve serves h on lis until ctx ends, then shuts down gracefully, giving
// in-flight deliveries up to grace to finish (a delivery being published
// gets its answer). Timeouts are set so a slow client cannot hold a
// connection. Next to h, GET /metrics serves the service's metrics
// (telemetry.FromContext(ctx)), and every request but the probes and
// /metrics gets a server span ("POST webhook") and the http.server metrics.
func Serve(ctx context.Context, lis net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{
		Handler:           instrument(ctx, h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return nil
}
