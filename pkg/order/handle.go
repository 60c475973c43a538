package order

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Service is the default service name in the Source of events the order decides.
const Service = "orders"

// Context is what a decision needs besides the order's own events: the
// store's settings, the time, and how to name the new events. The order
// reads no clock and makes no random ids; everything comes from here.
type Context struct {
	// Settings are the order's store settings; nil means [DefaultSettings].
	Settings *eventsv1.StoreSettings
	// Now is when dropsync decides: occurred_at and recorded_at of new
	// events. When zero, a fact's recorded_at (or occurred_at) is used, and
	// for a command the time of the order's latest event.
	Now time.Time
	// EventID names the n-th (from 0) new event of type kind (e.g.
	// "FulfillmentRequested") caused by cause: the causing fact's event id,
	// or "request:<request id>" for a command. Nil means
	// DeriveEventID(order id, cause, kind, n). It must be deterministic so
	// that deciding again after a crash gives the same ids and the event
	// store drops the retried append.
	EventID func(cause, kind string, n int) string
	// Service names the deciding service in new events' Source; [Service]
	// when empty.
	Service string
	// CorrelationID is set on new events; when empty, the fact's
	// correlation id (or event id), or the command's request id.
	CorrelationID string
	// RequestedBy is who gave a command (the gRPC caller), recorded in
	// every event it leads to; nil for facts.
	RequestedBy *eventsv1.Principal
}

// DeriveEventID is the default [Context.EventID]: a UUIDv5 of the order id,
// the cause, the event type and its index among the new events of that type.
func DeriveEventID(orderID, cause, kind string, n int) string {
	return envelope.ID("dropsync", "order", orderID, cause, kind, strconv.Itoa(n))
}

// DefaultSettings are a store's settings until it sets its own: fulfil each
// shipped part at once, shipping confirmations on.
func DefaultSettings() *eventsv1.StoreSettings {
	return &eventsv1.StoreSettings{
		FulfillmentPolicy:    eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART,
		ShippingConfirmation: true,
	}
}

func (c *Context) settings() *eventsv1.StoreSettings {
	if c.Settings == nil {
		return DefaultSettings()
	}
	return c.Settings
}

