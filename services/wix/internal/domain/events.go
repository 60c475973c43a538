package domain

import (
	"fmt"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Service names the connector in the Source of its events.
const Service = "wix"

// Store names the store a fact belongs to: its dropsync slug, its Wix site
// id (which, with Wix's own ids, makes event ids unique) and the app
// instance installed on the site (what webhooks name).
type Store struct {
	Slug       string
	SiteID     string
	InstanceID string
}

// OrderID is the dropsync order id of a Wix order of the store. A Wix order
// id is a GUID: letters, digits and dashes, which an order id allows.
func (s Store) OrderID(wixOrderID string) (string, error) {
	id, err := order.NewID(eventsv1.Platform_PLATFORM_WIX, s.Slug, wixOrderID)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Key is the store key "wix:<slug>".
func (s Store) Key() string { return order.StoreKey(eventsv1.Platform_PLATFORM_WIX, s.Slug) }

// Event ids. Each is derived from Wix's own ids, so the same fact always has
// the same id whichever way it reached dropsync (a webhook, a retry of it,
// another event about it, reconciliation).

// WebhookEventID is the id of the event of kind made from the webhook event
// with Wix id eventID: the facts only that event tells (a snapshot).
func (s Store) WebhookEventID(eventID, kind string) string {
	return envelope.ID(order.WordWix, s.SiteID, "event", eventID, kind)
}

// FulfillmentEventID is the id of the StoreOrderFulfilled of a Wix
// fulfilment: fulfillments_updated and reconciliation give the same one.
func (s Store) FulfillmentEventID(fulfillmentID string) string {
	return envelope.ID(order.WordWix, s.SiteID, "fulfillment", fulfillmentID)
}

// RefundEventID is the id of an order's full refund: an order is fully
// refunded once.
func (s Store) RefundEventID(orderID string) string {
	return envelope.ID(order.WordWix, s.SiteID, "refund", orderID, "full")
}

// CanceledEventID is the id of an order's StoreOrderCanceled: an order is
// canceled once.
func (s Store) CanceledEventID(orderID string) string {
	return envelope.ID(order.WordWix, s.SiteID, "order", orderID, "canceled")
}

// PushedEventID is the id of the FulfillmentPushed of a shipment.
func (s Store) PushedEventID(orderID, shipmentID string) string {
	return envelope.ID(order.WordWix, s.SiteID, "pushed", orderID, shipmentID)
}

// FailedEventID is the id of the FulfillmentFailed of a shipment for a
// cause (a failure code): the same failure reported twice is one event.
func (s Store) FailedEventID(orderID, shipmentID, cause string) string {
	return envelope.ID(order.WordWix, s.SiteID, "failed", orderID, shipmentID, cause)
}

// RereadEventID is the id of the StoreOrderReread answering a request.
func (s Store) RereadEventID(orderID, requestID string) string {
	return envelope.ID(order.WordWix, s.SiteID, "reread", orderID, requestID)
}

// ReconcileEventID is the id of the snapshot reconciliation makes of an
// order as it was at updatedAt.
func (s Store) ReconcileEventID(orderID, kind string, updatedAt time.Time) string {
	return reconcile.EventID(order.WordWix, s.SiteID, orderID, kind, updatedAt)
}

// Envelope fills the facts every event of the store has.
func (s Store) Envelope(eventID, wixOrderID string, occurred time.Time) (*eventsv1.Envelope, error) {
	oid, err := s.OrderID(wixOrderID)
	if err != nil {
		return nil, err
	}
	return envelope.ForStore(eventID, oid, &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_WIX, StoreId: s.Slug, Service: Service}, occurred), nil
}

// Snapshot kinds for OrderEvent.
const (
	KindCreated  = "StoreOrderCreated"
	KindPaid     = "StorePaymentCaptured"
	KindUpdated  = "StoreOrderUpdated"
	KindCanceled = "StoreOrderCanceled"
	KindRefunded = "StoreOrderRefunded"
)

// OrderEvent is an event of kind (KindCreated, KindPaid, KindUpdated,
// KindCanceled, KindRefunded) carrying o's snapshot, with id eventID. It
// occurred when the order last changed. A refund made here is the whole
// order's: Wix's order does not say which lines a refund covers.
func (s Store) OrderEvent(kind, eventID string, o Order) (*eventsv1.Envelope, error) {
	so, err := o.StoreOrder()
	if err != nil {
		return nil, err
	}
	e, err := s.Envelope(eventID, o.ID, o.UpdatedAt)
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
		e.Event = &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{Order: so}}
	case KindRefunded:
		e.Event = &eventsv1.Envelope_StoreOrderRefunded{StoreOrderRefunded: &eventsv1.StoreOrderRefunded{
			RefundId: "full:" + o.ID, Amount: so.GetTotal(), Order: so,
		}}
	default:
		return nil, fmt.Errorf("order event kind %q", kind)
	}
	return e, nil
}

