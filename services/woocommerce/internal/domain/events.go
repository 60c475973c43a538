package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/money"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Service names the connector in the Source of its events.
const Service = "woocommerce"

// Snapshot kinds.
const (
	KindCreated = "StoreOrderCreated"
	KindUpdated = "StoreOrderUpdated"
)

// Store names the store a fact belongs to: its dropsync slug and its site
// (which, with WooCommerce's own ids, makes event ids unique).
type Store struct {
	// Slug is the store id in dropsync, part of every order id.
	Slug string
	// Site is the site's normalised address (SiteKey).
	Site string
}

// SiteKey normalises a site URL for ids and lookups: lower-case host and
// path, no scheme, no trailing slash ("https://Shop.example/" ->
// "shop.example"). X-WC-Webhook-Source is home_url('/'), so it gives the
// same key as the configured site URL.
func SiteKey(siteURL string) string {
	u, err := url.Parse(strings.TrimSpace(siteURL))
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimRight(strings.TrimSpace(siteURL), "/"))
	}
	return strings.ToLower(u.Host + strings.TrimRight(u.Path, "/"))
}

// OrderID is the dropsync order id of a WooCommerce order of the store.
func (s Store) OrderID(wooID int64) (string, error) {
	id, err := order.NewID(eventsv1.Platform_PLATFORM_WOOCOMMERCE, s.Slug, strconv.FormatInt(wooID, 10))
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Key is the store key "woocommerce:<slug>".
func (s Store) Key() string { return order.StoreKey(eventsv1.Platform_PLATFORM_WOOCOMMERCE, s.Slug) }

// FulfillmentID is the store fulfillment id of an order's completion: what
// FulfillmentPushed reports and StoreOrderFulfilled carries, so the order
// aggregate recognises the completed webhook of an order dropsync
// completed as its own echo.
func FulfillmentID(wooID int64) string {
	return "woocommerce:order:" + strconv.FormatInt(wooID, 10) + ":completed"
}

// TrackingFulfillmentID is the store fulfillment id of tracking written
// to an order without completing it (a FulfillmentRequested that does not
// complete the order).
func TrackingFulfillmentID(wooID int64, shipmentID string) string {
	return "woocommerce:order:" + strconv.FormatInt(wooID, 10) + ":tracking:" + shipmentID
}

// id derives an event id from the store's site and parts.
func (s Store) id(wooID int64, parts ...string) string {
	return envelope.ID(append([]string{order.WordWooCommerce, s.Site, "order", strconv.FormatInt(wooID, 10)}, parts...)...)
}

// SnapshotEventID is the id of a snapshot of kind: the order's state (its
// modification time and a digest of the snapshot), never the delivery.
func (s Store) SnapshotEventID(wooID int64, kind string, modified time.Time, so *eventsv1.StoreOrder) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(so)
	sum := sha256.Sum256(b)
	return s.id(wooID, kind, modified.UTC().Format(time.RFC3339), hex.EncodeToString(sum[:8]))
}

// PaidEventID is the id of the StorePaymentCaptured of a payment date.
func (s Store) PaidEventID(wooID int64, paid string) string { return s.id(wooID, "paid", paid) }

// CanceledEventID is the id of an order's StoreOrderCanceled: cancelled,
// trashed and deleted all give the same one.
func (s Store) CanceledEventID(wooID int64) string { return s.id(wooID, "canceled") }

// RefundedEventID is the id of the whole-order StoreOrderRefunded.
func (s Store) RefundedEventID(wooID int64) string { return s.id(wooID, "refunded") }

// RefundEventID is the id of the StoreOrderRefunded of one refund.
func (s Store) RefundEventID(wooID, refundID int64) string {
	return s.id(wooID, "refund", strconv.FormatInt(refundID, 10))
}

// CompletedEventID is the id of the StoreOrderFulfilled of a completion.
func (s Store) CompletedEventID(wooID int64, completed string) string {
	return s.id(wooID, "completed", completed)
}

// PushedEventID is the id of the FulfillmentPushed of a shipment.
func (s Store) PushedEventID(wooID int64, shipmentID string) string {
	return s.id(wooID, "pushed", shipmentID)
}

