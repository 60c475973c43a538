package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// BenchmarkDetectionLatency measures, on a simulated clock, the time from
// "AliExpress shows tracking" to the poll that sees it, for dropsync's
// scheduler and, in the same run and on the same workload, DSers' fixed
// schedule (two syncs a day, outside any budget) and plain round-robin
// within the same budget. The workload is described at workload; each
// case runs 25 simulated days of warm-up and measures the orders shipped
// in the next 14 or more (about 100 shipments at the least); rounds are
// ten seconds apart (the connector's default), five minutes from 1,000
// open orders on.
//
//	go test -run '^$' -bench DetectionLatency -benchtime 1x ./services/aliexpress/internal/domain/
func BenchmarkDetectionLatency(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		for _, budget := range []int{5000, 50000} {
			b.Run(fmt.Sprintf("open=%d/budget=%d", n, budget), func(b *testing.B) {
				w := workload{Open: n, Seed: uint64(n), Round: 10 * time.Second, Warmup: 25 * 24 * time.Hour}
				// Long enough for about 150 shipments, and 14 days at least,
				// plus 8 days for the last of them to be seen.
				w.Run = max(14*24*time.Hour, 100*meanLifetime/time.Duration(n)) + 8*24*time.Hour
				if n >= 1000 {
					w.Round = 5 * time.Minute
				}
				var ds, rr, dsers result
				for b.Loop() {
					ds = simulate(w, dropsync{cfg: domain.DefaultSchedule(), callsPerDay: float64(budget)}, budget)
					rr = simulate(w, roundRobin{}, budget)
					dsers = simulate(w, &dsersSchedule{}, budget)
				}
				h := func(d time.Duration) float64 { return d.Hours() }
				b.ReportMetric(h(ds.pct(0.5)), "p50-h")
				b.ReportMetric(h(ds.pct(0.95)), "p95-h")
				b.ReportMetric(h(ds.pct(1)), "max-h")
				b.ReportMetric(h(ds.pct(0.95))/h(rr.pct(0.95)), "p95/rr")
				b.ReportMetric(h(ds.pct(0.95))/h(dsers.pct(0.95)), "p95/dsers")
				b.ReportMetric(h(ds.pct(1))/h(dsers.pct(1)), "max/dsers")
				b.Logf("dropsync    %v", ds)
				b.Logf("round-robin %v", rr)
				b.Logf("DSers       %v", dsers)
			})
		}
	}
}
