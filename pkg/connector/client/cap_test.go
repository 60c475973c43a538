package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/client"
)

// syncBuffer is a log sink safe for the client's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRetryAfterBeyondTheCapIsCapped: a 429 asking for a year pauses the
// key for MaxPause only, the error and the key's pause carry the cap, and
// the cap is logged.
func TestRetryAfterBeyondTheCapIsCapped(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.Header().Set("Retry-After", "31536000") // a year
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "ok")
	})
	var logs syncBuffer
	cfg := fast()
	cfg.MaxAttempts = 1
	cfg.MaxPause = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := client.New(cfg)

	_, err := c.Do(context.Background(), get(t, s.URL+"/limited"), client.WithKey("acme"))
	var ce *client.Error
	if !errors.As(err, &ce) || !ce.Retryable || ce.RetryAfter != cfg.MaxPause {
		t.Fatalf("err = %v, want retryable with RetryAfter capped at %s", err, cfg.MaxPause)
	}
	if !strings.Contains(logs.String(), "longer wait than the cap") || !strings.Contains(logs.String(), "cap=200ms") {
		t.Errorf("the cap was not logged: %s", logs.String())
	}
	// The key's next call waits out the capped pause, not a year: well
	// within the test's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, get(t, s.URL+"/ok"), client.WithKey("acme"))
	if err != nil {
		t.Fatalf("call after the capped pause: %v", err)
	}
	if string(resp.Body) != "ok" || calls.Load() != 2 {
		t.Errorf("body %q after %d calls, want ok after 2", resp.Body, calls.Load())
	}
}

// TestRetryAfterBeyondTheCapIsRetried: within one call, a retry after a
// huge Retry-After comes after the cap.
func TestRetryAfterBeyondTheCapIsRetried(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "31536000")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "ok")
	})
	cfg := fast()
	cfg.MaxPause = 100 * time.Millisecond
	resp, err := client.New(cfg).Do(context.Background(), get(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || calls.Load() != 2 {
		t.Errorf("attempts %d (%d calls), want 2", resp.Attempts, calls.Load())
	}
}

// TestDefaultMaxPause: the zero Config caps pauses at DefaultMaxPause.
func TestDefaultMaxPause(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "31536000")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	cfg := fast()
	cfg.MaxAttempts = 1
	_, err := client.New(cfg).Do(context.Background(), get(t, s.URL))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.RetryAfter != client.DefaultMaxPause {
		t.Fatalf("err = %v, want RetryAfter %s", err, client.DefaultMaxPause)
	}
}
