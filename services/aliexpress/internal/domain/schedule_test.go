package domain_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

var noon = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// order builds a tracked order of one line in a stage: "unpaid",
// "awaiting" (paid paidAgo ago), "partly" (one of two units shipped),
// "shipped", "delivered" or "closed".
func order(id, stage string, placedAgo, paidAgo, polledAgo time.Duration) domain.Tracked {
	t := domain.Tracked{AEOrderID: id, OrderID: "shopify:acme:" + id, PlacedAt: noon.Add(-placedAgo),
		Lines: []domain.Line{{LineItemID: "li", ProductID: "p", Quantity: 2}}}
	if polledAgo >= 0 {
		t.LastPolled = noon.Add(-polledAgo)
	}
	if stage != "unpaid" {
		t.PaidAt = noon.Add(-paidAgo)
	}
	switch stage {
	case "partly":
		t.Shipments = []domain.Shipment{{LogisticsNo: "LP1", LineQty: map[string]int32{"li": 1}}}
	case "shipped", "delivered", "closed":
		t.Shipments = []domain.Shipment{{LogisticsNo: "LP1", LineQty: map[string]int32{"li": 2}}}
	}
	switch stage {
	case "delivered":
		t.DeliveredAt = noon
	case "closed":
		t.Closed = true
	}
	return t
}

func TestStages(t *testing.T) {
	for stage, want := range map[string]domain.Stage{
		"unpaid": domain.StageUnpaid, "awaiting": domain.StageAwaitingShipment, "partly": domain.StageAwaitingShipment,
		"shipped": domain.StageShipped, "delivered": domain.StageDone, "closed": domain.StageDone,
	} {
		o := order("1", stage, time.Hour, time.Hour, time.Minute)
		if got := domain.StageOf(&o); got != want {
			t.Errorf("%s: stage %v, want %v", stage, got, want)
		}
	}
	canceled := order("1", "partly", time.Hour, time.Hour, time.Minute)
	canceled.Lines = append(canceled.Lines, domain.Line{LineItemID: "gone", Quantity: 1})
	canceled.Shipments[0].LineQty["li"] = 2
	canceled.CanceledLines = []string{"gone"}
	if got := domain.StageOf(&canceled); got != domain.StageShipped {
		t.Errorf("shipped but for a canceled line: %v, want shipped", got)
	}
}

// intervals schedules open at noon and returns each order's interval.
func intervals(open []domain.Tracked, callsPerDay float64, cfg domain.ScheduleConfig) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, d := range domain.Schedule(open, noon, callsPerDay, nil, cfg) {
		out[d.AEOrderID] = d.Interval
	}
	return out
}

