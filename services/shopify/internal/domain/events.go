package domain

import (
	"cmp"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/money"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Service names the connector in the Source of its events.
const Service = "shopify"

// Store names the store a fact belongs to: its dropsync slug and its shop
// domain (which, with Shopify's own ids, makes event ids unique).
type Store struct {
	Slug   string
	Domain string
}

// OrderID is the dropsync order id of a Shopify order of the store.
func (s Store) OrderID(shopifyOrderID string) (string, error) {
	id, err := order.NewID(eventsv1.Platform_PLATFORM_SHOPIFY, s.Slug, shopifyOrderID)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Key is the store key "shopify:<slug>".
func (s Store) Key() string { return order.StoreKey(eventsv1.Platform_PLATFORM_SHOPIFY, s.Slug) }

// Event ids. Each is derived from Shopify's own ids, so the same fact
// always has the same id whichever way it reached dropsync (a webhook, a
// retry of it, another topic about it, reconciliation):

// WebhookEventID is the id of the kind-th event made from one webhook
// delivery: X-Shopify-Event-Id with the topic (an event id is unique per
// topic), for facts only that delivery tells (orders/create,
// orders/updated, orders/paid, orders/edited).
func (s Store) WebhookEventID(eventID, topic, kind string) string {
	return envelope.ID(order.WordShopify, s.Domain, "event", eventID, topic, kind)
}

// FulfillmentEventID is the id of the StoreOrderFulfilled of a Shopify
// fulfilment: fulfillments/create, orders/fulfilled and reconciliation all
// give the same one.
func (s Store) FulfillmentEventID(fulfillmentID string) string {
	return envelope.ID(order.WordShopify, s.Domain, "fulfillment", fulfillmentID)
}

// FulfillmentCanceledEventID is the id of the StoreFulfillmentCanceled of a
// Shopify fulfilment: fulfillments/update, fulfillments/create, an order
// body and reconciliation all give the same one (a fulfilment is cancelled
// once).
func (s Store) FulfillmentCanceledEventID(fulfillmentID string) string {
	return envelope.ID(order.WordShopify, s.Domain, "fulfillment", fulfillmentID, "cancelled")
}

// TrackingChangedEventID is the id of the StoreTrackingChanged of a
// fulfilment's tracking as it was at updatedAt: the same state always
// gives the same id, a later change another.
func (s Store) TrackingChangedEventID(f Fulfillment) string {
	parts := []string{order.WordShopify, s.Domain, "fulfillment", f.ID, "tracking"}
	if !f.UpdatedAt.IsZero() {
		parts = append(parts, f.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	for _, t := range f.Tracking {
		parts = append(parts, t.Company, t.Number, t.URL)
	}
	return envelope.ID(parts...)
}

// RefundEventID is the id of the StoreOrderRefunded of a Shopify refund.
func (s Store) RefundEventID(refundID string) string {
	return envelope.ID(order.WordShopify, s.Domain, "refund", refundID)
}

// CanceledEventID is the id of an order's StoreOrderCanceled: an order is
// cancelled once.
func (s Store) CanceledEventID(orderID string) string {
	return envelope.ID(order.WordShopify, s.Domain, "order", orderID, "cancelled")
}

// PushedEventID is the id of the FulfillmentPushed of a shipment.
func (s Store) PushedEventID(orderID, shipmentID string) string {
	return envelope.ID(order.WordShopify, s.Domain, "pushed", orderID, shipmentID)
}

// FailedEventID is the id of the FulfillmentFailed of a shipment's attempt.
func (s Store) FailedEventID(orderID, shipmentID, cause string) string {
	return envelope.ID(order.WordShopify, s.Domain, "failed", orderID, shipmentID, cause)
}

// RereadEventID is the id of the StoreOrderReread answering a request.
func (s Store) RereadEventID(orderID, requestID string) string {
	return envelope.ID(order.WordShopify, s.Domain, "reread", orderID, requestID)
}

// ReconcileEventID is the id of the snapshot reconciliation makes of an
// order as it was at updatedAt.
func (s Store) ReconcileEventID(orderID, kind string, updatedAt time.Time) string {
	return reconcile.EventID(order.WordShopify, s.Domain, orderID, kind, updatedAt)
}

// envelopeFor fills the facts every event has.
func (s Store) envelopeFor(eventID, orderID string, occurred time.Time) (*eventsv1.Envelope, error) {
	oid, err := s.OrderID(orderID)
	if err != nil {
		return nil, err
	}
	return envelope.ForStore(eventID, oid, &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_SHOPIFY, StoreId: s.Slug, Service: Service}, occurred), nil
}

// Snapshot kinds for OrderEvent.
const (
	KindCreated  = "StoreOrderCreated"
	KindPaid     = "StorePaymentCaptured"
	KindUpdated  = "StoreOrderUpdated"
	KindCanceled = "StoreOrderCanceled"
	KindReread   = "StoreOrderReread"
)

// OrderEvent is a snapshot event of kind (KindCreated, KindPaid,
// KindUpdated, KindCanceled) about o, with id eventID. It occurred when
// the order last changed.
func (s Store) OrderEvent(kind, eventID string, o Order) (*eventsv1.Envelope, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	so, err := o.StoreOrder()
	if err != nil {
		return nil, err
	}
	e, err := s.envelopeFor(eventID, o.ID, o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindCreated:
		e.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: so}}
	case KindPaid:
		e.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{Order: so}}
	case KindUpdated:
		e.Event = &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{Order: so}}
	case KindCanceled:
		if !o.CancelledAt.IsZero() {
			e.OccurredAt = timestamppb.New(o.CancelledAt)
		}
		e.Event = &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{Reason: o.CancelReason, Order: so}}
	default:
		return nil, fmt.Errorf("order event kind %q", kind)
	}
	return e, nil
}

