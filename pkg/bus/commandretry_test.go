package bus_test

import (
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
)

func TestCommandRetryCoversTheHorizon(t *testing.T) {
	span := bus.RetrySpan(bus.CommandBackoff, bus.CommandMaxDeliver)
	if span < bus.CommandRetryHorizon || span > bus.CommandRetryHorizon+2*time.Hour {
		t.Fatalf("%d deliveries span %s, want about %s", bus.CommandMaxDeliver, span, bus.CommandRetryHorizon)
	}
	if last := bus.CommandBackoff[len(bus.CommandBackoff)-1]; last != time.Hour {
		t.Fatalf("backoff cap %s, want 1h", last)
	}
	if got := bus.RetrySpan([]time.Duration{time.Second, 2 * time.Second}, 4); got != 5*time.Second {
		t.Fatalf("RetrySpan = %s, want 5s", got)
	}
}
