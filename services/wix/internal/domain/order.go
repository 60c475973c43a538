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

// Order statuses, payment statuses and fulfilment statuses, Wix's words.
const (
	StatusInitialized = "INITIALIZED"
	StatusApproved    = "APPROVED"
	StatusCanceled    = "CANCELED"

	PaymentNotPaid           = "NOT_PAID"
	PaymentPending           = "PENDING"
	PaymentPaid              = "PAID"
	PaymentPartiallyPaid     = "PARTIALLY_PAID"
	PaymentPartiallyRefunded = "PARTIALLY_REFUNDED"
	PaymentFullyRefunded     = "FULLY_REFUNDED"

	FulfillmentNotFulfilled = "NOT_FULFILLED"
)

// ErrInvalidOrder: a payload lacks what every Wix order has.
var ErrInvalidOrder = errors.New("invalid wix order")

// Order is a Wix eCommerce order as the connector reads it, from a webhook
// event or the API; the same order state always gives the same snapshot.
type Order struct {
	ID                string
	Number            string
	Status            string
	PaymentStatus     string
	FulfillmentStatus string
	Currency          string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Lines             []Line
	// Email of the buyer: customer data, never logged.
	Email string
	// Total is the order total, a decimal string.
	Total string
	// Shipping is where the order ships: customer data, never logged.
	Shipping *Address
}

// Line is a line item.
type Line struct {
	ID, CatalogItemID, VariantID, SKU, Title string
	Quantity                                 int
	// Price per unit, a decimal string.
	Price string
}

// Address is a shipping address with its contact. Customer data.
type Address struct {
	FirstName, LastName, Phone string
	Line1, Line2               string
	City, Subdivision, Postal  string
	Country                    string
}

// orderJSON is the order's wire shape.
type orderJSON struct {
	ID                string     `json:"id"`
	Number            flexString `json:"number"`
	CreatedDate       string     `json:"createdDate"`
	UpdatedDate       string     `json:"updatedDate"`
	Status            string     `json:"status"`
	PaymentStatus     string     `json:"paymentStatus"`
	FulfillmentStatus string     `json:"fulfillmentStatus"`
	Currency          string     `json:"currency"`
	LineItems         []struct {
		ID          string `json:"id"`
		ProductName struct {
			Original string `json:"original"`
		} `json:"productName"`
		CatalogReference struct {
			CatalogItemID string `json:"catalogItemId"`
			Options       struct {
				VariantID string `json:"variantId"`
			} `json:"options"`
		} `json:"catalogReference"`
		Quantity           flexInt `json:"quantity"`
		PhysicalProperties struct {
			SKU string `json:"sku"`
		} `json:"physicalProperties"`
		Price struct {
			Amount flexString `json:"amount"`
		} `json:"price"`
	} `json:"lineItems"`
	BuyerInfo struct {
		Email string `json:"email"`
	} `json:"buyerInfo"`
	PriceSummary struct {
		Total struct {
			Amount flexString `json:"amount"`
		} `json:"total"`
	} `json:"priceSummary"`
	ShippingInfo *struct {
		Logistics struct {
			ShippingDestination *addressJSON `json:"shippingDestination"`
		} `json:"logistics"`
	} `json:"shippingInfo"`
	RecipientInfo *addressJSON `json:"recipientInfo"`
}

type addressJSON struct {
	Address struct {
		Country      string `json:"country"`
		Subdivision  string `json:"subdivision"`
		City         string `json:"city"`
		PostalCode   string `json:"postalCode"`
		AddressLine1 string `json:"addressLine1"`
		AddressLine2 string `json:"addressLine2"`
	} `json:"address"`
	ContactDetails struct {
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Phone     string `json:"phone"`
	} `json:"contactDetails"`
}

func (a *addressJSON) address() *Address {
	if a == nil {
		return nil
	}
	return &Address{
		FirstName: a.ContactDetails.FirstName, LastName: a.ContactDetails.LastName, Phone: a.ContactDetails.Phone,
		Line1: a.Address.AddressLine1, Line2: a.Address.AddressLine2, City: a.Address.City,
		Subdivision: a.Address.Subdivision, Postal: a.Address.PostalCode, Country: a.Address.Country,
	}
}

