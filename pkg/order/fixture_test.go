package order_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixture drives one order through Handle and the commands, recording what
// they return, the way the orders service does.
type fixture struct {
	tb       testing.TB
	id       order.ID
	settings *eventsv1.StoreSettings
	o        *order.Order
	events   []*eventsv1.Envelope
	n        int
	clock    time.Time
	snap     *eventsv1.StoreOrder
	late     *eventsv1.Envelope // a fact held back to arrive out of order
}

func newFixture(tb testing.TB, platform eventsv1.Platform, settings *eventsv1.StoreSettings) *fixture {
	id, err := order.NewID(platform, "acme", "1001")
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{
		tb: tb, id: id, settings: settings, o: order.New(id), clock: t0,
		snap: &eventsv1.StoreOrder{
			StoreOrderId: "1001",
			Name:         "#1001",
			LineItems: []*eventsv1.StoreLineItem{
				{Id: "L1", VariantId: "V1", Sku: "S1", Title: "Mug", Quantity: 2},
				{Id: "L2", VariantId: "V2", Sku: "S2", Title: "Cap", Quantity: 1},
			},
			ShippingAddress:   &eventsv1.Address{FullName: "Ada", Address1: "1 Main St", City: "Lyon", CountryCode: "FR"},
			FinancialStatus:   "pending",
			FulfillmentStatus: "unfulfilled",
			StoreCreatedAt:    timestamppb.New(t0),
		},
	}
}

func (f *fixture) tick() time.Time {
	f.clock = f.clock.Add(time.Minute)
	return f.clock
}

func (f *fixture) ctx() order.Context {
	return order.Context{Settings: f.settings, Now: f.tick()}
}

// record applies events the way the service does after appending them.
func (f *fixture) record(evs []*eventsv1.Envelope) {
	for _, e := range evs {
		f.o.Apply(e)
		f.events = append(f.events, e)
	}
}

// handle runs Handle without recording.
func (f *fixture) handle(e *eventsv1.Envelope) ([]*eventsv1.Envelope, error) {
	return f.o.Handle(e, f.ctx())
}

// fact feeds a fact that must be accepted, and records the outcome.
func (f *fixture) fact(e *eventsv1.Envelope) []*eventsv1.Envelope {
	f.tb.Helper()
	evs, err := f.handle(e)
	if err != nil {
		f.tb.Fatalf("handle %s: %v", envelope.Type(e), err)
	}
	f.record(evs)
	return evs
}

// must records the outcome of a command that must be accepted.
func (f *fixture) must(evs []*eventsv1.Envelope, err error) []*eventsv1.Envelope {
	f.tb.Helper()
	if err != nil {
		f.tb.Fatalf("command: %v", err)
	}
	f.record(evs)
	return evs
}

// env wraps a payload as the connectors do: a fresh event id per fact.
func (f *fixture) env(set func(e *eventsv1.Envelope)) *eventsv1.Envelope {
	f.n++
	at := f.tick()
	e := &eventsv1.Envelope{
		EventId:    envelope.ID("test", f.id.String(), fmt.Sprint(f.n)),
		OrderId:    f.id.String(),
		OccurredAt: timestamppb.New(at),
		RecordedAt: timestamppb.New(at),
		Source:     &eventsv1.Source{Platform: f.id.Platform, StoreId: f.id.Store, Service: "test"},
	}
	set(e)
	return e
}

// snapshot returns the store's order as it is now, updated now.
func (f *fixture) snapshot() *eventsv1.StoreOrder {
	s := proto.Clone(f.snap).(*eventsv1.StoreOrder)
	s.StoreUpdatedAt = timestamppb.New(f.clock.Add(time.Second))
	return s
}

func (f *fixture) created(captured bool) *eventsv1.Envelope {
	f.snap.PaymentCaptured = captured
	if captured {
		f.snap.FinancialStatus = "paid"
	}
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: f.snapshot()}}
	})
}