// Handle takes in a fact about the order — a store event, a supplier event,
// a ShippingConfirmationIssued from the notifier or an AttentionRaised from
// a watcher — and returns the events to append to the order's stream: the
// fact itself (with recorded_at set from c.Now when it had none), then what
// dropsync decides from it:
//
//   - ConflictDetected when a StoreOrderCreated, StoreOrderUpdated or
//     StoreOrderReread changes the line items, their quantities or the
//     shipping address of an order already synced (rule 11); older snapshots
//     are ignored;
//   - FulfillmentRequested for shipped parts, by [Policy] (rules 3, 4): one
//     per shipment for each-part stores, one for the whole order once every
//     line has tracking for whole-order stores; never once the order was
//     fulfilled by hand or on the store (rules 5-7);
//   - TrackingUpdateRequested when a pushed shipment's tracking number changed;
//   - AttentionRaised when the store refused a fulfilment, or cancelled one
//     dropsync pushed (StoreFulfillmentCanceled);
//   - OrderStatusChanged when the tab changes (from TAB_UNSPECIFIED when the
//     fact creates the order).
//
// An event whose id the order already applied (fact or decision alike), or
// a fact that changes nothing (a store snapshot no newer than the one held,
// a supplier fact already known), gives nil, nil: nothing to append.
// Decisions are never taken in: they give [ErrUnsupportedEvent]. A fact
// about an order no store event created yet gives [ErrUnknownOrder]; a
// ShippingConfirmationIssued the state forbids gives a [*RuleError]; a
// SupplierTrackingProgressed for a shipment the order does not have gives
// [ErrUnknownShipment].
//
// Handle does not change o: apply the returned events once they are stored.
func (o *Order) Handle(e *eventsv1.Envelope, c Context) ([]*eventsv1.Envelope, error) {
	if err := o.checkEnvelope(e); err != nil {
		return nil, err
	}
	if o.Seen(e.GetEventId()) {
		return nil, nil
	}
	if !isFact(e) {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedEvent, envelope.Type(e))
	}
	if !o.created && !createsOrder(e) {
		return nil, fmt.Errorf("%w %s: %s before any store order event", ErrUnknownOrder, e.GetOrderId(), envelope.Type(e))
	}
	noop, err := o.screen(e, &c)
	if err != nil || noop {
		return nil, err
	}
	corr := c.CorrelationID
	if corr == "" {
		corr = e.GetCorrelationId()
	}
	if corr == "" {
		corr = e.GetEventId()
	}
	now := c.Now
	if now.IsZero() {
		now = eventTime(e)
	}
	fact := e
	if e.GetRecordedAt() == nil && !now.IsZero() {
		fact = proto.Clone(e).(*eventsv1.Envelope)
		fact.RecordedAt = timestamppb.New(now)
	}
	existed := o.created
	d := o.decider(e.GetEventId(), e.GetEventId(), corr, now, &c)
	d.out = append(d.out, fact)
	d.o.Apply(fact)

	switch ev := e.GetEvent().(type) {
	case *eventsv1.Envelope_StoreOrderCreated:
		d.checkConflict(existed, ev.StoreOrderCreated.GetOrder())
	case *eventsv1.Envelope_StoreOrderUpdated:
		d.checkConflict(existed, ev.StoreOrderUpdated.GetOrder())
	case *eventsv1.Envelope_StoreOrderReread:
		d.checkConflict(existed, ev.StoreOrderReread.GetOrder())
	case *eventsv1.Envelope_StoreFulfillmentCanceled:
		c := ev.StoreFulfillmentCanceled
		if o.pushedAs(c.GetStoreFulfillmentId()) && !d.o.attentionActive(eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED) {
			d.emit("AttentionRaised", &eventsv1.Envelope{Event: &eventsv1.Envelope_AttentionRaised{AttentionRaised: &eventsv1.AttentionRaised{
				Kind:   eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED,
				Detail: "store fulfilment " + c.GetStoreFulfillmentId() + " " + cmp.Or(c.GetStatus(), "cancelled") + " on the store",
			}}})
		}
	case *eventsv1.Envelope_FulfillmentFailed:
		f := ev.FulfillmentFailed
		if !d.o.attentionActive(eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED) && slices.Contains(d.o.failedFulfillments(), f.GetShipmentId()) {
			detail := "shipment " + f.GetShipmentId() + ": " + cmp.Or(f.GetReason().GetCode(), ReasonStoreError)
			if m := f.GetReason().GetMessage(); m != "" {
				detail += ": " + m
			}
			d.emit("AttentionRaised", &eventsv1.Envelope{Event: &eventsv1.Envelope_AttentionRaised{AttentionRaised: &eventsv1.AttentionRaised{
				Kind:   eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED,
				Detail: detail,
			}}})
		}
	}
	d.decide()
	return d.finish(), nil
}

// pushedAs reports whether a store fulfillment id is one dropsync pushed.
func (o *Order) pushedAs(fid string) bool {
	for i := range o.shipments {
		if fid != "" && o.shipments[i].fulfillmentID == fid {
			return true
		}
	}
	return false
}

// checkEnvelope validates an incoming event's envelope.
func (o *Order) checkEnvelope(e *eventsv1.Envelope) error {
	if e == nil || e.GetEvent() == nil {
		return fmt.Errorf("%w: no event", ErrInvalidEvent)
	}
	if e.GetEventId() == "" {
		return fmt.Errorf("%w: %s without event id", ErrInvalidEvent, envelope.Type(e))
	}
	if o.id != "" {
		if e.GetOrderId() != o.id {
			return fmt.Errorf("%w: event %s is for order %q, not %s", ErrInvalidEvent, e.GetEventId(), e.GetOrderId(), o.id)
		}
	} else if _, err := ParseID(e.GetOrderId()); err != nil {
		return fmt.Errorf("%w: event %s: %w", ErrInvalidEvent, e.GetEventId(), err)
	}
	return nil
}

