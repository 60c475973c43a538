package order

import (
	"fmt"
	"strings"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Command names a kind of command, for idempotency: a request id belongs to
// one command kind.
type Command uint8

// Command kinds. Place and Retry are one kind: both place the order.
const (
	CommandPlace Command = iota + 1
	CommandFulfillManually
	CommandResync
	CommandResolveConflict
	CommandRetryFulfillment
)

// String returns the command's name.
func (c Command) String() string {
	switch c {
	case CommandPlace:
		return "Place"
	case CommandFulfillManually:
		return "FulfillManually"
	case CommandResync:
		return "Resync"
	case CommandResolveConflict:
		return "ResolveConflict"
	case CommandRetryFulfillment:
		return "RetryFulfillment"
	}
	return fmt.Sprintf("Command(%d)", uint8(c))
}

// Outcome is what the order recorded for a command's request id.
type Outcome struct {
	// Command is the kind of command the request id was used for.
	Command Command
	// Rejected is why dropsync rejected a placement (e.g. SKU_NOT_MAPPED), or nil.
	Rejected *eventsv1.FailureReason
	// Revision is the stream revision of the event that recorded it.
	Revision uint64
}

// Failure codes the order gives itself.
const (
	// ReasonSKUNotMapped is the failure code of a placement with an unmapped line.
	ReasonSKUNotMapped = "SKU_NOT_MAPPED"
	// ReasonStoreError is the fulfilment failure code of a FulfillmentFailed
	// that carried no reason.
	ReasonStoreError = "STORE_ERROR"
	// ReasonStoreFulfillmentCanceled is the fulfilment failure code of a
	// shipment whose store fulfilment was cancelled on the store.
	ReasonStoreFulfillmentCanceled = "STORE_FULFILLMENT_CANCELED"
)

// Mappings maps store variant ids — or SKUs, where the store has no variant
// ids — to supplier mappings.
type Mappings map[string]*eventsv1.SupplierMapping

// Lookup returns the mapping of a line item: by variant id, falling back to
// SKU; nil when neither is mapped.
func (m Mappings) Lookup(item *eventsv1.StoreLineItem) *eventsv1.SupplierMapping {
	if v := item.GetVariantId(); v != "" {
		if sm := m[v]; sm != nil {
			return sm
		}
	}
	if s := item.GetSku(); s != "" {
		return m[s]
	}
	return nil
}

// PlaceCommand places an order with the supplier (or places it again).
type PlaceCommand struct {
	// RequestID makes the command idempotent; required.
	RequestID string
	// Lookup resolves a line item's supplier mapping, e.g. [Mappings.Lookup];
	// nil, or a mapping without a product id, is unmapped.
	Lookup func(item *eventsv1.StoreLineItem) *eventsv1.SupplierMapping
}

// Place places the order's active, unplaced lines with the supplier (rule 2):
// it records PlacementRequested with those lines as supplier items and the
// shipping address; the supplier connector carries it out. When a line has
// no supplier mapping it records PlacementRejected with reason
// SKU_NOT_MAPPED instead, and the order goes Failed until it is placed again
// once mapped.
//
// Place is refused with a [*RuleError] when the order was fulfilled by hand
// or on the store (rules 5-7), canceled on the store (rule 8), its payment is
// not captured (rule 1), it has an unresolved conflict (rule 11), a
// placement is in flight, or nothing is left to place. Lines canceled on the
// store or fulfilled elsewhere are never placed; lines canceled at the
// supplier are placed again (rule 8). The same request id again returns nil,
// nil (rule 10).
func (o *Order) Place(cmd PlaceCommand, c Context) ([]*eventsv1.Envelope, error) {
	return o.place(cmd, c, false)
}

// Retry places again an order that failed (rule 9) or whose lines were
// canceled at the supplier (rule 8). It is [Order.Place], refused with
// [ErrNotRetryable] (RULE_9_NOT_FAILED) for any other order.
func (o *Order) Retry(cmd PlaceCommand, c Context) ([]*eventsv1.Envelope, error) {
	return o.place(cmd, c, true)
}

func (o *Order) place(cmd PlaceCommand, c Context, retryOnly bool) ([]*eventsv1.Envelope, error) {
	if done, err := o.checkRequest(cmd.RequestID, CommandPlace); done || err != nil {
		return nil, err
	}
	check := o.CanPlace
	if retryOnly {
		check = o.CanRetry
	}
	if err := check(); err != nil {
		return nil, err
	}
	d := o.commandDecider(cmd.RequestID, c)
	var buf [8]progress
	p := o.progress(buf[:0])
	var items []*eventsv1.SupplierItem
	var unmapped []string
	for j := range p {
		q := p[j].unplaced()
		if q <= 0 {
			continue
		}
		it := o.lines[j].item
		var m *eventsv1.SupplierMapping
		if cmd.Lookup != nil {
			m = cmd.Lookup(it)
		}
		if m.GetProductId() == "" {
			unmapped = append(unmapped, describeLine(it))
			continue
		}
		items = append(items, &eventsv1.SupplierItem{
			LineItemId:     it.GetId(),
			ProductId:      m.GetProductId(),
			SkuAttr:        m.GetSkuAttr(),
			ShippingMethod: m.GetShippingMethod(),
			Quantity:       q,
		})
	}
	if len(unmapped) > 0 {
		d.emit("PlacementRejected", &eventsv1.Envelope{Event: &eventsv1.Envelope_PlacementRejected{PlacementRejected: &eventsv1.PlacementRejected{
			RequestId: cmd.RequestID,
			Reason: &eventsv1.FailureReason{
				Code:      ReasonSKUNotMapped,
				Message:   "no supplier mapping for " + strings.Join(unmapped, ", "),
				Retryable: false,
			},
		}}})
	} else {
		key := cmd.RequestID
		if o.uncertainKey != "" {
			key = o.uncertainKey
		}
		d.emit("PlacementRequested", &eventsv1.Envelope{Event: &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{
			RequestId:       cmd.RequestID,
			Items:           items,
			ShippingAddress: clone(o.address),
			Retry:           o.retrying(),
			PlacementKey:    key,
		}}})
	}
	d.decide()
	return d.finish(), nil
}

