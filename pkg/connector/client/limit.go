package client

import (
	"context"
	"math"
	"sync"
	"time"
)

// Limit is a token bucket's shape: Rate tokens a second flow in, up to
// Burst. A zero Rate is no limit (until an Observer sets one).
type Limit struct {
	// Rate is tokens added a second.
	Rate float64
	// Burst is the bucket's capacity; at least 1 when Rate is set.
	Burst float64
}

// PerSecond is a limit of n calls a second with a burst of burst.
func PerSecond(n, burst float64) Limit { return Limit{Rate: n, Burst: burst} }

// PerMinute is a limit of n calls a minute (Wix: 200) with a burst of a
// tenth of it, so a minute never holds much more than n calls.
func PerMinute(n int) Limit {
	return Limit{Rate: float64(n) / 60, Burst: math.Max(1, float64(n)/10)}
}

// Bucket is the token bucket of one key. Observers update it from the
// platform's signals; Wait takes tokens before each attempt. It is safe
// for concurrent use.
type Bucket struct {
	mu       sync.Mutex
	now      func() time.Time
	rate     float64
	capacity float64
	tokens   float64
	last     time.Time
	paused   time.Time
	maxWait  time.Duration // caps one Wait and one Pause; 0 is no cap
}

func newBucket(l Limit, maxWait time.Duration, now func() time.Time) *Bucket {
	capacity := l.Burst
	if l.Rate > 0 && capacity < 1 {
		capacity = 1
	}
	return &Bucket{now: now, rate: l.Rate, capacity: capacity, tokens: capacity, last: now(), maxWait: maxWait}
}

// refill adds the tokens earned since the last look. Callers hold mu.
func (b *Bucket) refill(now time.Time) {
	if now.After(b.last) {
		if b.rate > 0 {
			b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		}
		b.last = now
	}
}

// reserve takes cost tokens if it can, or if force is set, and returns 0;
// otherwise it returns how long to wait before trying again.
func (b *Bucket) reserve(cost float64, force bool) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if now.Before(b.paused) && !force {
		return b.paused.Sub(now)
	}
	if b.rate <= 0 {
		return 0
	}
	b.refill(now)
	need := math.Min(cost, b.capacity) // a call dearer than the bucket waits for a full one
	if b.tokens >= need || force {
		b.tokens -= cost
		return 0
	}
	d := time.Duration((need - b.tokens) / b.rate * float64(time.Second))
	return max(d, time.Millisecond)
}

// Wait blocks until cost tokens are available and takes them, or until ctx
// ends. The tokens may go below zero for a call dearer than the bucket,
// which then delays the next calls. A bucket of a Client waits at most the
// Client's MaxPause, however slowly it refills: then it takes the tokens
// anyway.
func (b *Bucket) Wait(ctx context.Context, cost float64) error {
	var until time.Time
	if b.maxWait > 0 {
		until = b.now().Add(b.maxWait)
	}
	for {
		force := !until.IsZero() && !b.now().Before(until)
		d := b.reserve(cost, force)
		if d == 0 {
			return nil
		}
		if !until.IsZero() {
			d = min(d, max(until.Sub(b.now()), time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// SetRate sets the refill rate in tokens a second (a platform's restore
// rate); tokens earned so far at the old rate are kept.
func (b *Bucket) SetRate(rate float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	b.rate = rate
}

// SetCapacity sets the bucket's capacity (a platform's maximum).
func (b *Bucket) SetCapacity(capacity float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	b.capacity = capacity
	b.tokens = math.Min(b.tokens, capacity)
}

// SetAvailable sets the tokens available now, as the platform counts them
// (Shopify's currentlyAvailable): the platform's count wins over ours.
func (b *Bucket) SetAvailable(available float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = b.now()
	b.tokens = math.Min(available, b.capacity)
}

// Pause stops every call of the key until t (HTTP 429 Retry-After), or
// for the Client's MaxPause at most.
func (b *Bucket) Pause(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit := b.now().Add(b.maxWait); b.maxWait > 0 && until.After(limit) {
		until = limit
	}
	if until.After(b.paused) {
		b.paused = until
	}
}

// State returns the tokens available now, the capacity and the rate.
func (b *Bucket) State() (available, capacity, rate float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(b.now())
	return b.tokens, b.capacity, b.rate
}