// isFact reports whether e is a fact the order takes in: a store or supplier
// event, a ShippingConfirmationIssued or an AttentionRaised.
func isFact(e *eventsv1.Envelope) bool {
	switch e.GetEvent().(type) {
	case *eventsv1.Envelope_StoreOrderCreated, *eventsv1.Envelope_StorePaymentCaptured,
		*eventsv1.Envelope_StoreOrderUpdated, *eventsv1.Envelope_StoreOrderCanceled,
		*eventsv1.Envelope_StoreOrderRefunded, *eventsv1.Envelope_StoreOrderFulfilled,
		*eventsv1.Envelope_FulfillmentPushed, *eventsv1.Envelope_FulfillmentFailed,
		*eventsv1.Envelope_StoreOrderReread,
		*eventsv1.Envelope_StoreFulfillmentCanceled, *eventsv1.Envelope_StoreTrackingChanged,
		*eventsv1.Envelope_SupplierOrderPlaced, *eventsv1.Envelope_SupplierPlacementFailed,
		*eventsv1.Envelope_SupplierOrderPaid, *eventsv1.Envelope_SupplierShipmentCreated,
		*eventsv1.Envelope_SupplierTrackingChanged, *eventsv1.Envelope_SupplierOrderCanceled,
		*eventsv1.Envelope_SupplierOrderFinished, *eventsv1.Envelope_SupplierTrackingProgressed,
		*eventsv1.Envelope_ShippingConfirmationIssued, *eventsv1.Envelope_AttentionRaised:
		return true
	}
	return false
}

// createsOrder reports whether e carries a store snapshot, so that it can
// create the order whatever order the store's events arrive in.
func createsOrder(e *eventsv1.Envelope) bool {
	return storeSnapshot(e) != nil
}

func storeSnapshot(e *eventsv1.Envelope) *eventsv1.StoreOrder {
	switch ev := e.GetEvent().(type) {
	case *eventsv1.Envelope_StoreOrderCreated:
		return ev.StoreOrderCreated.GetOrder()
	case *eventsv1.Envelope_StorePaymentCaptured:
		return ev.StorePaymentCaptured.GetOrder()
	case *eventsv1.Envelope_StoreOrderUpdated:
		return ev.StoreOrderUpdated.GetOrder()
	case *eventsv1.Envelope_StoreOrderCanceled:
		return ev.StoreOrderCanceled.GetOrder()
	case *eventsv1.Envelope_StoreOrderRefunded:
		return ev.StoreOrderRefunded.GetOrder()
	case *eventsv1.Envelope_StoreOrderFulfilled:
		return ev.StoreOrderFulfilled.GetOrder()
	case *eventsv1.Envelope_StoreOrderReread:
		return ev.StoreOrderReread.GetOrder()
	case *eventsv1.Envelope_StoreFulfillmentCanceled:
		return ev.StoreFulfillmentCanceled.GetOrder()
	case *eventsv1.Envelope_StoreTrackingChanged:
		return ev.StoreTrackingChanged.GetOrder()
	}
	return nil
}