// FailedEventID is the id of a FulfillmentFailed of a shipment's attempt.
func (s Store) FailedEventID(wooID int64, shipmentID, cause string) string {
	return s.id(wooID, "failed", shipmentID, cause)
}

// RereadEventID is the id of the StoreOrderReread answering a request.
func (s Store) RereadEventID(wooID int64, requestID string) string {
	return s.id(wooID, "reread", requestID)
}

// Envelope fills the facts every event of the store has.
func (s Store) Envelope(eventID string, wooID int64, occurred time.Time) (*eventsv1.Envelope, error) {
	oid, err := s.OrderID(wooID)
	if err != nil {
		return nil, err
	}
	return envelope.ForStore(eventID, oid, &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_WOOCOMMERCE, StoreId: s.Slug, Service: Service}, occurred), nil
}

// Events are the store events of one order state, in the order given in
// the package documentation. kind is KindCreated (order.created) or
// KindUpdated; refunds are the order's refunds with their lines (nil when
// not read: refunds naming lines then give no event, and a later read
// does).
func (s Store) Events(o Order, kind string, refunds []Refund) ([]*eventsv1.Envelope, error) {
	return s.events(o, kind, "", refunds)
}

// Reread answers a ResyncRequested: the StoreOrderReread of the order as
// WooCommerce shows it now, then the facts its state gives.
func (s Store) Reread(o Order, requestID string, refunds []Refund) ([]*eventsv1.Envelope, error) {
	return s.events(o, "", requestID, refunds)
}

func (s Store) events(o Order, kind, requestID string, refunds []Refund) ([]*eventsv1.Envelope, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	so, err := o.StoreOrder()
	if err != nil {
		return nil, err
	}
	modified := o.Modified()
	var out []*eventsv1.Envelope
	add := func(id string, at time.Time, ev func(e *eventsv1.Envelope)) error {
		e, err := s.Envelope(id, o.ID, at)
		if err != nil {
			return err
		}
		ev(e)
		out = append(out, e)
		return nil
	}

	if o.Captured() {
		paid, _ := ParseTime(o.DatePaidGMT)
		if err := add(s.PaidEventID(o.ID, *o.DatePaidGMT), paid, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{Order: so}}
		}); err != nil {
			return nil, err
		}
	}
	switch {
	case requestID != "":
		if err := add(s.RereadEventID(o.ID, requestID), modified, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderReread{StoreOrderReread: &eventsv1.StoreOrderReread{RequestId: requestID, Order: so}}
		}); err != nil {
			return nil, err
		}
	case kind == KindCreated:
		if err := add(s.SnapshotEventID(o.ID, kind, modified, so), modified, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: so}}
		}); err != nil {
			return nil, err
		}
	case kind == KindUpdated:
		if err := add(s.SnapshotEventID(o.ID, kind, modified, so), modified, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{Order: so}}
		}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("snapshot kind %q", kind)
	}

	switch o.Status {
	case StatusCancelled, StatusTrash:
		if err := add(s.CanceledEventID(o.ID), modified, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{Reason: o.Status, Order: so}}
		}); err != nil {
			return nil, err
		}
	case StatusRefunded:
		ev := &eventsv1.StoreOrderRefunded{RefundId: "order", Order: so}
		if len(o.Refunds) > 0 {
			ev.RefundId = strconv.FormatInt(o.Refunds[0].ID, 10) // newest first
		}
		if so.GetTotal() != nil {
			ev.Amount = proto.Clone(so.GetTotal()).(*eventsv1.Money)
		}
		if err := add(s.RefundedEventID(o.ID), modified, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderRefunded{StoreOrderRefunded: ev}
		}); err != nil {
			return nil, err
		}
	case StatusCompleted:
		completed := ""
		if o.DateCompletedGMT != nil {
			completed = *o.DateCompletedGMT
		}
		at, _ := ParseTime(o.DateCompletedGMT)
		if completed == "" {
			completed, at = modified.Format(gmtLayout), modified
		}
		ev := &eventsv1.StoreOrderFulfilled{StoreFulfillmentId: FulfillmentID(o.ID), Order: so}
		for _, t := range o.Trackings() {
			ev.Tracking = append(ev.Tracking, &eventsv1.Tracking{Number: t.Number, Carrier: t.Provider, Url: t.Link})
		}
		if err := add(s.CompletedEventID(o.ID, completed), at, func(e *eventsv1.Envelope) {
			e.Event = &eventsv1.Envelope_StoreOrderFulfilled{StoreOrderFulfilled: ev}
		}); err != nil {
			return nil, err
		}
	}
	if o.Status != StatusRefunded {
		for _, r := range refunds {
			if len(r.Lines) == 0 {
				continue // money only: cancels no line
			}
			ev := &eventsv1.StoreOrderRefunded{RefundId: strconv.FormatInt(r.ID, 10), Order: so}
			for _, l := range r.Lines {
				ev.Lines = append(ev.Lines, &eventsv1.LineQuantity{LineItemId: strconv.FormatInt(l.LineItemID, 10), Quantity: int32(l.Quantity)})
			}
			if r.Amount != "" && o.Currency != "" {
				m, err := money.ParseRounded(r.Amount, o.Currency)
				if err != nil {
					return nil, fmt.Errorf("refund %d: %w", r.ID, err)
				}
				ev.Amount = m
			}
			if err := add(s.RefundEventID(o.ID, r.ID), r.Created, func(e *eventsv1.Envelope) {
				e.Event = &eventsv1.Envelope_StoreOrderRefunded{StoreOrderRefunded: ev}
			}); err != nil {
				return nil, err
			}
		}
	}
	// No two events may share a message: each gets its own snapshot.
	for i, e := range out {
		if i > 0 {
			out[i] = proto.Clone(e).(*eventsv1.Envelope)
		}
	}
	return out, nil
}

