package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/money"
)

// Webhook body versions. A WooCommerce store picks, per webhook, the API
// whose resource shape the body has: the WP REST API v3, v2 or v1
// (wc/v3, wc/v2, wc/v1), or the legacy REST API v3 ({"order": {...}}).
//
//	version      dates                                   addresses                  paid
//	wc/v3, v2    *_gmt (UTC) and site-local              billing, shipping          date_paid(_gmt)
//	wc/v1        site-local only (date_created, ...)     billing, shipping          none: the status tells
//	legacy v3    created_at, updated_at, completed_at    billing_address,           payment_details.paid
//	             (UTC with "Z", or site-local)           shipping_address
//
// ParseWebhookOrder reads them all into the one Order the rest of the
// package uses (its *GMT fields in UTC), so the status mapping and the
// event ids do not depend on the version a store picked.

// ErrNoOrderID: a webhook body names no order (no usable id anywhere in
// it): the one thing the connector cannot read back.
var ErrNoOrderID = errors.New("woocommerce webhook names no order id")

// flexInt is an integer sent as a JSON number or as a string ("702"),
// exactly (ids above 2^53 keep every digit); null or "" is unset.
type flexInt struct {
	v   int64
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s, ok, err := scalar(b)
	if err != nil || !ok {
		return err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 7.0 or 7e2: integral floats (only exact below 2^53).
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) >= 1<<53 {
			return fmt.Errorf("%q is not an integer", s)
		}
		n = int64(fl)
	}
	f.v, f.set = n, true
	return nil
}

// flexString is a string also sent as a number (order_number 645) or a
// boolean; null is "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s, _, err := scalar(b)
	*f = flexString(s)
	return err
}

// flexBool is true, "1", "yes" or "true".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s, _, err := scalar(b)
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		*f = true
	default:
		*f = false
	}
	return err
}

// scalar reads a JSON string, number or boolean as text; ok is false for
// null and "". Objects and arrays are errors.
func scalar(b []byte) (s string, ok bool, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return "", false, nil
	case b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		s = strings.TrimSpace(s)
		return s, s != "", nil
	case b[0] == '{' || b[0] == '[':
		return "", false, errors.New("an object or array where a value was expected")
	}
	return string(b), true, nil
}

// wireAddress is an address of any version (billing, billing_address).
type wireAddress struct {
	FirstName flexString `json:"first_name"`
	LastName  flexString `json:"last_name"`
	Company   flexString `json:"company"`
	Address1  flexString `json:"address_1"`
	Address2  flexString `json:"address_2"`
	City      flexString `json:"city"`
	State     flexString `json:"state"`
	Postcode  flexString `json:"postcode"`
	Country   flexString `json:"country"`
	Email     flexString `json:"email"`
	Phone     flexString `json:"phone"`
}

func (a *wireAddress) address() Address {
	if a == nil {
		return Address{}
	}
	return Address{
		FirstName: string(a.FirstName), LastName: string(a.LastName), Company: string(a.Company),
		Address1: string(a.Address1), Address2: string(a.Address2), City: string(a.City), State: string(a.State),
		Postcode: string(a.Postcode), Country: string(a.Country), Email: string(a.Email), Phone: string(a.Phone),
	}
}

