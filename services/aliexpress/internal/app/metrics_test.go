package app_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dropsync/dropsync/pkg/metrics"
)

// TestMetricsExported: the account's budget is exported as the budget
// gauges, and a tracking number found by a poll records the
// aliexpress_to_dropsync leg, at most the time since the order's previous
// poll.
func TestMetricsExported(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	r := newRig(t, func(c *rigConfig) { c.budget = 5000 })
	ctx := context.Background()
	id := r.place(t, "metrics-1", 0)
	if err := r.sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	if _, err := r.syncer.PollDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.Ship(id, "LPMETRICS", ""); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := r.syncer.PollDue(ctx); err != nil {
			t.Fatal(err)
		}
		if s, err := metrics.Snapshot(ctx, reader); err != nil {
			t.Fatal(err)
		} else if len(s.Legs) > 0 {
			break
		}
		r.clock.Advance(time.Minute)
	}
	s, err := metrics.Snapshot(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Legs) != 1 || s.Legs[0].Leg != metrics.LegAliExpressToDropsync || s.Legs[0].Count != 1 {
		t.Fatalf("legs %+v, want one aliexpress_to_dropsync", s.Legs)
	}
	// Polls a minute apart: the leg is within the (60 s, 120 s] bucket.
	if p := s.Legs[0].P95; p > 2*time.Minute {
		t.Errorf("aliexpress_to_dropsync p95 %v, want at most the minute between polls (bucket 120 s)", p)
	}
	used, limit := r.budget.Used()
	if len(s.Budgets) != 1 || s.Budgets[0] != (metrics.BudgetSummary{Account: "default", Used: int64(used), Left: int64(limit - used), Limit: int64(limit)}) {
		t.Errorf("budgets %+v, want default %d used of %d", s.Budgets, used, limit)
	}
}
