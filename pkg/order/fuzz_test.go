package order_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// Fuzz operations: each is two bytes, an op code and a parameter.
const (
	opCreated = iota
	opCaptured
	opUpdated
	opCanceled
	opRefunded
	opStoreFulfilled
	opPushed
	opPushFailed
	opReread
	opPlaced
	opPlacementFailed
	opPaid
	opShipped
	opTrackingChanged
	opSupplierCanceled
	opFinished
	opConfirmed
	opAttention
	opPlace
	opRetry
	opFulfillManually
	opResync
	opResolve
	opReplayFact
	opRepeatCommand
	opSettings
	opProgressed
	opCheckAttention
	opStoreFulfillmentCanceled
	opStoreTrackingChanged
	opCount
)

const maxFuzzOps = 64

// harness feeds a decoded sequence of facts and commands to one order and
// checks the invariants after each step.
type harness struct {
	t  *testing.T
	f  *fixture
	n  int
	cc int // command counter

	requests  []string // placement request ids
	resyncs   []string
	suppliers []string
	shipments []string
	facts     []*eventsv1.Envelope
	commands  []func(req string) ([]*eventsv1.Envelope, error)
	cmdReqs   []string

	fulfillmentFor map[string]bool // shipment ids named by a FulfillmentRequested
	confirmedFor   map[string]bool
}

func FuzzOrder(f *testing.F) {
	op := func(ops ...int) []byte {
		b := make([]byte, len(ops))
		for i, o := range ops {
			b[i] = byte(o)
		}
		return b
	}
	// First byte: platform and settings. Then (op, param) pairs.
	f.Add(op(0, opCreated, 0, opCaptured, 0, opPlace, 0, opPlaced, 0, opPaid, 0, opShipped, 0, opPushed, 0, opConfirmed, 0))
	f.Add(op(1, opCreated, 1, opPlace, 0, opPlaced, 1, opPaid, 0, opPaid, 1, opShipped, 2, opShipped, 3, opPushed, 0, opConfirmed, 0, opConfirmed, 0, opReplayFact, 5))
	f.Add(op(2, opCaptured, 1, opCreated, 0, opPlace, 1, opRetry, 0, opPlaced, 0, opShipped, 0, opTrackingChanged, 0, opPushed, 0, opTrackingChanged, 0))
	f.Add(op(4, opCreated, 1, opPlace, 0, opPlaced, 0, opSupplierCanceled, 0, opRetry, 0, opPlaced, 0, opPaid, 1, opShipped, 0, opStoreFulfilled, 0))
	f.Add(op(0, opCreated, 1, opUpdated, 1, opPlace, 0, opResolve, 1, opPlace, 0, opPlaced, 0, opUpdated, 2, opResolve, 0))
	f.Add(op(3, opCreated, 1, opPlace, 0, opPlaced, 0, opFulfillManually, 0, opShipped, 0, opPushed, 0, opConfirmed, 0, opRepeatCommand, 0))
	f.Add(op(5, opCreated, 1, opRefunded, 1, opPlace, 0, opPlaced, 0, opShipped, 0, opCanceled, 0, opPlace, 0))
	f.Add(op(0, opCreated, 0, opResync, 0, opReread, 1, opStoreFulfilled, 2, opPlace, 0, opPlacementFailed, 0, opRetry, 0))
	f.Add(op(6, opCreated, 1, opPlace, 0, opPlaced, 1, opPaid, 0, opShipped, 1, opPushFailed, 0, opAttention, 0, opSettings, 1, opShipped, 2, opFinished, 0))
	f.Add(op(0, opCreated, 1, opPlace, 0, opPlaced, 0, opPaid, 0, opShipped, 2, opPushed, 0, opCheckAttention, 50, opProgressed, 4, opProgressed, 2,
		opCheckAttention, 60, opProgressed, 1, opCheckAttention, 200, opReplayFact, 6, opProgressed, 8))
	f.Add(op(4, opCreated, 1, opPlace, 0, opPlaced, 1, opPaid, 0, opPaid, 1, opCheckAttention, 200, opShipped, 1, opProgressed, 0, opTrackingChanged, 0,
		opCheckAttention, 49, opFulfillManually, 0, opCheckAttention, 49))
	f.Add(op(0, opCreated, 1, opStoreFulfilled, 1, opStoreFulfillmentCanceled, 1, opPlace, 0, opPlaced, 0, opShipped, 0, opPushed, 0,
		opStoreTrackingChanged, 0, opStoreTrackingChanged, 2, opStoreFulfillmentCanceled, 0, opStoreFulfilled, 2, opStoreFulfillmentCanceled, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		platform := []eventsv1.Platform{shopify, woo, wix}[int(data[0])%3]
		h := &harness{t: t, fulfillmentFor: map[string]bool{}, confirmedFor: map[string]bool{}}
		h.f = newFixture(t, platform, settingsFor(data[0]))
		data = data[1:]
		for i := 0; i+1 < len(data) && i/2 < maxFuzzOps; i += 2 {
			h.step(int(data[i])%opCount, data[i+1])
		}
	})
}

