package domain

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Stage is where an open AliExpress order stands, as far as polling it is
// concerned.
type Stage int

// The stages, from placement to the end of polling.
const (
	// StageUnpaid: placed, payment not seen yet.
	StageUnpaid Stage = iota
	// StageAwaitingShipment: paid, and some line is neither shipped nor
	// canceled: the merchant waits for tracking. Most of the budget goes
	// here.
	StageAwaitingShipment
	// StageShipped: every line shipped or canceled. Polled rarely, for a
	// changed number, an extra parcel, delivery or the end of the order.
	StageShipped
	// StageDone: closed or delivered; never polled.
	StageDone
)

// String names the stage in logs.
func (s Stage) String() string {
	switch s {
	case StageUnpaid:
		return "unpaid"
	case StageAwaitingShipment:
		return "awaiting_shipment"
	case StageShipped:
		return "shipped"
	}
	return "done"
}

// StageOf is t's stage.
func StageOf(t *Tracked) Stage {
	switch {
	case t.Closed || !t.DeliveredAt.IsZero():
		return StageDone
	case !t.Paid():
		return StageUnpaid
	case t.fullyShipped():
		return StageShipped
	}
	return StageAwaitingShipment
}

// fullyShipped reports whether every line is shipped or canceled.
func (t *Tracked) fullyShipped() bool {
	if len(t.Shipments) == 0 {
		return false
	}
	for _, l := range t.Lines {
		var shipped int32
		for _, s := range t.Shipments {
			shipped += s.LineQty[l.LineItemID]
		}
		if shipped < l.Quantity && !slices.Contains(t.CanceledLines, l.LineItemID) {
			return false
		}
	}
	return true
}

// MaxPollCost is the most calls one poll takes: the order query and
// tracking.get. A poll of an order not known to have shipped costs one
// call more than PollCost when it finds it shipped, so a day's budget is
// only kept to the call when no poll starts with fewer calls left.
const MaxPollCost = 2

// PollCost is the API calls one poll of t is expected to take: the order
// query, and tracking.get once anything may have shipped.
func PollCost(t *Tracked) int {
	if t.Shipped() {
		return 2
	}
	return 1
}

// ScheduleConfig shapes Schedule. DefaultSchedule gives the defaults.
type ScheduleConfig struct {
	// VisibleAfter: an order is first queried this long after its
	// placement (AliExpress shows it after about 10 s).
	VisibleAfter time.Duration
	// MinInterval: no order is polled again sooner, however much budget
	// is left.
	MinInterval time.Duration
	// ShippedMinInterval: no shipped order is polled again sooner.
	ShippedMinInterval time.Duration
	// Ceilings are the longest an order of each stage waits between two
	// polls while the budget covers every ceiling (see Schedule).
	UnpaidCeiling, AwaitingCeiling, ShippedCeiling time.Duration
	// ShippedShare is the share of the budget that shipped orders keep
	// when the ceilings cannot all be met, so that they are never starved
	// by the orders that wait for tracking.
	ShippedShare float64
	// ShipFrom and ShipTo are when, after payment, sellers usually ship:
	// orders in that window are polled most.
	ShipFrom, ShipTo time.Duration
}

// DefaultSchedule is the default ScheduleConfig. The awaiting ceiling is
// DSers' own rhythm (two syncs a day), so that while the budget lasts no
// paid order waits longer than it would with DSers.
func DefaultSchedule() ScheduleConfig {
	return ScheduleConfig{
		VisibleAfter:       10 * time.Second,
		MinInterval:        10 * time.Second,
		ShippedMinInterval: 6 * time.Hour,
		UnpaidCeiling:      6 * time.Hour,
		AwaitingCeiling:    12 * time.Hour,
		ShippedCeiling:     5 * 24 * time.Hour,
		ShippedShare:       0.1,
		ShipFrom:           12 * time.Hour,
		ShipTo:             7 * 24 * time.Hour,
	}
}

// weight is how likely a poll of t is to find news, relative to an order
// in its sellers' shipping window (1). It is never zero.
func (c ScheduleConfig) weight(t *Tracked, now time.Time) float64 {
	switch StageOf(t) {
	case StageUnpaid:
		if now.Sub(t.PlacedAt) < time.Hour {
			return 1 // most orders are paid at once
		}
		return 0.3
	case StageAwaitingShipment:
		if t.Shipped() {
			return 1 // partly shipped: the rest follows
		}
		switch p := now.Sub(t.PaidAt); {
		case p < c.ShipFrom:
			return 0.3
		case p <= c.ShipTo:
			return 1
		case p <= 2*c.ShipTo:
			return 0.5 // late: a seller that may never ship
		}
		return 0.2
	}
	return 1
}

