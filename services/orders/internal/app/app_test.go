package app_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/internal/app"
)

// noRevisions never knows an order's revision, so each App trusts its own
// cache: the way two replicas go stale on each other.
type noRevisions struct{}

func (noRevisions) Revision(string) (uint64, bool) { return 0, false }

func newStore(t *testing.T) eventstore.Store {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jsstore.New(context.Background(), js, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newApp(s eventstore.Store) *app.App {
	return app.New(s, noRevisions{}, app.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func storeFact(orderID, key string, paid bool) *eventsv1.Envelope {
	o := &eventsv1.StoreOrder{
		StoreOrderId: "1", Name: "#1",
		LineItems:       []*eventsv1.StoreLineItem{{Id: "li-1", VariantId: "v-1", Quantity: 1}},
		ShippingAddress: &eventsv1.Address{FullName: "Ada", CountryCode: "PT"},
		PaymentCaptured: paid,
		StoreCreatedAt:  timestamppb.New(t0),
		StoreUpdatedAt:  timestamppb.New(t0),
	}
	e := &eventsv1.Envelope{EventId: envelope.ID(orderID, key), OrderId: orderID, OccurredAt: timestamppb.New(t0)}
	if paid {
		o.StoreUpdatedAt = timestamppb.New(t0.Add(time.Minute))
		e.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{Order: o}}
	} else {
		e.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: o}}
	}
	return e
}

// TestStaleReplicaReloadsAndDecidesAgain: replica A's cached order is behind
// what replica B appended; A's append conflicts, A reloads, decides again
// and succeeds, and the stream stays contiguous.
func TestStaleReplicaReloadsAndDecidesAgain(t *testing.T) {
	s := newStore(t)
	a, b := newApp(s), newApp(s)
	ctx := context.Background()
	const id = "shopify:s:1"
	if err := a.HandleFact(ctx, storeFact(id, "created", false)); err != nil {
		t.Fatal(err)
	}
	if err := b.HandleFact(ctx, storeFact(id, "paid", true)); err != nil {
		t.Fatal(err)
	}
	// A still holds the unpaid order; fulfilling by hand conflicts, then works.
	o, err := a.FulfillManually(ctx, "r1", id, "")
	if err != nil {
		t.Fatalf("FulfillManually on a stale replica: %v", err)
	}
	if o.GetTab() != eventsv1.Tab_TAB_FULFILLED || !o.GetPaymentCaptured() {
		t.Fatalf("order = %v", o)
	}
	hist, _, err := b.History(ctx, id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, e := range hist {
		if e.GetRevision() != uint64(i) {
			t.Fatalf("revision %d at index %d", e.GetRevision(), i)
		}
		types = append(types, e.GetType())
	}
	if n := count(types, "StorePaymentCaptured"); n != 1 {
		t.Fatalf("history %v", types)
	}
	if n := count(types, "OrderFulfilledManually"); n != 1 {
		t.Fatalf("history %v", types)
	}
}

// TestConcurrentPlacementsPlaceOnce: two replicas place the same order at
// once with different request ids: exactly one placement is requested, the
// other is refused by rule, never Aborted and never doubled.
func TestConcurrentPlacementsPlaceOnce(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const id = "shopify:s:2"
	setup := newApp(s)
	if err := setup.HandleFact(ctx, storeFact(id, "created", false)); err != nil {
		t.Fatal(err)
	}
	if err := setup.HandleFact(ctx, storeFact(id, "paid", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.UpdateMapping(ctx, "m1", "shopify:s", &eventsv1.SupplierMapping{VariantId: "v-1", ProductId: "1005", ShippingMethod: "CAINIAO_STANDARD"}, false); err != nil {
		t.Fatal(err)
	}
	replicas := []*app.App{newApp(s), newApp(s), newApp(s), newApp(s)}
	var wg sync.WaitGroup
	accepted := make([]bool, len(replicas))
	codes := make([]string, len(replicas))
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.Place(ctx, "req-"+string(rune('a'+i)), []string{id}, false)[0]
			accepted[i], codes[i] = res.GetAccepted(), res.GetErrorCode()
		}()
	}
	wg.Wait()
	n := 0
	for i := range replicas {
		if accepted[i] {
			n++
		} else if codes[i] != "RULE_10_PLACEMENT_IN_FLIGHT" {
			t.Errorf("replica %d refused with %q, want RULE_10_PLACEMENT_IN_FLIGHT", i, codes[i])
		}
	}
	if n != 1 {
		t.Fatalf("%d placements accepted, want 1 (%v)", n, codes)
	}
	hist, _, err := setup.History(ctx, id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range hist {
		types = append(types, e.GetType())
	}
	if c := count(types, "PlacementRequested"); c != 1 {
		t.Fatalf("%d PlacementRequested in %v", c, types)
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}
