package webhook_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
)

func TestProbes(t *testing.T) {
	p := webhook.NewProbes()
	hook := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	for _, tc := range []struct {
		name         string
		ready        bool
		method, path string
		want         int
	}{
		{name: "live while starting", method: http.MethodGet, path: webhook.LivePath, want: http.StatusOK},
		{name: "not ready while starting", method: http.MethodGet, path: webhook.ReadyPath, want: http.StatusServiceUnavailable},
		{name: "healthz is readiness", method: http.MethodGet, path: webhook.HealthPath, want: http.StatusServiceUnavailable},
		{name: "webhook while starting is a 503, never a 4xx", method: http.MethodPost, path: "/webhooks/x", want: http.StatusServiceUnavailable},
		{name: "live when ready", ready: true, method: http.MethodGet, path: webhook.LivePath, want: http.StatusOK},
		{name: "ready", ready: true, method: http.MethodGet, path: webhook.ReadyPath, want: http.StatusOK},
		{name: "healthz when ready", ready: true, method: http.MethodGet, path: webhook.HealthPath, want: http.StatusOK},
		{name: "webhook when ready", ready: true, method: http.MethodPost, path: "/webhooks/x", want: http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ready {
				p.Ready(hook)
			}
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), tc.method, tc.path, nil))
			if rec.Code != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
			}
			if rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}