func (c ScheduleConfig) ceiling(s Stage) time.Duration {
	switch s {
	case StageUnpaid:
		return c.UnpaidCeiling
	case StageAwaitingShipment:
		return c.AwaitingCeiling
	}
	return c.ShippedCeiling
}

// Due is when an open order should be polled next, and why.
type Due struct {
	// Index is the order's place in Schedule's open.
	Index     int
	AEOrderID string
	Stage     Stage
	// At is when the order is due; it is due now when At is not after now.
	At time.Time
	// Interval is the order's share of the budget as a time between polls.
	Interval time.Duration
	// Cost is PollCost.
	Cost int
	// Sweep: a fixed-time sync made it due.
	Sweep bool
}

// Schedule gives every open order not done a due time, earliest first;
// the caller polls the orders whose time has come, in that order, while
// its budget allowance lasts (Pace). It is a pure function of its
// arguments.
//
// callsPerDay is the budget's rate. Each order's share of it is found in
// three steps:
//
//  1. Every order gets its stage's ceiling (UnpaidCeiling,
//     AwaitingCeiling, ShippedCeiling). If the orders waiting for payment
//     or tracking need more than what the shipped orders' ShippedShare
//     leaves, their ceilings are stretched by one factor k_a; the shipped
//     orders' ceilings likewise by k_s within their share.
//  2. What is left goes to the orders waiting for payment or tracking,
//     by weight (an order in its sellers' shipping window counts most),
//     never closer than MinInterval.
//  3. What is left after that goes to the shipped orders, never closer
//     than ShippedMinInterval.
//
// An order is due its interval after its last poll; a new order as soon
// as AliExpress shows it; an order polled before its store's latest
// fixed-time sync (sweeps, keyed by store "<platform>:<store>", or "*"
// for all) at that sync's time. Because the intervals never ask for more
// than the budget, and the earliest due is polled first, no order waits
// much longer than its interval: see Bound.
func Schedule(open []Tracked, now time.Time, callsPerDay float64, sweeps map[string]time.Time, c ScheduleConfig) []Due {
	perHour := callsPerDay / 24
	due := make([]Due, 0, len(open))
	for i := range open {
		t := &open[i]
		if st := StageOf(t); st != StageDone {
			due = append(due, Due{Index: i, AEOrderID: t.AEOrderID, Stage: st, Cost: PollCost(t)})
		}
	}
	// rates in polls an hour, per order.
	rates := make([]float64, len(due))
	var active, shipped []int
	var floorA, floorS float64 // calls an hour the ceilings need
	for i := range due {
		ceil := c.ceiling(due[i].Stage).Hours()
		f := float64(due[i].Cost) / ceil
		if due[i].Stage == StageShipped {
			shipped = append(shipped, i)
			floorS += f
		} else {
			active = append(active, i)
			floorA += f
		}
	}
	reserveS := min(floorS, c.ShippedShare*perHour)
	budgetA := perHour - reserveS
	ka := stretch(floorA, budgetA)
	for _, i := range active {
		rates[i] = 1 / c.ceiling(due[i].Stage).Hours() / ka
	}
	left := 0.0
	if ka == 1 {
		left = fill(due, rates, active, budgetA-floorA, 1/c.MinInterval.Hours(), func(i int) float64 { return c.weight(&open[due[i].Index], now) })
	}
	budgetS := reserveS + left
	ks := stretch(floorS, budgetS)
	for _, i := range shipped {
		rates[i] = 1 / c.ShippedCeiling.Hours() / ks
	}
	if ks == 1 {
		fill(due, rates, shipped, budgetS-floorS, 1/c.ShippedMinInterval.Hours(), func(int) float64 { return 1 })
	}

	for i := range due {
		d := &due[i]
		t := &open[d.Index]
		d.Interval = time.Duration(min(float64(time.Hour)/rates[i], math.MaxInt64))
		if t.LastPolled.IsZero() {
			d.At = t.PlacedAt.Add(c.VisibleAfter)
		} else {
			d.At = t.LastPolled.Add(d.Interval)
		}
		if len(sweeps) > 0 && !t.LastPolled.IsZero() {
			if s, ok := sweepOf(sweeps, t.StoreKey(), t.LastPolled, now); ok && s.Before(d.At) {
				d.At, d.Sweep = s, true
			}
		}
	}
	slices.SortFunc(due, func(a, b Due) int {
		return cmp.Or(a.At.Compare(b.At), open[a.Index].PlacedAt.Compare(open[b.Index].PlacedAt), strings.Compare(a.AEOrderID, b.AEOrderID))
	})
	return due
}

// stretch is how much ceilings needing need calls an hour stretch to fit
// in have: at least 1.
func stretch(need, have float64) float64 {
	if need <= have || need == 0 {
		return 1
	}
	if have <= 0 {
		return math.Inf(1)
	}
	return need / have
}