// RereadEvent answers a ResyncRequested with the order as Shopify shows it.
func (s Store) RereadEvent(requestID string, o Order) (*eventsv1.Envelope, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	so, err := o.StoreOrder()
	if err != nil {
		return nil, err
	}
	e, err := s.envelopeFor(s.RereadEventID(o.ID, requestID), o.ID, o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	e.Event = &eventsv1.Envelope_StoreOrderReread{StoreOrderReread: &eventsv1.StoreOrderReread{RequestId: requestID, Order: so}}
	return e, nil
}

// FulfilledEvent is the StoreOrderFulfilled of a fulfilment of order
// orderID, carrying Shopify's fulfillment id and tracking numbers, so the
// order aggregate tells its own fulfilments (echoes of FulfillmentPushed)
// from the merchant's.
func (s Store) FulfilledEvent(orderID string, f Fulfillment) (*eventsv1.Envelope, error) {
	if f.ID == "" {
		return nil, fmt.Errorf("%w: fulfillment without id", ErrInvalidOrder)
	}
	e, err := s.envelopeFor(s.FulfillmentEventID(f.ID), orderID, f.CreatedAt)
	if err != nil {
		return nil, err
	}
	ev := &eventsv1.StoreOrderFulfilled{StoreFulfillmentId: f.ID}
	for _, l := range f.Lines {
		ev.Lines = append(ev.Lines, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: int32(l.Quantity)})
	}
	for _, t := range f.Tracking {
		ev.Tracking = append(ev.Tracking, &eventsv1.Tracking{Number: t.Number, Carrier: t.Company, Url: t.URL})
	}
	e.Event = &eventsv1.Envelope_StoreOrderFulfilled{StoreOrderFulfilled: ev}
	return e, nil
}

// FulfillmentCanceledEvent is the StoreFulfillmentCanceled of a fulfilment
// of order orderID whose status is cancelled, failure or error: what it
// fulfilled is open again.
func (s Store) FulfillmentCanceledEvent(orderID string, f Fulfillment) (*eventsv1.Envelope, error) {
	if f.ID == "" {
		return nil, fmt.Errorf("%w: fulfillment without id", ErrInvalidOrder)
	}
	e, err := s.envelopeFor(s.FulfillmentCanceledEventID(f.ID), orderID, cmp.Or(f.UpdatedAt, f.CreatedAt))
	if err != nil {
		return nil, err
	}
	ev := &eventsv1.StoreFulfillmentCanceled{StoreFulfillmentId: f.ID, Status: f.Status}
	for _, l := range f.Lines {
		ev.Lines = append(ev.Lines, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: int32(l.Quantity)})
	}
	e.Event = &eventsv1.Envelope_StoreFulfillmentCanceled{StoreFulfillmentCanceled: ev}
	return e, nil
}