// Deleted is the StoreOrderCanceled of an order deleted for good: an
// order.deleted webhook (whose body, {"id": N}, proves nothing, since
// any signed body may be re-sent under that topic) confirmed by the REST
// API answering 404 for the order. It has no snapshot: it cancels an
// order dropsync already holds and creates none.
func (s Store) Deleted(wooID int64, at time.Time) (*eventsv1.Envelope, error) {
	e, err := s.Envelope(s.CanceledEventID(wooID), wooID, at)
	if err != nil {
		return nil, err
	}
	e.Event = &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{Reason: "deleted"}}
	return e, nil
}

// NeedsRefunds reports whether the order has refunds whose lines only the
// refunds endpoint tells (a refunded order is refunded whole anyway).
func (o Order) NeedsRefunds() bool {
	return len(o.Refunds) > 0 && o.Status != StatusRefunded
}

// RefundLines ties a refund's line items to the order's lines: by the
// _refunded_item_id meta WooCommerce puts on them, else by product and
// variation when exactly one order line has them. Lines that cannot be
// tied are left out ("where the data allows").
func (o Order) RefundLines(items []RefundLineItem) []LineQty {
	var out []LineQty
	for _, it := range items {
		q := it.Quantity
		if q < 0 {
			q = -q
		}
		if q == 0 {
			continue
		}
		id := it.RefundedItemID
		if id == 0 {
			n := 0
			for _, l := range o.LineItems {
				if l.ProductID == it.ProductID && l.VariationID == it.VariationID {
					id = l.ID
					n++
				}
			}
			if n != 1 {
				continue
			}
		}
		known := false
		for _, l := range o.LineItems {
			known = known || l.ID == id
		}
		if known {
			out = append(out, LineQty{LineItemID: id, Quantity: q})
		}
	}
	return out
}

// RefundLineItem is a line of a refund as the refunds endpoint shows it.
type RefundLineItem struct {
	ProductID, VariationID int64
	// Quantity is negative, as WooCommerce shows it.
	Quantity int
	// RefundedItemID is the order line it refunds (_refunded_item_id), 0
	// when absent.
	RefundedItemID int64
}

// RefundDetail is a refund as the refunds endpoint shows it, before its
// lines are tied to the order's.
type RefundDetail struct {
	ID      int64
	Created time.Time
	// Amount is a decimal string ("5.00").
	Amount string
	Items  []RefundLineItem
}

// ResolveRefunds ties each refund's lines to the order's lines
// (RefundLines).
func (o Order) ResolveRefunds(details []RefundDetail) []Refund {
	out := make([]Refund, 0, len(details))
	for _, d := range details {
		out = append(out, Refund{ID: d.ID, Created: d.Created, Amount: d.Amount, Lines: o.RefundLines(d.Items)})
	}
	return out
}