func (f *fixture) captured() *eventsv1.Envelope {
	f.snap.PaymentCaptured, f.snap.FinancialStatus = true, "paid"
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{Order: f.snapshot()}}
	})
}

// updated changes the store's order with change, then reports it.
func (f *fixture) updated(change func(so *eventsv1.StoreOrder)) *eventsv1.Envelope {
	if change != nil {
		change(f.snap)
	}
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{Order: f.snapshot()}}
	})
}

func (f *fixture) reread(req string, change func(so *eventsv1.StoreOrder)) *eventsv1.Envelope {
	if change != nil {
		change(f.snap)
	}
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderReread{StoreOrderReread: &eventsv1.StoreOrderReread{RequestId: req, Order: f.snapshot()}}
	})
}

func (f *fixture) canceled(lines ...*eventsv1.LineQuantity) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{Reason: "customer", Lines: lines, Order: f.snapshot()}}
	})
}

func (f *fixture) refunded(lines ...*eventsv1.LineQuantity) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderRefunded{StoreOrderRefunded: &eventsv1.StoreOrderRefunded{RefundId: fmt.Sprint("R", f.n), Lines: lines, Order: f.snapshot()}}
	})
}

func (f *fixture) storeFulfilled(fid string, numbers []string, lines ...*eventsv1.LineQuantity) *eventsv1.Envelope {
	var tr []*eventsv1.Tracking
	for _, n := range numbers {
		tr = append(tr, &eventsv1.Tracking{Number: n})
	}
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderFulfilled{StoreOrderFulfilled: &eventsv1.StoreOrderFulfilled{StoreFulfillmentId: fid, Lines: lines, Tracking: tr, Order: f.snapshot()}}
	})
}

func (f *fixture) storeFulfillmentCanceled(fid string, lines ...*eventsv1.LineQuantity) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreFulfillmentCanceled{StoreFulfillmentCanceled: &eventsv1.StoreFulfillmentCanceled{StoreFulfillmentId: fid, Lines: lines, Status: "cancelled"}}
	})
}

func (f *fixture) storeTrackingChanged(fid string, numbers ...string) *eventsv1.Envelope {
	var tr []*eventsv1.Tracking
	for _, n := range numbers {
		tr = append(tr, &eventsv1.Tracking{Number: n})
	}
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreTrackingChanged{StoreTrackingChanged: &eventsv1.StoreTrackingChanged{StoreFulfillmentId: fid, Tracking: tr}}
	})
}

func (f *fixture) pushed(sid, fid string) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{ShipmentId: sid, StoreFulfillmentId: fid, CustomerNotified: true}}
	})
}

func (f *fixture) pushFailed(sid string) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentFailed{FulfillmentFailed: &eventsv1.FulfillmentFailed{ShipmentId: sid, Reason: &eventsv1.FailureReason{Code: "STORE_REJECTED"}}}
	})
}

// attemptFailed is the connector's FulfillmentFailed for an attempt, with
// the store's reason.
func (f *fixture) attemptFailed(sid string, attempt int32, code string, retryable bool) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentFailed{FulfillmentFailed: &eventsv1.FulfillmentFailed{
			ShipmentId: sid, Attempt: attempt,
			Reason: &eventsv1.FailureReason{Code: code, Message: "the store said no", Retryable: retryable},
		}}
	})
}

func (f *fixture) retryFulfillment(req string) ([]*eventsv1.Envelope, error) {
	return f.o.RetryFulfillment(req, f.ctx())
}

// fulfilmentFailed ships everything in one parcel, which the store refuses
// for good.
func (f *fixture) fulfilmentFailed() {
	f.awaitingShipment()
	f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
	f.fact(f.attemptFailed("s1", 1, "INVALID_TRACKING_COMPANY", false))
}

func (f *fixture) placed(req string, orders ...*eventsv1.SupplierOrder) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{RequestId: req, Orders: orders}}
	})
}

func (f *fixture) placementFailed(req, code string, retryable bool) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierPlacementFailed{SupplierPlacementFailed: &eventsv1.SupplierPlacementFailed{
			RequestId: req, Reason: &eventsv1.FailureReason{Code: code, Message: strings.ToLower(code), Retryable: retryable}}}
	})
}

