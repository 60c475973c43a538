package webhook

import (
	"net/http"
	"sync"
)

// Probe paths every connector serves on its webhook listener.
const (
	// LivePath answers 200 while the process serves HTTP at all.
	LivePath = "/livez"
	// ReadyPath answers 200 once the connector is ready (its streams and
	// buckets exist, its consumers run), 503 before.
	ReadyPath = "/readyz"
	// HealthPath is ReadyPath under its older name.
	HealthPath = "/healthz"
)

// Probes is a connector's HTTP front while it starts: it serves its
// liveness from the first moment and its readiness, and answers every other
// request 503 with Retry-After until Ready hands it the connector's own
// handler. A webhook that comes before then gets 503, never a 4xx: the
// platforms retry a 5xx but disable a webhook that keeps failing with a
// 4xx. It is safe for concurrent use.
type Probes struct {
	ready chan struct{}
	once  sync.Once
	next  http.Handler // set before ready is closed
}

// NewProbes returns Probes that are not ready.
func NewProbes() *Probes { return &Probes{ready: make(chan struct{})} }

// Ready makes p ready: from now on requests other than the probes go to h.
// Calls after the first do nothing.
func (p *Probes) Ready(h http.Handler) {
	p.once.Do(func() {
		p.next = h
		close(p.ready)
	})
}

// IsReady reports whether Ready was called.
func (p *Probes) IsReady() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// ServeHTTP implements http.Handler.
func (p *Probes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ready := p.IsReady()
	probe := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case probe && r.URL.Path == LivePath:
		_, _ = w.Write([]byte("ok\n"))
	case probe && (r.URL.Path == ReadyPath || r.URL.Path == HealthPath):
		if !ready {
			unavailable(w)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	case !ready:
		unavailable(w)
	default:
		p.next.ServeHTTP(w, r)
	}
}

// unavailable answers 503: the connector is starting.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("starting: not ready yet\n"))
}