// ParseOrder reads a Wix order object and checks it (Validate). The
// message of an error names fields, never their values.
func ParseOrder(raw []byte) (Order, error) {
	var j orderJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return Order{}, fmt.Errorf("%w: %s", ErrInvalidOrder, jsonError(err))
	}
	o := Order{
		ID: j.ID, Number: string(j.Number), Status: j.Status, PaymentStatus: j.PaymentStatus,
		FulfillmentStatus: j.FulfillmentStatus, Currency: j.Currency, Email: j.BuyerInfo.Email,
		Total: string(j.PriceSummary.Total.Amount),
	}
	var errs []error
	var err error
	if o.UpdatedAt, err = parseDate(j.UpdatedDate); err != nil {
		errs = append(errs, fmt.Errorf("%w: updatedDate: %w", ErrInvalidOrder, err))
	}
	if j.CreatedDate != "" {
		if o.CreatedAt, err = parseDate(j.CreatedDate); err != nil {
			errs = append(errs, fmt.Errorf("%w: createdDate: %w", ErrInvalidOrder, err))
		}
	}
	for _, l := range j.LineItems {
		o.Lines = append(o.Lines, Line{
			ID: l.ID, CatalogItemID: l.CatalogReference.CatalogItemID, VariantID: l.CatalogReference.Options.VariantID,
			SKU: l.PhysicalProperties.SKU, Title: l.ProductName.Original, Quantity: int(l.Quantity), Price: string(l.Price.Amount),
		})
	}
	if j.ShippingInfo != nil && j.ShippingInfo.Logistics.ShippingDestination != nil {
		o.Shipping = j.ShippingInfo.Logistics.ShippingDestination.address()
	} else {
		o.Shipping = j.RecipientInfo.address()
	}
	if err := errors.Join(errs...); err != nil {
		return Order{}, err
	}
	return o, o.Validate()
}

// jsonError describes a JSON error without quoting the payload.
func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	}
	return "malformed JSON"
}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 date")
	}
	return t.UTC(), nil
}

// Validate checks the fields every order has.
func (o Order) Validate() error {
	var errs []error
	if !isGUID(o.ID) {
		errs = append(errs, fmt.Errorf("%w: id is not a GUID", ErrInvalidOrder))
	}
	if o.UpdatedAt.IsZero() {
		errs = append(errs, fmt.Errorf("%w: no updatedDate", ErrInvalidOrder))
	}
	switch o.Status {
	case StatusInitialized, StatusApproved, StatusCanceled:
	default:
		errs = append(errs, fmt.Errorf("%w: status %q", ErrInvalidOrder, o.Status))
	}
	for i, l := range o.Lines {
		if l.ID == "" || len(l.ID) > 128 {
			errs = append(errs, fmt.Errorf("%w: line %d has no id", ErrInvalidOrder, i))
		}
		if l.Quantity < 0 {
			errs = append(errs, fmt.Errorf("%w: line %d has a negative quantity", ErrInvalidOrder, i))
		}
	}
	return errors.Join(errs...)
}

// isGUID reports whether s looks like a Wix id: hex digits and dashes, the
// characters an order id allows.
func isGUID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') && c != '-' {
			return false
		}
	}
	return true
}

// Captured reports whether the customer's payment is captured: paid, or
// paid and then (partly) refunded.
func Captured(paymentStatus string) bool {
	switch paymentStatus {
	case PaymentPaid, PaymentPartiallyRefunded, PaymentFullyRefunded:
		return true
	}
	return false
}

// StoreOrder is the order as dropsync keeps a store's snapshot.
func (o Order) StoreOrder() (*eventsv1.StoreOrder, error) {
	so := &eventsv1.StoreOrder{
		StoreOrderId:      o.ID,
		PaymentCaptured:   Captured(o.PaymentStatus),
		FinancialStatus:   o.PaymentStatus,
		FulfillmentStatus: o.FulfillmentStatus,
		StoreUpdatedAt:    timestamppb.New(o.UpdatedAt),
	}
	if o.Number != "" {
		so.Name = "#" + o.Number
	}
	if !o.CreatedAt.IsZero() {
		so.StoreCreatedAt = timestamppb.New(o.CreatedAt)
	}
	if o.Total != "" && o.Currency != "" {
		m, err := money.Parse(o.Total, o.Currency)
		if err != nil {
			return nil, fmt.Errorf("order %s total: %w", o.ID, err)
		}
		so.Total = m
	}
	for _, l := range o.Lines {
		item := &eventsv1.StoreLineItem{
			Id: l.ID, ProductId: l.CatalogItemID, VariantId: l.VariantID, Sku: l.SKU, Title: l.Title, Quantity: int32(l.Quantity),
		}
		if l.Price != "" && o.Currency != "" {
			m, err := money.Parse(l.Price, o.Currency)
			if err != nil {
				return nil, fmt.Errorf("order %s line %s price: %w", o.ID, l.ID, err)
			}
			item.UnitPrice = m
		}
		so.LineItems = append(so.LineItems, item)
	}
	if a := o.Shipping; a != nil {
		province := a.Subdivision
		if c, sub, ok := strings.Cut(province, "-"); ok && c == a.Country {
			province = sub // ISO 3166-2 "US-NY" -> "NY"
		}
		so.ShippingAddress = &eventsv1.Address{
			FullName:    strings.TrimSpace(a.FirstName + " " + a.LastName),
			Address1:    a.Line1,
			Address2:    a.Line2,
			City:        a.City,
			Province:    province,
			Zip:         a.Postal,
			CountryCode: a.Country,
			Phone:       a.Phone,
			Email:       o.Email,
		}
	}
	return so, nil
}