func TestScheduleSharesTheBudgetByLikelihoodOfNews(t *testing.T) {
	cfg := domain.DefaultSchedule()
	open := []domain.Tracked{
		order("window", "awaiting", 3*24*time.Hour, 3*24*time.Hour, time.Minute),
		order("early", "awaiting", 2*time.Hour, 2*time.Hour, time.Minute),
		order("late", "awaiting", 30*24*time.Hour, 30*24*time.Hour, time.Minute),
		order("partly", "partly", 3*24*time.Hour, 3*24*time.Hour, time.Minute),
		order("new-unpaid", "unpaid", 10*time.Minute, 0, time.Minute),
		order("old-unpaid", "unpaid", 30*time.Hour, 0, time.Minute),
		order("shipped", "shipped", 10*24*time.Hour, 10*24*time.Hour, time.Minute),
		order("delivered", "delivered", 10*24*time.Hour, 10*24*time.Hour, time.Minute),
		order("closed", "closed", 10*24*time.Hour, 10*24*time.Hour, time.Minute),
	}
	for i := range 200 { // enough shipped orders that the budget binds
		open = append(open, order("s"+strconv.Itoa(i), "shipped", 10*24*time.Hour, 10*24*time.Hour, time.Minute))
	}
	iv := intervals(open, 5000, cfg)
	for _, gone := range []string{"delivered", "closed"} {
		if _, ok := iv[gone]; ok {
			t.Errorf("%s order scheduled", gone)
		}
	}
	for _, tc := range []struct{ sooner, later string }{
		{"window", "early"}, {"window", "late"}, {"early", "shipped"}, {"late", "shipped"},
		{"new-unpaid", "old-unpaid"}, {"old-unpaid", "shipped"},
	} {
		if iv[tc.sooner] >= iv[tc.later] {
			t.Errorf("%s every %v, not sooner than %s every %v", tc.sooner, iv[tc.sooner], tc.later, iv[tc.later])
		}
	}
	if iv["partly"] != iv["window"] {
		t.Errorf("partly shipped every %v, want as often as an order in its shipping window (%v)", iv["partly"], iv["window"])
	}
	for id, d := range iv {
		o := open[0]
		for _, x := range open {
			if x.AEOrderID == id {
				o = x
			}
		}
		st := domain.StageOf(&o)
		if lo := cfg.MinInterval; d < lo {
			t.Errorf("%s every %v, below MinInterval", id, d)
		}
		if st == domain.StageShipped && d < cfg.ShippedMinInterval {
			t.Errorf("%s every %v, below ShippedMinInterval", id, d)
		}
		if ceil := map[domain.Stage]time.Duration{domain.StageUnpaid: cfg.UnpaidCeiling, domain.StageAwaitingShipment: cfg.AwaitingCeiling, domain.StageShipped: cfg.ShippedCeiling}[st]; d > ceil {
			t.Errorf("%s every %v, beyond its ceiling %v although the budget covers every ceiling", id, d, ceil)
		}
	}
}

// callsADay is what a schedule asks of the budget.
func callsADay(open []domain.Tracked, due []domain.Due) float64 {
	var sum float64
	for _, d := range due {
		sum += float64(d.Cost) * float64(24*time.Hour) / float64(d.Interval)
	}
	return sum
}

func TestScheduleNeverAsksMoreThanTheBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, budget := range []float64{500, 5000, 50000} {
		for _, n := range []int{1, 10, 100, 3000} {
			open := randomOpen(rng, n)
			due := domain.Schedule(open, noon, budget, nil, domain.DefaultSchedule())
			if got := callsADay(open, due); got > budget*1.0001 {
				t.Errorf("%d orders on %v calls a day: the schedule asks %.0f", n, budget, got)
			}
		}
	}
}

func TestScheduleStretchesCeilingsWhenTheBudgetIsShort(t *testing.T) {
	cfg := domain.DefaultSchedule()
	var open []domain.Tracked
	for i := range 1000 {
		open = append(open, order(strconv.Itoa(i), "awaiting", 3*24*time.Hour, 3*24*time.Hour, time.Minute))
	}
	for i := range 1000 {
		open = append(open, order("s"+strconv.Itoa(i), "shipped", 9*24*time.Hour, 9*24*time.Hour, time.Minute))
	}
	// Ceilings alone need 1000*2/day + 1000*2/5days = 2,400 calls a day
	// (awaiting orders cost one call until they ship); give 1,000.
	iv := intervals(open, 1000, cfg)
	counts := map[domain.Stage]int{domain.StageAwaitingShipment: 1000, domain.StageShipped: 1000}
	if got, bound := iv["0"], domain.Bound(domain.StageAwaitingShipment, counts, 1000, cfg); got <= cfg.AwaitingCeiling || got > bound {
		t.Errorf("awaiting every %v, want stretched beyond %v and within the bound %v", got, cfg.AwaitingCeiling, bound)
	}
	if got, bound := iv["s0"], domain.Bound(domain.StageShipped, counts, 1000, cfg); got > bound+time.Second {
		t.Errorf("shipped every %v, beyond the bound %v", got, bound)
	}
	// The shipped orders keep their share: 10% of 1,000 calls over 1,000
	// orders of 2 calls is one poll in 20 days.
	if got := iv["s0"]; got > 21*24*time.Hour {
		t.Errorf("shipped orders starved: every %v", got)
	}
}

