package domain

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/money"
)

// REST resource shapes, as webhook bodies carry them. Only the fields the
// connector reads are declared; Shopify adds fields over time and unknown
// ones are ignored. The field types are tolerant of every shape the API
// versions send (see flex.go): ids as JSON numbers (larger than 2^53 in
// places, so never read as float64), as decimal strings or as
// admin_graphql_api_id global ids; amounts as strings, numbers or *_set
// objects; null for anything.

type restOrder struct {
	ID                flexID                    `json:"id"`
	GraphQLID         flexID                    `json:"admin_graphql_api_id"`
	Name              flexString                `json:"name"`
	Email             flexString                `json:"email"`
	Currency          flexString                `json:"currency"`
	CreatedAt         flexString                `json:"created_at"`
	UpdatedAt         flexString                `json:"updated_at"`
	CancelledAt       flexString                `json:"cancelled_at"`
	CancelReason      flexString                `json:"cancel_reason"`
	FinancialStatus   flexString                `json:"financial_status"`
	FulfillmentStatus flexString                `json:"fulfillment_status"`
	TotalPrice        flexDecimal               `json:"total_price"`
	CurrentTotalPrice flexDecimal               `json:"current_total_price"`
	TotalPriceSet     flexObj[restMoneySet]     `json:"total_price_set"`
	CurrentTotalSet   flexObj[restMoneySet]     `json:"current_total_price_set"`
	LineItems         flexList[restLine]        `json:"line_items"`
	ShippingAddress   flexObj[restAddress]      `json:"shipping_address"`
	Fulfillments      flexList[restFulfillment] `json:"fulfillments"`
	Refunds           flexList[restRefund]      `json:"refunds"`
}

// restMoneySet is a *_set object: the amount in the shop's currency and in
// the customer's.
type restMoneySet struct {
	ShopMoney flexObj[restMoney] `json:"shop_money"`
}

type restMoney struct {
	Amount       flexDecimal `json:"amount"`
	CurrencyCode flexString  `json:"currency_code"`
}

// moneyOf returns the shop money of a *_set object, if any.
func moneyOf(s flexObj[restMoneySet]) (amount, currency string) {
	m := s.get()
	if m == nil || m.ShopMoney.get() == nil {
		return "", ""
	}
	sm := m.ShopMoney.get()
	return string(sm.Amount), string(sm.CurrencyCode)
}

type restLine struct {
	ID              flexID                `json:"id"`
	GraphQLID       flexID                `json:"admin_graphql_api_id"`
	VariantID       flexID                `json:"variant_id"`
	ProductID       flexID                `json:"product_id"`
	SKU             flexString            `json:"sku"`
	Title           flexString            `json:"title"`
	Quantity        flexInt               `json:"quantity"`
	CurrentQuantity *flexInt              `json:"current_quantity"`
	Price           flexDecimal           `json:"price"`
	PriceSet        flexObj[restMoneySet] `json:"price_set"`
}

type restAddress struct {
	FirstName   flexString `json:"first_name"`
	LastName    flexString `json:"last_name"`
	Address1    flexString `json:"address1"`
	Address2    flexString `json:"address2"`
	City        flexString `json:"city"`
	Province    flexString `json:"province"`
	Zip         flexString `json:"zip"`
	CountryCode flexString `json:"country_code"`
	Phone       flexString `json:"phone"`
}

type restFulfillment struct {
	ID              flexID               `json:"id"`
	GraphQLID       flexID               `json:"admin_graphql_api_id"`
	OrderID         flexID               `json:"order_id"`
	Status          flexString           `json:"status"`
	CreatedAt       flexString           `json:"created_at"`
	UpdatedAt       flexString           `json:"updated_at"`
	TrackingCompany flexString           `json:"tracking_company"`
	TrackingNumber  flexString           `json:"tracking_number"`
	TrackingNumbers flexList[flexString] `json:"tracking_numbers"`
	TrackingURL     flexString           `json:"tracking_url"`
	TrackingURLs    flexList[flexString] `json:"tracking_urls"`
	LineItems       flexList[restLine]   `json:"line_items"`
}

type restRefund struct {
	ID              flexID     `json:"id"`
	GraphQLID       flexID     `json:"admin_graphql_api_id"`
	OrderID         flexID     `json:"order_id"`
	CreatedAt       flexString `json:"created_at"`
	RefundLineItems flexList[struct {
		LineItemID flexID  `json:"line_item_id"`
		Quantity   flexInt `json:"quantity"`
		LineItem   flexObj[struct {
			ID flexID `json:"id"`
		}] `json:"line_item"`
	}] `json:"refund_line_items"`
	Transactions flexList[struct {
		Kind     flexString  `json:"kind"`
		Status   flexString  `json:"status"`
		Amount   flexDecimal `json:"amount"`
		Currency flexString  `json:"currency"`
	}] `json:"transactions"`
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
		ID: r.ID.or(r.GraphQLID), Name: string(r.Name), Email: string(r.Email), Currency: string(r.Currency),
		CancelReason: string(r.CancelReason), Financial: strings.ToLower(string(r.FinancialStatus)),
		Fulfillment: strings.ToLower(string(r.FulfillmentStatus)),
	}
	// Money: the plain amount, else the *_set object's shop money (some
	// tools and versions send only those).
	setTotal, setCurrency := moneyOf(r.CurrentTotalSet)
	if a, c := moneyOf(r.TotalPriceSet); setTotal == "" {
		setTotal, setCurrency = a, cmp.Or(setCurrency, c)
	}
	o.Currency = cmp.Or(o.Currency, setCurrency)
	o.Total = cmp.Or(string(r.CurrentTotalPrice), string(r.TotalPrice), setTotal)
	var errs []error
	var err error
	if o.CreatedAt, err = parseTime("created_at", string(r.CreatedAt)); err != nil {
		errs = append(errs, err)
	}
	if o.UpdatedAt, err = parseTime("updated_at", string(r.UpdatedAt)); err != nil {
		errs = append(errs, err)
	}
	if o.CancelledAt, err = parseTime("cancelled_at", string(r.CancelledAt)); err != nil {
		errs = append(errs, err)
	}
	for _, l := range r.LineItems {
		if o.Currency == "" {
			_, o.Currency = moneyOf(l.PriceSet)
		}
		o.Lines = append(o.Lines, l.line())
	}
	if a := r.ShippingAddress.get(); a != nil {
		o.Shipping = &Address{
			FirstName: string(a.FirstName), LastName: string(a.LastName), Address1: string(a.Address1), Address2: string(a.Address2),
			City: string(a.City), Province: string(a.Province), Zip: string(a.Zip), CountryCode: string(a.CountryCode), Phone: string(a.Phone),
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
		return Order{ID: o.ID}, err
	}
	if err := o.Validate(); err != nil {
		return Order{ID: o.ID}, err
	}
	return o, nil
}