// screen validates a fact against the order and tells whether it changes
// nothing (noop), so that repeated polls do not grow the stream.
func (o *Order) screen(e *eventsv1.Envelope, c *Context) (noop bool, err error) {
	switch ev := e.GetEvent().(type) {
	case *eventsv1.Envelope_StoreOrderCreated, *eventsv1.Envelope_StoreOrderUpdated:
		so := storeSnapshot(e)
		if so == nil {
			return false, fmt.Errorf("%w: %s without store order", ErrInvalidEvent, envelope.Type(e))
		}
		return o.created && (o.stale(so) || !o.storeChanged(so)), nil
	case *eventsv1.Envelope_StorePaymentCaptured:
		so := ev.StorePaymentCaptured.GetOrder()
		return o.created && o.captured && (so == nil || o.stale(so) || !o.storeChanged(so)), nil
	case *eventsv1.Envelope_StoreOrderFulfilled:
		// A fulfilment cancelled on the store, or one already taken in
		// under another event id, says nothing new.
		sf := o.storeFulfillment(ev.StoreOrderFulfilled.GetStoreFulfillmentId())
		return sf != nil, nil
	case *eventsv1.Envelope_StoreFulfillmentCanceled:
		fid := ev.StoreFulfillmentCanceled.GetStoreFulfillmentId()
		if fid == "" {
			return false, fmt.Errorf("%w: StoreFulfillmentCanceled without store fulfillment id", ErrInvalidEvent)
		}
		if sf := o.storeFulfillment(fid); sf == nil || !sf.canceled {
			return false, nil
		}
		for i := range o.shipments {
			if o.shipments[i].fulfillmentID == fid {
				return false, nil
			}
		}
		return true, nil
	case *eventsv1.Envelope_StoreTrackingChanged:
		fid := ev.StoreTrackingChanged.GetStoreFulfillmentId()
		if fid == "" {
			return false, fmt.Errorf("%w: StoreTrackingChanged without store fulfillment id", ErrInvalidEvent)
		}
		return o.trackingKnown(fid, ev.StoreTrackingChanged.GetTracking()), nil
	case *eventsv1.Envelope_SupplierOrderPlaced:
		if len(ev.SupplierOrderPlaced.GetOrders()) == 0 {
			return false, fmt.Errorf("%w: SupplierOrderPlaced without supplier orders", ErrInvalidEvent)
		}
		for _, so := range ev.SupplierOrderPlaced.GetOrders() {
			if so.GetSupplierOrderId() == "" {
				return false, fmt.Errorf("%w: SupplierOrderPlaced without supplier order id", ErrInvalidEvent)
			}
			if s := o.findSupplierOrder(so.GetSupplierOrderId()); s == nil || !s.placed {
				return false, nil
			}
		}
		return ev.SupplierOrderPlaced.GetRequestId() != o.inFlight, nil
	case *eventsv1.Envelope_SupplierOrderPaid:
		return o.supplierFact(ev.SupplierOrderPaid.GetSupplierOrderId(), func(s *supplierOrder) bool { return s.paid })
	case *eventsv1.Envelope_SupplierOrderCanceled:
		return o.supplierFact(ev.SupplierOrderCanceled.GetSupplierOrderId(), func(s *supplierOrder) bool { return s.canceledWhole })
	case *eventsv1.Envelope_SupplierOrderFinished:
		return o.supplierFact(ev.SupplierOrderFinished.GetSupplierOrderId(), func(s *supplierOrder) bool { return s.finished })
	case *eventsv1.Envelope_SupplierShipmentCreated:
		if ev.SupplierShipmentCreated.GetShipmentId() == "" {
			return false, fmt.Errorf("%w: SupplierShipmentCreated without shipment id", ErrInvalidEvent)
		}
		return o.shipment(ev.SupplierShipmentCreated.GetShipmentId()) != nil, nil
	case *eventsv1.Envelope_SupplierTrackingChanged:
		s := o.shipment(ev.SupplierTrackingChanged.GetShipmentId())
		return s != nil && s.tracking.GetNumber() == ev.SupplierTrackingChanged.GetTracking().GetNumber(), nil
	case *eventsv1.Envelope_SupplierTrackingProgressed:
		p := ev.SupplierTrackingProgressed
		if p.GetShipmentId() == "" {
			return false, fmt.Errorf("%w: SupplierTrackingProgressed without shipment id", ErrInvalidEvent)
		}
		// Unknown shipment (its SupplierShipmentCreated may still be on its
		// way: it is published first), a delivered one, or nothing newer.
		s := o.shipment(p.GetShipmentId())
		if s == nil {
			return false, fmt.Errorf("%w %q in order %s", ErrUnknownShipment, p.GetShipmentId(), o.id)
		}
		return s.delivered || !p.GetDelivered() && (p.GetLatest() == nil || !s.newer(p.GetLatest(), eventTime(e))), nil
	case *eventsv1.Envelope_FulfillmentPushed:
		p := ev.FulfillmentPushed
		if p.GetShipmentId() == "" {
			return false, fmt.Errorf("%w: FulfillmentPushed without shipment id", ErrInvalidEvent)
		}
		some := false
		for i := range o.shipments {
			s := &o.shipments[i]
			if s.coveredBy == p.GetShipmentId() || s.id == p.GetShipmentId() {
				some = true
				if !s.pushed || s.fulfillmentID != p.GetStoreFulfillmentId() {
					return false, nil
				}
			}
		}
		return some, nil
	case *eventsv1.Envelope_FulfillmentFailed:
		if ev.FulfillmentFailed.GetShipmentId() == "" {
			return false, fmt.Errorf("%w: FulfillmentFailed without shipment id", ErrInvalidEvent)
		}
	case *eventsv1.Envelope_ShippingConfirmationIssued:
		return false, o.checkConfirmation(ev.ShippingConfirmationIssued.GetShipmentId())
	case *eventsv1.Envelope_AttentionRaised:
		return o.attentionActive(ev.AttentionRaised.GetKind()), nil
	}
	return false, nil
}

func (o *Order) supplierFact(id string, done func(*supplierOrder) bool) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("%w: supplier event without supplier order id", ErrInvalidEvent)
	}
	s := o.findSupplierOrder(id)
	return s != nil && done(s), nil
}

