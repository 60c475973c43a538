package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func created(name string, at time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{
		EventId:    "c-" + name,
		OccurredAt: timestamppb.New(at),
		Event: &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{
			Order: &eventsv1.StoreOrder{Name: name, StoreCreatedAt: timestamppb.New(at)},
		}},
	}
}

func moved(from, to eventsv1.Tab, at time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{
		EventId:    fmt.Sprintf("s-%v-%v", from, to),
		OccurredAt: timestamppb.New(at),
		Event:      &eventsv1.Envelope_OrderStatusChanged{OrderStatusChanged: &eventsv1.OrderStatusChanged{From: from, To: to}},
	}
}

type feeder struct {
	m   *readmodel.Model
	pos uint64
}

func (f *feeder) apply(id string, rev uint64, env *eventsv1.Envelope) {
	f.pos++
	f.m.Apply(id, rev, eventstore.Position{Commit: f.pos, Prepare: f.pos}, env)
}

func (f *feeder) order(id string, at time.Time, tabs ...eventsv1.Tab) {
	f.apply(id, 0, created(id, at))
	from := eventsv1.Tab_TAB_UNSPECIFIED
	for i, to := range tabs {
		f.apply(id, uint64(i+1), moved(from, to, at.Add(time.Duration(i+1)*time.Second)))
		from = to
	}
}

func TestCountsFollowStatusChanges(t *testing.T) {
	f := &feeder{m: readmodel.New()}
	f.order("shopify:a:1", t0, eventsv1.Tab_TAB_PENDING, eventsv1.Tab_TAB_AWAITING_ORDER)
	f.order("shopify:a:2", t0.Add(time.Minute), eventsv1.Tab_TAB_PENDING)
	f.order("wix:b:3", t0.Add(2*time.Minute), eventsv1.Tab_TAB_AWAITING_ORDER)

	all := f.m.Count("")
	if all[eventsv1.Tab_TAB_PENDING] != 1 || all[eventsv1.Tab_TAB_AWAITING_ORDER] != 2 {
		t.Fatalf("counts = %v", all)
	}
	a := f.m.Count("shopify:a")
	if a[eventsv1.Tab_TAB_PENDING] != 1 || a[eventsv1.Tab_TAB_AWAITING_ORDER] != 1 {
		t.Fatalf("store counts = %v", a)
	}
	if n := f.m.Count("nope:x")[eventsv1.Tab_TAB_PENDING]; n != 0 {
		t.Fatalf("unknown store count = %d", n)
	}
	s, ok := f.m.Get("shopify:a:1")
	if !ok || s.Tab != eventsv1.Tab_TAB_AWAITING_ORDER || s.Name != "shopify:a:1" || s.Revision != 2 || s.Store != "shopify:a" {
		t.Fatalf("Get = %+v, %v", s, ok)
	}
}

func TestApplyIsIdempotentByPosition(t *testing.T) {
	m := readmodel.New()
	env := moved(eventsv1.Tab_TAB_UNSPECIFIED, eventsv1.Tab_TAB_PENDING, t0)
	pos := eventstore.Position{Commit: 7, Prepare: 7}
	m.Apply("shopify:a:1", 0, pos, env)
	m.Apply("shopify:a:1", 0, pos, env)
	if n := m.Count("")[eventsv1.Tab_TAB_PENDING]; n != 1 {
		t.Fatalf("pending = %d after a replayed event, want 1", n)
	}
}