func describeLine(it *eventsv1.StoreLineItem) string {
	s := "line " + it.GetId()
	switch {
	case it.GetVariantId() != "" && it.GetSku() != "":
		s += " (variant " + it.GetVariantId() + ", SKU " + it.GetSku() + ")"
	case it.GetVariantId() != "":
		s += " (variant " + it.GetVariantId() + ")"
	case it.GetSku() != "":
		s += " (SKU " + it.GetSku() + ")"
	}
	return s
}

// FulfillManually marks the order fulfilled by hand: OrderFulfilledManually,
// with after_placing set when it was placed with the supplier (rule 6) and
// not when it was not (rule 5). The order moves to Fulfilled, can never be
// placed again, and dropsync stops syncing it: no fulfilment on the store,
// no tracking update, no confirmation. Refused when the order is already
// fulfilled (by hand, on the store, or by dropsync) or canceled on the store.
func (o *Order) FulfillManually(requestID, note string, c Context) ([]*eventsv1.Envelope, error) {
	if done, err := o.checkRequest(requestID, CommandFulfillManually); done || err != nil {
		return nil, err
	}
	switch {
	case o.manual && o.manualPlaced:
		return nil, o.refuse(CodeFulfilledManuallyPlaced, ErrAlreadyFulfilled)
	case o.manual:
		return nil, o.refuse(CodeFulfilledManually, ErrAlreadyFulfilled)
	case o.FulfilledOnStore():
		return nil, o.refuse(CodeFulfilledOnStore, ErrAlreadyFulfilled)
	case o.canceledOnStore():
		return nil, o.refuse(CodeCanceledOnStore, ErrCanceledOnStore)
	case o.Tab() == eventsv1.Tab_TAB_FULFILLED:
		return nil, o.refuse(CodeOrderFulfilled, ErrAlreadyFulfilled)
	}
	afterPlacing := o.inFlight != ""
	for i := range o.suppliers {
		if o.suppliers[i].placed {
			afterPlacing = true
		}
	}
	d := o.commandDecider(requestID, c)
	d.emit("OrderFulfilledManually", &eventsv1.Envelope{Event: &eventsv1.Envelope_OrderFulfilledManually{OrderFulfilledManually: &eventsv1.OrderFulfilledManually{
		RequestId: requestID, Note: note, AfterPlacing: afterPlacing,
	}}})
	return d.finish(), nil
}

