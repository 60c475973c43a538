package connectortest

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// Front is an http.Handler in front of a platform simulator that gives a
// harness two of its controls without the simulator's help:
// HoldFulfilments (the simulator carries a fulfilment write out, the
// answer is kept back) and RevokeCredential (each request reaches the
// simulator with its credential spoilt, so the refusal is the
// simulator's own, worded as the platform words it).
type Front struct {
	// Handler is the simulator.
	Handler http.Handler
	// IsFulfilmentWrite reports whether a request (its body read into
	// body) writes a fulfilment.
	IsFulfilmentWrite func(r *http.Request, body []byte) bool
	// Spoil changes a request's credential into one the platform does not
	// know.
	Spoil func(r *http.Request)

	mu      sync.Mutex
	hold    bool
	revoked bool
	release chan struct{}
	// transient counts the answers 429 or 5xx the connector got.
	transient atomic.Int64
}

// Transient is how many of the simulator's answers were 429 or 5xx: the
// faults a convergence property counts on having been met.
func (f *Front) Transient() int64 { return f.transient.Load() }

// counting notes a transient answer as it is written.
type counting struct {
	http.ResponseWriter
	f *Front
}

func (c counting) WriteHeader(code int) {
	if code == http.StatusTooManyRequests || code >= 500 {
		c.f.transient.Add(1)
	}
	c.ResponseWriter.WriteHeader(code)
}

// Hold keeps back the answers of fulfilment writes (on true) or releases
// them (on false).
func (f *Front) Hold(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on == f.hold {
		return
	}
	f.hold = on
	if on {
		f.release = make(chan struct{})
	} else {
		close(f.release)
	}
}

// Revoke spoils the credential of every request (on true), or no more.
func (f *Front) Revoke(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = on
}

// ServeHTTP implements http.Handler.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hold, revoked, release := f.hold, f.revoked, f.release
	f.mu.Unlock()
	w = counting{ResponseWriter: w, f: f}
	if revoked && f.Spoil != nil {
		r = r.Clone(r.Context())
		f.Spoil(r)
	}
	if !hold || f.IsFulfilmentWrite == nil {
		f.Handler.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !f.IsFulfilmentWrite(r, body) {
		f.Handler.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	f.Handler.ServeHTTP(rec, r)
	select {
	case <-release:
	case <-r.Context().Done():
		return // the client gave up: it never hears that the write was made
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
