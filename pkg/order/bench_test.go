package order_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// realisticStream is a Shopify order's whole life, as the orders service
// records it: created unpaid, paid, placed as two supplier orders, both paid,
// shipped in two parcels, each fulfilled on the store and confirmed, both
// supplier orders finished.
func realisticStream(tb testing.TB) []*eventsv1.Envelope {
	f := newFixture(tb, shopify, eachPart)
	f.fact(f.created(false))
	f.fact(f.captured())
	f.must(f.place("P1", mapped))
	f.fact(f.placed("P1", so("AE1", lq("L1", 2)), so("AE2", lq("L2", 1))))
	f.fact(f.paid("AE1"))
	f.fact(f.paid("AE2"))
	f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
	f.fact(f.pushed("s1", "F1"))
	f.fact(f.confirmed("s1"))
	f.fact(f.shipped("AE2", "s2", "T2", lq("L2", 1)))
	f.fact(f.pushed("s2", "F2"))
	f.fact(f.confirmed("s2"))
	f.fact(f.finished("AE1"))
	f.fact(f.finished("AE2"))
	if f.o.Tab() != eventsv1.Tab_TAB_FULFILLED {
		tb.Fatalf("tab %v", f.o.Tab())
	}
	// As stored: encoded, then decoded, so nothing is shared between events.
	out := make([]*eventsv1.Envelope, len(f.events))
	for i, e := range f.events {
		b, err := envelope.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		if out[i], err = envelope.Unmarshal(b); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// BenchmarkRebuild folds a realistic order's stream (about 20 events).
func BenchmarkRebuild(b *testing.B) {
	events := realisticStream(b)
	b.ReportAllocs()
	for b.Loop() {
		o := order.Rebuild(events)
		if o.Revision() != uint64(len(events)) {
			b.Fatal("revision")
		}
	}
	b.ReportMetric(float64(len(events)), "events/op")
	b.ReportMetric(float64(b.N)*float64(len(events))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRebuildTab folds a stream and derives its tab, as a replay does.
func BenchmarkRebuildTab(b *testing.B) {
	events := realisticStream(b)
	b.ReportAllocs()
	for b.Loop() {
		if order.Rebuild(events).Tab() != eventsv1.Tab_TAB_FULFILLED {
			b.Fatal("tab")
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(events))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkHandleShipment decides on a supplier shipment: the hot path from
// tracking to the store fulfilment request.
func BenchmarkHandleShipment(b *testing.B) {
	f := newFixture(b, shopify, eachPart)
	f.awaitingShipment()
	e := f.shipped("AE1", "s1", "T1", lq("L1", 2))
	c := f.ctx()
	b.ReportAllocs()
	for b.Loop() {
		evs, err := f.o.Handle(e, c)
		if err != nil || len(evs) != 2 {
			b.Fatal(err, len(evs))
		}
	}
}

// BenchmarkOrderMemory measures the heap an order rebuilt from stored
// events keeps once its events are gone: the read model's cost per order.
func BenchmarkOrderMemory(b *testing.B) {
	events := realisticStream(b)
	raw := make([][]byte, len(events))
	for i, e := range events {
		raw[i], _ = envelope.Marshal(e)
	}
	var per float64
	for b.Loop() {
		per = heapPerOrder(b, raw, 2000)
	}
	b.ReportMetric(per, "B/order")
}

// heapPerOrder rebuilds n orders from encoded events and returns the heap
// they hold, per order.
func heapPerOrder(tb testing.TB, raw [][]byte, n int) float64 {
	orders := make([]*order.Order, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range orders {
		o := &order.Order{}
		for _, r := range raw {
			e, err := envelope.Unmarshal(r)
			if err != nil {
				tb.Fatal(err)
			}
			o.Apply(e)
		}
		orders[i] = o
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(orders)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// memoryBudget is the documented read-model budget of a fulfilled order
// (about 3.2 KB measured; see the package documentation).
const memoryBudget = 8 << 10

// TestOrderMemoryBudget keeps a fulfilled order's read model within its
// documented budget (see the package documentation).
func TestOrderMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this measures the heap of 2,000 folded orders, too slow for a short run")
	}
	events := realisticStream(t)
	raw := make([][]byte, len(events))
	for i, e := range events {
		raw[i], _ = envelope.Marshal(e)
	}
	per := heapPerOrder(t, raw, 2000)
	t.Logf("%d events, %.0f bytes per order", len(events), per)
	if per > memoryBudget {
		t.Fatalf("%.0f bytes per order, budget %d", per, memoryBudget)
	}
}

// BenchmarkHandleAt decides on one fact (a tracking checkpoint) for an
// order that already has n events: the cost per fact must not grow with
// the order's history (each decision copies the order, and the copy's set
// of seen event ids is shared, not copied).
func BenchmarkHandleAt(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run(fmt.Sprint("events=", n), func(b *testing.B) {
			f := newFixture(b, shopify, eachPart)
			if n == 1 {
				f.fact(f.created(true))
			} else {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				for len(f.events) < n {
					f.fact(f.progressed("s1", "in transit", f.tick(), false))
				}
			}
			if got := int(f.o.Revision()); got < n || got > n+2 {
				b.Fatalf("revision %d, want about %d", got, n)
			}
			b.ReportMetric(float64(f.o.Revision()), "events")
			var e *eventsv1.Envelope
			if n == 1 {
				e = f.captured()
			} else {
				e = f.progressed("s1", "in transit", f.tick(), false)
			}
			c := f.ctx()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.o.Handle(e, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