// RereadEvent answers a ResyncRequested with the order as Wix shows it.
func (s Store) RereadEvent(requestID string, o Order) (*eventsv1.Envelope, error) {
	so, err := o.StoreOrder()
	if err != nil {
		return nil, err
	}
	e, err := s.Envelope(s.RereadEventID(o.ID, requestID), o.ID, o.UpdatedAt)
	if err != nil {
		return nil, err
	}
	e.Event = &eventsv1.Envelope_StoreOrderReread{StoreOrderReread: &eventsv1.StoreOrderReread{RequestId: requestID, Order: so}}
	return e, nil
}

// FulfilledEvent is the StoreOrderFulfilled of a fulfilment of Wix order
// wixOrderID, carrying Wix's fulfillment id and tracking number, so the
// order aggregate tells its own fulfilments (echoes of FulfillmentPushed)
// from the merchant's or another app's.
func (s Store) FulfilledEvent(wixOrderID string, f Fulfillment) (*eventsv1.Envelope, error) {
	if f.ID == "" {
		return nil, fmt.Errorf("%w: fulfillment without id", ErrInvalidOrder)
	}
	e, err := s.Envelope(s.FulfillmentEventID(f.ID), wixOrderID, f.CreatedAt)
	if err != nil {
		return nil, err
	}
	ev := &eventsv1.StoreOrderFulfilled{StoreFulfillmentId: f.ID}
	for _, l := range f.Lines {
		ev.Lines = append(ev.Lines, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: int32(l.Quantity)})
	}
	if t := f.Tracking; t != nil && t.Number != "" {
		ev.Tracking = append(ev.Tracking, &eventsv1.Tracking{Number: t.Number, Carrier: t.Provider, Url: t.Link})
	}
	e.Event = &eventsv1.Envelope_StoreOrderFulfilled{StoreOrderFulfilled: ev}
	return e, nil
}

// PushedEvent is the FulfillmentPushed of a shipment fulfilled on Wix as
// fulfilment fulfillmentID. notified says whether the fulfilment was made
// so that Wix e-mails the customer (tracking sent on a NOTIFY decision).
func (s Store) PushedEvent(wixOrderID, shipmentID, fulfillmentID string, notified bool, causation *eventsv1.Envelope, at time.Time) (*eventsv1.Envelope, error) {
	e, err := s.Envelope(s.PushedEventID(wixOrderID, attemptKey(shipmentID, causation)), wixOrderID, at)
	if err != nil {
		return nil, err
	}
	caused(e, causation)
	e.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{
		ShipmentId: shipmentID, StoreFulfillmentId: fulfillmentID, CustomerNotified: notified,
	}}
	return e, nil
}

// FailedEvent is the FulfillmentFailed of a shipment Wix refused or could
// not take.
func (s Store) FailedEvent(wixOrderID, shipmentID string, reason *eventsv1.FailureReason, causation *eventsv1.Envelope, at time.Time) (*eventsv1.Envelope, error) {
	e, err := s.Envelope(s.FailedEventID(wixOrderID, attemptKey(shipmentID, causation), reason.GetCode()), wixOrderID, at)
	if err != nil {
		return nil, err
	}
	caused(e, causation)
	e.Event = &eventsv1.Envelope_FulfillmentFailed{FulfillmentFailed: &eventsv1.FulfillmentFailed{
		ShipmentId: shipmentID, Reason: reason, Attempt: causation.GetFulfillmentRequested().GetAttempt(),
	}}
	return e, nil
}

// attemptKey names a shipment's fulfilment attempt in the ids of the facts
// it leads to: the shipment id for the first attempt (the ids the
// connector always gave), "<shipment>#<n>" for a later one, so that a
// later attempt's FulfillmentPushed or FulfillmentFailed is a new fact, not
// a duplicate of the first's.
func attemptKey(shipmentID string, cmd *eventsv1.Envelope) string {
	if a := cmd.GetFulfillmentRequested().GetAttempt(); a > 1 {
		return fmt.Sprintf("%s#%d", shipmentID, a)
	}
	return shipmentID
}

// caused links an event to the command that caused it.
func caused(e, causation *eventsv1.Envelope) {
	if causation == nil {
		return
	}
	e.CausationId = causation.GetEventId()
	if c := causation.GetCorrelationId(); c != "" {
		e.CorrelationId = c
	}
}

// Reconciled is what reconciliation publishes for an order as Wix shows it
// now: its snapshot (an id from its updatedDate, so an unchanged order
// gives a duplicate), its cancellation or full refund, and its fulfilments
// (ids from Wix's own, the same the webhooks give).
func (s Store) Reconciled(o Order, fs []Fulfillment) ([]*eventsv1.Envelope, error) {
	snap, err := s.OrderEvent(KindUpdated, s.ReconcileEventID(o.ID, KindUpdated, o.UpdatedAt), o)
	if err != nil {
		return nil, err
	}
	out := []*eventsv1.Envelope{snap}
	for _, f := range fs {
		e, err := s.FulfilledEvent(o.ID, f)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if o.PaymentStatus == PaymentFullyRefunded {
		e, err := s.OrderEvent(KindRefunded, s.RefundEventID(o.ID), o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if o.Status == StatusCanceled {
		e, err := s.OrderEvent(KindCanceled, s.CanceledEventID(o.ID), o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
