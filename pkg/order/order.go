package order

import (
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Order is one store order as folded from its events. The zero value is an
// order with no events; it takes its id from the first event applied.
//
// An Order is not safe for concurrent use. [Order.Handle] and the commands
// do not change it: they return the events to append, and the caller applies
// them (with [Order.Apply]) once they are stored.
type Order struct {
	id           string
	platform     eventsv1.Platform
	store        string
	storeOrderID string

	// The store's order, as dropsync holds it.
	created        bool
	captured       bool
	name           string
	total          *eventsv1.Money
	financial      string
	fulfillment    string
	storeUpdatedAt time.Time
	storeCreatedAt time.Time
	lines          []line
	address        *eventsv1.Address
	// baseline is the store's version of the line items and the shipping
	// address that dropsync has acknowledged (taken at creation, or decided in
	// a ConflictResolved); a later store version that differs from it and
	// from dropsync's own is a conflict (rule 11).
	baseline *eventsv1.StoreOrder
	conflict *conflict

	canceledWhole bool // canceled or refunded on the store as a whole
	foreignWhole  bool // fulfilled on the store by someone else, whole order
	// foreignWholeAnon: a whole-order fulfilment on the store that named no
	// fulfillment id (so no cancel can undo it).
	foreignWholeAnon bool
	// storeFulfillments are the fulfilments on the store by someone else
	// that have an id, with what each added to the lines, so that a cancel
	// undoes exactly that; and the ids of fulfilments cancelled on the
	// store, so that a late StoreOrderFulfilled of one changes nothing.
	storeFulfillments []storeFulfillment
	manual            bool // fulfilled by hand in dropsync
	manualPlaced      bool // ... after placing (rule 6)

	// Placement.
	inFlight string // request id of the unanswered placement
	lastKey  string // placement key of the last placement requested
	// uncertainKey is the placement key of an attempt that failed in a way
	// that may have placed the order at the supplier (a retryable failure);
	// the next placement reuses it. Cleared by a definite answer.
	uncertainKey string
	lastReq      string // latest placement request id
	failure      *eventsv1.FailureReason
	failureReq   string

	suppliers []supplierOrder
	shipments []shipment
	attention []attention
	requests  []request

	seen      seenSet
	revision  uint64
	createdAt time.Time
	updatedAt time.Time
}

// line is one store line item with what the store did to it.
type line struct {
	item          *eventsv1.StoreLineItem
	storeCanceled int32 // canceled or refunded on the store
	foreign       int32 // fulfilled on the store by someone else
}

// storeFulfillment is a fulfilment on the store by someone else (rule 7),
// or one cancelled on the store.
type storeFulfillment struct {
	id       string
	added    []*eventsv1.LineQuantity // what it added to each line's foreign quantity
	whole    bool                     // it named no line: the whole order
	tracking []*eventsv1.Tracking     // as the store last showed it
	canceled bool
}

type conflict struct {
	fields []string
	store  *eventsv1.StoreOrder
}

type supplierOrder struct {
	id            string
	request       string
	lines         []*eventsv1.LineQuantity // as placed
	canceled      []*eventsv1.LineQuantity // canceled parts, accumulated
	placed        bool
	paid          bool
	canceledWhole bool
	finished      bool
	paidAt        time.Time
}

type shipment struct {
	id            string
	supplierOrder string
	tracking      *eventsv1.Tracking
	sent          *eventsv1.Tracking // tracking as last sent to the store
	lines         []*eventsv1.LineQuantity
	coveredBy     string // shipment id named by the FulfillmentRequested covering it
	fulfillmentID string // store fulfillment id, once pushed
	// storeTracking is the tracking the store shows for the fulfilment
	// when the store changed it (StoreTrackingChanged); dropsync's own
	// numbers (tracking, sent) are unchanged by it.
	storeTracking []*eventsv1.Tracking
	pushed        bool
	failed        bool
	confirmed     bool
	at            time.Time // when the shipment was created or its number last changed
	// Tracking progress (SupplierTrackingProgressed).
	checkpoint *eventsv1.TrackingCheckpoint // newest checkpoint reported
	movedAt    time.Time                    // the newest checkpoint's time
	delivered  bool

	// attempt is the number of the latest fulfilment attempt covering the
	// shipment (1 for the first FulfillmentRequested).
	attempt int32
	// failure is why the store refused the latest attempt (failed).
	failure *eventsv1.FailureReason
	// request is the latest FulfillmentRequested naming this shipment, kept
	// on the shipment it names so that RetryFulfillment asks for the same
	// lines again.
	request *eventsv1.FulfillmentRequested
}

type attention struct {
	msg     *eventsv1.AttentionRaised
	at      time.Time
	cleared bool
}

type request struct {
	id       string
	command  Command
	rejected *eventsv1.FailureReason
	revision uint64
}

// New returns an order with no events yet and the given id.
func New(id ID) *Order {
	return &Order{id: id.String(), platform: id.Platform, store: id.Store, storeOrderID: id.StoreOrderID}
}

// Rebuild folds events, in stream order, into a new order.
func Rebuild(events []*eventsv1.Envelope) *Order {
	o := &Order{}
	for _, e := range events {
		o.Apply(e)
	}
	return o
}

// Apply folds one event into the order. It never fails: an event the order
// does not know, or one that names things the order does not have, changes
// nothing but the revision; an event whose id was already applied changes
// nothing but the revision either (the stream's revision still counts it).
func (o *Order) Apply(e *eventsv1.Envelope) {
	if e == nil {
		return
	}
	o.revision++
	if id := e.GetEventId(); id != "" {
		k := keyOf(id)
		if o.seen.has(k) {
			return
		}
		o.seen.add(k)
	}
	if o.id == "" && e.GetOrderId() != "" {
		if id, err := ParseID(e.GetOrderId()); err == nil {
			o.id, o.platform, o.store, o.storeOrderID = e.GetOrderId(), id.Platform, id.Store, id.StoreOrderID
		}
	}
	at := eventTime(e)
	if o.createdAt.IsZero() {
		o.createdAt = at
	}
	if at.After(o.updatedAt) {
		o.updatedAt = at
	}

	switch ev := e.GetEvent().(type) {
	case *eventsv1.Envelope_StoreOrderCreated:
		o.absorb(ev.StoreOrderCreated.GetOrder())
	case *eventsv1.Envelope_StorePaymentCaptured:
		o.absorb(ev.StorePaymentCaptured.GetOrder())
		if o.created {
			o.captured = true
		}
	case *eventsv1.Envelope_StoreOrderUpdated:
		o.absorb(ev.StoreOrderUpdated.GetOrder())
	case *eventsv1.Envelope_StoreOrderReread:
		o.absorb(ev.StoreOrderReread.GetOrder())
	case *eventsv1.Envelope_StoreOrderCanceled:
		o.absorb(ev.StoreOrderCanceled.GetOrder())
		o.cancelOnStore(ev.StoreOrderCanceled.GetLines())
	case *eventsv1.Envelope_StoreOrderRefunded:
		o.absorb(ev.StoreOrderRefunded.GetOrder())
		o.cancelOnStore(ev.StoreOrderRefunded.GetLines())
	case *eventsv1.Envelope_StoreOrderFulfilled:
		f := ev.StoreOrderFulfilled
		echo := o.created && o.isEcho(f)
		o.absorb(f.GetOrder())
		if !echo && o.storeFulfillment(f.GetStoreFulfillmentId()) == nil {
			o.fulfilledOnStore(f.GetStoreFulfillmentId(), f.GetLines(), f.GetTracking())
		}
	case *eventsv1.Envelope_StoreFulfillmentCanceled:
		c := ev.StoreFulfillmentCanceled
		o.absorb(c.GetOrder())
		o.storeFulfillmentCanceled(c.GetStoreFulfillmentId())
	case *eventsv1.Envelope_StoreTrackingChanged:
		c := ev.StoreTrackingChanged
		o.absorb(c.GetOrder())
		o.storeTrackingChanged(c.GetStoreFulfillmentId(), c.GetTracking())
	case *eventsv1.Envelope_FulfillmentPushed:
		o.pushed(ev.FulfillmentPushed)
	case *eventsv1.Envelope_FulfillmentFailed:
		o.fulfillmentFailed(ev.FulfillmentFailed)

	case *eventsv1.Envelope_SupplierOrderPlaced:
		o.supplierPlaced(ev.SupplierOrderPlaced)
	case *eventsv1.Envelope_SupplierPlacementFailed:
		f := ev.SupplierPlacementFailed
		if f.GetRequestId() == o.inFlight {
			o.inFlight = ""
		}
		if f.GetRequestId() == o.lastReq {
			o.failure, o.failureReq = f.GetReason(), f.GetRequestId()
			if o.failure == nil {
				o.failure = &eventsv1.FailureReason{Code: "SUPPLIER_ERROR"}
			}
			o.uncertainKey = ""
			if o.failure.GetRetryable() {
				o.uncertainKey = o.lastKey
			}
		}
	case *eventsv1.Envelope_SupplierOrderPaid:
		so := o.supplierOrder(ev.SupplierOrderPaid.GetSupplierOrderId())
		if so != nil && !so.paid {
			so.paid, so.paidAt = true, at
		}
	case *eventsv1.Envelope_SupplierShipmentCreated:
		o.shipmentCreated(ev.SupplierShipmentCreated, at)
	case *eventsv1.Envelope_SupplierTrackingChanged:
		if s := o.shipment(ev.SupplierTrackingChanged.GetShipmentId()); s != nil && ev.SupplierTrackingChanged.GetTracking() != nil {
			s.tracking, s.at = ev.SupplierTrackingChanged.GetTracking(), at
			o.clearAttention(eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE)
		}
	case *eventsv1.Envelope_SupplierTrackingProgressed:
		o.trackingProgressed(ev.SupplierTrackingProgressed, at)
	case *eventsv1.Envelope_SupplierOrderCanceled:
		c := ev.SupplierOrderCanceled
		if so := o.supplierOrder(c.GetSupplierOrderId()); so != nil {
			if len(c.GetLines()) == 0 {
				so.canceledWhole = true
			} else {
				so.canceled = append(so.canceled, c.GetLines()...)
			}
		}
	case *eventsv1.Envelope_SupplierOrderFinished:
		if so := o.supplierOrder(ev.SupplierOrderFinished.GetSupplierOrderId()); so != nil {
			so.finished = true
		}

	case *eventsv1.Envelope_PlacementRequested:
		r := ev.PlacementRequested.GetRequestId()
		o.inFlight, o.lastReq = r, r
		o.lastKey = ev.PlacementRequested.GetPlacementKey()
		if o.lastKey == "" {
			o.lastKey = r
		}
		o.record(r, CommandPlace, nil)
	case *eventsv1.Envelope_PlacementRejected:
		r := ev.PlacementRejected
		o.lastReq = r.GetRequestId()
		o.failure, o.failureReq = r.GetReason(), r.GetRequestId()
		if o.failure == nil {
			o.failure = &eventsv1.FailureReason{Code: "REJECTED"}
		}
		o.record(r.GetRequestId(), CommandPlace, o.failure)
	case *eventsv1.Envelope_FulfillmentRequested:
		o.fulfillmentRequested(ev.FulfillmentRequested)
	case *eventsv1.Envelope_TrackingUpdateRequested:
		if s := o.shipment(ev.TrackingUpdateRequested.GetShipmentId()); s != nil {
			s.sent = ev.TrackingUpdateRequested.GetTracking()
		}
	case *eventsv1.Envelope_ShippingConfirmationIssued:
		// One confirmation goes with one store fulfilment: it covers every
		// shipment that fulfilment carries (WooCommerce completes the whole
		// order once, with every tracking number in one e-mail).
		if s := o.shipment(ev.ShippingConfirmationIssued.GetShipmentId()); s != nil {
			s.confirmed = true
			if s.coveredBy != "" {
				for i := range o.shipments {
					if o.shipments[i].coveredBy == s.coveredBy {
						o.shipments[i].confirmed = true
					}
				}
			}
		}
	case *eventsv1.Envelope_OrderFulfilledManually:
		m := ev.OrderFulfilledManually
		if !o.manual {
			o.manual, o.manualPlaced = true, m.GetAfterPlacing()
		}
		o.record(m.GetRequestId(), CommandFulfillManually, nil)
	case *eventsv1.Envelope_ResyncRequested:
		o.record(ev.ResyncRequested.GetRequestId(), CommandResync, nil)
	case *eventsv1.Envelope_ConflictDetected:
		if so := ev.ConflictDetected.GetStoreOrder(); so != nil {
			o.conflict = &conflict{fields: ev.ConflictDetected.GetFields(), store: so}
		}
	case *eventsv1.Envelope_ConflictResolved:
		r := ev.ConflictResolved
		if o.conflict != nil {
			if r.GetAcceptStore() {
				o.adopt(o.conflict.store)
			}
			o.baseline, o.conflict = o.conflict.store, nil
		}
		o.record(r.GetRequestId(), CommandResolveConflict, nil)
	case *eventsv1.Envelope_AttentionRaised:
		o.attention = append(o.attention, attention{msg: ev.AttentionRaised, at: at})
	case *eventsv1.Envelope_OrderStatusChanged:
		// The tab is derived; the event is for watchers and analysts.
	}
}

func eventTime(e *eventsv1.Envelope) time.Time {
	if t := e.GetRecordedAt(); t != nil {
		return t.AsTime()
	}
	if t := e.GetOccurredAt(); t != nil {
		return t.AsTime()
	}
	return time.Time{}
}

// absorb takes a store snapshot. The first creates the order; later ones
// update what the store alone decides (name, totals, status words, payment)
// unless they are older than the newest one seen. Line items and the
// shipping address never change here: a change to them is a conflict
// (rule 11), taken only through ConflictResolved.
func (o *Order) absorb(so *eventsv1.StoreOrder) {
	if so == nil {
		return
	}
	if so.GetPaymentCaptured() {
		o.captured = true
	}
	if !o.created {
		o.created = true
		o.adopt(so)
		o.baseline = so
		if o.storeOrderID == "" {
			o.storeOrderID = so.GetStoreOrderId()
		}
		if t := so.GetStoreCreatedAt(); t != nil {
			o.storeCreatedAt = t.AsTime()
		}
	} else if o.stale(so) {
		return
	}
	if so.GetName() != "" {
		o.name = so.GetName()
	}
	if so.GetTotal() != nil {
		o.total = so.GetTotal()
	}
	o.financial, o.fulfillment = so.GetFinancialStatus(), so.GetFulfillmentStatus()
	if t := so.GetStoreUpdatedAt(); t != nil {
		o.storeUpdatedAt = t.AsTime()
	}
	if o.storeCreatedAt.IsZero() && so.GetStoreCreatedAt() != nil {
		o.storeCreatedAt = so.GetStoreCreatedAt().AsTime()
	}
}

// stale reports whether a snapshot is older than the newest one seen.
func (o *Order) stale(so *eventsv1.StoreOrder) bool {
	t := so.GetStoreUpdatedAt()
	return t != nil && !o.storeUpdatedAt.IsZero() && t.AsTime().Before(o.storeUpdatedAt)
}

// adopt takes a store version's line items and shipping address as
// dropsync's own, keeping what the store did to lines that remain.
func (o *Order) adopt(so *eventsv1.StoreOrder) {
	items := so.GetLineItems()
	lines := make([]line, len(items))
	for i, it := range items {
		lines[i].item = it
		if j := o.lineIndex(it.GetId()); j >= 0 {
			lines[i].storeCanceled = min(o.lines[j].storeCanceled, max(it.GetQuantity(), 0))
			lines[i].foreign = min(o.lines[j].foreign, max(it.GetQuantity(), 0))
		}
	}
	o.lines = lines
	o.address = so.GetShippingAddress()
}

func (o *Order) lineIndex(id string) int {
	for i := range o.lines {
		if o.lines[i].item.GetId() == id {
			return i
		}
	}
	return -1
}

// cancelOnStore records a store cancel or refund: of the named lines, or of
// the whole order when none are named. A quantity of 0 names the whole line.
func (o *Order) cancelOnStore(lq []*eventsv1.LineQuantity) {
	if !o.created {
		return
	}
	if len(lq) == 0 {
		o.canceledWhole = true
		return
	}
	for _, q := range lq {
		if i := o.lineIndex(q.GetLineItemId()); i >= 0 {
			l := &o.lines[i]
			l.storeCanceled = addCapped(l.storeCanceled, q.GetQuantity(), l.item.GetQuantity())
		}
	}
}

// fulfilledOnStore records a fulfilment made on the store by someone else
// (rule 7): of the named lines, or of the whole order when none are named.
// One with an id is remembered with what it added, for a later cancel.
func (o *Order) fulfilledOnStore(fid string, lq []*eventsv1.LineQuantity, tracking []*eventsv1.Tracking) {
	if !o.created {
		return
	}
	sf := storeFulfillment{id: fid, tracking: tracking, whole: len(lq) == 0}
	if sf.whole {
		o.foreignWhole = true
		o.foreignWholeAnon = o.foreignWholeAnon || fid == ""
	}
	for _, q := range lq {
		if i := o.lineIndex(q.GetLineItemId()); i >= 0 {
			l := &o.lines[i]
			before := l.foreign
			l.foreign = addCapped(l.foreign, q.GetQuantity(), l.item.GetQuantity())
			if l.foreign > before {
				sf.added = append(sf.added, &eventsv1.LineQuantity{LineItemId: q.GetLineItemId(), Quantity: l.foreign - before})
			}
		}
	}
	if fid != "" {
		o.storeFulfillments = append(o.storeFulfillments, sf)
	}
}

// storeFulfillment returns the fulfilment on the store with this id that
// the order recorded (made by someone else, or cancelled), or nil.
func (o *Order) storeFulfillment(fid string) *storeFulfillment {
	if fid == "" {
		return nil
	}
	for i := range o.storeFulfillments {
		if o.storeFulfillments[i].id == fid {
			return &o.storeFulfillments[i]
		}
	}
	return nil
}

// storeFulfillmentCanceled undoes a fulfilment cancelled on the store: a
// foreign one's lines are open again; dropsync's own leaves its shipments
// not pushed, failed (the store no longer shows them fulfilled). The id is
// remembered either way, so a late StoreOrderFulfilled of it does nothing.
func (o *Order) storeFulfillmentCanceled(fid string) {
	if fid == "" || !o.created {
		return
	}
	for i := range o.shipments {
		if s := &o.shipments[i]; s.fulfillmentID == fid {
			s.pushed, s.failed, s.fulfillmentID = false, true, ""
			s.failure = &eventsv1.FailureReason{Code: ReasonStoreFulfillmentCanceled, Message: "store fulfilment " + fid + " cancelled on the store"}
		}
	}
	sf := o.storeFulfillment(fid)
	if sf == nil {
		o.storeFulfillments = append(o.storeFulfillments, storeFulfillment{id: fid, canceled: true})
		return
	}
	if sf.canceled {
		return
	}
	sf.canceled = true
	for _, q := range sf.added {
		if i := o.lineIndex(q.GetLineItemId()); i >= 0 {
			l := &o.lines[i]
			l.foreign -= min(q.GetQuantity(), l.foreign)
		}
	}
	if sf.whole {
		o.foreignWhole = o.foreignWholeAnon
		for i := range o.storeFulfillments {
			if x := &o.storeFulfillments[i]; x.whole && !x.canceled {
				o.foreignWhole = true
			}
		}
	}
}

// storeTrackingChanged records the tracking the store now shows for a
// fulfilment: a foreign one's, or dropsync's own (kept apart from the
// numbers dropsync sends, so a change made on the store is never
// overwritten by a decision taken from it).
func (o *Order) storeTrackingChanged(fid string, tracking []*eventsv1.Tracking) {
	if fid == "" || !o.created {
		return
	}
	if sf := o.storeFulfillment(fid); sf != nil && !sf.canceled {
		sf.tracking = tracking
	}
	for i := range o.shipments {
		if s := &o.shipments[i]; s.fulfillmentID == fid {
			s.storeTracking = tracking
		}
	}
}

// trackingKnown reports whether the store's tracking for a fulfilment says
// nothing new: every number is one the order holds for it (dropsync's
// own, as sent or shipped, or as the store last showed it).
func (o *Order) trackingKnown(fid string, tracking []*eventsv1.Tracking) bool {
	var known []*eventsv1.Tracking
	found := false
	if sf := o.storeFulfillment(fid); sf != nil {
		if sf.canceled {
			return true
		}
		found = true
		known = append(known, sf.tracking...)
	}
	for i := range o.shipments {
		if s := &o.shipments[i]; s.fulfillmentID == fid {
			found = true
			known = append(known, s.tracking, s.sent)
			known = append(known, s.storeTracking...)
		}
	}
	if !found {
		return false
	}
	for _, t := range tracking {
		if t.GetNumber() == "" {
			continue
		}
		if !slices.ContainsFunc(known, func(k *eventsv1.Tracking) bool { return k.GetNumber() == t.GetNumber() }) {
			return false
		}
	}
	return true
}

// addCapped adds n (0 or less: all of limit) to v, within [0, limit].
func addCapped(v, n, limit int32) int32 {
	limit = max(limit, 0)
	if n <= 0 || n > limit {
		n = limit
	}
	return min(v+n, limit)
}

// isEcho reports whether a store fulfilment is one dropsync asked for: its
// store fulfillment id is one a FulfillmentPushed reported, or one of its
// tracking numbers was sent in a FulfillmentRequested, or it carries no
// tracking number and every line it names is covered by dropsync's requests.
func (o *Order) isEcho(f *eventsv1.StoreOrderFulfilled) bool {
	if fid := f.GetStoreFulfillmentId(); fid != "" {
		for i := range o.shipments {
			if o.shipments[i].fulfillmentID == fid {
				return true
			}
		}
	}
	tracked := false
	for _, t := range f.GetTracking() {
		if t.GetNumber() == "" {
			continue
		}
		tracked = true
		for i := range o.shipments {
			s := &o.shipments[i]
			if s.coveredBy != "" && (s.sent.GetNumber() == t.GetNumber() || s.tracking.GetNumber() == t.GetNumber()) {
				return true
			}
		}
	}
	if tracked {
		return false
	}
	var buf [8]progress
	p := o.progress(buf[:0])
	some := false
	for i := range o.shipments {
		if o.shipments[i].coveredBy != "" {
			some = true
			break
		}
	}
	if !some {
		return false
	}
	if len(f.GetLines()) == 0 {
		for i := range p {
			if p[i].requested < p[i].remaining {
				return false
			}
		}
		return true
	}
	for _, q := range f.GetLines() {
		i := o.lineIndex(q.GetLineItemId())
		if i < 0 || p[i].requested == 0 || q.GetQuantity() > p[i].requested {
			return false
		}
	}
	return true
}

func (o *Order) supplierOrder(id string) *supplierOrder {
	if id == "" {
		return nil
	}
	for i := range o.suppliers {
		if o.suppliers[i].id == id {
			return &o.suppliers[i]
		}
	}
	o.suppliers = append(o.suppliers, supplierOrder{id: id})
	return &o.suppliers[len(o.suppliers)-1]
}

func (o *Order) findSupplierOrder(id string) *supplierOrder {
	for i := range o.suppliers {
		if o.suppliers[i].id == id {
			return &o.suppliers[i]
		}
	}
	return nil
}

func (o *Order) supplierPlaced(p *eventsv1.SupplierOrderPlaced) {
	r := p.GetRequestId()
	for _, so := range p.GetOrders() {
		s := o.supplierOrder(so.GetSupplierOrderId())
		if s == nil || s.placed {
			continue
		}
		s.placed, s.request, s.lines = true, r, so.GetLines()
	}
	if r == o.inFlight {
		o.inFlight = ""
	}
	o.uncertainKey = ""
	if o.failure != nil && r != o.failureReq {
		o.failure, o.failureReq = nil, ""
	}
}

func (o *Order) shipment(id string) *shipment {
	if id == "" {
		return nil
	}
	for i := range o.shipments {
		if o.shipments[i].id == id {
			return &o.shipments[i]
		}
	}
	return nil
}

func (o *Order) shipmentCreated(c *eventsv1.SupplierShipmentCreated, at time.Time) {
	if c.GetShipmentId() == "" || o.shipment(c.GetShipmentId()) != nil {
		return
	}
	lines := c.GetLines()
	if len(lines) == 0 {
		// No lines named: the supplier order's lines as placed.
		if so := o.findSupplierOrder(c.GetSupplierOrderId()); so != nil {
			lines = so.lines
		}
	}
	o.shipments = append(o.shipments, shipment{
		id:            c.GetShipmentId(),
		supplierOrder: c.GetSupplierOrderId(),
		tracking:      c.GetTracking(),
		lines:         lines,
		at:            at,
	})
	o.clearAttention(eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING)
	o.clearAttention(eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE)
}

// trackingProgressed records a shipment's newer checkpoint and its
// delivery. Nothing moves a delivered shipment, and a checkpoint no newer
// than the one held changes nothing but a delivery.
func (o *Order) trackingProgressed(p *eventsv1.SupplierTrackingProgressed, at time.Time) {
	s := o.shipment(p.GetShipmentId())
	if s == nil || s.delivered {
		return
	}
	if c := p.GetLatest(); c != nil && s.newer(c, at) {
		s.checkpoint, s.movedAt = c, checkpointTime(c, at)
	}
	if p.GetDelivered() {
		s.delivered = true
	}
	o.clearAttention(eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE)
}

// checkpointTime is when a checkpoint happened, or at when the supplier did
// not say.
func checkpointTime(c *eventsv1.TrackingCheckpoint, at time.Time) time.Time {
	if t := c.GetOccurredAt(); t != nil {
		return t.AsTime()
	}
	return at
}

// newer reports whether a checkpoint is newer than the one the shipment holds.
func (s *shipment) newer(c *eventsv1.TrackingCheckpoint, at time.Time) bool {
	return s.checkpoint == nil || checkpointTime(c, at).After(s.movedAt)
}

// trackingUpdatedAt is when the shipment's tracking last moved: created,
// renumbered, or its newest checkpoint.
func (s *shipment) trackingUpdatedAt() time.Time {
	if s.movedAt.After(s.at) {
		return s.movedAt
	}
	return s.at
}

// fulfillmentRequested marks the shipments a FulfillmentRequested covers:
// the one it names and, for a whole-order fulfilment, every shipment not
// covered yet.
//
// A later attempt (attempt above 1, from [Order.RetryFulfillment]) covers
// again the failed shipments of the attempt it retries: they are requested,
// no longer failed, and the FULFILLMENT_FAILED attention clears once no
// shipment is left failed.
func (o *Order) fulfillmentRequested(f *eventsv1.FulfillmentRequested) {
	sid := f.GetShipmentId()
	n := max(f.GetAttempt(), 1)
	if r := o.shipment(sid); r != nil {
		r.request = f
	}
	if n > 1 {
		for i := range o.shipments {
			if s := &o.shipments[i]; s.coveredBy == sid && !s.pushed {
				s.failed, s.failure, s.attempt, s.sent = false, nil, n, s.tracking
			}
		}
		o.record(f.GetRequestId(), CommandRetryFulfillment, nil)
		if len(o.failedFulfillments()) == 0 {
			o.clearAttention(eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED)
		}
		return
	}
	whole := f.GetPolicy() == eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER
	for i := range o.shipments {
		s := &o.shipments[i]
		if s.coveredBy == "" && (s.id == sid || whole) {
			s.coveredBy, s.sent, s.attempt = sid, s.tracking, n
		}
	}
}

// fulfillmentFailed marks failed the shipments the failed attempt covers,
// with the store's reason. A failure of an earlier attempt than a
// shipment's latest is stale and changes nothing; one without an attempt
// number (connectors before attempts) is taken as the latest's.
func (o *Order) fulfillmentFailed(f *eventsv1.FulfillmentFailed) {
	reason := f.GetReason()
	if reason == nil {
		reason = &eventsv1.FailureReason{Code: ReasonStoreError}
	}
	for i := range o.shipments {
		s := &o.shipments[i]
		if s.coveredBy == f.GetShipmentId() && !s.pushed && (f.GetAttempt() == 0 || f.GetAttempt() >= s.attempt) {
			s.failed, s.failure = true, reason
		}
	}
}

// failedFulfillments returns the ids of the fulfilment requests (the
// shipment each names) that have a failed shipment not pushed, in shipment
// order.
func (o *Order) failedFulfillments() []string {
	var ids []string
	for i := range o.shipments {
		if s := &o.shipments[i]; s.failed && !s.pushed && s.coveredBy != "" && !slices.Contains(ids, s.coveredBy) {
			ids = append(ids, s.coveredBy)
		}
	}
	return ids
}

func (o *Order) pushed(p *eventsv1.FulfillmentPushed) {
	sid := p.GetShipmentId()
	for i := range o.shipments {
		s := &o.shipments[i]
		if s.coveredBy == "" && s.id == sid {
			s.coveredBy, s.sent = sid, s.tracking
		}
		if s.coveredBy == sid {
			s.pushed, s.failed = true, false
			if p.GetStoreFulfillmentId() != "" {
				s.fulfillmentID = p.GetStoreFulfillmentId()
			}
		}
	}
	o.clearAttention(eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED)
}

func (o *Order) clearAttention(kind eventsv1.AttentionKind) {
	for i := range o.attention {
		if o.attention[i].msg.GetKind() == kind {
			o.attention[i].cleared = true
		}
	}
}

func (o *Order) attentionActive(kind eventsv1.AttentionKind) bool {
	for i := range o.attention {
		if a := &o.attention[i]; !a.cleared && a.msg.GetKind() == kind {
			return true
		}
	}
	return false
}

func (o *Order) record(id string, c Command, rejected *eventsv1.FailureReason) {
	if id == "" {
		return
	}
	for i := range o.requests {
		if o.requests[i].id == id {
			return
		}
	}
	o.requests = append(o.requests, request{id: id, command: c, rejected: rejected, revision: o.revision - 1})
}

// Clone returns a deep copy of the order that shares nothing mutable with it.
func (o *Order) Clone() *Order {
	c := *o
	c.lines = slices.Clone(o.lines)
	c.suppliers = slices.Clone(o.suppliers)
	for i := range c.suppliers {
		c.suppliers[i].canceled = slices.Clip(c.suppliers[i].canceled)
	}
	c.shipments = slices.Clone(o.shipments)
	c.storeFulfillments = slices.Clone(o.storeFulfillments)
	c.attention = slices.Clone(o.attention)
	c.requests = slices.Clone(o.requests)
	c.seen = o.seen.clone()
	return &c
}

// ID returns the order id, "<platform>:<store>:<store order id>", or "" for
// an order with no events and no id.
func (o *Order) ID() string { return o.id }

// Platform returns the order's store platform.
func (o *Order) Platform() eventsv1.Platform { return o.platform }

// StoreID returns the store id (slug) of the order's store.
func (o *Order) StoreID() string { return o.store }

// StoreKey returns "<platform>:<store>" of the order's store.
func (o *Order) StoreKey() string { return StoreKey(o.platform, o.store) }

// StoreOrderID returns the store's own order id.
func (o *Order) StoreOrderID() string { return o.storeOrderID }

// Exists reports whether a store event has created the order.
func (o *Order) Exists() bool { return o.created }

// PaymentCaptured reports whether the customer's payment is captured.
func (o *Order) PaymentCaptured() bool { return o.captured }

// Revision returns the number of events applied, duplicates included: the
// revision the order's stream will give the next event appended. Append
// with the expected revision "no stream" when it is 0, else Revision()-1.
func (o *Order) Revision() uint64 { return o.revision }

// Seen reports whether an event with this id was applied.
func (o *Order) Seen(eventID string) bool {
	return eventID != "" && o.seen.has(keyOf(eventID))
}

// CreatedAt returns when the order was created on the store, or, when the
// store did not say, when its first event happened.
func (o *Order) CreatedAt() time.Time {
	if !o.storeCreatedAt.IsZero() {
		return o.storeCreatedAt
	}
	return o.createdAt
}

// UpdatedAt returns when the latest event was recorded.
func (o *Order) UpdatedAt() time.Time { return o.updatedAt }

// TrackingKnownAt returns when dropsync knew the newest tracking number a
// store fulfilment of shipmentID carries: the latest recorded time
// (created or renumbered) of the shipments it covers. It is false when the
// order has no such shipment.
func (o *Order) TrackingKnownAt(shipmentID string) (time.Time, bool) {
	var at time.Time
	found := false
	for i := range o.shipments {
		s := &o.shipments[i]
		if s.coveredBy == shipmentID || s.coveredBy == "" && s.id == shipmentID {
			found = true
			if s.at.After(at) {
				at = s.at
			}
		}
	}
	return at, found
}

// Failure returns why the last placement failed, or nil.
func (o *Order) Failure() *eventsv1.FailureReason { return o.failure }

// ConflictFields returns the fields of an unresolved conflict with the
// store, or nil.
func (o *Order) ConflictFields() []string {
	if o.conflict == nil {
		return nil
	}
	return o.conflict.fields
}

// FulfilledManually reports whether the order was fulfilled by hand in
// dropsync, and whether that was after placing it (rules 5 and 6).
func (o *Order) FulfilledManually() (manually, afterPlacing bool) { return o.manual, o.manualPlaced }

// FulfilledOnStore reports whether the whole order was fulfilled on the
// store by someone else (rule 7).
func (o *Order) FulfilledOnStore() bool { return o.foreignWhole || o.allForeign() }

// Request returns the outcome of a command request id the order recorded.
func (o *Order) Request(requestID string) (Outcome, bool) {
	for _, r := range o.requests {
		if r.id == requestID {
			return Outcome{Command: r.command, Rejected: r.rejected, Revision: r.revision}, true
		}
	}
	return Outcome{}, false
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
