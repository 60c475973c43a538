package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// REST resource shapes, as webhook bodies carry them. Only the fields the
// connector reads are declared; Shopify adds fields over time and unknown
// ones are ignored. Ids are JSON numbers larger than 2^53 in places, so
// they are read as json.Number, never as float64.

type restOrder struct {
	ID                json.Number       `json:"id"`
	Name              string            `json:"name"`
	Email             *string           `json:"email"`
	Currency          string            `json:"currency"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
	CancelledAt       *string           `json:"cancelled_at"`
	CancelReason      *string           `json:"cancel_reason"`
	FinancialStatus   *string           `json:"financial_status"`
	FulfillmentStatus *string           `json:"fulfillment_status"`
	TotalPrice        string            `json:"total_price"`
	CurrentTotalPrice string            `json:"current_total_price"`
	LineItems         []restLine        `json:"line_items"`
	ShippingAddress   *restAddress      `json:"shipping_address"`
	Fulfillments      []restFulfillment `json:"fulfillments"`
	Refunds           []restRefund      `json:"refunds"`
}

type restLine struct {
	ID              json.Number  `json:"id"`
	VariantID       *json.Number `json:"variant_id"`
	ProductID       *json.Number `json:"product_id"`
	SKU             *string      `json:"sku"`
	Title           string       `json:"title"`
	Quantity        int          `json:"quantity"`
	CurrentQuantity *int         `json:"current_quantity"`
	Price           string       `json:"price"`
}

type restAddress struct {
	FirstName   *string `json:"first_name"`
	LastName    *string `json:"last_name"`
	Address1    *string `json:"address1"`
	Address2    *string `json:"address2"`
	City        *string `json:"city"`
	Province    *string `json:"province"`
	Zip         *string `json:"zip"`
	CountryCode *string `json:"country_code"`
	Phone       *string `json:"phone"`
}

type restFulfillment struct {
	ID              json.Number `json:"id"`
	OrderID         json.Number `json:"order_id"`
	Status          string      `json:"status"`
	CreatedAt       string      `json:"created_at"`
	TrackingCompany *string     `json:"tracking_company"`
	TrackingNumber  *string     `json:"tracking_number"`
	TrackingNumbers []string    `json:"tracking_numbers"`
	TrackingURL     *string     `json:"tracking_url"`
	TrackingURLs    []string    `json:"tracking_urls"`
	LineItems       []restLine  `json:"line_items"`
}

type restRefund struct {
	ID              json.Number `json:"id"`
	OrderID         json.Number `json:"order_id"`
	CreatedAt       string      `json:"created_at"`
	RefundLineItems []struct {
		LineItemID json.Number `json:"line_item_id"`
		Quantity   int         `json:"quantity"`
	} `json:"refund_line_items"`
	Transactions []struct {
		Kind     string `json:"kind"`
		Status   string `json:"status"`
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"transactions"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func num(p *json.Number) string {
	if p == nil {
		return ""
	}
	return p.String()
}

// decodeStrict decodes a JSON object, refusing trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return errors.New("decode: trailing data after the JSON object")
	}
	return nil
}

// parseTime reads an ISO-8601 time with an offset, as Shopify writes them.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s is not an ISO-8601 time", ErrInvalidOrder, field)
	}
	return t, nil
}

// ParseOrder reads a REST order (the body of orders/* webhooks).
func ParseOrder(body []byte) (Order, error) {
	var r restOrder
	if err := decodeStrict(body, &r); err != nil {
		return Order{}, err
	}
	return r.order()
}

func (r restOrder) order() (Order, error) {
	o := Order{
		ID: r.ID.String(), Name: r.Name, Email: str(r.Email), Currency: r.Currency,
		CancelReason: str(r.CancelReason), Financial: str(r.FinancialStatus), Fulfillment: str(r.FulfillmentStatus),
		Total: r.CurrentTotalPrice,
	}
	if o.Total == "" {
		o.Total = r.TotalPrice
	}
	var errs []error
	var err error
	if o.CreatedAt, err = parseTime("created_at", r.CreatedAt); err != nil {
		errs = append(errs, err)
	}
	if o.UpdatedAt, err = parseTime("updated_at", r.UpdatedAt); err != nil {
		errs = append(errs, err)
	}
	if o.CancelledAt, err = parseTime("cancelled_at", str(r.CancelledAt)); err != nil {
		errs = append(errs, err)
	}
	for _, l := range r.LineItems {
		o.Lines = append(o.Lines, l.line())
	}
	if a := r.ShippingAddress; a != nil {
		o.Shipping = &Address{
			FirstName: str(a.FirstName), LastName: str(a.LastName), Address1: str(a.Address1), Address2: str(a.Address2),
			City: str(a.City), Province: str(a.Province), Zip: str(a.Zip), CountryCode: str(a.CountryCode), Phone: str(a.Phone),
		}
	}
	for _, f := range r.Fulfillments {
		ff, err := f.fulfillment()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.Fulfillments = append(o.Fulfillments, ff)
	}
	for _, rf := range r.Refunds {
		x, err := rf.refund()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		o.Refunds = append(o.Refunds, x)
	}
	if err := errors.Join(errs...); err != nil {
		return Order{}, err
	}
	return o, o.Validate()
}

func (l restLine) line() Line {
	out := Line{
		ID: l.ID.String(), VariantID: num(l.VariantID), ProductID: num(l.ProductID), SKU: str(l.SKU),
		Title: l.Title, Quantity: l.Quantity, CurrentQuantity: l.Quantity, Price: l.Price,
	}
	if l.CurrentQuantity != nil {
		out.CurrentQuantity = *l.CurrentQuantity
	}
	return out
}

func (f restFulfillment) fulfillment() (Fulfillment, error) {
	if f.ID == "" {
		return Fulfillment{}, fmt.Errorf("%w: fulfillment without id", ErrInvalidOrder)
	}
	created, err := parseTime("fulfillment created_at", f.CreatedAt)
	if err != nil {
		return Fulfillment{}, err
	}
	out := Fulfillment{ID: f.ID.String(), Status: strings.ToLower(f.Status), CreatedAt: created}
	for _, l := range f.LineItems {
		out.Lines = append(out.Lines, LineQty{LineItemID: l.ID.String(), Quantity: l.Quantity})
	}
	numbers := f.TrackingNumbers
	if len(numbers) == 0 && str(f.TrackingNumber) != "" {
		numbers = []string{str(f.TrackingNumber)}
	}
	urls := f.TrackingURLs
	if len(urls) == 0 && str(f.TrackingURL) != "" {
		urls = []string{str(f.TrackingURL)}
	}
	for i, n := range numbers {
		t := Tracking{Company: str(f.TrackingCompany), Number: n}
		if i < len(urls) {
			t.URL = urls[i]
		}
		out.Tracking = append(out.Tracking, t)
	}
	return out, nil
}

func (r restRefund) refund() (Refund, error) {
	if r.ID == "" {
		return Refund{}, fmt.Errorf("%w: refund without id", ErrInvalidOrder)
	}
	created, err := parseTime("refund created_at", r.CreatedAt)
	if err != nil {
		return Refund{}, err
	}
	out := Refund{ID: r.ID.String(), CreatedAt: created}
	for _, l := range r.RefundLineItems {
		if l.Quantity > 0 {
			out.Lines = append(out.Lines, LineQty{LineItemID: l.LineItemID.String(), Quantity: l.Quantity})
		}
	}
	var total int64
	found := false
	for _, t := range r.Transactions {
		if t.Kind != "refund" || (t.Status != "success" && t.Status != "") || t.Amount == "" {
			continue
		}
		if out.Currency == "" {
			out.Currency = t.Currency
		}
		m, err := Money(t.Amount, out.Currency)
		if err != nil {
			return Refund{}, fmt.Errorf("%w: refund %s: %w", ErrInvalidOrder, out.ID, err)
		}
		total += m.GetMinorUnits()
		found = true
	}
	if found {
		out.Amount = formatMinor(total, out.Currency)
	}
	return out, nil
}

// formatMinor writes minor units of currency back as a decimal string.
func formatMinor(m int64, currency string) string {
	exp := 2
	switch {
	case zeroDecimal[currency]:
		exp = 0
	case threeDecimal[currency]:
		exp = 3
	}
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	if exp == 0 {
		return fmt.Sprintf("%s%d", sign, m)
	}
	p := int64(1)
	for range exp {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, m/p, exp, m%p)
}

// ParseFulfillment reads a REST fulfillment (fulfillments/* webhooks) and
// returns it with its order's id.
func ParseFulfillment(body []byte) (orderID string, f Fulfillment, err error) {
	var r restFulfillment
	if err := decodeStrict(body, &r); err != nil {
		return "", Fulfillment{}, err
	}
	if r.OrderID == "" {
		return "", Fulfillment{}, fmt.Errorf("%w: fulfillment without order_id", ErrInvalidOrder)
	}
	f, err = r.fulfillment()
	return r.OrderID.String(), f, err
}

// ParseRefund reads a REST refund (refunds/create) and returns it with its
// order's id.
func ParseRefund(body []byte) (orderID string, r Refund, err error) {
	var x restRefund
	if err := decodeStrict(body, &x); err != nil {
		return "", Refund{}, err
	}
	if x.OrderID == "" {
		return "", Refund{}, fmt.Errorf("%w: refund without order_id", ErrInvalidOrder)
	}
	r, err = x.refund()
	return x.OrderID.String(), r, err
}

// ParseOrderEdit reads the order id of an order_edit (orders/edited).
func ParseOrderEdit(body []byte) (orderID string, err error) {
	var x struct {
		OrderEdit *struct {
			OrderID json.Number `json:"order_id"`
		} `json:"order_edit"`
	}
	if err := decodeStrict(body, &x); err != nil {
		return "", err
	}
	if x.OrderEdit == nil || x.OrderEdit.OrderID == "" {
		return "", fmt.Errorf("%w: order_edit without order_id", ErrInvalidOrder)
	}
	return x.OrderEdit.OrderID.String(), nil
}