func (l restLine) line() Line {
	price, _ := moneyOf(l.PriceSet)
	out := Line{
		ID: l.ID.or(l.GraphQLID), VariantID: string(l.VariantID), ProductID: string(l.ProductID), SKU: string(l.SKU),
		Title: string(l.Title), Quantity: int(l.Quantity), CurrentQuantity: int(l.Quantity), Price: cmp.Or(string(l.Price), price),
	}
	if l.CurrentQuantity != nil {
		out.CurrentQuantity = int(*l.CurrentQuantity)
	}
	return out
}

func (f restFulfillment) fulfillment() (Fulfillment, error) {
	id := f.ID.or(f.GraphQLID)
	if id == "" {
		return Fulfillment{}, fmt.Errorf("%w: fulfillment without id", ErrInvalidOrder)
	}
	created, err := parseTime("fulfillment created_at", string(f.CreatedAt))
	if err != nil {
		return Fulfillment{}, err
	}
	updated, err := parseTime("fulfillment updated_at", string(f.UpdatedAt))
	if err != nil {
		return Fulfillment{}, err
	}
	out := Fulfillment{ID: id, Status: strings.ToLower(string(f.Status)), CreatedAt: created, UpdatedAt: updated}
	for _, l := range f.LineItems {
		if l.Quantity < 0 {
			return Fulfillment{}, fmt.Errorf("%w: fulfillment %s has a quantity that is not a whole number", ErrInvalidOrder, id)
		}
		out.Lines = append(out.Lines, LineQty{LineItemID: l.ID.or(l.GraphQLID), Quantity: int(l.Quantity)})
	}
	var numbers, urls []string
	for _, n := range f.TrackingNumbers {
		if n != "" {
			numbers = append(numbers, string(n))
		}
	}
	if len(numbers) == 0 && f.TrackingNumber != "" {
		numbers = []string{string(f.TrackingNumber)}
	}
	for _, u := range f.TrackingURLs {
		urls = append(urls, string(u))
	}
	if len(urls) == 0 && f.TrackingURL != "" {
		urls = []string{string(f.TrackingURL)}
	}
	for i, n := range numbers {
		t := Tracking{Company: string(f.TrackingCompany), Number: n}
		if i < len(urls) {
			t.URL = urls[i]
		}
		out.Tracking = append(out.Tracking, t)
	}
	return out, nil
}

func (r restRefund) refund() (Refund, error) {
	id := r.ID.or(r.GraphQLID)
	if id == "" {
		return Refund{}, fmt.Errorf("%w: refund without id", ErrInvalidOrder)
	}
	created, err := parseTime("refund created_at", string(r.CreatedAt))
	if err != nil {
		return Refund{}, err
	}
	out := Refund{ID: id, CreatedAt: created}
	for _, l := range r.RefundLineItems {
		lid := string(l.LineItemID)
		if li := l.LineItem.get(); lid == "" && li != nil {
			lid = string(li.ID)
		}
		if l.Quantity > 0 && lid != "" {
			out.Lines = append(out.Lines, LineQty{LineItemID: lid, Quantity: int(l.Quantity)})
		}
	}
	var total int64
	found := false
	for _, t := range r.Transactions {
		kind, status := strings.ToLower(string(t.Kind)), strings.ToLower(string(t.Status))
		if kind != "refund" || (status != "success" && status != "") || t.Amount == "" {
			continue
		}
		if out.Currency == "" {
			out.Currency = string(t.Currency)
		}
		m, err := money.Parse(string(t.Amount), out.Currency)
		if err != nil {
			return Refund{}, fmt.Errorf("%w: refund %s: %w", ErrInvalidOrder, out.ID, err)
		}
		total += m.GetMinorUnits()
		found = true
	}
	if found {
		out.Amount = money.Format(total, out.Currency)
	}
	return out, nil
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
	return string(r.OrderID), f, err
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
	return string(x.OrderID), r, err
}

// ParseOrderEdit reads the order id of an order_edit (orders/edited).
func ParseOrderEdit(body []byte) (orderID string, err error) {
	var x struct {
		OrderEdit flexObj[struct {
			OrderID flexID `json:"order_id"`
		}] `json:"order_edit"`
	}
	if err := decodeStrict(body, &x); err != nil {
		return "", err
	}
	e := x.OrderEdit.get()
	if e == nil || e.OrderID == "" {
		return "", fmt.Errorf("%w: order_edit without order_id", ErrInvalidOrder)
	}
	return string(e.OrderID), nil
}