func (f *fixture) paid(so string) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: so}}
	})
}

func (f *fixture) shipped(so, sid, number string, lines ...*eventsv1.LineQuantity) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: so, ShipmentId: sid, Tracking: &eventsv1.Tracking{Number: number, Carrier: "CAINIAO"}, Lines: lines}}
	})
}

func (f *fixture) trackingChanged(sid, number string) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierTrackingChanged{SupplierTrackingChanged: &eventsv1.SupplierTrackingChanged{
			ShipmentId: sid, Tracking: &eventsv1.Tracking{Number: number, Carrier: "CAINIAO"}}}
	})
}

// progressed reports a shipment's newest checkpoint, at at, and whether it
// was delivered.
func (f *fixture) progressed(sid, name string, at time.Time, delivered bool) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierTrackingProgressed{SupplierTrackingProgressed: &eventsv1.SupplierTrackingProgressed{
			ShipmentId: sid, TrackingNumber: "T1",
			Latest:    &eventsv1.TrackingCheckpoint{Name: name, Description: name + " (carrier text)", OccurredAt: timestamppb.New(at)},
			Delivered: delivered,
		}}
	})
}

// checkAttention runs CheckAttention after waiting d, with DSers' thresholds.
func (f *fixture) checkAttention(d time.Duration) ([]*eventsv1.Envelope, error) {
	f.clock = f.clock.Add(d)
	return f.o.CheckAttention(order.AttentionPolicy{NoTrackingAfter: 7 * 24 * time.Hour, TrackingStaleAfter: 48 * time.Hour}, f.ctx())
}

func (f *fixture) supplierCanceled(so string, lines ...*eventsv1.LineQuantity) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderCanceled{SupplierOrderCanceled: &eventsv1.SupplierOrderCanceled{SupplierOrderId: so, Reason: "seller", Lines: lines}}
	})
}

func (f *fixture) finished(so string) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderFinished{SupplierOrderFinished: &eventsv1.SupplierOrderFinished{SupplierOrderId: so}}
	})
}

func (f *fixture) confirmed(sid string) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_ShippingConfirmationIssued{ShippingConfirmationIssued: &eventsv1.ShippingConfirmationIssued{ShipmentId: sid, Channel: "shopify.notifyCustomer"}}
	})
}

func (f *fixture) attention(kind eventsv1.AttentionKind) *eventsv1.Envelope {
	return f.env(func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_AttentionRaised{AttentionRaised: &eventsv1.AttentionRaised{Kind: kind, Detail: "watcher"}}
	})
}

func lq(id string, q int32) *eventsv1.LineQuantity {
	return &eventsv1.LineQuantity{LineItemId: id, Quantity: q}
}

func so(id string, lines ...*eventsv1.LineQuantity) *eventsv1.SupplierOrder {
	return &eventsv1.SupplierOrder{SupplierOrderId: id, Lines: lines}
}

var mapped = order.Mappings{
	"V1": {VariantId: "V1", ProductId: "1005001", SkuAttr: "14:200013901#Blue", ShippingMethod: "CAINIAO_FULFILLMENT_STD"},
	"V2": {VariantId: "V2", ProductId: "1005002", SkuAttr: "5:361386", ShippingMethod: "CAINIAO_FULFILLMENT_STD"},
}

func (f *fixture) place(req string, m order.Mappings) ([]*eventsv1.Envelope, error) {
	return f.o.Place(order.PlaceCommand{RequestID: req, Lookup: m.Lookup}, f.ctx())
}

func (f *fixture) retry(req string, m order.Mappings) ([]*eventsv1.Envelope, error) {
	return f.o.Retry(order.PlaceCommand{RequestID: req, Lookup: m.Lookup}, f.ctx())
}

// Histories used as "given" in the tables.

func (f *fixture) paidOnStore() {
	f.fact(f.created(true))
}

