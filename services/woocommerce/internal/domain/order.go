// Package domain holds what the WooCommerce connector decides, with no
// I/O: how a WooCommerce order (a webhook body or a REST API v3 resource)
// becomes dropsync store events with deterministic ids, which Shipment
// Tracking provider a supplier's logistics name becomes, and what a
// fulfilment still has to write to the store.
//
// # Status mapping
//
// Every order state gives, in this order:
//
//	date_paid set (not pending, failed, checkout-draft)   StorePaymentCaptured, once per payment date
//	always                                                the snapshot: StoreOrderCreated (order.created)
//	                                                      or StoreOrderUpdated (anything else)
//	cancelled, trash, order.deleted                       StoreOrderCanceled (whole), once per order
//	refunded                                              StoreOrderRefunded (whole), once per order
//	refunds[] naming line items (status not refunded)     StoreOrderRefunded for those lines, once per refund
//	completed                                             StoreOrderFulfilled "woocommerce:order:<id>:completed",
//	                                                      with the Shipment Tracking numbers, once per completion
//
// pending, on-hold, failed and checkout-draft orders have no payment
// captured (the order shows Pending); processing with date_paid is paid
// (Awaiting order). A completed order is fulfilled on the store: when
// dropsync completed it, the order aggregate recognises the
// StoreOrderFulfilled as the echo of its own FulfillmentPushed (same store
// fulfillment id), of its FulfillmentRequested (same tracking numbers), or,
// with no tracking on it, because dropsync asked to fulfil every line;
// otherwise the merchant completed it by hand (rule 7).
//
// # Event ids
//
// Ids come from the order's own state, never from the delivery that
// carried it: the snapshot's from the order id, the kind, date_modified_gmt
// and a digest of the snapshot (so two changes within one second, which
// share date_modified_gmt, still differ), the facts' from what they are
// (the payment date, the refund id, the completion date). So the same
// state seen twice (two webhooks, a webhook and a reconciliation pass, a
// re-read) gives the same ids, and JetStream or the aggregate drops the
// repeat.
package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/money"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// WooCommerce order statuses.
const (
	StatusPending       = "pending"
	StatusProcessing    = "processing"
	StatusOnHold        = "on-hold"
	StatusCompleted     = "completed"
	StatusCancelled     = "cancelled"
	StatusRefunded      = "refunded"
	StatusFailed        = "failed"
	StatusTrash         = "trash"
	StatusCheckoutDraft = "checkout-draft"
)

// ErrInvalidOrder: a payload lacks what every WooCommerce order has.
var ErrInvalidOrder = errors.New("invalid woocommerce order")

// Order is a WooCommerce order as the REST API v3 and webhooks render it:
// the fields the connector reads.
type Order struct {
	ID       int64  `json:"id"`
	Number   string `json:"number"`
	Status   string `json:"status"`
	Currency string `json:"currency"`
	// Total is a decimal string ("29.90").
	Total string `json:"total"`
	// Dates in UTC without a zone ("2025-03-01T10:00:00"); the site-local
	// ones (date_modified, ...) are not read.
	DateCreatedGMT   *string     `json:"date_created_gmt"`
	DateModifiedGMT  *string     `json:"date_modified_gmt"`
	DatePaidGMT      *string     `json:"date_paid_gmt"`
	DateCompletedGMT *string     `json:"date_completed_gmt"`
	Billing          Address     `json:"billing"`
	Shipping         Address     `json:"shipping"`
	LineItems        []LineItem  `json:"line_items"`
	Refunds          []RefundRef `json:"refunds"`
	MetaData         []Meta      `json:"meta_data"`
}

// Address is a billing or shipping address. It is customer data: never
// log it.
type Address struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

// LineItem is an order line.
type LineItem struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	ProductID   int64  `json:"product_id"`
	VariationID int64  `json:"variation_id"`
	Quantity    int    `json:"quantity"`
	SKU         string `json:"sku"`
	// Price is the unit price, a JSON number (WooCommerce sends a float).
	Price json.Number `json:"price"`
}