// storeChanged reports whether a snapshot not older than the one held says
// anything new.
func (o *Order) storeChanged(so *eventsv1.StoreOrder) bool {
	if t := so.GetStoreUpdatedAt(); t != nil && t.AsTime().After(o.storeUpdatedAt) {
		return true
	}
	if so.GetPaymentCaptured() && !o.captured ||
		so.GetName() != "" && so.GetName() != o.name ||
		so.GetFinancialStatus() != o.financial || so.GetFulfillmentStatus() != o.fulfillment ||
		so.GetTotal() != nil && !proto.Equal(so.GetTotal(), o.total) {
		return true
	}
	return o.conflictFields(so) != nil && !o.known(so)
}

// conflictFields lists what a store version changes in dropsync's line
// items and shipping address: "line_items" (lines added, removed, or
// another variant), "quantities", "shipping_address".
func (o *Order) conflictFields(so *eventsv1.StoreOrder) []string {
	items := make([]*eventsv1.StoreLineItem, len(o.lines))
	for i := range o.lines {
		items[i] = o.lines[i].item
	}
	return diffStore(items, o.address, so)
}

// known reports whether a store version's line items and address are the
// ones dropsync already acknowledged or holds as a pending conflict.
func (o *Order) known(so *eventsv1.StoreOrder) bool {
	ref := o.baseline
	if o.conflict != nil {
		ref = o.conflict.store
	}
	return ref != nil && diffStore(ref.GetLineItems(), ref.GetShippingAddress(), so) == nil
}

func diffStore(items []*eventsv1.StoreLineItem, addr *eventsv1.Address, so *eventsv1.StoreOrder) []string {
	var fields []string
	other := so.GetLineItems()
	lineItems, quantities := len(items) != len(other), false
	for _, a := range items {
		found := false
		for _, b := range other {
			if a.GetId() != b.GetId() {
				continue
			}
			found = true
			if a.GetVariantId() != b.GetVariantId() || a.GetSku() != b.GetSku() {
				lineItems = true
			}
			if a.GetQuantity() != b.GetQuantity() {
				quantities = true
			}
			break
		}
		if !found {
			lineItems = true
		}
	}
	if lineItems {
		fields = append(fields, "line_items")
	}
	if quantities {
		fields = append(fields, "quantities")
	}
	if !addressEqual(addr, so.GetShippingAddress()) {
		fields = append(fields, "shipping_address")
	}
	return fields
}

func addressEqual(a, b *eventsv1.Address) bool {
	if a == nil {
		a = &eventsv1.Address{}
	}
	if b == nil {
		b = &eventsv1.Address{}
	}
	return proto.Equal(a, b)
}

// checkConfirmation checks a ShippingConfirmationIssued the notifier
// recorded. It is a fact: the notifier decided from the state it saw (see
// canConfirm) and the store carries it out with the fulfilment, so a later
// change (setting turned off, order fulfilled by hand) does not undo it.
// Only an unknown shipment and a second confirmation for one shipment are
// refused (rule 4: exactly one).
func (o *Order) checkConfirmation(shipmentID string) error {
	sh := o.shipment(shipmentID)
	if sh == nil {
		return fmt.Errorf("%w %q in order %s", ErrUnknownShipment, shipmentID, o.id)
	}
	if sh.confirmed {
		return o.refuse(CodeConfirmationIssued, ErrAlreadyConfirmed)
	}
	return nil
}

// canConfirm tells whether a confirmation is due: at most one per shipment
// (rule 4), only where the store's setting is on, only for a shipment
// dropsync fulfilled on the store, and never once the order was fulfilled by
// hand or on the store (rules 5-7).
func (o *Order) canConfirm(shipmentID string, s *eventsv1.StoreSettings) error {
	sh := o.shipment(shipmentID)
	if sh == nil {
		return fmt.Errorf("%w %q in order %s", ErrUnknownShipment, shipmentID, o.id)
	}
	if sh.confirmed {
		return o.refuse(CodeConfirmationIssued, ErrAlreadyConfirmed)
	}
	if err := o.notSynced(); err != nil {
		return err
	}
	if !s.GetShippingConfirmation() {
		return o.refuse(CodeConfirmationOff, ErrConfirmationOff)
	}
	if sh.coveredBy == "" || sh.failed && !sh.pushed {
		return o.refuse(CodeShipmentNotFulfilled, ErrNotFulfilledOnStore)
	}
	return nil
}