func (f *fixture) awaitingPayment() {
	f.paidOnStore()
	f.must(f.place("P1", mapped))
	f.fact(f.placed("P1", so("AE1", lq("L1", 2), lq("L2", 1))))
}

func (f *fixture) awaitingShipment() {
	f.awaitingPayment()
	f.fact(f.paid("AE1"))
}

// fulfilled ships everything in one parcel and pushes it.
func (f *fixture) fulfilled() {
	f.awaitingShipment()
	f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
	f.fact(f.pushed("s1", "F1"))
}

func tabName(t eventsv1.Tab) string { return strings.TrimPrefix(t.String(), "TAB_") }

func lines(l []*eventsv1.LineQuantity) string {
	var s []string
	for _, q := range l {
		s = append(s, fmt.Sprintf("%sx%d", q.GetLineItemId(), q.GetQuantity()))
	}
	return strings.Join(s, ",")
}

// describe summarises an event by type and key fields.
func describe(e *eventsv1.Envelope) string {
	switch ev := e.GetEvent().(type) {
	case *eventsv1.Envelope_PlacementRequested:
		p := ev.PlacementRequested
		var items []string
		for _, it := range p.GetItems() {
			items = append(items, fmt.Sprintf("%sx%d", it.GetLineItemId(), it.GetQuantity()))
		}
		return fmt.Sprintf("PlacementRequested %s items=%s retry=%v", p.GetRequestId(), strings.Join(items, ","), p.GetRetry())
	case *eventsv1.Envelope_PlacementRejected:
		return fmt.Sprintf("PlacementRejected %s %s", ev.PlacementRejected.GetRequestId(), ev.PlacementRejected.GetReason().GetCode())
	case *eventsv1.Envelope_FulfillmentRequested:
		r := ev.FulfillmentRequested
		var tr []string
		for _, t := range r.GetTracking() {
			tr = append(tr, t.GetNumber())
		}
		d := fmt.Sprintf("FulfillmentRequested %s lines=%s tracking=%s completes=%v %s", r.GetShipmentId(), lines(r.GetLines()),
			strings.Join(tr, ","), r.GetCompletesOrder(), strings.TrimPrefix(r.GetPolicy().String(), "FULFILLMENT_POLICY_"))
		if r.GetAttempt() > 1 {
			d += fmt.Sprintf(" attempt=%d %s", r.GetAttempt(), r.GetRequestId())
		}
		return d
	case *eventsv1.Envelope_TrackingUpdateRequested:
		r := ev.TrackingUpdateRequested
		return fmt.Sprintf("TrackingUpdateRequested %s fid=%s tracking=%s replaces=%s", r.GetShipmentId(), r.GetStoreFulfillmentId(), r.GetTracking().GetNumber(), r.GetReplaces().GetNumber())
	case *eventsv1.Envelope_OrderStatusChanged:
		return fmt.Sprintf("OrderStatusChanged %s->%s", tabName(ev.OrderStatusChanged.GetFrom()), tabName(ev.OrderStatusChanged.GetTo()))
	case *eventsv1.Envelope_ConflictDetected:
		return "ConflictDetected " + strings.Join(ev.ConflictDetected.GetFields(), ",")
	case *eventsv1.Envelope_ConflictResolved:
		return fmt.Sprintf("ConflictResolved accept=%v", ev.ConflictResolved.GetAcceptStore())
	case *eventsv1.Envelope_OrderFulfilledManually:
		return fmt.Sprintf("OrderFulfilledManually after_placing=%v", ev.OrderFulfilledManually.GetAfterPlacing())
	case *eventsv1.Envelope_ResyncRequested:
		return "ResyncRequested " + ev.ResyncRequested.GetRequestId()
	case *eventsv1.Envelope_AttentionRaised:
		return "AttentionRaised " + strings.TrimPrefix(ev.AttentionRaised.GetKind().String(), "ATTENTION_KIND_")
	}
	return envelope.Type(e)
}

func describeAll(evs []*eventsv1.Envelope) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, describe(e))
	}
	return out
}
