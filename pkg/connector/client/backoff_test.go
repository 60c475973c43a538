package client

import (
	"testing"
	"time"
)

func TestBackoffIsFullJitterUnderACappedCeiling(t *testing.T) {
	c := New(Config{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Rand: func() float64 { return 0.5 }})
	for n, want := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 3: 200 * time.Millisecond, 4: 400 * time.Millisecond, 5: 500 * time.Millisecond, 40: 500 * time.Millisecond} {
		if got := c.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
	c.cfg.Rand = func() float64 { return 0 }
	if got := c.backoff(3); got != 0 {
		t.Errorf("backoff with jitter 0 = %s, want 0 (full jitter)", got)
	}
}
