package domain_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// The supplier-sync simulation: AliExpress orders on a simulated clock,
// a poll policy that decides what to query each round, and the detection
// latency from "AliExpress shows tracking" to the poll that sees it.

// simOrder is one AliExpress order: what is true at AliExpress and what
// the connector knows.
type simOrder struct {
	paid, ship, finish time.Time // true times at AliExpress
	t                  domain.Tracked
	detected           time.Time
}

// observe is a poll of o at now: it costs the calls a real poll would
// (the query, and tracking.get once shipped) and updates what is known.
func (o *simOrder) observe(now time.Time) (calls int) {
	calls = 1
	o.t.LastPolled = now
	if !now.Before(o.paid) && !o.t.Paid() {
		o.t.PaidAt = now
	}
	if !now.Before(o.ship) {
		calls++
		if !o.t.Shipped() {
			o.t.Shipments = []domain.Shipment{{ShipmentID: "s", LogisticsNo: "LP" + o.t.AEOrderID, LineQty: map[string]int32{"li": 1}}}
			o.detected = now
		}
	}
	if !now.Before(o.finish) {
		o.t.Closed = true
	}
	return calls
}

// policy picks the orders to poll at now, given what is left of today's
// budget pace (allowance), and polls them through poll.
type policy interface {
	name() string
	// budgeted: the policy keeps to the day's budget.
	budgeted() bool
	round(now time.Time, open []*simOrder, allowance int, poll func(*simOrder))
}

// dropsync is domain.Schedule within domain.Pace.
type dropsync struct {
	cfg         domain.ScheduleConfig
	callsPerDay float64
}

func (dropsync) name() string   { return "dropsync" }
func (dropsync) budgeted() bool { return true }

func (p dropsync) round(now time.Time, open []*simOrder, allowance int, poll func(*simOrder)) {
	ts := make([]domain.Tracked, len(open))
	for i, o := range open {
		ts[i] = o.t
	}
	for _, d := range domain.Schedule(ts, now, p.callsPerDay, nil, p.cfg) {
		if d.At.After(now) || allowance < d.Cost {
			break
		}
		allowance -= d.Cost
		poll(open[d.Index])
	}
}

// roundRobin polls the least recently polled orders within the same pace.
type roundRobin struct{}

func (roundRobin) name() string   { return "round-robin" }
func (roundRobin) budgeted() bool { return true }

func (roundRobin) round(now time.Time, open []*simOrder, allowance int, poll func(*simOrder)) {
	sorted := slices.Clone(open)
	slices.SortStableFunc(sorted, func(a, b *simOrder) int { return a.t.LastPolled.Compare(b.t.LastPolled) })
	for _, o := range sorted {
		if now.Sub(o.t.PlacedAt) < 10*time.Second {
			continue
		}
		if allowance < domain.PollCost(&o.t) {
			break // the next in turn waits for the budget
		}
		allowance -= domain.PollCost(&o.t)
		poll(o)
	}
}

// dsersSchedule polls every open order at 02:00 and 14:00 UTC, whatever
// the budget: DSers' fixed schedule.
type dsersSchedule struct{ last time.Time }

func (*dsersSchedule) name() string   { return "DSers 2x/day" }
func (*dsersSchedule) budgeted() bool { return false }

func (p *dsersSchedule) round(now time.Time, open []*simOrder, _ int, poll func(*simOrder)) {
	next := domain.NextSyncTime(p.last, []time.Duration{2 * time.Hour, 14 * time.Hour})
	if p.last.IsZero() {
		p.last = now
		return
	}
	if now.Before(next) {
		return
	}
	p.last = now
	for _, o := range open {
		poll(o)
	}
}

// workload is the simulated business: orders placed at a steady rate so
// that about Open are open at once; 10% wait 0-2 days (uniform) for
// payment, the rest are paid within 5 minutes; sellers ship 1-7 days
// (uniform) after payment; AliExpress closes an order 20 days after it
// shipped.
type workload struct {
	Open        int
	Seed        uint64
	Round       time.Duration
	Warmup, Run time.Duration
}

// meanLifetime is how long an order stays open on average: payment
// (0.1 * 1 day), shipping (4 days) and 20 days shipped.
const meanLifetime = 241 * 24 * time.Hour / 10

// result is what one policy achieved over a workload.
type result struct {
	latencies      []time.Duration // of orders that shipped in the measured period
	undetected     int             // shipped in the period, never seen shipped
	calls, maxCall int             // total calls; most calls in one UTC day
}

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

var simStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// simulate runs the workload under pol with dailyBudget.
func simulate(w workload, pol policy, dailyBudget int) result {
	rng := rand.New(rand.NewPCG(w.Seed, 7))
	every := time.Duration(float64(meanLifetime) / float64(w.Open))
	end := simStart.Add(w.Warmup + w.Run)
	measureFrom := simStart.Add(w.Warmup)
	var all, open []*simOrder
	nextArrival := simStart
	used, day, n := 0, "", 0
	var r result
	for now := simStart; now.Before(end); now = now.Add(w.Round) {
		for ; !nextArrival.After(now); nextArrival = nextArrival.Add(every) {
			n++
			o := &simOrder{t: domain.Tracked{
				AEOrderID: strconv.Itoa(n), OrderID: "shopify:s" + strconv.Itoa(n%25) + ":" + strconv.Itoa(n), PlacedAt: nextArrival,
				Lines: []domain.Line{{LineItemID: "li", ProductID: "p", Quantity: 1}},
			}}
			o.paid = nextArrival.Add(time.Duration(rng.Float64() * float64(5*time.Minute)))
			if rng.IntN(10) == 0 {
				o.paid = nextArrival.Add(time.Duration(rng.Float64() * float64(48*time.Hour)))
			}
			o.ship = o.paid.Add(24*time.Hour + time.Duration(rng.Float64()*float64(6*24*time.Hour)))
			o.finish = o.ship.Add(20 * 24 * time.Hour)
			all = append(all, o)
			open = append(open, o)
		}
		if d := now.Format(time.DateOnly); d != day {
			day, used = d, 0
		}
		allowance := domain.Pace(dailyBudget, used, domain.PaceBurst(dailyBudget), now)
		pol.round(now, open, allowance, func(o *simOrder) {
			if pol.budgeted() && dailyBudget-used < domain.MaxPollCost {
				return // the day's budget is kept to the call, as the connector keeps it
			}
			c := o.observe(now)
			used += c
			r.calls += c
		})
		r.maxCall = max(r.maxCall, used)
		open = slices.DeleteFunc(open, func(o *simOrder) bool { return o.t.Closed })
	}
	for _, o := range all {
		if o.ship.Before(measureFrom) || !o.ship.Before(end.Add(-8*24*time.Hour)) {
			continue // shipped outside the measured period, or too late to be sure to be seen
		}
		if o.detected.IsZero() {
			r.undetected++
			continue
		}
		r.latencies = append(r.latencies, o.detected.Sub(o.ship))
	}
	return r
}

func (r result) String() string {
	return fmt.Sprintf("p50 %v p95 %v max %v (n=%d, undetected %d, calls %d, max/day %d)",
		r.pct(0.5).Round(time.Second), r.pct(0.95).Round(time.Second), r.pct(1).Round(time.Second), len(r.latencies), r.undetected, r.calls, r.maxCall)
}