// sweepOf is the latest fixed-time sync of the store (or of every store)
// after the order's last poll and not after now.
func sweepOf(sweeps map[string]time.Time, store string, last, now time.Time) (time.Time, bool) {
	var best time.Time
	for _, k := range []string{store, "*"} {
		if s, ok := sweeps[k]; ok && s.After(last) && !s.After(now) && s.After(best) {
			best = s
		}
	}
	return best, !best.IsZero()
}

// fill raises the rates of the orders idx by weight with extra calls an
// hour, none above maxRate polls an hour (water-filling), and returns the
// calls an hour left over.
func fill(due []Due, rates []float64, idx []int, extra, maxRate float64, weight func(int) float64) float64 {
	if extra <= 0 || len(idx) == 0 {
		return max(extra, 0)
	}
	// An order reaches maxRate at level (maxRate-rate)/weight: raise the
	// level until the extra is spent, capping orders in that order.
	type item struct {
		i         int
		w, c, cap float64
	}
	items := make([]item, 0, len(idx))
	var sumWC float64
	for _, i := range idx {
		w := weight(i)
		it := item{i: i, w: w, c: float64(due[i].Cost), cap: max(maxRate-rates[i], 0) / w}
		items = append(items, it)
		sumWC += w * it.c
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.cap, b.cap) })
	level := 0.0
	for k, it := range items {
		// Raising every uncapped order from level to it.cap costs this.
		step := (it.cap - level) * sumWC
		if step >= extra {
			level += extra / sumWC
			for _, rest := range items[k:] {
				rates[rest.i] += level * rest.w
			}
			return 0
		}
		extra -= step
		level = it.cap
		rates[it.i] = max(maxRate, rates[it.i])
		sumWC -= it.w * it.c
	}
	return extra
}

// Bound is the longest an order of stage s may wait between two polls
// under Schedule with open orders counted per stage and a budget of
// callsPerDay, assuming every order costs its stage's most (2 calls once
// shipped) and fixed-time syncs aside: its ceiling, stretched when the
// ceilings of all the orders do not fit the budget. Polling rounds and
// the allowance's pacing add at most one round to it.
func Bound(s Stage, counts map[Stage]int, callsPerDay float64, c ScheduleConfig) time.Duration {
	perHour := callsPerDay / 24
	floorA := float64(counts[StageUnpaid])/c.UnpaidCeiling.Hours() + 2*float64(counts[StageAwaitingShipment])/c.AwaitingCeiling.Hours()
	floorS := 2 * float64(counts[StageShipped]) / c.ShippedCeiling.Hours()
	reserveS := min(floorS, c.ShippedShare*perHour)
	k := stretch(floorA, perHour-reserveS)
	if s == StageShipped {
		k = stretch(floorS, reserveS+max(perHour-reserveS-floorA, 0))
	}
	if math.IsInf(k, 1) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(float64(c.ceiling(s)) * k)
}

// Pace is how many calls the budget allows now: the share of dailyBudget
// that the part of the UTC day gone by earns, plus burst, less usedToday;
// never more than what is left of the day's budget. Spending at this pace
// spreads the budget evenly over the day, and a fixed-time sync that
// would overspend is spread the same way.
func Pace(dailyBudget, usedToday, burst int, now time.Time) int {
	u := now.UTC()
	midnight := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	earned := int(float64(dailyBudget) * u.Sub(midnight).Seconds() / (24 * time.Hour).Seconds())
	allowed := min(earned+burst, dailyBudget)
	return max(allowed-usedToday, 0)
}

// PaceBurst is the burst Pace allows the connector beyond the day's
// earned share: a two-hundredth of the daily budget, at least one call,
// so that a new order is queried at once even right after a busy round.
func PaceBurst(dailyBudget int) int { return max(1, dailyBudget/200) }

// Pick chooses from a schedule the orders to poll now within allowance
// calls: those due, earliest first. Orders due only because of a
// fixed-time sync take at most sweepShare of the allowance while other
// orders are due, and what the others leave: so a fixed-time sync that
// needs more than the budget's pace is spread over the following rounds
// without holding up the orders that wait for tracking.
func Pick(due []Due, now time.Time, allowance int, sweepShare float64) []Due {
	sweepCap := max(1, int(float64(allowance)*sweepShare))
	var out, deferred []Due
	spent, swept := 0, 0
	for _, d := range due {
		// The earliest due that does not fit waits for the next round,
		// so that cheaper orders behind it cannot starve it.
		if d.At.After(now) || spent+d.Cost > allowance {
			break
		}
		if d.Sweep && swept+d.Cost > sweepCap {
			deferred = append(deferred, d)
			continue
		}
		out = append(out, d)
		spent += d.Cost
		if d.Sweep {
			swept += d.Cost
		}
	}
	for _, d := range deferred {
		if spent+d.Cost > allowance {
			break
		}
		out = append(out, d)
		spent += d.Cost
	}
	return out
}