// wireOrder is an order body of any version; see the table above.
type wireOrder struct {
	ID          flexInt    `json:"id"`
	Number      flexString `json:"number"`
	OrderNumber flexString `json:"order_number"` // legacy
	Status      flexString `json:"status"`
	Currency    flexString `json:"currency"`
	Total       flexString `json:"total"`

	DateCreatedGMT   flexString `json:"date_created_gmt"`
	DateCreated      flexString `json:"date_created"`
	CreatedAt        flexString `json:"created_at"` // legacy
	DateModifiedGMT  flexString `json:"date_modified_gmt"`
	DateModified     flexString `json:"date_modified"`
	UpdatedAt        flexString `json:"updated_at"` // legacy
	DatePaidGMT      flexString `json:"date_paid_gmt"`
	DatePaid         flexString `json:"date_paid"`
	DateCompletedGMT flexString `json:"date_completed_gmt"`
	DateCompleted    flexString `json:"date_completed"`
	CompletedAt      flexString `json:"completed_at"` // legacy

	Billing         *wireAddress `json:"billing"`
	BillingAddress  *wireAddress `json:"billing_address"` // legacy
	Shipping        *wireAddress `json:"shipping"`
	ShippingAddress *wireAddress `json:"shipping_address"` // legacy
	PaymentDetails  *struct {
		Paid flexBool `json:"paid"`
	} `json:"payment_details"` // legacy

	LineItems []struct {
		ID          flexInt    `json:"id"`
		Name        flexString `json:"name"`
		ProductID   flexInt    `json:"product_id"`
		VariationID flexInt    `json:"variation_id"`
		Quantity    flexInt    `json:"quantity"`
		SKU         flexString `json:"sku"`
		Price       flexString `json:"price"`
	} `json:"line_items"`
	Refunds []struct {
		ID     flexInt    `json:"id"`
		Reason flexString `json:"reason"`
		Total  flexString `json:"total"`
	} `json:"refunds"`
	MetaData []struct {
		ID    flexInt         `json:"id"`
		Key   flexString      `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"meta_data"`
}

// unwrap returns the order object of a body: the body itself, or the
// legacy API's {"order": {...}}.
func unwrap(body []byte) (json.RawMessage, map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidOrder, err)
	}
	if inner, ok := top["order"]; ok {
		if _, hasID := top["id"]; !hasID {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(inner, &fields); err != nil {
				return nil, nil, fmt.Errorf("%w: order: %w", ErrInvalidOrder, err)
			}
			return inner, fields, nil
		}
	}
	return body, top, nil
}

// WebhookOrderID finds the order id of a webhook body of any version
// ({"id": N}, {"id": "N"}, the legacy {"order": {"id": N}}), so that a
// body the connector cannot otherwise read can still be read back
// through the REST API. ErrNoOrderID when it names none.
func WebhookOrderID(body []byte) (int64, error) {
	_, fields, err := unwrap(body)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoOrderID, err)
	}
	var id flexInt
	if raw, ok := fields["id"]; ok {
		if err := json.Unmarshal(raw, &id); err != nil {
			return 0, fmt.Errorf("%w: id: %w", ErrNoOrderID, err)
		}
	}
	if !id.set || id.v <= 0 {
		return 0, ErrNoOrderID
	}
	return id.v, nil
}

