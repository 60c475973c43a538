package order_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

func TestCheckAttention(t *testing.T) {
	f := newFixture(t, shopify, eachPart)
	f.awaitingShipment()
	paidAt := f.clock
	p := order.AttentionPolicy{NoTrackingAfter: 7 * 24 * time.Hour}

	evs, err := f.o.CheckAttention(p, order.Context{Now: paidAt.Add(6 * 24 * time.Hour)})
	if err != nil || evs != nil {
		t.Fatalf("6 days after paying: %v %v", describeAll(evs), err)
	}
	evs, err = f.o.CheckAttention(p, order.Context{Now: paidAt.Add(8 * 24 * time.Hour)})
	if err != nil || !slices.Equal(describeAll(evs), []string{"AttentionRaised NO_TRACKING"}) {
		t.Fatalf("8 days after paying: %v %v", describeAll(evs), err)
	}
	again, _ := f.o.CheckAttention(p, order.Context{Now: paidAt.Add(8 * 24 * time.Hour)})
	if again[0].GetEventId() != evs[0].GetEventId() {
		t.Fatal("attention ids are not deterministic")
	}
	f.record(evs)
	if v := f.o.ToProto(); len(v.GetAttention()) != 1 {
		t.Fatalf("attention %v", v.GetAttention())
	}
	if evs, _ := f.o.CheckAttention(p, order.Context{Now: paidAt.Add(9 * 24 * time.Hour)}); evs != nil {
		t.Fatalf("raised twice: %v", describeAll(evs))
	}
	f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
	if v := f.o.ToProto(); len(v.GetAttention()) != 0 {
		t.Fatalf("attention not cleared by the shipment: %v", v.GetAttention())
	}
	if _, err := f.o.CheckAttention(p, order.Context{}); err == nil {
		t.Fatal("CheckAttention without Now")
	}
	checkRebuild(t, f)
}

// TestLongStream folds a stream longer than the small dedupe set, with
// duplicates and event ids that are not UUIDs.
func TestLongStream(t *testing.T) {
	f := newFixture(t, shopify, eachPart)
	f.awaitingShipment()
	for i := range 80 {
		e := f.updated(func(so *eventsv1.StoreOrder) { so.FulfillmentStatus = fmt.Sprint("poll-", i) })
		if i%2 == 0 {
			e.EventId = fmt.Sprint("shopify-webhook-", i)
		}
		f.fact(e)
	}
	n := len(f.events)
	// Every fact again: all duplicates.
	for _, e := range slices.Clone(f.events) {
		if evs, err := f.handle(e); evs != nil || err != nil {
			t.Fatalf("duplicate %s: %v %v", e.GetEventId(), describeAll(evs), err)
		}
	}
	// Applied again (a stream holding duplicates): only the revision moves.
	before := f.o.ToProto()
	for _, e := range f.events[:10] {
		f.o.Apply(e)
	}
	after := f.o.ToProto()
	after.Revision = before.Revision
	if !proto.Equal(before, after) {
		t.Fatal("a duplicate changed the order")
	}
	if f.o.Revision() != uint64(n+10) {
		t.Fatalf("revision %d, want %d", f.o.Revision(), n+10)
	}
	r := order.Rebuild(f.events)
	if !r.Seen("shopify-webhook-0") || r.Seen("shopify-webhook-1") || r.Seen("") {
		t.Fatal("Seen")
	}
	c := r.Clone()
	c.Apply(f.paid("AE9"))
	if r.Revision() == c.Revision() {
		t.Fatal("clone shares state")
	}
}

func TestAccessors(t *testing.T) {
	f := newFixture(t, wix, nil)
	f.fact(f.created(true))
	f.must(f.place("P1", mapped))
	f.fact(f.placed("P1", so("AE1", lq("L1", 2), lq("L2", 1))))
	f.must(f.o.FulfillManually("M1", "note", f.ctx()))
	o := f.o
	if o.ID() != "wix:acme:1001" || o.Platform() != wix || o.StoreID() != "acme" || o.StoreKey() != "wix:acme" ||
		o.StoreOrderID() != "1001" || !o.Exists() || !o.PaymentCaptured() {
		t.Fatal("identity")
	}
	if m, after := o.FulfilledManually(); !m || !after {
		t.Fatal("FulfilledManually")
	}
	if !o.CreatedAt().Equal(t0) || !o.UpdatedAt().Equal(f.clock) {
		t.Fatalf("times %v %v", o.CreatedAt(), o.UpdatedAt())
	}
	if r, ok := o.Request("M1"); !ok || r.Command != order.CommandFulfillManually || r.Command.String() != "FulfillManually" {
		t.Fatalf("request %v", r)
	}
	if _, ok := o.Request("nope"); ok {
		t.Fatal("unknown request")
	}
	v := o.ToProto()
	if v.GetRevision() != o.Revision()-1 || v.GetCreatedAt().AsTime() != t0 || v.GetName() != "#1001" {
		t.Fatalf("view %v", v)
	}
}

// TestNewEventsCarryTheirCause checks the envelope of a decided event.
func TestNewEventsCarryTheirCause(t *testing.T) {
	f := newFixture(t, shopify, eachPart)
	f.awaitingShipment()
	fact := f.shipped("AE1", "s1", "T1", lq("L1", 2))
	fact.CorrelationId = "corr-1"
	fact.RecordedAt = nil
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	evs, err := f.o.Handle(fact, order.Context{Settings: eachPart, Now: now})
	if err != nil || len(evs) != 2 {
		t.Fatal(err, describeAll(evs))
	}
	if evs[0].GetRecordedAt().AsTime() != now || fact.GetRecordedAt() != nil {
		t.Fatal("the fact's recorded_at is set on a copy")
	}
	d := evs[1]
	want := order.DeriveEventID(f.id.String(), fact.GetEventId(), "FulfillmentRequested", 0)
	if d.GetEventId() != want || d.GetCausationId() != fact.GetEventId() || d.GetCorrelationId() != "corr-1" ||
		d.GetOrderId() != f.id.String() || d.GetSource().GetPlatform() != eventsv1.Platform_PLATFORM_DROPSYNC ||
		d.GetSource().GetService() != order.Service || !d.GetRecordedAt().AsTime().Equal(now) {
		t.Fatalf("decided event %v", d)
	}
	custom, _ := f.o.Handle(fact, order.Context{Now: now, EventID: func(cause, kind string, n int) string { return kind + fmt.Sprint(n) }})
	if custom[1].GetEventId() != "FulfillmentRequested0" {
		t.Fatalf("custom id %q", custom[1].GetEventId())
	}
}