// TrackingChangedEvent is the StoreTrackingChanged of a fulfilment's
// tracking as the store shows it now (fulfillments/update).
func (s Store) TrackingChangedEvent(orderID string, f Fulfillment) (*eventsv1.Envelope, error) {
	if f.ID == "" {
		return nil, fmt.Errorf("%w: fulfillment without id", ErrInvalidOrder)
	}
	e, err := s.envelopeFor(s.TrackingChangedEventID(f), orderID, cmp.Or(f.UpdatedAt, f.CreatedAt))
	if err != nil {
		return nil, err
	}
	ev := &eventsv1.StoreTrackingChanged{StoreFulfillmentId: f.ID}
	for _, t := range f.Tracking {
		ev.Tracking = append(ev.Tracking, &eventsv1.Tracking{Number: t.Number, Carrier: t.Company, Url: t.URL})
	}
	e.Event = &eventsv1.Envelope_StoreTrackingChanged{StoreTrackingChanged: ev}
	return e, nil
}

// FulfillmentEvent is what a fulfilment shows: StoreOrderFulfilled while
// it stands, StoreFulfillmentCanceled once cancelled or failed.
func (s Store) FulfillmentEvent(orderID string, f Fulfillment) (*eventsv1.Envelope, error) {
	if !f.Active() {
		return s.FulfillmentCanceledEvent(orderID, f)
	}
	return s.FulfilledEvent(orderID, f)
}

// RefundedEvent is the StoreOrderRefunded of a refund of order orderID, for
// the lines it names, with its amount in the refund's currency (else
// currency; none when neither is known). A refund that names no line (money only: shipping, a
// goodwill amount) cancels nothing and gives no event: nil, nil.
func (s Store) RefundedEvent(orderID, currency string, r Refund) (*eventsv1.Envelope, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("%w: refund without id", ErrInvalidOrder)
	}
	if len(r.Lines) == 0 {
		return nil, nil
	}
	e, err := s.envelopeFor(s.RefundEventID(r.ID), orderID, r.CreatedAt)
	if err != nil {
		return nil, err
	}
	ev := &eventsv1.StoreOrderRefunded{RefundId: r.ID}
	for _, l := range r.Lines {
		ev.Lines = append(ev.Lines, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: int32(l.Quantity)})
	}
	if r.Currency != "" {
		currency = r.Currency
	}
	if r.Amount != "" && currency != "" {
		m, err := money.Parse(r.Amount, currency)
		if err != nil {
			return nil, fmt.Errorf("refund %s: %w", r.ID, err)
		}
		ev.Amount = m
	}
	e.Event = &eventsv1.Envelope_StoreOrderRefunded{StoreOrderRefunded: ev}
	return e, nil
}

// Reconciled is what reconciliation publishes for an order as Shopify
// shows it now: its snapshot (an id from its updated_at, so an unchanged
// order gives a duplicate), then its Facts.
func (s Store) Reconciled(o Order) ([]*eventsv1.Envelope, error) {
	snap, err := s.OrderEvent(KindUpdated, s.ReconcileEventID(o.ID, KindUpdated, o.UpdatedAt), o)
	if err != nil {
		return nil, err
	}
	return s.Facts([]*eventsv1.Envelope{snap}, o)
}

// Facts appends to out what an order's own fields prove, whichever topic
// or API brought it: each fulfilment (StoreOrderFulfilled while it stands,
// StoreFulfillmentCanceled once cancelled or failed), each refund that
// names lines, and its cancellation when cancelled_at is set. The ids come
// from Shopify's own, the same the fulfilment and refund webhooks give,
// so a fact told twice is one event.
func (s Store) Facts(out []*eventsv1.Envelope, o Order) ([]*eventsv1.Envelope, error) {
	for _, f := range o.Fulfillments {
		e, err := s.FulfillmentEvent(o.ID, f)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	for _, r := range o.Refunds {
		e, err := s.RefundedEvent(o.ID, o.Currency, r)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	if !o.CancelledAt.IsZero() {
		e, err := s.OrderEvent(KindCanceled, s.CanceledEventID(o.ID), o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