// ParseWebhookOrder decodes an order body of any webhook version (see the
// table above) into an Order whose *GMT dates are UTC, and validates it.
// loc is the site's time zone, for dates without an offset that only
// older versions send (the site-local date_created, or legacy dates
// without "Z"); nil is UTC.
func ParseWebhookOrder(body []byte, loc *time.Location) (Order, error) {
	if loc == nil {
		loc = time.UTC
	}
	raw, fields, err := unwrap(body)
	if err != nil {
		return Order{}, err
	}
	var w wireOrder
	if err := json.Unmarshal(raw, &w); err != nil {
		return Order{}, fmt.Errorf("%w: %s", ErrInvalidOrder, shortJSONError(err))
	}
	o := Order{
		ID: w.ID.v, Number: string(w.Number), Status: string(w.Status), Currency: string(w.Currency),
		Total: string(w.Total),
	}
	if o.Number == "" {
		o.Number = string(w.OrderNumber)
	}
	var errs []error
	date := func(name string, gmt flexString, local ...flexString) *string {
		if gmt != "" {
			t, err := parseDate(string(gmt), time.UTC)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidOrder, name, err))
				return nil
			}
			s := t.Format(gmtLayout)
			return &s
		}
		for _, l := range local {
			if l == "" {
				continue
			}
			t, err := parseDate(string(l), loc)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidOrder, name, err))
				return nil
			}
			s := t.Format(gmtLayout)
			return &s
		}
		return nil
	}
	o.DateCreatedGMT = date("date_created", w.DateCreatedGMT, w.DateCreated, w.CreatedAt)
	o.DateModifiedGMT = date("date_modified", w.DateModifiedGMT, w.DateModified, w.UpdatedAt)
	o.DatePaidGMT = date("date_paid", w.DatePaidGMT, w.DatePaid)
	o.DateCompletedGMT = date("date_completed", w.DateCompletedGMT, w.DateCompleted, w.CompletedAt)

	// wc/v1 and the legacy API have no payment date. The legacy API says
	// payment_details.paid; wc/v1 says nothing, and its processing and
	// completed orders are paid (WooCommerce's own meaning of them). The
	// payment date is then the creation date: stable across deliveries,
	// so the StorePaymentCaptured is one event.
	_, hasPaid := fields["date_paid"]
	_, hasPaidGMT := fields["date_paid_gmt"]
	if o.DatePaidGMT == nil && !hasPaid && !hasPaidGMT && o.DateCreatedGMT != nil {
		paid := false
		if w.PaymentDetails != nil {
			paid = bool(w.PaymentDetails.Paid)
		} else {
			paid = o.Status == StatusProcessing || o.Status == StatusCompleted || o.Status == StatusRefunded
		}
		if paid {
			p := *o.DateCreatedGMT
			o.DatePaidGMT = &p
		}
	}

	o.Billing = w.Billing.address()
	if w.Billing == nil {
		o.Billing = w.BillingAddress.address()
	}
	o.Shipping = w.Shipping.address()
	if w.Shipping == nil {
		o.Shipping = w.ShippingAddress.address()
	}
	for _, l := range w.LineItems {
		o.LineItems = append(o.LineItems, LineItem{
			ID: l.ID.v, Name: string(l.Name), ProductID: l.ProductID.v, VariationID: l.VariationID.v,
			Quantity: int(l.Quantity.v), SKU: string(l.SKU), Price: json.Number(l.Price),
		})
		if l.Quantity.v > math.MaxInt32 {
			errs = append(errs, fmt.Errorf("%w: line quantity %d", ErrInvalidOrder, l.Quantity.v))
		}
	}
	for _, r := range w.Refunds {
		o.Refunds = append(o.Refunds, RefundRef{ID: r.ID.v, Reason: string(r.Reason), Total: string(r.Total)})
	}
	for _, m := range w.MetaData {
		o.MetaData = append(o.MetaData, Meta{ID: m.ID.v, Key: string(m.Key), Value: m.Value})
	}
	if err := errors.Join(errs...); err != nil {
		return Order{}, err
	}
	if err := o.Validate(); err != nil {
		return Order{}, err
	}
	if o.Total != "" && o.Currency != "" {
		if _, err := money.ParseRounded(o.Total, o.Currency); err != nil {
			return Order{}, fmt.Errorf("%w: total: %w", ErrInvalidOrder, err)
		}
	}
	for _, l := range o.LineItems {
		if l.Price != "" && o.Currency != "" {
			if _, err := money.ParseRounded(l.Price.String(), o.Currency); err != nil {
				return Order{}, fmt.Errorf("%w: line %d price: %w", ErrInvalidOrder, l.ID, err)
			}
		}
	}
	return o, nil
}

// parseDate reads a WooCommerce date: "2025-03-01T10:00:00" in loc, or
// one with a zone ("...Z", "+01:00"), or the legacy "2025-03-01 10:00:00".
func parseDate(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{gmtLayout, "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date %q", s)
}

// shortJSONError names what failed without quoting the body (customer
// data).
func shortJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: %s where %s was expected", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	// flexInt and friends: the field name is lost; the error is short.
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}
