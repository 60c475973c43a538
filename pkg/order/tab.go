package order

import (
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// progress is one line's quantities, derived from the order's facts.
type progress struct {
	ordered       int32
	storeCanceled int32 // canceled or refunded on the store
	foreign       int32 // fulfilled on the store by someone else
	remaining     int32 // ordered - storeCanceled - foreign: what dropsync has to deliver
	live          int32 // in supplier orders not canceled
	supCanceled   int32 // canceled at the supplier
	shipped       int32 // in shipments
	requested     int32 // in shipments covered by a FulfillmentRequested
	pushed        int32 // in shipments written to the store
}

// placed is what the supplier has of the line: live in supplier orders, or
// at least what it shipped (a shipment proves the placement).
func (p *progress) placed() int32 { return min(max(p.live, p.shipped), p.ordered) }

// unplaced is what dropsync still has to place.
func (p *progress) unplaced() int32 { return max(p.remaining-p.placed(), 0) }

// progress computes every line's quantities into buf, in line order.
func (o *Order) progress(buf []progress) []progress {
	buf = buf[:0]
	for i := range o.lines {
		l := &o.lines[i]
		q := max(l.item.GetQuantity(), 0)
		p := progress{ordered: q, storeCanceled: min(l.storeCanceled, q)}
		if o.canceledWhole {
			p.storeCanceled = q
		}
		p.foreign = min(l.foreign, q-p.storeCanceled)
		if o.foreignWhole {
			p.foreign = q - p.storeCanceled
		}
		p.remaining = q - p.storeCanceled - p.foreign
		buf = append(buf, p)
	}
	for i := range o.suppliers {
		so := &o.suppliers[i]
		if !so.placed {
			continue
		}
		for _, lq := range so.lines {
			j := o.lineIndex(lq.GetLineItemId())
			if j < 0 {
				continue
			}
			n := max(lq.GetQuantity(), 0)
			c := so.canceledQty(lq.GetLineItemId(), n)
			buf[j].live += n - c
			buf[j].supCanceled += c
		}
	}
	for i := range o.shipments {
		s := &o.shipments[i]
		for _, lq := range s.lines {
			j := o.lineIndex(lq.GetLineItemId())
			if j < 0 {
				continue
			}
			n := max(lq.GetQuantity(), 0)
			buf[j].shipped += n
			if s.coveredBy != "" {
				buf[j].requested += n
			}
			if s.pushed {
				buf[j].pushed += n
			}
		}
	}
	for j := range buf {
		p := &buf[j]
		p.live = min(p.live, p.ordered)
		p.supCanceled = min(p.supCanceled, p.ordered)
		p.shipped = min(p.shipped, p.ordered)
		p.requested = min(p.requested, p.ordered)
		p.pushed = min(p.pushed, p.ordered)
	}
	return buf
}

// canceledQty is how much of a line of n placed units the supplier canceled.
func (so *supplierOrder) canceledQty(lineID string, n int32) int32 {
	if so.canceledWhole {
		return n
	}
	var c int32
	for _, lq := range so.canceled {
		if lq.GetLineItemId() == lineID {
			c = addCapped(c, lq.GetQuantity(), n)
		}
	}
	return c
}

// allForeign reports whether every line still ordered was fulfilled on the
// store by someone else.
func (o *Order) allForeign() bool {
	some := false
	for i := range o.lines {
		l := &o.lines[i]
		q := l.item.GetQuantity()
		if q <= 0 {
			continue
		}
		if o.canceledWhole {
			return false
		}
		if l.foreign > 0 {
			some = true
		}
		if l.storeCanceled+l.foreign < q {
			return false
		}
	}
	return some
}

// canceledOnStore reports whether the store canceled or refunded the whole
// order: explicitly, or line by line.
func (o *Order) canceledOnStore() bool {
	if o.canceledWhole {
		return true
	}
	some := false
	for i := range o.lines {
		l := &o.lines[i]
		q := l.item.GetQuantity()
		if q <= 0 {
			continue
		}
		some = true
		if l.storeCanceled < q {
			return false
		}
	}
	return some
}

func (o *Order) anyCanceledOnStore() bool {
	if o.canceledWhole {
		return true
	}
	for i := range o.lines {
		if o.lines[i].storeCanceled > 0 {
			return true
		}
	}
	return false
}

// syncStopped reports whether dropsync stopped syncing the order with the
// store: fulfilled by hand (rules 5, 6) or on the store (rule 7).
func (o *Order) syncStopped() bool { return o.manual || o.FulfilledOnStore() }

// Tab returns the order's tab, derived from its state; TAB_UNSPECIFIED until
// a store event created the order. The first rule that holds decides:
//
//  1. fulfilled by hand (rules 5, 6) or on the store by someone else (rule 7): Fulfilled;
//  2. canceled or refunded on the store, wholly or partly, or lines canceled
//     at the supplier and not placed again (rule 8): Canceled;
//  3. the last placement failed or was rejected and lines are still not
//     placed (rule 9): Failed;
//  4. payment not captured (rule 1): Pending;
//  5. lines not placed (all of them, or some): Awaiting order;
//  6. every line shipped and every shipment written to the store: Fulfilled;
//  7. every line shipped, a fulfilment not yet written: Awaiting fulfillment;
//     some lines shipped: Awaiting shipment when a FulfillmentRequested
//     covers every shipped part (the store fulfils each part now), else
//     Awaiting fulfillment (the store waits for the whole order);
//  8. every supplier order paid: Awaiting shipment; else Awaiting payment.
func (o *Order) Tab() eventsv1.Tab {
	if !o.created {
		return eventsv1.Tab_TAB_UNSPECIFIED
	}
	if o.syncStopped() {
		return eventsv1.Tab_TAB_FULFILLED
	}
	if o.anyCanceledOnStore() {
		return eventsv1.Tab_TAB_CANCELED
	}
	var buf [8]progress
	p := o.progress(buf[:0])
	unplaced, active := false, false
	for i := range p {
		if p[i].remaining > 0 {
			active = true
		}
		if p[i].unplaced() > 0 {
			unplaced = true
			if p[i].supCanceled > 0 {
				return eventsv1.Tab_TAB_CANCELED
			}
		}
	}
	if o.failure != nil && unplaced {
		return eventsv1.Tab_TAB_FAILED
	}
	if !o.captured {
		return eventsv1.Tab_TAB_PENDING
	}
	if unplaced || !active {
		return eventsv1.Tab_TAB_AWAITING_ORDER
	}
	allShipped, anyShipped, allPushed, requestedShipped := true, false, true, true
	for i := range p {
		q := &p[i]
		if q.remaining <= 0 {
			continue
		}
		if q.shipped < q.remaining {
			allShipped = false
		}
		if q.shipped > 0 {
			anyShipped = true
		}
		if q.pushed < q.remaining {
			allPushed = false
		}
		if q.requested < min(q.shipped, q.remaining) {
			requestedShipped = false
		}
	}
	switch {
	case allShipped && allPushed:
		return eventsv1.Tab_TAB_FULFILLED
	case allShipped:
		return eventsv1.Tab_TAB_AWAITING_FULFILLMENT
	case anyShipped && requestedShipped:
		return eventsv1.Tab_TAB_AWAITING_SHIPMENT
	case anyShipped:
		return eventsv1.Tab_TAB_AWAITING_FULFILLMENT
	}
	for i := range o.suppliers {
		so := &o.suppliers[i]
		if so.placed && !so.canceledWhole && !so.paid && !o.hasShipment(so.id) && so.liveQty() > 0 {
			return eventsv1.Tab_TAB_AWAITING_PAYMENT
		}
	}
	return eventsv1.Tab_TAB_AWAITING_SHIPMENT
}

func (so *supplierOrder) liveQty() int32 {
	var n int32
	for _, lq := range so.lines {
		q := max(lq.GetQuantity(), 0)
		n += q - so.canceledQty(lq.GetLineItemId(), q)
	}
	return n
}

func (o *Order) hasShipment(supplierOrderID string) bool {
	for i := range o.shipments {
		if o.shipments[i].supplierOrder == supplierOrderID {
			return true
		}
	}
	return false
}

// supplierReopened reports whether lines canceled at the supplier wait to be
// placed again.
func (o *Order) supplierReopened(p []progress) bool {
	for i := range p {
		if p[i].unplaced() > 0 && p[i].supCanceled > 0 {
			return true
		}
	}
	return false
}

// CanPlace reports whether [Order.Place] would be accepted now (whatever the
// supplier mappings): nil, or the refusal.
func (o *Order) CanPlace() error {
	if !o.created {
		return ErrUnknownOrder
	}
	if o.manual {
		if o.manualPlaced {
			return o.refuse(CodeFulfilledManuallyPlaced, ErrAlreadyFulfilled)
		}
		return o.refuse(CodeFulfilledManually, ErrAlreadyFulfilled)
	}
	if o.FulfilledOnStore() {
		return o.refuse(CodeFulfilledOnStore, ErrAlreadyFulfilled)
	}
	if o.canceledOnStore() {
		return o.refuse(CodeCanceledOnStore, ErrCanceledOnStore)
	}
	if !o.captured {
		return o.refuse(CodePaymentNotCaptured, ErrPaymentNotCaptured)
	}
	if o.conflict != nil {
		return o.refuse(CodeConflict, ErrConflict)
	}
	if o.inFlight != "" {
		return o.refuse(CodePlacementInFlight, ErrPlacementInFlight)
	}
	var buf [8]progress
	for _, p := range o.progress(buf[:0]) {
		if p.unplaced() > 0 {
			return nil
		}
	}
	if o.Tab() == eventsv1.Tab_TAB_FULFILLED {
		return o.refuse(CodeOrderFulfilled, ErrAlreadyFulfilled)
	}
	return o.refuse(CodeAlreadyPlaced, ErrNotPlaceable)
}

// CanRetry reports whether [Order.Retry] would be accepted now: the order
// can be placed and it failed, or lines were canceled at the supplier.
func (o *Order) CanRetry() error {
	if err := o.CanPlace(); err != nil {
		return err
	}
	if !o.retrying() {
		return o.refuse(CodeNotRetryable, ErrNotRetryable)
	}
	return nil
}

// retrying reports whether a placement now places again what failed or was
// canceled at the supplier.
func (o *Order) retrying() bool {
	var buf [8]progress
	return o.failure != nil || o.supplierReopened(o.progress(buf[:0]))
}
