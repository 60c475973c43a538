package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/money"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Order is a Shopify order as the connector reads it, whichever API it came
// from. Both the REST webhook body and the GraphQL API map onto it, and it
// maps onto one StoreOrder, so the same order state always gives the same
// snapshot.
type Order struct {
	// ID is Shopify's numeric order id, as a decimal string.
	ID        string
	Name      string
	Email     string
	Currency  string
	CreatedAt time.Time
	UpdatedAt time.Time
	// CancelledAt is zero unless the order is cancelled; CancelReason is
	// customer, fraud, inventory, declined, staff or other.
	CancelledAt  time.Time
	CancelReason string
	// Financial is the REST financial_status word: pending, authorized,
	// partially_paid, paid, partially_refunded, refunded, voided, expired.
	Financial string
	// Fulfillment is the REST fulfillment_status: "" (none), partial,
	// fulfilled or restocked.
	Fulfillment string
	// Total is the current total, a decimal string.
	Total        string
	Lines        []Line
	Shipping     *Address
	Fulfillments []Fulfillment
	Refunds      []Refund
}

// Line is a line item.
type Line struct {
	// ID, VariantID and ProductID are numeric ids as decimal strings;
	// VariantID and ProductID are empty for a custom item.
	ID, VariantID, ProductID string
	SKU, Title               string
	// Quantity is the quantity ordered; CurrentQuantity what is left after
	// edits and refunds.
	Quantity, CurrentQuantity int
	// Price per unit, a decimal string.
	Price string
}

// Address is a shipping address. It is customer data: never log it.
type Address struct {
	FirstName, LastName string
	Address1, Address2  string
	City, Province, Zip string
	CountryCode         string
	Phone               string
}

// LineQty is a quantity of one line item.
type LineQty struct {
	LineItemID string
	Quantity   int
}

// Tracking is one tracking number with its company.
type Tracking struct {
	Company, Number, URL string
}

// Fulfillment is a fulfilment of an order on Shopify.
type Fulfillment struct {
	// ID is the numeric fulfillment id.
	ID string
	// Status is the REST word, lower case: success, pending, open,
	// cancelled, error, failure.
	Status string
	// CreatedAt and UpdatedAt (zero when the source did not say).
	CreatedAt, UpdatedAt time.Time
	Lines                []LineQty
	Tracking             []Tracking
}

// Active reports whether the fulfilment stands (it is not cancelled or
// failed).
func (f Fulfillment) Active() bool {
	switch f.Status {
	case "cancelled", "error", "failure":
		return false
	}
	return true
}

// Refund is a refund of an order.
type Refund struct {
	ID        string
	CreatedAt time.Time
	Lines     []LineQty
	// Amount refunded, a decimal string in Currency; empty when unknown.
	Amount, Currency string
}

// ErrInvalidOrder: a payload lacks what every Shopify order has.
var ErrInvalidOrder = errors.New("invalid shopify order")

// Validate checks the fields every order has.
func (o Order) Validate() error {
	var errs []error
	if _, err := strconv.ParseUint(o.ID, 10, 64); err != nil || o.ID == "0" {
		errs = append(errs, fmt.Errorf("%w: id %q is not a positive number", ErrInvalidOrder, o.ID))
	}
	if o.UpdatedAt.IsZero() {
		errs = append(errs, fmt.Errorf("%w: no updated_at", ErrInvalidOrder))
	}
	for i, l := range o.Lines {
		if _, err := strconv.ParseUint(l.ID, 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("%w: line %d has id %q", ErrInvalidOrder, i, l.ID))
		}
		if l.Quantity < 0 || l.CurrentQuantity < 0 {
			errs = append(errs, fmt.Errorf("%w: line %d has a negative quantity", ErrInvalidOrder, i))
		}
	}
	return errors.Join(errs...)
}

// Captured reports whether the customer's payment is captured: paid, or
// paid and then (partly) refunded.
func Captured(financial string) bool {
	switch financial {
	case "paid", "partially_refunded", "refunded":
		return true
	}
	return false
}

// StoreOrder is the order as dropsync keeps a store's snapshot. A line's
// quantity is what was ordered less what order edits removed: refunded
// quantities stay in, because the refund itself is the fact that cancels
// them (StoreOrderRefunded); counting them here too would make every
// refund look like a change made by hand.
func (o Order) StoreOrder() (*eventsv1.StoreOrder, error) {
	refunded := map[string]int{}
	for _, r := range o.Refunds {
		for _, l := range r.Lines {
			refunded[l.LineItemID] += l.Quantity
		}
	}
	so := &eventsv1.StoreOrder{
		StoreOrderId:      o.ID,
		Name:              o.Name,
		PaymentCaptured:   Captured(o.Financial),
		FinancialStatus:   o.Financial,
		FulfillmentStatus: o.Fulfillment,
		StoreUpdatedAt:    timestamppb.New(o.UpdatedAt),
	}
	if !o.CreatedAt.IsZero() {
		so.StoreCreatedAt = timestamppb.New(o.CreatedAt)
	}
	if o.Total != "" {
		m, err := money.Parse(o.Total, o.Currency)
		if err != nil {
			return nil, fmt.Errorf("order %s total: %w", o.ID, err)
		}
		so.Total = m
	}
	for _, l := range o.Lines {
		q := min(l.CurrentQuantity+refunded[l.ID], l.Quantity)
		item := &eventsv1.StoreLineItem{
			Id: l.ID, ProductId: l.ProductID, VariantId: l.VariantID, Sku: l.SKU, Title: l.Title, Quantity: int32(q),
		}
		if l.Price != "" {
			m, err := money.Parse(l.Price, o.Currency)
			if err != nil {
				return nil, fmt.Errorf("order %s line %s price: %w", o.ID, l.ID, err)
			}
			item.UnitPrice = m
		}
		so.LineItems = append(so.LineItems, item)
	}
	if a := o.Shipping; a != nil {
		so.ShippingAddress = &eventsv1.Address{
			FullName:    strings.TrimSpace(a.FirstName + " " + a.LastName),
			Address1:    a.Address1,
			Address2:    a.Address2,
			City:        a.City,
			Province:    a.Province,
			Zip:         a.Zip,
			CountryCode: a.CountryCode,
			Phone:       a.Phone,
			Email:       o.Email,
		}
	}
	return so, nil
}

// ChangedPage is one page of the orders changed since a time.
type ChangedPage struct {
	Orders []ChangedOrder
	// Next is the cursor of the next page; empty on the last one.
	Next string
}

// ChangedOrder names an order and when it last changed.
type ChangedOrder struct {
	ID        string
	UpdatedAt time.Time
}

// ValidID reports whether id is a Shopify numeric id (a positive decimal
// that fits 64 bits).
func ValidID(id string) bool {
	n, err := strconv.ParseUint(id, 10, 64)
	return err == nil && n > 0
}
