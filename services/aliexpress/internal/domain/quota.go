package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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

// BudgetUse is an account's API calls of one UTC day.
type BudgetUse struct {
	// Day is the UTC day of Calls, "2006-01-02".
	Day   string `json:"day"`
	Calls int    `json:"calls"`
}

// Today is the calls of now's day: 0 once the day has changed.
func (u BudgetUse) Today(now time.Time) int {
	if u.Day != now.UTC().Format(time.DateOnly) {
		return 0
	}
	return u.Calls
}

// Add counts n calls at now, starting a new day's count when the day
// changed.
func (u BudgetUse) Add(now time.Time, n int) BudgetUse {
	day := now.UTC().Format(time.DateOnly)
	if u.Day != day {
		return BudgetUse{Day: day, Calls: n}
	}
	return BudgetUse{Day: day, Calls: u.Calls + n}
}

// LastSyncTime is the latest of the daily times ("HH:MM" UTC offsets) not
// after now; zero when there are none.
func LastSyncTime(now time.Time, times []time.Duration) time.Time {
	u := now.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	var best time.Time
	for _, off := range times {
		t := day.Add(off)
		if t.After(u) {
			t = t.Add(-24 * time.Hour)
		}
		if t.After(best) {
			best = t
		}
	}
	return best
}

// Backoff is the pause after AliExpress refused the app's calls over its
// limits.
type Backoff struct {
	// Until is when polling resumes.
	Until time.Time
	// Step is the last pause, doubled at each refusal in a row.
	Step time.Duration
}

// Limited is the backoff after a refusal at now: a throttle pauses a
// minute, doubling at each refusal in a row; a spent quota pauses until
// the next UTC midnight, when daily quotas reset. Either pause is capped
// at maxPause (since AliExpress does not publish its quotas, a probe at
// least that often finds out when calls work again).
func (b Backoff) Limited(now time.Time, quotaExhausted bool, maxPause time.Duration) Backoff {
	step := max(time.Minute, 2*b.Step)
	if quotaExhausted {
		step = ResetsAt(now).Sub(now)
	}
	if maxPause > 0 {
		step = min(step, maxPause)
	}
	return Backoff{Until: now.Add(step), Step: step}
}

// Paused reports whether polling is paused at now.
func (b Backoff) Paused(now time.Time) bool { return now.Before(b.Until) }