func settingsFor(b byte) *eventsv1.StoreSettings {
	s := &eventsv1.StoreSettings{
		FulfillmentPolicy:    eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART,
		ShippingConfirmation: b&8 == 0,
	}
	if b&4 != 0 {
		s.FulfillmentPolicy = eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER
	}
	return s
}

func pick(list []string, p byte, fallback string) string {
	if len(list) == 0 {
		return fallback
	}
	return list[int(p)%len(list)]
}

func lineFor(p byte) *eventsv1.LineQuantity {
	if p&1 == 0 {
		return lq("L1", int32(p>>1)%3)
	}
	return lq("L2", int32(p>>1)%2)
}

func (h *harness) step(op int, p byte) {
	f := h.f
	h.n++
	var fact *eventsv1.Envelope
	var cmd func(req string) ([]*eventsv1.Envelope, error)
	var repeat bool
	req := ""
	switch op {
	case opCreated:
		fact = f.created(p&1 == 1)
	case opCaptured:
		fact = f.captured()
	case opUpdated:
		switch p % 4 {
		case 0:
			fact = f.updated(func(so *eventsv1.StoreOrder) { so.FulfillmentStatus = fmt.Sprint("s", h.n) })
		case 1:
			fact = f.updated(func(so *eventsv1.StoreOrder) { so.LineItems[0].Quantity = int32(p>>2)%4 + 1 })
		case 2:
			fact = f.updated(func(so *eventsv1.StoreOrder) { so.ShippingAddress.Zip = fmt.Sprint(p) })
		default:
			fact = f.updated(nil)
			fact.GetStoreOrderUpdated().GetOrder().StoreUpdatedAt.Seconds -= 3600
		}
	case opCanceled:
		if p%3 == 0 {
			fact = f.canceled()
		} else {
			fact = f.canceled(lineFor(p))
		}
	case opRefunded:
		if p%3 == 0 {
			fact = f.refunded()
		} else {
			fact = f.refunded(lineFor(p))
		}
	case opStoreFulfilled:
		switch p % 4 {
		case 0: // echo of one of ours, by tracking number
			sid := pick(h.shipments, p>>2, "s0")
			fact = f.storeFulfilled("", []string{"T-" + sid})
		case 1:
			fact = f.storeFulfilled(fmt.Sprint("FX", h.n), []string{"OTHER"})
		case 2:
			fact = f.storeFulfilled(fmt.Sprint("FX", h.n), nil, lineFor(p>>2))
		default: // echo by store fulfillment id
			fact = f.storeFulfilled("F-"+pick(h.shipments, p>>2, "s0"), nil)
		}
	case opStoreFulfillmentCanceled:
		switch p % 3 {
		case 0: // one of ours
			fact = f.storeFulfillmentCanceled("F-" + pick(h.shipments, p>>2, "s0"))
		case 1: // a foreign one, maybe not seen yet
			fact = f.storeFulfillmentCanceled(fmt.Sprint("FX", int(p>>2)%(h.n+1)))
		default:
			fact = f.storeFulfillmentCanceled(fmt.Sprint("FX", int(p>>2)%(h.n+1)), lineFor(p>>2))
		}
	case opStoreTrackingChanged:
		if p&1 == 0 {
			sid := pick(h.shipments, p>>1, "s0")
			fact = f.storeTrackingChanged("F-"+sid, pick([]string{"T-" + sid, fmt.Sprint("M", h.n)}, p>>1, ""))
		} else {
			fact = f.storeTrackingChanged(fmt.Sprint("FX", int(p>>1)%(h.n+1)), fmt.Sprint("M", h.n))
		}
	case opPushed:
		sid := pick(h.shipments, p, "s0")
		fact = f.pushed(sid, "F-"+sid)
	case opPushFailed:
		fact = f.pushFailed(pick(h.shipments, p, "s0"))
	case opReread:
		fact = f.reread(pick(h.resyncs, p, "RS0"), func(so *eventsv1.StoreOrder) {
			if p&1 == 1 {
				so.PaymentCaptured = true
			}
		})
	case opPlaced:
		r := pick(h.requests, p>>1, "P0")
		a, b := fmt.Sprint("AE", h.n), fmt.Sprint("AF", h.n)
		if p&1 == 0 {
			fact = f.placed(r, so(a, lq("L1", 2), lq("L2", 1)))
		} else {
			fact = f.placed(r, so(a, lq("L1", 2)), so(b, lq("L2", 1)))
			h.suppliers = append(h.suppliers, b)
		}
		h.suppliers = append(h.suppliers, a)
	case opPlacementFailed:
		codes := []string{"OUT_OF_STOCK", "ADDRESS_REJECTED", "RISK_CONTROL"}
		fact = f.placementFailed(pick(h.requests, p, "P0"), codes[int(p)%3], p&1 == 1)
	case opPaid:
		fact = f.paid(pick(h.suppliers, p, "AE0"))
	case opShipped:
		sid := fmt.Sprint("s", h.n)
		s := pick(h.suppliers, p>>2, "AE0")
		switch p % 4 {
		case 0:
			fact = f.shipped(s, sid, "T-"+sid)
		case 1:
			fact = f.shipped(s, sid, "T-"+sid, lq("L1", 1))
		case 2:
			fact = f.shipped(s, sid, "T-"+sid, lq("L1", 2), lq("L2", 1))
		default:
			fact = f.shipped(s, sid, "T-"+sid, lq("L2", 1))
		}
		h.shipments = append(h.shipments, sid)
	case opTrackingChanged:
		fact = f.trackingChanged(pick(h.shipments, p, "s0"), fmt.Sprint("T-new", h.n))
	case opProgressed: // a checkpoint up to 2 hours old; odd: delivered
		fact = f.progressed(pick(h.shipments, p>>4, "s0"), "In transit", f.clock.Add(-time.Duration(p>>1&7)*15*time.Minute), p&1 == 1)
	case opCheckAttention: // after p hours
		hours := time.Duration(p) * time.Hour
		cmd = func(string) ([]*eventsv1.Envelope, error) {
			f.clock = f.clock.Add(hours)
			return f.o.CheckAttention(order.AttentionPolicy{}, f.ctx())
		}
	case opSupplierCanceled:
		if p&1 == 0 {
			fact = f.supplierCanceled(pick(h.suppliers, p>>1, "AE0"))
		} else {
			fact = f.supplierCanceled(pick(h.suppliers, p>>2, "AE0"), lineFor(p>>1))
		}
	case opFinished:
		fact = f.finished(pick(h.suppliers, p, "AE0"))
	case opConfirmed:
		fact = f.confirmed(pick(h.shipments, p, "s0"))
	case opAttention:
		fact = f.attention(eventsv1.AttentionKind(int(p)%3 + 1))
	case opReplayFact:
		if len(h.facts) == 0 {
			return
		}
		fact, repeat = h.facts[int(p)%len(h.facts)], true
	case opPlace, opRetry:
		m := mapped
		if p&1 == 1 {
			m = order.Mappings{"V1": mapped["V1"]}
		}
		retry := op == opRetry
		cmd = func(req string) ([]*eventsv1.Envelope, error) {
			c := order.PlaceCommand{RequestID: req, Lookup: m.Lookup}
			if retry {
				return f.o.Retry(c, f.ctx())
			}
			return f.o.Place(c, f.ctx())
		}
	case opFulfillManually:
		cmd = func(req string) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually(req, "fuzz", f.ctx()) }
	case opResync:
		cmd = func(req string) ([]*eventsv1.Envelope, error) { return f.o.Resync(req, f.ctx()) }
	case opResolve:
		accept := p&1 == 1
		cmd = func(req string) ([]*eventsv1.Envelope, error) { return f.o.ResolveConflict(req, accept, f.ctx()) }
	case opRepeatCommand:
		if len(h.commands) == 0 {
			return
		}
		i := int(p) % len(h.commands)
		cmd, req, repeat = h.commands[i], h.cmdReqs[i], true
	case opSettings:
		f.settings = settingsFor(p)
		return
	}

	before := f.o.ToProto()
	rev := f.o.Revision()
	var evs []*eventsv1.Envelope
	var err error
	if fact != nil {
		evs, err = f.o.Handle(fact, f.ctx())
		// Deciding is deterministic.
		again, err2 := f.o.Handle(fact, order.Context{Settings: f.settings, Now: f.clock})
		if (err == nil) != (err2 == nil) || len(again) != len(evs) {
			h.t.Fatalf("step %d: Handle is not deterministic: %v/%v %d/%d", h.n, err, err2, len(evs), len(again))
		}
		for i := range evs {
			if i > 0 && again[i].GetEventId() != evs[i].GetEventId() {
				h.t.Fatalf("step %d: event ids differ", h.n)
			}
		}
		if !repeat && err == nil && evs != nil {
			h.facts = append(h.facts, fact)
		}
	} else {
		if req == "" {
			h.cc++
			req = fmt.Sprint("R", h.cc)
		}
		_, known := f.o.Request(req)
		evs, err = cmd(req)
		if known && (evs != nil || err != nil && !errors.Is(err, order.ErrRequestReused)) {
			h.t.Fatalf("step %d: repeated request %s gave %v, %v", h.n, req, describeAll(evs), err)
		}
		if !repeat {
			h.commands = append(h.commands, cmd)
			h.cmdReqs = append(h.cmdReqs, req)
		}
	}
	if repeat && fact != nil && (evs != nil || err != nil) {
		h.t.Fatalf("step %d: replayed fact gave %v, %v", h.n, describeAll(evs), err)
	}
	if err != nil {
		if evs != nil {
			h.t.Fatalf("step %d: events with an error: %v", h.n, err)
		}
		if order.Code(err) == "UNKNOWN" {
			h.t.Fatalf("step %d: error without a code: %v", h.n, err)
		}
	}
	if f.o.Revision() != rev {
		h.t.Fatalf("step %d: deciding changed the order", h.n)
	}
	f.record(evs)
	h.check(before, evs)
}

