package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Pause waits before the next round of a connector's own retry loop (one
// that reads the store again before writing, around calls the Client has
// already retried), after round (counted from 1) failed with err: a
// full-jitter backoff from base, doubling each round up to 64 times base,
// or what err asks for when that is longer (an [*Error]'s RetryAfter:
// Retry-After, a rate limit's refill). It reports false when ctx ends
// first.
func Pause(ctx context.Context, base time.Duration, round int, err error) bool {
	d := time.Duration(rand.Float64() * float64(base<<min(max(round, 1)-1, 6)))
	var ce *Error
	if errors.As(err, &ce) && ce.RetryAfter > d {
		d = ce.RetryAfter
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
