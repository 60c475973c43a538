package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// Days of simulated time through the simulator, on the default schedule
// and a default budget: orders are placed for three days, sellers pay and
// ship them at random, and the connector's rounds run every ten minutes
// of the fake clock. Every shipment is seen, within the documented bound,
// and no day spends more than the budget.
func TestLongRunSimulatedDays(t *testing.T) {
	if testing.Short() {
		t.Skip("a few hundred thousand simulated API calls; skipped in -short")
	}
	const (
		budget = 5000
		orders = 1000
		round  = 10 * time.Minute
	)
	r := newRig(t, func(c *rigConfig) { c.budget, c.relaxed = budget, true })
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	start := r.clock.Now()
	type plan struct {
		id                 int64
		placeAt, pay, ship time.Time
		paid, shipped      bool
		seen               time.Time
	}
	plans := make([]*plan, orders)
	for i := range plans {
		p := &plan{placeAt: start.Add(time.Duration(i) * 3 * 24 * time.Hour / orders)}
		p.pay = p.placeAt.Add(time.Minute)
		if rng.IntN(10) == 0 {
			p.pay = p.placeAt.Add(time.Duration(rng.Float64() * float64(24*time.Hour)))
		}
		p.ship = p.pay.Add(12*time.Hour + time.Duration(rng.Float64()*float64(48*time.Hour)))
		plans[i] = p
	}
	end := start.Add(6 * 24 * time.Hour)
	next, day, dayStart := 0, "", 0
	for now := start; now.Before(end); now = now.Add(round) {
		r.clock.Set(now)
		if d := now.UTC().Format(time.DateOnly); d != day {
			if used, _ := r.budget.Used(); day != "" && used > budget {
				t.Fatalf("%s: %d calls, budget %d", day, used, budget)
			}
			day, dayStart = d, r.sim.CallCount("")
		}
		for ; next < len(plans) && !plans[next].placeAt.After(now); next++ {
			plans[next].id = r.place(t, fmt.Sprint("o", next), next%4)
		}
		for _, p := range plans[:next] {
			if !p.paid && !p.pay.After(now) {
				if err := r.sim.Pay(p.id); err != nil {
					t.Fatal(err)
				}
				p.paid = true
			}
			if p.paid && !p.shipped && !p.ship.After(now) {
				if err := r.sim.Ship(p.id, fmt.Sprintf("LP%d", p.id), ""); err != nil {
					t.Fatal(err)
				}
				p.shipped = true
			}
		}
		if _, err := r.syncer.PollDue(ctx); err != nil {
			t.Fatal(err)
		}
		open := map[string]domain.Tracked{}
		for _, o := range r.store.Open() {
			open[o.AEOrderID] = o
		}
		for _, p := range plans[:next] {
			if o, ok := open[fmt.Sprint(p.id)]; ok && o.Shipped() && p.seen.IsZero() {
				p.seen = now
			}
		}
		if calls := r.sim.CallCount("") - dayStart; calls > budget {
			t.Fatalf("%s: the simulator took %d calls, budget %d", day, calls, budget)
		}
	}
	var worst time.Duration
	for i, p := range plans {
		switch {
		case !p.shipped:
			t.Errorf("order %d never shipped in the run: the workload is wrong", i)
		case p.seen.IsZero():
			t.Errorf("order %d shipped at %v, never seen", i, p.ship)
		default:
			worst = max(worst, p.seen.Sub(p.ship))
		}
	}
	// Well within the budget, so every paid order is polled within its
	// ceiling; the round adds one.
	if bound := domain.DefaultSchedule().AwaitingCeiling + round; worst > bound {
		t.Errorf("a shipment was seen %v after it shipped, bound %v", worst, bound)
	}
	t.Logf("%d orders over %v: worst detection %v, %d calls", orders, end.Sub(start), worst, r.sim.CallCount(""))
}