func (h *harness) check(before *ordersv1.Order, evs []*eventsv1.Envelope) {
	t, f := h.t, h.f
	after := f.o.ToProto()

	// Rebuild gives the same order as the incremental fold.
	if len(f.events) > 0 {
		r := order.Rebuild(f.events)
		if !proto.Equal(r.ToProto(), after) || r.Tab() != f.o.Tab() || r.Revision() != f.o.Revision() {
			t.Fatalf("step %d: rebuild differs:\nrebuilt %v\nfolded  %v", h.n, r.ToProto(), after)
		}
	}
	// Exactly one tab.
	if f.o.Exists() != (after.GetTab() >= eventsv1.Tab_TAB_PENDING && after.GetTab() <= eventsv1.Tab_TAB_FAILED) {
		t.Fatalf("step %d: tab %v for an order that exists=%v", h.n, after.GetTab(), f.o.Exists())
	}
	// Quantities stay within what was ordered.
	for _, l := range after.GetLines() {
		q := l.GetQuantity()
		for _, v := range []int32{l.GetCanceledQuantity(), l.GetPlacedQuantity(), l.GetShippedQuantity(), l.GetFulfilledQuantity()} {
			if v < 0 || v > q {
				t.Fatalf("step %d: line %v out of range", h.n, l)
			}
		}
	}
	stateBefore := map[string]ordersv1.ShipmentState{}
	for _, s := range before.GetShipments() {
		stateBefore[s.GetShipmentId()] = s.GetState()
	}
	stopped := before.GetFulfilledManually() || before.GetFulfilledOnStore() || after.GetFulfilledManually() || after.GetFulfilledOnStore()
	changes := 0
	for _, e := range evs {
		if id := e.GetEventId(); id == "" || e.GetOrderId() != f.id.String() {
			t.Fatalf("step %d: event without id or order: %v", h.n, e)
		}
		switch {
		case e.GetFulfillmentRequested() != nil:
			sid := e.GetFulfillmentRequested().GetShipmentId()
			if stopped {
				t.Fatalf("step %d: FulfillmentRequested %s after the order was fulfilled by hand or on the store", h.n, sid)
			}
			if h.fulfillmentFor[sid] {
				t.Fatalf("step %d: second FulfillmentRequested for %s", h.n, sid)
			}
			if st := stateBefore[sid]; st != ordersv1.ShipmentState_SHIPMENT_STATE_UNSPECIFIED && st != ordersv1.ShipmentState_SHIPMENT_STATE_WAITING {
				t.Fatalf("step %d: FulfillmentRequested for %s in state %v", h.n, sid, st)
			}
			if len(e.GetFulfillmentRequested().GetLines()) == 0 {
				t.Fatalf("step %d: FulfillmentRequested without lines", h.n)
			}
			h.fulfillmentFor[sid] = true
		case e.GetTrackingUpdateRequested() != nil:
			if stopped {
				t.Fatalf("step %d: TrackingUpdateRequested after the order was fulfilled by hand or on the store", h.n)
			}
		case e.GetShippingConfirmationIssued() != nil:
			sid := e.GetShippingConfirmationIssued().GetShipmentId()
			if h.confirmedFor[sid] {
				t.Fatalf("step %d: second ShippingConfirmationIssued for %s", h.n, sid)
			}
			h.confirmedFor[sid] = true
		case e.GetPlacementRequested() != nil:
			h.requests = append(h.requests, e.GetPlacementRequested().GetRequestId())
			if len(e.GetPlacementRequested().GetItems()) == 0 {
				t.Fatalf("step %d: PlacementRequested without items", h.n)
			}
		case e.GetResyncRequested() != nil:
			h.resyncs = append(h.resyncs, e.GetResyncRequested().GetRequestId())
		case e.GetAttentionRaised().GetKind() == eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE && e.GetSource().GetService() == order.Service:
			if stopped {
				t.Fatalf("step %d: stale tracking flagged on an order dropsync no longer syncs", h.n)
			}
			open := false
			for _, s := range before.GetShipments() {
				open = open || !s.GetDelivered()
			}
			if !open {
				t.Fatalf("step %d: stale tracking flagged with every shipment delivered", h.n)
			}
		case e.GetOrderStatusChanged() != nil:
			changes++
			c := e.GetOrderStatusChanged()
			if c.GetFrom() != before.GetTab() || c.GetTo() != after.GetTab() || c.GetFrom() == c.GetTo() {
				t.Fatalf("step %d: status change %v, tabs %v -> %v", h.n, c, before.GetTab(), after.GetTab())
			}
		}
	}
	if changes > 1 || changes == 0 && before.GetTab() != after.GetTab() {
		t.Fatalf("step %d: %d status changes for %v -> %v", h.n, changes, before.GetTab(), after.GetTab())
	}
	if after.GetPlaceable() != (f.o.CanPlace() == nil) {
		t.Fatalf("step %d: placeable disagrees with CanPlace", h.n)
	}
	// A snapshot restores the same order, and the harness goes on with the
	// restored one: every later decision, checked against Rebuild above,
	// is made from a snapshot.
	snap, err := f.o.Snapshot()
	if err != nil {
		t.Fatalf("step %d: snapshot: %v", h.n, err)
	}
	restored, err := order.FromSnapshot(snap)
	if err != nil {
		t.Fatalf("step %d: from snapshot: %v", h.n, err)
	}
	again, err := restored.Snapshot()
	if err != nil || !bytes.Equal(again, snap) {
		t.Fatalf("step %d: a restored order snapshots differently (%v)", h.n, err)
	}
	if !proto.Equal(restored.ToProto(), after) || restored.Tab() != f.o.Tab() || restored.Revision() != f.o.Revision() {
		t.Fatalf("step %d: restored order differs:\nrestored %v\nfolded   %v", h.n, restored.ToProto(), after)
	}
	f.o = restored
}
