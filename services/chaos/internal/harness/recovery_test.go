package harness

import (
	"testing"
	"time"
)

// TestLatencyGroupSummarize checks the nearest-rank percentiles of a
// latency group.
func TestLatencyGroupSummarize(t *testing.T) {
	s := time.Second
	tests := []struct {
		name          string
		latencies     []time.Duration
		p50, p99, max time.Duration
	}{
		{name: "none"},
		{name: "one", latencies: []time.Duration{3 * s}, p50: 3 * s, p99: 3 * s, max: 3 * s},
		{name: "unsorted four", latencies: []time.Duration{4 * s, 1 * s, 3 * s, 2 * s}, p50: 2 * s, p99: 4 * s, max: 4 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := LatencyGroup{latencies: tt.latencies}
			g.summarize()
			if g.N != len(tt.latencies) || g.P50 != tt.p50 || g.P99 != tt.p99 || g.Max != tt.max {
				t.Errorf("got n=%d p50=%v p99=%v max=%v, want n=%d p50=%v p99=%v max=%v",
					g.N, g.P50, g.P99, g.Max, len(tt.latencies), tt.p50, tt.p99, tt.max)
			}
		})
	}
}

// TestLatencyGroupHundred: with 100 latencies, p99 is the 99th.
func TestLatencyGroupHundred(t *testing.T) {
	g := LatencyGroup{}
	for i := 100; i >= 1; i-- {
		g.latencies = append(g.latencies, time.Duration(i)*time.Millisecond)
	}
	g.summarize()
	if g.P50 != 50*time.Millisecond || g.P99 != 99*time.Millisecond || g.Max != 100*time.Millisecond {
		t.Errorf("got p50=%v p99=%v max=%v, want 50ms 99ms 100ms", g.P50, g.P99, g.Max)
	}
}