// notSynced returns the refusal for an order dropsync stopped syncing.
func (o *Order) notSynced() error {
	switch {
	case o.manual && o.manualPlaced:
		return o.refuse(CodeFulfilledManuallyPlaced, ErrNotSynced)
	case o.manual:
		return o.refuse(CodeFulfilledManually, ErrNotSynced)
	case o.FulfilledOnStore():
		return o.refuse(CodeFulfilledOnStore, ErrNotSynced)
	}
	return nil
}

// ConfirmationsDue lists the shipments whose shipping confirmation is due
// under the given settings (nil: [DefaultSettings]): fulfilled on the store
// by dropsync, none issued yet, setting on, the order still synced.
func (o *Order) ConfirmationsDue(settings *eventsv1.StoreSettings) []string {
	if settings == nil {
		settings = DefaultSettings()
	}
	var ids []string
	for i := range o.shipments {
		if s := &o.shipments[i]; s.pushed && o.canConfirm(s.id, settings) == nil {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// decider collects the events of one decision, applying each to a scratch
// copy of the order so that later decisions see earlier ones.
type decider struct {
	o      *Order
	c      *Context
	before eventsv1.Tab
	cause  string // event id derivation
	causal string // causation id
	corr   string
	now    time.Time
	kinds  []kindCount
	out    []*eventsv1.Envelope
}

type kindCount struct {
	kind string
	n    int
}

func (o *Order) decider(cause, causal, corr string, now time.Time, c *Context) *decider {
	return &decider{o: o.Clone(), c: c, before: o.Tab(), cause: cause, causal: causal, corr: corr, now: now}
}

// emit completes a new event's envelope, applies it and adds it to the output.
func (d *decider) emit(kind string, e *eventsv1.Envelope) {
	d.emitAs("", kind, e)
}

// emitAs is emit with the event id derived from cause (index 0) instead of
// the decision's cause, when cause is not empty: for an event whose
// identity is its own (a fulfilment attempt), not the request's.
func (d *decider) emitAs(cause, kind string, e *eventsv1.Envelope) {
	n := 0
	found := false
	for i := range d.kinds {
		if d.kinds[i].kind == kind {
			n = d.kinds[i].n
			d.kinds[i].n++
			found = true
			break
		}
	}
	if !found {
		d.kinds = append(d.kinds, kindCount{kind: kind, n: 1})
	}
	idCause := d.cause
	if cause != "" {
		idCause, n = cause, 0
	}
	if d.c.EventID != nil {
		e.EventId = d.c.EventID(idCause, kind, n)
	} else {
		e.EventId = DeriveEventID(d.o.id, idCause, kind, n)
	}
	e.OrderId = d.o.id
	if !d.now.IsZero() {
		e.OccurredAt, e.RecordedAt = timestamppb.New(d.now), timestamppb.New(d.now)
	}
	e.CausationId, e.CorrelationId = d.causal, d.corr
	svc := d.c.Service
	if svc == "" {
		svc = Service
	}
	e.Source = &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_DROPSYNC, StoreId: d.o.store, Service: svc}
	e.RequestedBy = d.c.RequestedBy
	d.out = append(d.out, e)
	d.o.Apply(e)
}

// finish adds OrderStatusChanged when the tab changed and returns the events.
func (d *decider) finish() []*eventsv1.Envelope {
	if after := d.o.Tab(); after != d.before {
		d.emit("OrderStatusChanged", &eventsv1.Envelope{Event: &eventsv1.Envelope_OrderStatusChanged{
			OrderStatusChanged: &eventsv1.OrderStatusChanged{From: d.before, To: after},
		}})
	}
	return d.out
}

// checkConflict records a ConflictDetected when a store version (not older
// than the one held) changes dropsync's line items or shipping address and
// is not one dropsync already knows (rule 11).
func (d *decider) checkConflict(existed bool, so *eventsv1.StoreOrder) {
	n := d.o
	if !existed || so == nil || n.stale(so) {
		return
	}
	fields := n.conflictFields(so)
	if fields == nil || n.known(so) {
		return
	}
	d.emit("ConflictDetected", &eventsv1.Envelope{Event: &eventsv1.Envelope_ConflictDetected{
		ConflictDetected: &eventsv1.ConflictDetected{Fields: fields, StoreOrder: clone(so)},
	}})
}

// decide makes the decisions that follow from the order's state: fulfil
// shipped parts on the store and correct tracking numbers already written
// there — unless dropsync stopped syncing the order.
func (d *decider) decide() {
	n := d.o
	if !n.created || n.syncStopped() {
		return
	}
	d.fulfil(Policy(n.platform, d.c.settings()))
	for i := range n.shipments {
		s := &n.shipments[i]
		if s.pushed && s.fulfillmentID != "" && s.tracking.GetNumber() != "" && s.tracking.GetNumber() != s.sent.GetNumber() {
			d.emit("TrackingUpdateRequested", &eventsv1.Envelope{Event: &eventsv1.Envelope_TrackingUpdateRequested{
				TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{ShipmentId: s.id, StoreFulfillmentId: s.fulfillmentID, Tracking: clone(s.tracking), Replaces: clone(s.sent)},
			}})
		}
	}
}

// fulfil asks the store to fulfil shipments no FulfillmentRequested covers
// yet: each one at once (each part), or all of them together once every
// line has shipped (whole order). A shipment asks only for what the store
// still has to fulfil of its lines (not canceled, not fulfilled elsewhere,
// not asked before).
func (d *decider) fulfil(policy eventsv1.FulfillmentPolicy) {
	n := d.o
	var uncovered []int
	for i := range n.shipments {
		if n.shipments[i].coveredBy == "" {
			uncovered = append(uncovered, i)
		}
	}
	if len(uncovered) == 0 {
		return
	}
	var buf [8]progress
	p := n.progress(buf[:0])
	covered := make([]int32, len(p))
	for j := range p {
		covered[j] = min(p[j].requested, p[j].remaining)
	}
	take := func(s *shipment, lines []*eventsv1.LineQuantity) []*eventsv1.LineQuantity {
		for _, lq := range s.lines {
			j := n.lineIndex(lq.GetLineItemId())
			if j < 0 {
				continue
			}
			q := min(max(lq.GetQuantity(), 0), p[j].remaining-covered[j])
			if q <= 0 {
				continue
			}
			covered[j] += q
			merged := false
			for _, l := range lines {
				if l.LineItemId == lq.GetLineItemId() {
					l.Quantity += q
					merged = true
					break
				}
			}
			if !merged {
				lines = append(lines, &eventsv1.LineQuantity{LineItemId: lq.GetLineItemId(), Quantity: q})
			}
		}
		return lines
	}
	completes := func() bool {
		for j := range p {
			if covered[j] < p[j].remaining {
				return false
			}
		}
		return true
	}
	request := func(sid string, lines []*eventsv1.LineQuantity, tracking []*eventsv1.Tracking) {
		d.emit("FulfillmentRequested", &eventsv1.Envelope{Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
			ShipmentId:     sid,
			Lines:          lines,
			Tracking:       tracking,
			CompletesOrder: completes(),
			Policy:         policy,
			Attempt:        1,
		}}})
	}

	if policy == eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER {
		active := false
		for j := range p {
			if p[j].remaining > 0 {
				active = true
				if p[j].shipped < p[j].remaining {
					return
				}
			}
		}
		if !active {
			return
		}
		var lines []*eventsv1.LineQuantity
		var tracking []*eventsv1.Tracking
		last := ""
		for _, i := range uncovered {
			s := &n.shipments[i]
			lines = take(s, lines)
			tracking = appendTracking(tracking, s.tracking)
			last = s.id
		}
		if len(lines) > 0 {
			request(last, lines, tracking)
		}
		return
	}
	for _, i := range uncovered {
		s := &n.shipments[i]
		lines := take(s, nil)
		if len(lines) == 0 {
			continue
		}
		request(s.id, lines, appendTracking(nil, s.tracking))
	}
}

func appendTracking(list []*eventsv1.Tracking, t *eventsv1.Tracking) []*eventsv1.Tracking {
	if t.GetNumber() == "" {
		return list
	}
	for _, x := range list {
		if x.GetNumber() == t.GetNumber() {
			return list
		}
	}
	return append(list, clone(t))
}

// clone copies a message taken from one event into another, so that no two
// events share a message.
func clone[M proto.Message](m M) M {
	return proto.Clone(m).(M)
}
