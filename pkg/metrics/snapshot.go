package metrics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Summary is what the live view shows, read from the exported instruments.
type Summary struct {
	// Legs has one entry per leg of Legs that has observations, merged
	// over platforms and stores.
	Legs []LegSummary
	// Budgets is the AliExpress budget per account, sorted by account.
	Budgets []BudgetSummary
	// DeadLetters is the dead-letter depth per origin stream (streams
	// with none left out), and DeadLettersTotal their sum.
	DeadLetters      map[string]int64
	DeadLettersTotal int64
	// Unhealthy names the connections whose ConnectionHealthy is 0, as
	// "<platform>:<store or account>", sorted.
	Unhealthy []string
}

// LegSummary is one leg's latency distribution.
type LegSummary struct {
	Leg      string
	Count    uint64
	P50, P95 time.Duration
}

// BudgetSummary is one AliExpress account's budget.
type BudgetSummary struct {
	Account           string
	Used, Left, Limit int64
}

// Snapshot collects r, a reader of the meter provider the instruments
// report to, and summarises it. Percentiles are interpolated within
// histogram buckets, as Prometheus's histogram_quantile does, so the view
// and the dashboard agree.
func Snapshot(ctx context.Context, r sdkmetric.Reader) (Summary, error) {
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		return Summary{}, fmt.Errorf("metrics: collect: %w", err)
	}
	return Summarize(&rm), nil
}

// Summarize summarises collected metrics; see Snapshot.
func Summarize(rm *metricdata.ResourceMetrics) Summary {
	s := Summary{DeadLetters: map[string]int64{}}
	budgets := map[string]*BudgetSummary{}
	budget := func(attrs attribute.Set) *BudgetSummary {
		a, _ := attrs.Value(LabelAccount)
		b := budgets[a.AsString()]
		if b == nil {
			b = &BudgetSummary{Account: a.AsString()}
			budgets[a.AsString()] = b
		}
		return b
	}
	legs := map[string]*legAcc{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != Scope {
			continue
		}
		for _, m := range sm.Metrics {
			switch m.Name {
			case SyncLegDuration:
				h, ok := m.Data.(metricdata.Histogram[float64])
				if !ok {
					continue
				}
				for _, dp := range h.DataPoints {
					leg, _ := dp.Attributes.Value(LabelLeg)
					acc := legs[leg.AsString()]
					if acc == nil {
						acc = &legAcc{bounds: dp.Bounds, counts: make([]uint64, len(dp.BucketCounts))}
						legs[leg.AsString()] = acc
					}
					acc.add(dp)
				}
			case DeadLetterDepth, AliExpressBudgetUsed, AliExpressBudgetLeft, AliExpressBudgetLimit, ConnectionHealthy:
				g, ok := m.Data.(metricdata.Gauge[int64])
				if !ok {
					continue
				}
				for _, dp := range g.DataPoints {
					switch m.Name {
					case DeadLetterDepth:
						if dp.Value > 0 {
							st, _ := dp.Attributes.Value(LabelStream)
							s.DeadLetters[st.AsString()] += dp.Value
							s.DeadLettersTotal += dp.Value
						}
					case AliExpressBudgetUsed:
						budget(dp.Attributes).Used = dp.Value
					case AliExpressBudgetLeft:
						budget(dp.Attributes).Left = dp.Value
					case AliExpressBudgetLimit:
						budget(dp.Attributes).Limit = dp.Value
					case ConnectionHealthy:
						if dp.Value == 0 {
							p, _ := dp.Attributes.Value(LabelPlatform)
							who, ok := dp.Attributes.Value(LabelStore)
							if !ok {
								who, _ = dp.Attributes.Value(LabelAccount)
							}
							s.Unhealthy = append(s.Unhealthy, p.AsString()+":"+who.AsString())
						}
					}
				}
			}
		}
	}
	for _, leg := range Legs {
		acc := legs[leg]
		if acc == nil || acc.total == 0 {
			continue
		}
		s.Legs = append(s.Legs, LegSummary{Leg: leg, Count: acc.total, P50: acc.quantile(0.5), P95: acc.quantile(0.95)})
	}
	for _, b := range budgets {
		s.Budgets = append(s.Budgets, *b)
	}
	slices.SortFunc(s.Budgets, func(a, b BudgetSummary) int {
		if a.Account < b.Account {
			return -1
		}
		if a.Account > b.Account {
			return 1
		}
		return 0
	})
	slices.Sort(s.Unhealthy)
	return s
}

// legAcc merges histogram data points with the same bounds.
type legAcc struct {
	bounds []float64
	counts []uint64
	total  uint64
	max    float64
}

func (a *legAcc) add(dp metricdata.HistogramDataPoint[float64]) {
	if !slices.Equal(dp.Bounds, a.bounds) || len(dp.BucketCounts) != len(a.counts) {
		return // the buckets are fixed by the instrument; cannot happen
	}
	for i, c := range dp.BucketCounts {
		a.counts[i] += c
	}
	a.total += dp.Count
	if v, ok := dp.Max.Value(); ok && v > a.max {
		a.max = v
	}
}

// quantile interpolates linearly within the bucket holding the q-th
// observation, like histogram_quantile; in the last, open bucket it
// answers the largest value seen.
func (a *legAcc) quantile(q float64) time.Duration {
	rank := q * float64(a.total)
	var cum uint64
	for i, c := range a.counts {
		if c == 0 || float64(cum+c) < rank {
			cum += c
			continue
		}
		if i == len(a.bounds) {
			return seconds(a.max)
		}
		lo := 0.0
		if i > 0 {
			lo = a.bounds[i-1]
		}
		hi := a.bounds[i]
		return seconds(lo + (hi-lo)*(rank-float64(cum))/float64(c))
	}
	return seconds(a.max)
}

func seconds(v float64) time.Duration {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return time.Duration(v * float64(time.Second))
}
