package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Priority classes of open orders for the continuous poll, most urgent
// first.
const (
	// PriorityPaidNoTracking: paid, nothing shipped yet — the merchant waits
	// for tracking; oldest payment first.
	PriorityPaidNoTracking = iota
	// PriorityShipped: shipped, tracking may change or more parcels come;
	// least recently polled first.
	PriorityShipped
	// PriorityUnpaid: placed, not paid yet; least recently polled first.
	PriorityUnpaid
)

// PlanConfig shapes Plan.
type PlanConfig struct {
	// VisibleAfter: an order is not queried sooner after its placement
	// (AliExpress shows it after about 10 s).
	VisibleAfter time.Duration
	// MinRepoll: an order is not polled again sooner.
	MinRepoll time.Duration
}

// Priority is t's priority class.
func Priority(t *Tracked) int {
	switch {
	case t.Paid() && !t.Shipped():
		return PriorityPaidNoTracking
	case t.Shipped():
		return PriorityShipped
	}
	return PriorityUnpaid
}

// Plan orders the open orders worth polling now, most urgent first: paid
// without tracking (oldest payment first), then shipped (least recently
// polled first), then unpaid (least recently polled first). Orders placed
// less than VisibleAfter ago, polled less than MinRepoll ago, or closed are
// left out. The caller polls down the list while its budget lasts.
func Plan(open []Tracked, now time.Time, cfg PlanConfig) []Tracked {
	var due []Tracked
	for _, t := range open {
		if t.Closed || now.Sub(t.PlacedAt) < cfg.VisibleAfter || !t.LastPolled.IsZero() && now.Sub(t.LastPolled) < cfg.MinRepoll {
			continue
		}
		due = append(due, t)
	}
	slices.SortStableFunc(due, func(a, b Tracked) int {
		pa, pb := Priority(&a), Priority(&b)
		if pa != pb {
			return pa - pb
		}
		var c int
		if pa == PriorityPaidNoTracking {
			c = a.PaidAt.Compare(b.PaidAt)
		} else {
			c = a.LastPolled.Compare(b.LastPolled)
		}
		if c != 0 {
			return c
		}
		if c = a.PlacedAt.Compare(b.PlacedAt); c != 0 {
			return c
		}
		return strings.Compare(a.AEOrderID, b.AEOrderID)
	})
	return due
}

// Allowance is how many API calls the continuous poll may spend in one
// round: what is left of the daily budget spread over the rounds left in
// the day (UTC), at least one while any is left.
func Allowance(dailyBudget, usedToday int, now time.Time, every time.Duration) int {
	left := dailyBudget - usedToday
	if left <= 0 || every <= 0 {
		return 0
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	rounds := int(midnight.Sub(now.UTC())/every) + 1
	return max(1, left/rounds)
}

// Quota errors of a manual sync.
var (
	// ErrQuotaExhausted: the day's manual syncs are used.
	ErrQuotaExhausted = errors.New("manual sync quota exhausted")
	// ErrTooSoon: the previous manual sync was less than the interval ago.
	ErrTooSoon = errors.New("manual sync too soon")
)

// QuotaError is a refused manual sync: which quota and when it allows the
// next one.
type QuotaError struct {
	Err    error
	Scope  string
	Limit  int
	Retry  time.Time
	Detail string
}

// Error names the quota, the scope and why.
func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s for %s: %s", e.Err, e.Scope, e.Detail)
}

// Unwrap returns ErrQuotaExhausted or ErrTooSoon.
func (e *QuotaError) Unwrap() error { return e.Err }

// Quota is the manual sync use of one scope (a store or the account).
type Quota struct {
	// Day is the UTC day of Uses, "2006-01-02".
	Day string `json:"day"`
	// Uses are the manual syncs of Day.
	Uses []time.Time `json:"uses"`
}

// QuotaRule is the manual sync quota: Daily syncs a day (UTC), Interval
// apart. DSers: 10 a day, 10 minutes apart.
type QuotaRule struct {
	Daily    int
	Interval time.Duration
}

// current drops uses of earlier days.
func (q Quota) current(now time.Time) Quota {
	if day := now.UTC().Format(time.DateOnly); q.Day != day {
		return Quota{Day: day}
	}
	return q
}

// Used is how many syncs were used today.
func (q Quota) Used(now time.Time) int { return len(q.current(now).Uses) }

// NextAllowed is when the next manual sync is allowed (now or later).
func (q Quota) NextAllowed(now time.Time, r QuotaRule) time.Time {
	c := q.current(now)
	next := now
	if len(c.Uses) >= r.Daily {
		next = ResetsAt(now)
	}
	if n := len(c.Uses); n > 0 {
		if t := c.Uses[n-1].Add(r.Interval); t.After(next) {
			next = t
		}
	}
	return next
}

// ResetsAt is the next UTC midnight.
func ResetsAt(now time.Time) time.Time {
	u := now.UTC()
	return time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
}

// Take uses one manual sync at now, or says why not.
func (q Quota) Take(scope string, now time.Time, r QuotaRule) (Quota, error) {
	c := q.current(now)
	if len(c.Uses) >= r.Daily {
		return q, &QuotaError{Err: ErrQuotaExhausted, Scope: scope, Limit: r.Daily, Retry: ResetsAt(now),
			Detail: fmt.Sprintf("%d of %d manual syncs a day used", len(c.Uses), r.Daily)}
	}
	if n := len(c.Uses); n > 0 && now.Sub(c.Uses[n-1]) < r.Interval {
		return q, &QuotaError{Err: ErrTooSoon, Scope: scope, Limit: r.Daily, Retry: c.Uses[n-1].Add(r.Interval),
			Detail: fmt.Sprintf("manual syncs must be %s apart", r.Interval)}
	}
	c.Uses = append(slices.Clone(c.Uses), now)
	return c, nil
}

// NextSyncTime is the first of the daily times ("HH:MM" UTC) after now;
// zero when there are none.
func NextSyncTime(now time.Time, times []time.Duration) time.Time {
	u := now.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	var best time.Time
	for _, off := range times {
		t := day.Add(off)
		if !t.After(u) {
			t = t.Add(24 * time.Hour)
		}
		if best.IsZero() || t.Before(best) {
			best = t
		}
	}
	return best
}

// ParseSyncTimes parses "HH:MM" times of day.
func ParseSyncTimes(list []string) ([]time.Duration, error) {
	var out []time.Duration
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		t, err := time.Parse("15:04", s)
		if err != nil {
			errs = append(errs, fmt.Errorf("sync time %q: want HH:MM", s))
			continue
		}
		out = append(out, time.Duration(t.Hour())*time.Hour+time.Duration(t.Minute())*time.Minute)
	}
	return out, errors.Join(errs...)
}