func TestScheduleDueTimes(t *testing.T) {
	cfg := domain.DefaultSchedule()
	fresh := order("fresh", "unpaid", 5*time.Second, 0, -1)
	visible := order("visible", "unpaid", 2*time.Minute, 0, -1)
	polled := order("polled", "awaiting", 3*24*time.Hour, 3*24*time.Hour, 10*time.Second)
	other := order("other", "shipped", 9*24*time.Hour, 9*24*time.Hour, 2*time.Hour)
	other.OrderID = "wix:shop:1"
	due := domain.Schedule([]domain.Tracked{fresh, visible, polled, other}, noon, 5000,
		map[string]time.Time{"shopify:acme": noon.Add(-time.Hour), "wix:shop": noon.Add(-time.Minute)}, cfg)
	at := map[string]domain.Due{}
	for _, d := range due {
		at[d.AEOrderID] = d
	}
	if got := at["fresh"].At; !got.Equal(fresh.PlacedAt.Add(cfg.VisibleAfter)) {
		t.Errorf("a new order is due at %v, want when AliExpress shows it", got)
	}
	if got := at["polled"]; got.Sweep || !got.At.Equal(polled.LastPolled.Add(got.Interval)) {
		t.Errorf("an order polled after its store's fixed sync: %+v, want due an interval after the poll", got)
	}
	if got := at["other"]; !got.Sweep || !got.At.Equal(noon.Add(-time.Minute)) {
		t.Errorf("an order not polled since its store's fixed sync: %+v, want due at the sync", got)
	}
	if due[0].AEOrderID != "visible" {
		t.Errorf("earliest due first: got %s first", due[0].AEOrderID)
	}
}

func TestPick(t *testing.T) {
	mk := func(id string, at time.Duration, cost int, sweep bool) domain.Due {
		return domain.Due{AEOrderID: id, At: noon.Add(at), Cost: cost, Sweep: sweep}
	}
	due := []domain.Due{
		mk("s1", -3*time.Hour, 2, true), mk("s2", -3*time.Hour, 2, true), mk("s3", -3*time.Hour, 2, true),
		mk("a", -time.Hour, 1, false), mk("b", -time.Minute, 2, false), mk("later", time.Minute, 1, false),
	}
	ids := func(ds []domain.Due) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.AEOrderID)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		allowance int
		want      string
	}{
		{0, "[]"},
		{4, "[s1 a]"},           // sweeps take half while others wait; b (2) does not fit
		{7, "[s1 a b s2]"},      // 3 for sweeps: one sweep order, then a and b, and what they leave to s2
		{9, "[s1 s2 a b s3]"},   // 4 for sweeps, then the others, then the rest of the sweep
		{100, "[s1 s2 s3 a b]"}, // earliest due first; never an order not due
	} {
		if got := ids(domain.Pick(due, noon, tc.allowance, 0.5)); got != tc.want {
			t.Errorf("allowance %d: %s, want %s", tc.allowance, got, tc.want)
		}
	}
}

