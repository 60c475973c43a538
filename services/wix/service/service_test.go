package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/wixsim"
)

// distinct counts envelopes by event id.
func distinct(envs []*eventsv1.Envelope) map[string]*eventsv1.Envelope {
	m := map[string]*eventsv1.Envelope{}
	for _, e := range envs {
		m[e.GetEventId()] = e
	}
	return m
}

func TestWebhooksReachJetStreamOnceEach(t *testing.T) {
	h := newHarness(t, options{faults: wixsim.Faults{DuplicateWebhooks: 0.5, ReorderWebhooks: 0.5, MaxReorderDelay: 50 * time.Millisecond}})
	h.start()
	var ids []string
	for range 4 {
		ids = append(ids, h.placeOrder(1).ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range h.sim.Deliveries() {
		if !d.Delivered {
			t.Fatalf("delivery %+v not acknowledged", d)
		}
	}
	evs := h.events(bus.StreamStore)
	if len(evs) != 8 || len(distinct(evs)) != 8 {
		t.Fatalf("%d events (%d distinct), want 8: order_created and order_approved of 4 orders, once each", len(evs), len(distinct(evs)))
	}
	for _, id := range ids {
		created, paid := 0, 0
		for _, e := range evs {
			if e.GetOrderId() != orderID(id) {
				continue
			}
			switch envelope.Type(e) {
			case "StoreOrderCreated":
				created++
			case "StorePaymentCaptured":
				paid++
			}
		}
		if created != 1 || paid != 1 {
			t.Errorf("order %s: %d created, %d paid", id, created, paid)
		}
	}
}

func TestFulfilsEachLineItemOnceAcrossRedeliveryAndRestart(t *testing.T) {
	h := newHarness(t, options{})
	// The store maps YANWEN to its own provider name: a custom provider.
	settings := &eventsv1.Envelope{
		EventId: envelope.ID("test", "settings"), OrderId: "wix:" + slug, OccurredAt: timestamppb.Now(),
		Event: &eventsv1.Envelope_StoreSettingsChanged{StoreSettingsChanged: &eventsv1.StoreSettingsChanged{
			StoreId: "wix:" + slug, Settings: &eventsv1.StoreSettings{ShippingConfirmation: true, CarrierMapping: map[string]string{"YANWEN": "Yanwen Express"}},
		}},
	}
	h.command(settings, false)
	h.start()
	o := h.placeOrder(1, 2)
	a, b := o.LineItems[0].ID, o.LineItems[1].ID

	first := fulfillmentRequested(o.ID, "ship-1", map[string]int32{a: 1}, "YW123456789CN", "YANWEN")
	h.command(first, false)
	h.command(first, true)
	h.eventually("shipment 1 pushed", func() bool { return len(h.storeEvents("FulfillmentPushed")) == 1 })
	h.idle()

	h.stop() // a restart between the two shipments
	h.start()
	h.command(first, true) // and the first once more, after the restart
	second := fulfillmentRequested(o.ID, "ship-2", map[string]int32{b: 2}, "1234567890", "DHL")
	h.command(second, false)
	h.command(second, true)
	h.eventually("shipment 2 pushed", func() bool { return len(distinct(h.storeEvents("FulfillmentPushed"))) == 2 })
	h.idle()

	fs, err := h.sim.Fulfillments(o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("%d fulfilments on Wix, want 2 (one per shipment): %+v", len(fs), fs)
	}
	if f := fs[0]; f.LineItems[0].ID != a || f.LineItems[0].Quantity != 1 || f.TrackingInfo == nil ||
		f.TrackingInfo.ShippingProvider != "Yanwen Express" || !strings.Contains(f.TrackingInfo.TrackingLink, "YW123456789CN") {
		t.Errorf("first fulfilment %+v, want line A with the mapped custom provider and a tracking link", f)
	}
	if f := fs[1]; f.LineItems[0].ID != b || f.LineItems[0].Quantity != 2 || f.TrackingInfo == nil || f.TrackingInfo.ShippingProvider != "dhl" {
		t.Errorf("second fulfilment %+v, want line B with the predefined provider dhl", f)
	}
	if got, _ := h.sim.Order(o.ID); got.FulfillmentStatus != wixsim.FulfillmentFulfilled {
		t.Errorf("order is %s, want FULFILLED", got.FulfillmentStatus)
	}
	if e := h.sim.Emails(); len(e) != 2 {
		t.Errorf("%d shipping e-mails, want 2 (one per shipment)", len(e))
	}
	pushed := distinct(h.storeEvents("FulfillmentPushed"))
	for _, fs := range fs {
		found := false
		for _, p := range pushed {
			if p.GetFulfillmentPushed().GetStoreFulfillmentId() == fs.ID && p.GetFulfillmentPushed().GetCustomerNotified() {
				found = true
			}
		}
		if !found {
			t.Errorf("no FulfillmentPushed (customer notified) for Wix fulfilment %s", fs.ID)
		}
	}
	if n := len(h.storeEvents("FulfillmentFailed")); n != 0 {
		t.Errorf("%d FulfillmentFailed, want none", n)
	}
}

func TestAlreadyExists(t *testing.T) {
	h := newHarness(t, options{})
	h.start()

	// Ours: Wix already has a fulfilment with our tracking number and
	// lines (an earlier attempt whose answer was lost).
	mine := h.placeOrder(1)
	if _, err := h.sim.Fulfill(mine.ID, []wixsim.FulfillmentLineItem{{ID: mine.LineItems[0].ID, Quantity: 1}},
		&wixsim.TrackingInfo{TrackingNumber: "LP1", ShippingProvider: "Cainiao", TrackingLink: "https://t.17track.net/en#nums=LP1"}); err != nil {
		t.Fatal(err)
	}
	// Not ours: the merchant fulfilled the line with another parcel.
	theirs := h.placeOrder(1)
	if _, err := h.sim.Fulfill(theirs.ID, []wixsim.FulfillmentLineItem{{ID: theirs.LineItems[0].ID, Quantity: 1}},
		&wixsim.TrackingInfo{TrackingNumber: "MERCHANT-9", ShippingProvider: "usps"}); err != nil {
		t.Fatal(err)
	}
	h.command(fulfillmentRequested(mine.ID, "s1", map[string]int32{mine.LineItems[0].ID: 1}, "LP1", "CAINIAO_STANDARD"), false)
	h.command(fulfillmentRequested(theirs.ID, "s1", map[string]int32{theirs.LineItems[0].ID: 1}, "LP2", "CAINIAO_STANDARD"), false)
	h.eventually("both answered", func() bool {
		return len(h.storeEvents("FulfillmentPushed")) == 1 && len(h.storeEvents("FulfillmentFailed")) == 1
	})
	fs, _ := h.sim.Fulfillments(mine.ID)
	p := h.storeEvents("FulfillmentPushed")[0]
	if p.GetOrderId() != orderID(mine.ID) || p.GetFulfillmentPushed().GetStoreFulfillmentId() != fs[0].ID {
		t.Errorf("pushed %v, want order %s with the existing fulfilment %s", p, mine.ID, fs[0].ID)
	}
	f := h.storeEvents("FulfillmentFailed")[0]
	if f.GetOrderId() != orderID(theirs.ID) || f.GetFulfillmentFailed().GetReason().GetCode() != "ALREADY_FULFILLED_ON_STORE" || f.GetFulfillmentFailed().GetReason().GetRetryable() {
		t.Errorf("failed %v, want order %s ALREADY_FULFILLED_ON_STORE, not retryable", f, theirs.ID)
	}
	if st := h.sim.Stats(); st.Conflicts != 2 {
		t.Errorf("%d 409s, want 2", st.Conflicts)
	}
}

// TestSkippedConfirmationKeepsTracking: a skipped confirmation never
// drops the tracking number (Wix has no notify switch, so the e-mail is the
// site's own setting: off here); an order dropsync no longer syncs is not
// fulfilled at all.
func TestSkippedConfirmationKeepsTracking(t *testing.T) {
	h := newHarness(t, options{decide: func(req *notifierv1.IssueConfirmationRequest) notifierv1.Decision {
		if req.GetShipmentId() == "not-synced" {
			return notifierv1.Decision_DECISION_SKIP_NOT_SYNCED
		}
		return notifierv1.Decision_DECISION_SKIP_SETTING_OFF
	}})
	if err := h.sim.SetShippingEmail(siteID, false); err != nil { // the merchant turned Wix's e-mail off
		t.Fatal(err)
	}
	h.start()
	o := h.placeOrder(1, 1)
	h.command(fulfillmentRequested(o.ID, "off", map[string]int32{o.LineItems[0].ID: 1}, "1Z1", "UPS"), false)
	h.command(fulfillmentRequested(o.ID, "not-synced", map[string]int32{o.LineItems[1].ID: 1}, "LP8", "CAINIAO_STANDARD"), false)
	h.eventually("pushed", func() bool { return len(h.storeEvents("FulfillmentPushed")) == 1 })
	h.idle()
	fs, _ := h.sim.Fulfillments(o.ID)
	if len(fs) != 1 || fs[0].LineItems[0].ID != o.LineItems[0].ID || fs[0].TrackingInfo == nil ||
		fs[0].TrackingInfo.TrackingNumber != "1Z1" || fs[0].TrackingInfo.ShippingProvider != "ups" {
		t.Fatalf("fulfilments %+v, want only the first line, with tracking 1Z1 (ups)", fs)
	}
	if e := h.sim.Emails(); len(e) != 0 {
		t.Errorf("%d e-mails, want none (the site's e-mail is off)", len(e))
	}
	if p := h.storeEvents("FulfillmentPushed")[0].GetFulfillmentPushed(); p.GetCustomerNotified() || p.GetShipmentId() != "off" {
		t.Errorf("pushed %v, want shipment off, customer not notified", p)
	}
}

func TestConvergesUnderAPIFaults(t *testing.T) {
	// One call in five fails: 429, 500/503 (nothing done) or 504 after the
	// fulfilment was made (a lost answer, found again through 409).
	h := newHarness(t, options{faults: wixsim.Faults{TooManyRequests: 0.08, ServerErrors: 0.06, LostResponses: 0.06}})
	h.start()
	const n = 24
	var orders []wixsim.Order
	for i := range n {
		o := h.placeOrder(1)
		orders = append(orders, o)
		h.command(fulfillmentRequested(o.ID, "s", map[string]int32{o.LineItems[0].ID: 1}, "LP"+string(rune('A'+i)), "CAINIAO_STANDARD"), false)
	}
	h.eventually("every shipment pushed", func() bool { return len(distinct(h.storeEvents("FulfillmentPushed"))) == n })
	h.idle()
	for _, o := range orders {
		fs, _ := h.sim.Fulfillments(o.ID)
		if len(fs) != 1 {
			t.Errorf("order %s: %d fulfilments, want 1", o.ID, len(fs))
		}
	}
	if e := h.sim.Emails(); len(e) != n {
		t.Errorf("%d e-mails, want %d (one per shipment)", len(e), n)
	}
	if f := h.storeEvents("FulfillmentFailed"); len(f) != 0 {
		t.Errorf("%d FulfillmentFailed: %v", len(f), f[0])
	}
	st := h.sim.Stats()
	if st.TooManyRequests+st.ServerErrors+st.LostResponses == 0 || st.RateLimited != 0 {
		t.Errorf("stats %+v: want injected faults and no genuine rate limiting", st)
	}
	t.Logf("injected: %d x 429, %d x 5xx, %d lost answers; %d x 409", st.TooManyRequests, st.ServerErrors, st.LostResponses, st.Conflicts)
}

func TestReconciliationCatchesDroppedWebhooks(t *testing.T) {
	h := newHarness(t, options{faults: wixsim.Faults{DropWebhooks: 1}, reconcile: 150 * time.Millisecond})
	h.start()
	o := h.placeOrder(2)
	h.eventually("order reconciled", func() bool {
		for _, e := range h.storeEvents("StoreOrderUpdated") {
			if e.GetOrderId() == orderID(o.ID) && e.GetStoreOrderUpdated().GetOrder().GetPaymentCaptured() {
				return true
			}
		}
		return false
	})
	f, err := h.sim.Fulfill(o.ID, []wixsim.FulfillmentLineItem{{ID: o.LineItems[0].ID, Quantity: 2}}, &wixsim.TrackingInfo{TrackingNumber: "M1", ShippingProvider: "fedex"})
	if err != nil {
		t.Fatal(err)
	}
	h.eventually("merchant's fulfilment reconciled", func() bool {
		for _, e := range h.storeEvents("StoreOrderFulfilled") {
			if e.GetStoreOrderFulfilled().GetStoreFulfillmentId() == f.ID {
				return true
			}
		}
		return false
	})
	for _, d := range h.sim.Deliveries() {
		if !d.Dropped {
			t.Fatalf("delivery %+v not dropped: the events came from reconciliation only", d)
		}
	}
}

func TestResyncRereadsTheOrder(t *testing.T) {
	h := newHarness(t, options{})
	h.start()
	o := h.placeOrder(1)
	oid := orderID(o.ID)
	h.command(&eventsv1.Envelope{
		EventId: envelope.ID("test", oid, "resync"), OrderId: oid, OccurredAt: timestamppb.Now(),
		Event: &eventsv1.Envelope_ResyncRequested{ResyncRequested: &eventsv1.ResyncRequested{RequestId: "req-1"}},
	}, false)
	h.eventually("reread", func() bool { return len(h.storeEvents("StoreOrderReread")) == 1 })
	r := h.storeEvents("StoreOrderReread")[0]
	if r.GetOrderId() != oid || r.GetStoreOrderReread().GetRequestId() != "req-1" || r.GetStoreOrderReread().GetOrder().GetStoreOrderId() != o.ID {
		t.Errorf("reread %v", r)
	}
}