// RefundRef is an entry of the order's refunds[]: the refund's id and
// negative total, without its lines.
type RefundRef struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Total  string `json:"total"`
}

// Meta is a meta_data entry.
type Meta struct {
	ID    int64           `json:"id"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Refund is a refund as GET /orders/{id}/refunds shows it, reduced to the
// order lines it names.
type Refund struct {
	ID      int64
	Created time.Time
	// Amount is a decimal string ("5.00").
	Amount string
	Lines  []LineQty
}

// LineQty is a quantity of one order line.
type LineQty struct {
	LineItemID int64
	Quantity   int
}

// TrackingItem is a Shipment Tracking item, as the order's
// _wc_shipment_tracking_items meta or the extension's API shows it.
type TrackingItem struct {
	ID     string
	Number string
	// Provider is the provider's name (known or custom).
	Provider string
	// Link is the tracking page, where known.
	Link string
}

// gmtLayout is WooCommerce's date format.
const gmtLayout = "2006-01-02T15:04:05"

// ParseTime reads a WooCommerce *_gmt date; nil or empty is the zero time.
func ParseTime(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(gmtLayout, *s, time.UTC)
	if err != nil {
		// Some hosts add a zone or fractions; accept RFC 3339 too.
		if t2, err2 := time.Parse(time.RFC3339Nano, *s); err2 == nil {
			return t2.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%w: date %q", ErrInvalidOrder, *s)
	}
	return t, nil
}

// ParseOrder decodes an order resource and checks what every order has.
func ParseOrder(body []byte) (Order, error) {
	var o Order
	if err := json.Unmarshal(body, &o); err != nil {
		return Order{}, fmt.Errorf("%w: %w", ErrInvalidOrder, err)
	}
	return o, o.Validate()
}

// Validate checks the fields every order has.
func (o Order) Validate() error {
	var errs []error
	if o.ID <= 0 {
		errs = append(errs, fmt.Errorf("%w: id %d is not positive", ErrInvalidOrder, o.ID))
	}
	if o.Status == "" {
		errs = append(errs, fmt.Errorf("%w: no status", ErrInvalidOrder))
	}
	if t, err := ParseTime(o.DateModifiedGMT); err != nil {
		errs = append(errs, err)
	} else if t.IsZero() {
		errs = append(errs, fmt.Errorf("%w: no date_modified_gmt", ErrInvalidOrder))
	}
	for _, p := range []*string{o.DateCreatedGMT, o.DatePaidGMT, o.DateCompletedGMT} {
		if _, err := ParseTime(p); err != nil {
			errs = append(errs, err)
		}
	}
	for i, l := range o.LineItems {
		if l.ID <= 0 {
			errs = append(errs, fmt.Errorf("%w: line %d has id %d", ErrInvalidOrder, i, l.ID))
		}
		if l.Quantity < 0 {
			errs = append(errs, fmt.Errorf("%w: line %d has a negative quantity", ErrInvalidOrder, i))
		}
	}
	return errors.Join(errs...)
}

// Modified is date_modified_gmt (Validate has checked it parses).
func (o Order) Modified() time.Time {
	t, _ := ParseTime(o.DateModifiedGMT)
	return t
}

// Captured reports whether the customer's payment is captured: a payment
// date on an order past the unpaid states.
func (o Order) Captured() bool {
	if o.DatePaidGMT == nil || *o.DatePaidGMT == "" {
		return false
	}
	switch o.Status {
	case StatusPending, StatusFailed, StatusCheckoutDraft:
		return false
	}
	return true
}

// ShipmentTrackingMetaKey is the meta key under which the Shipment Tracking
// extension keeps an order's tracking items.
const ShipmentTrackingMetaKey = "_wc_shipment_tracking_items"

// Trackings reads the Shipment Tracking items from the order's meta_data.
// An unreadable value gives none: the items are evidence for the echo,
// never required.
func (o Order) Trackings() []TrackingItem {
	for _, m := range o.MetaData {
		if m.Key != ShipmentTrackingMetaKey {
			continue
		}
		var items []struct {
			TrackingProvider       string `json:"tracking_provider"`
			CustomTrackingProvider string `json:"custom_tracking_provider"`
			CustomTrackingLink     string `json:"custom_tracking_link"`
			TrackingNumber         string `json:"tracking_number"`
			TrackingID             string `json:"tracking_id"`
		}
		if json.Unmarshal(m.Value, &items) != nil {
			return nil
		}
		out := make([]TrackingItem, 0, len(items))
		for _, it := range items {
			if it.TrackingNumber == "" {
				continue
			}
			p := it.TrackingProvider
			if p == "" {
				p = it.CustomTrackingProvider
			}
			out = append(out, TrackingItem{ID: it.TrackingID, Number: it.TrackingNumber, Provider: p, Link: it.CustomTrackingLink})
		}
		return out
	}
	return nil
}

// VariantID is the id dropsync's supplier mapping keys a line by: the
// variation id, or the product id of a simple product (variation 0).
func (l LineItem) VariantID() string {
	if l.VariationID > 0 {
		return strconv.FormatInt(l.VariationID, 10)
	}
	return strconv.FormatInt(l.ProductID, 10)
}

// StoreOrder is the order as dropsync keeps a store's snapshot. Line
// quantities are as ordered: WooCommerce keeps refunded quantities on the
// lines, and the refund itself is the fact that cancels them.
func (o Order) StoreOrder() (*eventsv1.StoreOrder, error) {
	so := &eventsv1.StoreOrder{
		StoreOrderId:    strconv.FormatInt(o.ID, 10),
		PaymentCaptured: o.Captured(),
		FinancialStatus: o.Status,
		StoreUpdatedAt:  timestamppb.New(o.Modified()),
	}
	if o.Number != "" {
		so.Name = "#" + o.Number
	}
	if o.Status == StatusCompleted {
		so.FulfillmentStatus = StatusCompleted
	}
	if t, _ := ParseTime(o.DateCreatedGMT); !t.IsZero() {
		so.StoreCreatedAt = timestamppb.New(t)
	}
	if o.Total != "" && o.Currency != "" {
		m, err := money.ParseRounded(o.Total, o.Currency)
		if err != nil {
			return nil, fmt.Errorf("order %d total: %w", o.ID, err)
		}
		so.Total = m
	}
	for _, l := range o.LineItems {
		item := &eventsv1.StoreLineItem{
			Id:        strconv.FormatInt(l.ID, 10),
			ProductId: strconv.FormatInt(l.ProductID, 10),
			VariantId: l.VariantID(),
			Sku:       l.SKU,
			Title:     l.Name,
			Quantity:  int32(l.Quantity),
		}
		if l.Price != "" && o.Currency != "" {
			m, err := money.ParseRounded(l.Price.String(), o.Currency)
			if err != nil {
				return nil, fmt.Errorf("order %d line %d price: %w", o.ID, l.ID, err)
			}
			item.UnitPrice = m
		}
		so.LineItems = append(so.LineItems, item)
	}
	a := o.Shipping
	if a != (Address{}) || o.Billing.Email != "" {
		phone := a.Phone
		if phone == "" {
			phone = o.Billing.Phone
		}
		so.ShippingAddress = &eventsv1.Address{
			FullName:    strings.TrimSpace(a.FirstName + " " + a.LastName),
			Address1:    a.Address1,
			Address2:    a.Address2,
			City:        a.City,
			Province:    a.State,
			Zip:         a.Postcode,
			CountryCode: a.Country,
			Phone:       phone,
			Email:       o.Billing.Email,
		}
	}
	return so, nil
}