func TestPace(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at                 time.Duration
		daily, used, burst int
		want               int
	}{
		{0, 4800, 0, 24, 24},                                // the burst at midnight
		{6 * time.Hour, 4800, 0, 24, 1224},                  // a quarter of the day earned
		{6 * time.Hour, 4800, 1224, 24, 0},                  // spent at pace
		{12 * time.Hour, 4800, 3000, 24, 0},                 // a manual sync spent ahead
		{23*time.Hour + 59*time.Minute, 4800, 4790, 24, 10}, // never beyond the day's budget
	} {
		if got := domain.Pace(tc.daily, tc.used, tc.burst, day.Add(tc.at)); got != tc.want {
			t.Errorf("Pace(%d, %d, %d, %v) = %d, want %d", tc.daily, tc.used, tc.burst, tc.at, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	var b domain.Backoff
	b = b.Limited(noon, false, time.Hour)
	if !b.Paused(noon.Add(59*time.Second)) || b.Paused(noon.Add(time.Minute)) {
		t.Errorf("first throttle: %+v, want a minute", b)
	}
	b = b.Limited(noon, false, time.Hour)
	if b.Step != 2*time.Minute {
		t.Errorf("second throttle in a row: %v, want doubled", b.Step)
	}
	for range 10 {
		b = b.Limited(noon, false, time.Hour)
	}
	if b.Step != time.Hour {
		t.Errorf("throttles in a row: %v, want capped at 1h", b.Step)
	}
	q := domain.Backoff{}.Limited(time.Date(2026, 11, 20, 23, 50, 0, 0, time.UTC), true, time.Hour)
	if q.Until != time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC) {
		t.Errorf("spent quota at 23:50: until %v, want midnight", q.Until)
	}
}

// randomOpen is n open orders in random stages and ages.
func randomOpen(rng *rand.Rand, n int) []domain.Tracked {
	stages := []string{"unpaid", "awaiting", "awaiting", "partly", "shipped", "shipped", "shipped"}
	out := make([]domain.Tracked, n)
	for i := range out {
		age := time.Duration(rng.Float64() * float64(25*24*time.Hour))
		out[i] = order(strconv.Itoa(i), stages[rng.IntN(len(stages))], age, age/2, time.Duration(rng.Float64()*float64(time.Hour)))
		if n%5 == 0 {
			out[i].OrderID = "wix:site" + strconv.Itoa(i%3) + ":" + strconv.Itoa(i)
		}
	}
	return out
}

// For random open sets and budgets, rounds of Schedule, Pick and Pace over
// simulated days poll every open order within Bound (plus three rounds
// and a tenth for pacing) and never spend more than the day's budget.
func TestSchedulePropertyNoStarvationWithinBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	cfg := domain.DefaultSchedule()
	const round = 2 * time.Minute
	cases := 12
	if testing.Short() {
		cases = 4 // the simulation is the test; fewer random sets in -short
	}
	for c := range cases {
		n := 1 + rng.IntN(300)
		budget := []int{200, 1000, 5000, 50000}[rng.IntN(4)]
		t.Run(fmt.Sprintf("%d/open=%d/budget=%d", c, n, budget), func(t *testing.T) {
			open := randomOpen(rng, n)
			start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
			// Spread the last polls over one interval, as a running
			// connector has them.
			for _, d := range domain.Schedule(open, start, float64(budget), nil, cfg) {
				open[d.Index].LastPolled = start.Add(-time.Duration(rng.Float64() * float64(min(d.Interval, 30*24*time.Hour))))
			}
			counts := map[domain.Stage]int{}
			for i := range open {
				counts[domain.StageOf(&open[i])]++
			}
			maxGap := make([]time.Duration, n)
			end := start.Add(3 * 24 * time.Hour)
			used, day := 0, ""
			for now := start; now.Before(end); now = now.Add(round) {
				if d := now.Format(time.DateOnly); d != day {
					day, used = d, 0
				}
				due := domain.Schedule(open, now, float64(budget), nil, cfg)
				for _, d := range domain.Pick(due, now, domain.Pace(budget, used, domain.PaceBurst(budget), now), 0.5) {
					o := &open[d.Index]
					maxGap[d.Index] = max(maxGap[d.Index], now.Sub(o.LastPolled))
					o.LastPolled = now
					used += d.Cost
				}
				if used > budget {
					t.Fatalf("spent %d calls on %s, budget %d", used, day, budget)
				}
			}
			for i := range open {
				gap := max(maxGap[i], end.Sub(open[i].LastPolled))
				st := domain.StageOf(&open[i])
				bound := domain.Bound(st, counts, float64(budget), cfg)
				if gap > bound+bound/10+3*round {
					t.Errorf("order %s (%v) waited %v, bound %v", open[i].AEOrderID, st, gap, bound)
				}
			}
		})
	}
}
