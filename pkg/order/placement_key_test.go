package order_test

import (
	"testing"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// placementKey returns the placement key of the PlacementRequested among evs.
func placementKey(t *testing.T, evs []*eventsv1.Envelope) string {
	t.Helper()
	for _, e := range evs {
		if p := e.GetPlacementRequested(); p != nil {
			return p.GetPlacementKey()
		}
	}
	t.Fatalf("no PlacementRequested in %q", describeAll(evs))
	return ""
}

// A retry after an uncertain failure (the supplier may have placed the
// order) keeps the failed attempt's key, so the supplier's idempotency
// returns that order; after a definite refusal the retry gets a new key.
func TestPlacementKeyAcrossRetries(t *testing.T) {
	t.Run("first placement uses the request id", func(t *testing.T) {
		f := newFixture(t, eventsv1.Platform_PLATFORM_SHOPIFY, nil)
		f.paidOnStore()
		if k := placementKey(t, f.must(f.place("P1", mapped))); k != "P1" {
			t.Fatalf("key = %q, want P1", k)
		}
	})
	t.Run("retry after an uncertain failure keeps the key", func(t *testing.T) {
		f := newFixture(t, eventsv1.Platform_PLATFORM_SHOPIFY, nil)
		f.paidOnStore()
		f.must(f.place("P1", mapped))
		f.fact(f.placementFailed("P1", "SUPPLIER_UNAVAILABLE", true))
		if k := placementKey(t, f.must(f.retry("P2", mapped))); k != "P1" {
			t.Fatalf("key = %q, want P1 (the uncertain attempt's)", k)
		}
		// Uncertain again: still the first key.
		f.fact(f.placementFailed("P2", "SUPPLIER_UNAVAILABLE", true))
		if k := placementKey(t, f.must(f.retry("P3", mapped))); k != "P1" {
			t.Fatalf("key = %q, want P1", k)
		}
	})
	t.Run("retry after a definite refusal gets a new key", func(t *testing.T) {
		f := newFixture(t, eventsv1.Platform_PLATFORM_SHOPIFY, nil)
		f.paidOnStore()
		f.must(f.place("P1", mapped))
		f.fact(f.placementFailed("P1", "OUT_OF_STOCK", false))
		if k := placementKey(t, f.must(f.retry("P2", mapped))); k != "P2" {
			t.Fatalf("key = %q, want P2", k)
		}
	})
}