// RetryFulfillment asks the store again to fulfil what it refused: for each
// fulfilment whose shipments failed (a FulfillmentFailed, or a fulfilment
// cancelled on the store), a new FulfillmentRequested with the same
// shipment id, lines and policy, the shipments' current tracking, the next
// attempt number and the request id. The shipments go back to requested and
// the FULFILLMENT_FAILED attention clears; the store connector reads the
// store before it writes, so a fulfilment that did land is found, not
// doubled, and no second confirmation follows (rule 4).
//
// Each attempt's event id derives from the order, the shipment and the
// attempt number, not the request id, so two requests racing for the same
// attempt append one event. Refused with RULE_4_NO_FAILED_FULFILLMENT
// ([ErrNoFailedFulfillment]) when no shipment failed, and like a
// confirmation when dropsync no longer syncs the order (rules 5-7) or it
// was canceled on the store (rule 8). The same request id again returns
// nil, nil (rule 10).
func (o *Order) RetryFulfillment(requestID string, c Context) ([]*eventsv1.Envelope, error) {
	if done, err := o.checkRequest(requestID, CommandRetryFulfillment); done || err != nil {
		return nil, err
	}
	if err := o.notSynced(); err != nil {
		return nil, err
	}
	if o.canceledOnStore() {
		return nil, o.refuse(CodeCanceledOnStore, ErrCanceledOnStore)
	}
	failed := o.failedFulfillments()
	if len(failed) == 0 {
		return nil, o.refuse(CodeNoFailedFulfillment, ErrNoFailedFulfillment)
	}
	d := o.commandDecider(requestID, c)
	for _, sid := range failed {
		var n int32
		var lines []*eventsv1.LineQuantity
		var tracking []*eventsv1.Tracking
		for i := range o.shipments {
			if s := &o.shipments[i]; s.coveredBy == sid {
				n = max(n, s.attempt)
				lines = append(lines, s.lines...)
				tracking = appendTracking(tracking, s.tracking)
			}
		}
		r := &eventsv1.FulfillmentRequested{ShipmentId: sid, Lines: lines, Policy: Policy(o.platform, c.settings())}
		if sh := o.shipment(sid); sh != nil && sh.request != nil {
			r = clone(sh.request)
		} else {
			r.Lines = clone(&eventsv1.FulfillmentRequested{Lines: lines}).Lines
		}
		r.Tracking, r.Attempt, r.RequestId = tracking, max(n, 1)+1, requestID
		d.emitAs(fmt.Sprintf("fulfillment:%s#%d", sid, r.Attempt), "FulfillmentRequested", &eventsv1.Envelope{Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: r}})
	}
	d.decide()
	return d.finish(), nil
}

// Resync asks the store connector to re-read the order (rule 1: a stuck
// Pending order): ResyncRequested. The connector answers with
// StoreOrderReread, which [Order.Handle] takes like a store update.
func (o *Order) Resync(requestID string, c Context) ([]*eventsv1.Envelope, error) {
	if done, err := o.checkRequest(requestID, CommandResync); done || err != nil {
		return nil, err
	}
	d := o.commandDecider(requestID, c)
	d.emit("ResyncRequested", &eventsv1.Envelope{Event: &eventsv1.Envelope_ResyncRequested{ResyncRequested: &eventsv1.ResyncRequested{RequestId: requestID}}})
	return d.finish(), nil
}

// ResolveConflict decides a conflict with the store (rule 11):
// ConflictResolved. acceptStore takes the store's line items and shipping
// address as dropsync's; otherwise dropsync keeps its own, and the store's
// version is acknowledged so that it is not reported again. Refused with
// [ErrNoConflict] when there is no conflict.
func (o *Order) ResolveConflict(requestID string, acceptStore bool, c Context) ([]*eventsv1.Envelope, error) {
	if done, err := o.checkRequest(requestID, CommandResolveConflict); done || err != nil {
		return nil, err
	}
	if o.conflict == nil {
		return nil, o.refuse(CodeNoConflict, ErrNoConflict)
	}
	d := o.commandDecider(requestID, c)
	d.emit("ConflictResolved", &eventsv1.Envelope{Event: &eventsv1.Envelope_ConflictResolved{ConflictResolved: &eventsv1.ConflictResolved{
		RequestId: requestID, AcceptStore: acceptStore,
	}}})
	d.decide()
	return d.finish(), nil
}

// AttentionPolicy says when an order needs the merchant's attention.
type AttentionPolicy struct {
	// NoTrackingAfter flags a supplier order paid this long ago with no
	// shipment (DSers: 7 days). Zero means 7 days.
	NoTrackingAfter time.Duration
	// TrackingStaleAfter flags a shipment not delivered whose tracking has
	// not moved for this long (DSers: 48 hours). Zero means 48 hours.
	TrackingStaleAfter time.Duration
}

// Default attention thresholds (DSers').
const (
	DefaultNoTrackingAfter    = 7 * 24 * time.Hour
	DefaultTrackingStaleAfter = 48 * time.Hour
)