func TestListPagesNewestFirstWithFilters(t *testing.T) {
	f := &feeder{m: readmodel.New()}
	for i := range 25 {
		tab := eventsv1.Tab_TAB_PENDING
		if i%5 == 0 {
			tab = eventsv1.Tab_TAB_FAILED
		}
		f.order(fmt.Sprintf("shopify:a:%03d", i), t0.Add(time.Duration(i)*time.Minute), tab)
	}
	// An order whose first event arrives late but was created early sorts by creation.
	f.order("shopify:a:early", t0.Add(-time.Hour), eventsv1.Tab_TAB_PENDING)

	var got []string
	tok := ""
	for {
		page, next, err := f.m.List(readmodel.Query{Tab: eventsv1.Tab_TAB_PENDING, PageSize: 7, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			got = append(got, s.ID)
		}
		if next == "" {
			break
		}
		tok = next
	}
	if len(got) != 21 {
		t.Fatalf("listed %d pending orders, want 21: %v", len(got), got)
	}
	if got[0] != "shopify:a:024" || got[len(got)-1] != "shopify:a:early" {
		t.Fatalf("order = %v", got)
	}

	page, _, err := f.m.List(readmodel.Query{CreatedAfter: t0.Add(20 * time.Minute), CreatedBefore: t0.Add(23 * time.Minute), PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].ID != "shopify:a:022" || page[2].ID != "shopify:a:020" {
		t.Fatalf("time range page = %+v", page)
	}

	if _, _, err := f.m.List(readmodel.Query{PageSize: 5, PageToken: "!!"}); err == nil {
		t.Fatal("bad page token accepted")
	}
}

func TestWatchFiltersAndCutsOffSlowReaders(t *testing.T) {
	f := &feeder{m: readmodel.New()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := f.m.Watch(ctx, "wix:b", []eventsv1.Tab{eventsv1.Tab_TAB_AWAITING_ORDER})
	f.order("shopify:a:1", t0, eventsv1.Tab_TAB_AWAITING_ORDER)
	f.order("wix:b:2", t0, eventsv1.Tab_TAB_PENDING, eventsv1.Tab_TAB_AWAITING_ORDER)
	select {
	case c := <-ch:
		if c.OrderID != "wix:b:2" || c.From != eventsv1.Tab_TAB_PENDING || c.To != eventsv1.Tab_TAB_AWAITING_ORDER || c.Revision != 2 {
			t.Fatalf("change = %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change delivered")
	}

	slow, errf := f.m.Watch(ctx, "", nil)
	for i := range readmodel.WatchBuffer + 1 {
		f.order(fmt.Sprintf("shopify:a:x%d", i), t0, eventsv1.Tab_TAB_PENDING)
	}
	n := 0
	for range slow {
		n++
	}
	if n != readmodel.WatchBuffer || !errors.Is(errf(), readmodel.ErrSlowWatcher) {
		t.Fatalf("slow watcher got %d changes, err %v", n, errf())
	}
}

// BenchmarkMemoryPerOrder measures the heap the model holds per order at
// 100k and 1M orders (SPEC: a documented budget per order).
func BenchmarkMemoryPerOrder(b *testing.B) {
	for _, orders := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("orders=%d", orders), func(b *testing.B) {
			for range b.N {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				f := &feeder{m: readmodel.New()}
				for i := range orders {
					f.order(fmt.Sprintf("shopify:store-%d:%d", i%10, 5_000_000_000+i), t0.Add(time.Duration(i)*time.Second),
						eventsv1.Tab_TAB_PENDING, eventsv1.Tab_TAB_AWAITING_ORDER)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(orders), "bytes/order")
				runtime.KeepAlive(f)
			}
		})
	}
}

func shipmentEvent(id string, at time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{EventId: "sh-" + id, OccurredAt: timestamppb.New(at), Event: &eventsv1.Envelope_SupplierShipmentCreated{
		SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{ShipmentId: id}}}
}

func progressEvent(id string, delivered bool, at time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{EventId: fmt.Sprint("p-", id, delivered, at.Unix()), OccurredAt: timestamppb.New(at), Event: &eventsv1.Envelope_SupplierTrackingProgressed{
		SupplierTrackingProgressed: &eventsv1.SupplierTrackingProgressed{ShipmentId: id, Delivered: delivered}}}
}

func attentionEvent(kind eventsv1.AttentionKind, at time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{EventId: fmt.Sprint("a-", kind, at.Unix()), OccurredAt: timestamppb.New(at), Event: &eventsv1.Envelope_AttentionRaised{
		AttentionRaised: &eventsv1.AttentionRaised{Kind: kind}}}
}

// TestInTransitAndStaleTracking: orders with parcels not delivered are
// listed for the attention pass until every parcel is delivered, and
// tracking progress clears a stale-tracking flag without a tab change.
func TestInTransitAndStaleTracking(t *testing.T) {
	f := &feeder{m: readmodel.New()}
	fulfilled := []eventsv1.Tab{eventsv1.Tab_TAB_AWAITING_ORDER, eventsv1.Tab_TAB_AWAITING_SHIPMENT, eventsv1.Tab_TAB_FULFILLED}
	f.order("shopify:a:1", t0, fulfilled...)
	f.order("shopify:a:2", t0.Add(time.Minute), fulfilled...)
	f.order("shopify:a:3", t0.Add(2*time.Minute), eventsv1.Tab_TAB_AWAITING_ORDER)
	f.apply("shopify:a:1", 4, shipmentEvent("s1", t0.Add(time.Hour)))
	f.apply("shopify:a:1", 5, shipmentEvent("s2", t0.Add(time.Hour)))
	f.apply("shopify:a:2", 4, shipmentEvent("s3", t0.Add(time.Hour)))
	if got := fmt.Sprint(f.m.InTransit()); got != "[shopify:a:1 shopify:a:2]" {
		t.Fatalf("in transit %s", got)
	}
	f.apply("shopify:a:1", 6, progressEvent("s1", false, t0.Add(2*time.Hour)))
	f.apply("shopify:a:1", 7, progressEvent("s1", true, t0.Add(3*time.Hour)))
	f.apply("shopify:a:2", 5, progressEvent("s3", true, t0.Add(3*time.Hour)))
	if got := fmt.Sprint(f.m.InTransit()); got != "[shopify:a:1]" {
		t.Fatalf("in transit after s1 and s3 delivered: %s", got)
	}
	f.apply("shopify:a:1", 8, attentionEvent(eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE, t0.Add(60*time.Hour)))
	if l, _, _ := f.m.List(readmodel.Query{AttentionOnly: true, PageSize: 10}); len(l) != 1 || l[0].ID != "shopify:a:1" {
		t.Fatalf("attention list %v", l)
	}
	f.apply("shopify:a:1", 9, progressEvent("s2", true, t0.Add(61*time.Hour)))
	if l, _, _ := f.m.List(readmodel.Query{AttentionOnly: true, PageSize: 10}); len(l) != 0 {
		t.Fatalf("stale tracking not cleared by progress: %v", l)
	}
	if got := f.m.InTransit(); len(got) != 0 {
		t.Fatalf("in transit with every parcel delivered: %v", got)
	}
}