// CheckAttention returns AttentionRaised events for what needs the
// merchant's attention at c.Now (required):
//
//   - NO_TRACKING: a supplier order paid longer than p.NoTrackingAfter ago
//     with no shipment;
//   - TRACKING_STALE: a shipment not delivered whose tracking last moved
//     (the newest checkpoint of SupplierTrackingProgressed, or when the
//     shipment was created or renumbered, if later) longer than
//     p.TrackingStaleAfter ago. A delivered shipment, or one whose supplier
//     order finished or was canceled, is never stale.
//
// Nothing is raised for an order dropsync stopped syncing (fulfilled by
// hand or on the store). A kind already raised and not cleared (by a
// shipment, or by tracking progress) is not raised again.
func (o *Order) CheckAttention(p AttentionPolicy, c Context) ([]*eventsv1.Envelope, error) {
	if !o.created {
		return nil, fmt.Errorf("%w %s", ErrUnknownOrder, o.id)
	}
	if c.Now.IsZero() {
		return nil, fmt.Errorf("%w: CheckAttention needs Context.Now", ErrInvalidRequest)
	}
	if p.NoTrackingAfter <= 0 {
		p.NoTrackingAfter = DefaultNoTrackingAfter
	}
	if p.TrackingStaleAfter <= 0 {
		p.TrackingStaleAfter = DefaultTrackingStaleAfter
	}
	if o.syncStopped() {
		return nil, nil
	}
	var raise []*eventsv1.AttentionRaised
	if !o.attentionActive(eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING) {
		var late []string
		for i := range o.suppliers {
			so := &o.suppliers[i]
			if so.placed && so.paid && !so.canceledWhole && !so.finished && !o.hasShipment(so.id) && c.Now.Sub(so.paidAt) >= p.NoTrackingAfter {
				late = append(late, so.id)
			}
		}
		if len(late) > 0 {
			raise = append(raise, &eventsv1.AttentionRaised{
				Kind:   eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING,
				Detail: "paid, no tracking after " + p.NoTrackingAfter.String() + ": supplier order " + strings.Join(late, ", "),
			})
		}
	}
	if !o.attentionActive(eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE) && !o.canceledWhole {
		var stale []string
		for i := range o.shipments {
			s := &o.shipments[i]
			if so := o.findSupplierOrder(s.supplierOrder); s.delivered || so != nil && (so.finished || so.canceledWhole) {
				continue
			}
			if last := s.trackingUpdatedAt(); c.Now.Sub(last) >= p.TrackingStaleAfter {
				stale = append(stale, fmt.Sprintf("shipment %s (tracking %s) last moved %s", s.id, s.tracking.GetNumber(), last.UTC().Format(time.RFC3339)))
			}
		}
		if len(stale) > 0 {
			raise = append(raise, &eventsv1.AttentionRaised{
				Kind:   eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE,
				Detail: "not delivered, no tracking update for " + p.TrackingStaleAfter.String() + ": " + strings.Join(stale, "; "),
			})
		}
	}
	if len(raise) == 0 {
		return nil, nil
	}
	d := o.decider(fmt.Sprintf("attention@%d", o.revision), "", c.CorrelationID, c.Now, &c)
	for _, a := range raise {
		d.emit("AttentionRaised", &eventsv1.Envelope{Event: &eventsv1.Envelope_AttentionRaised{AttentionRaised: a}})
	}
	return d.finish(), nil
}

// checkRequest validates a command's request id and tells whether it was
// already carried out (done: return nil, nil).
func (o *Order) checkRequest(requestID string, c Command) (done bool, err error) {
	if requestID == "" {
		return false, fmt.Errorf("%w: %v without request id", ErrInvalidRequest, c)
	}
	if r, ok := o.Request(requestID); ok {
		if r.Command != c {
			return false, &RuleError{OrderID: o.id, Code: CodeRequestReused, Err: fmt.Errorf("%w: %s was a %v", ErrRequestReused, requestID, r.Command)}
		}
		return true, nil
	}
	if !o.created {
		return false, fmt.Errorf("%w %s", ErrUnknownOrder, o.id)
	}
	return false, nil
}

func (o *Order) commandDecider(requestID string, c Context) *decider {
	now := c.Now
	if now.IsZero() {
		now = o.updatedAt
	}
	corr := c.CorrelationID
	if corr == "" {
		corr = requestID
	}
	return o.decider("request:"+requestID, requestID, corr, now, &c)
}
