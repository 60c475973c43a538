package wixsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dateLayout is how Wix writes dates: RFC 3339, UTC, milliseconds.
const dateLayout = "2006-01-02T15:04:05.000Z07:00"

func formatDate(t time.Time) string { return t.UTC().Format(dateLayout) }

// simOrder is one order; guarded by Sim.mu.
type simOrder struct {
	site         *simSite
	o            Order
	created      time.Time
	updated      time.Time
	fulfillments []Fulfillment
}

// snapshot returns the order as the API shows it.
func (o *simOrder) snapshot() Order {
	c := o.o
	c.LineItems = slices.Clone(o.o.LineItems)
	c.CreatedDate, c.UpdatedDate = formatDate(o.created), formatDate(o.updated)
	c.FulfillmentStatus = o.fulfillmentStatus()
	return c
}

func (o *simOrder) withFulfillments() OrderWithFulfillments {
	fs := make([]Fulfillment, len(o.fulfillments))
	for i, f := range o.fulfillments {
		fs[i] = f
		fs[i].LineItems = slices.Clone(f.LineItems)
		if f.TrackingInfo != nil {
			t := *f.TrackingInfo
			fs[i].TrackingInfo = &t
		}
	}
	return OrderWithFulfillments{OrderID: o.o.ID, Fulfillments: fs}
}

// fulfilled is the quantity of a line already in fulfilments.
func (o *simOrder) fulfilled(lineID string) int {
	n := 0
	for _, f := range o.fulfillments {
		for _, l := range f.LineItems {
			if l.ID == lineID {
				n += l.Quantity
			}
		}
	}
	return n
}

func (o *simOrder) line(id string) *LineItem {
	for i := range o.o.LineItems {
		if o.o.LineItems[i].ID == id {
			return &o.o.LineItems[i]
		}
	}
	return nil
}

func (o *simOrder) fulfillmentStatus() string {
	some, all := false, true
	for _, l := range o.o.LineItems {
		n := o.fulfilled(l.ID)
		if n > 0 {
			some = true
		}
		if n < l.Quantity {
			all = false
		}
	}
	switch {
	case some && all:
		return FulfillmentFulfilled
	case some:
		return FulfillmentPartiallyFulfilled
	}
	return FulfillmentNotFulfilled
}

// touch moves updatedDate to now, always forward. s.mu is held.
func (s *Sim) touch(o *simOrder) {
	now := s.cfg.Now()
	if !now.After(o.updated) {
		now = o.updated.Add(time.Millisecond)
	}
	o.updated = now
}

// NewLine is a line of an order a customer places.
type NewLine struct {
	// Name of the product.
	Name string
	// CatalogItemID and VariantID identify the Wix Stores product and
	// variant; SKU is the variant's SKU.
	CatalogItemID, VariantID, SKU string
	Quantity                      int
	// Price per unit, a decimal ("19.90").
	Price string
}

// NewOrder is an order a customer places.
type NewOrder struct {
	Lines []NewLine
	// Email of the buyer.
	Email string
	// Recipient is the shipping destination with its contact.
	Recipient *AddressWithContact
	// Status is APPROVED (default) or INITIALIZED.
	Status string
	// PaymentStatus is PAID (default), NOT_PAID, PENDING, ...
	PaymentStatus string
}

// CreateOrder places an order on a site and sends wix.ecom.v1.order_created,
// then wix.ecom.v1.order_approved when it is approved at once.
func (s *Sim) CreateOrder(siteID string, in NewOrder) (Order, error) {
	if len(in.Lines) == 0 {
		return Order{}, fmt.Errorf("%w: an order needs lines", ErrInvalid)
	}
	if in.Status == "" {
		in.Status = StatusApproved
	}
	if in.PaymentStatus == "" {
		in.PaymentStatus = PaymentPaid
	}
	if in.Status != StatusApproved && in.Status != StatusInitialized {
		return Order{}, fmt.Errorf("%w: status %q", ErrInvalid, in.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	site, ok := s.sites[siteID]
	if !ok {
		return Order{}, fmt.Errorf("%w %q", ErrUnknownSite, siteID)
	}
	s.next++
	now := s.cfg.Now()
	o := &simOrder{site: site, created: now, updated: now}
	o.o = Order{
		ID:            s.uuid(),
		Number:        strconv.Itoa(s.next),
		Status:        in.Status,
		PaymentStatus: in.PaymentStatus,
		Currency:      site.cfg.Currency,
		BuyerInfo:     BuyerInfo{ContactID: s.uuid(), Email: in.Email},
		RecipientInfo: in.Recipient,
	}
	if in.Recipient != nil {
		dest := *in.Recipient
		o.o.ShippingInfo = &ShippingInfo{Title: "Standard Shipping", Logistics: Logistics{ShippingDestination: &dest}}
	}
	var total int64
	for i, l := range in.Lines {
		if l.Quantity <= 0 {
			return Order{}, fmt.Errorf("%w: line %d quantity %d", ErrInvalid, i, l.Quantity)
		}
		cents, err := parseCents(l.Price)
		if err != nil {
			return Order{}, fmt.Errorf("%w: line %d: %w", ErrInvalid, i, err)
		}
		total += cents * int64(l.Quantity)
		o.o.LineItems = append(o.o.LineItems, LineItem{
			ID:                 fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1),
			ProductName:        ProductName{Original: l.Name},
			CatalogReference:   CatalogReference{CatalogItemID: l.CatalogItemID, AppID: "215238eb-22a5-4c36-9e7b-e7c08025e04e", Options: CatalogOptions{VariantID: l.VariantID}},
			Quantity:           l.Quantity,
			PhysicalProperties: PhysicalProperties{SKU: l.SKU, Shippable: true},
			Price:              Price{Amount: l.Price},
		})
	}
	amount := fmt.Sprintf("%d.%02d", total/100, total%100)
	o.o.PriceSummary = PriceSummary{Subtotal: Price{Amount: amount}, Total: Price{Amount: amount}}
	s.orders[o.o.ID] = o
	site.orders = append(site.orders, o)
	snap := o.snapshot()
	s.emit(o, "order", "created", map[string]any{"createdEvent": map[string]any{"entity": snap}})
	if o.o.Status == StatusApproved {
		s.emit(o, "order", "approved", map[string]any{"actionEvent": map[string]any{"body": map[string]any{"order": snap}}})
	}
	return snap, nil
}

func (s *Sim) order(id string) (*simOrder, error) {
	o, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownOrder, id)
	}
	return o, nil
}

// Approve approves an INITIALIZED order: wix.ecom.v1.order_approved, then
// order_updated.
func (s *Sim) Approve(orderID string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(orderID)
	if err != nil {
		return Order{}, err
	}
	if o.o.Status != StatusInitialized {
		return Order{}, fmt.Errorf("%w: order is %s", ErrInvalid, o.o.Status)
	}
	o.o.Status = StatusApproved
	s.touch(o)
	snap := o.snapshot()
	s.emit(o, "order", "approved", map[string]any{"actionEvent": map[string]any{"body": map[string]any{"order": snap}}})
	s.emitUpdated(o)
	return snap, nil
}

// SetPaymentStatus changes an order's payment status (the customer paid,
// the merchant refunded): wix.ecom.v1.order_payment_status_updated, then
// order_updated.
func (s *Sim) SetPaymentStatus(orderID, status string) (Order, error) {
	switch status {
	case PaymentNotPaid, PaymentPending, PaymentPaid, PaymentPartiallyPaid, PaymentPartiallyRefunded, PaymentFullyRefunded:
	default:
		return Order{}, fmt.Errorf("%w: payment status %q", ErrInvalid, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(orderID)
	if err != nil {
		return Order{}, err
	}
	prev := o.o.PaymentStatus
	o.o.PaymentStatus = status
	s.touch(o)
	snap := o.snapshot()
	s.emit(o, "order", "payment_status_updated", map[string]any{"actionEvent": map[string]any{"body": map[string]any{"order": snap, "previousPaymentStatus": prev}}})
	s.emitUpdated(o)
	return snap, nil
}

// Cancel cancels an order that is not fulfilled: wix.ecom.v1.order_canceled,
// then order_updated.
func (s *Sim) Cancel(orderID string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(orderID)
	if err != nil {
		return Order{}, err
	}
	if o.o.Status == StatusCanceled || o.fulfillmentStatus() == FulfillmentFulfilled {
		return Order{}, fmt.Errorf("%w: order is %s, %s", ErrInvalid, o.o.Status, o.fulfillmentStatus())
	}
	o.o.Status = StatusCanceled
	s.touch(o)
	snap := o.snapshot()
	s.emit(o, "order", "canceled", map[string]any{"actionEvent": map[string]any{"body": map[string]any{"order": snap}}})
	s.emitUpdated(o)
	return snap, nil
}

// EditRecipient changes where an order ships (the merchant edits it in the
// dashboard): wix.ecom.v1.order_updated.
func (s *Sim) EditRecipient(orderID string, to AddressWithContact) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(orderID)
	if err != nil {
		return Order{}, err
	}
	o.o.RecipientInfo = &to
	dest := to
	o.o.ShippingInfo = &ShippingInfo{Title: "Standard Shipping", Logistics: Logistics{ShippingDestination: &dest}}
	s.touch(o)
	s.emitUpdated(o)
	return o.snapshot(), nil
}

// Order returns an order as the API shows it.
func (s *Sim) Order(id string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(id)
	if err != nil {
		return Order{}, err
	}
	return o.snapshot(), nil
}

// Fulfillments returns an order's fulfilments.
func (s *Sim) Fulfillments(orderID string) ([]Fulfillment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(orderID)
	if err != nil {
		return nil, err
	}
	return o.withFulfillments().Fulfillments, nil
}

func (s *Sim) emitUpdated(o *simOrder) {
	s.emit(o, "order", "updated", map[string]any{"updatedEvent": map[string]any{"currentEntity": o.snapshot()}})
}

// getOrder serves GET /orders/{id}.
func (s *Sim) getOrder(site *simSite, r *http.Request, _ []byte) reply {
	o, found := s.orders[r.PathValue("id")]
	if !found || o.site != site {
		return fail(http.StatusNotFound, CodeOrderNotFound, "order not found")
	}
	return ok(map[string]any{"order": o.snapshot()})
}

// searchRequest is Search Orders' body.
type searchRequest struct {
	Search struct {
		Filter       json.RawMessage `json:"filter,omitempty"`
		Sort         []sortSpec      `json:"sort,omitempty"`
		CursorPaging *struct {
			Limit  *int   `json:"limit,omitempty"`
			Cursor string `json:"cursor,omitempty"`
		} `json:"cursorPaging,omitempty"`
	} `json:"search"`
}

type sortSpec struct {
	FieldName string `json:"fieldName"`
	Order     string `json:"order,omitempty"`
}

// cursorState is what a cursor carries: the query and where the last page
// ended.
type cursorState struct {
	Filter json.RawMessage `json:"f,omitempty"`
	Sort   []sortSpec      `json:"s"`
	Value  string          `json:"v"`
	ID     string          `json:"i"`
}

// searchOrders serves POST /orders/search: cursor paging (limit 1..100,
// default 100), a filter in Wix's query language over id, status,
// paymentStatus, fulfillmentStatus, number, createdDate and updatedDate
// ($eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $and), sort by createdDate,
// updatedDate or number (default createdDate DESC). Orders with status
// INITIALIZED are never returned.
func (s *Sim) searchOrders(site *simSite, _ *http.Request, body []byte) reply {
	var req searchRequest
	if err := decodeStrict(body, &req); err != nil {
		return invalid("search", "malformed: "+err.Error())
	}
	limit := 100
	var st cursorState
	if p := req.Search.CursorPaging; p != nil {
		if p.Limit != nil {
			if *p.Limit < 1 || *p.Limit > 100 {
				return invalid("search.cursorPaging.limit", "must be between 1 and 100")
			}
			limit = *p.Limit
		}
		if p.Cursor != "" {
			raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
			if err != nil || json.Unmarshal(raw, &st) != nil {
				return invalid("search.cursorPaging.cursor", "invalid cursor")
			}
		}
	}
	if st.Sort == nil {
		st.Filter = req.Search.Filter
		st.Sort = req.Search.Sort
		if len(st.Sort) == 0 {
			st.Sort = []sortSpec{{FieldName: "createdDate", Order: "DESC"}}
		}
		if len(st.Sort) > 1 {
			return invalid("search.sort", "one sort field is supported")
		}
		switch st.Sort[0].FieldName {
		case "createdDate", "updatedDate", "number":
		default:
			return invalid("search.sort.fieldName", "sort by createdDate, updatedDate or number")
		}
		switch st.Sort[0].Order {
		case "":
			st.Sort[0].Order = "ASC"
		case "ASC", "DESC":
		default:
			return invalid("search.sort.order", "ASC or DESC")
		}
	}
	var filter map[string]json.RawMessage
	if len(st.Filter) > 0 && string(st.Filter) != "null" {
		if err := json.Unmarshal(st.Filter, &filter); err != nil {
			return invalid("search.filter", "must be an object")
		}
	}
	var matched []*simOrder
	for _, o := range site.orders {
		if o.o.Status == StatusInitialized {
			continue
		}
		m, err := matches(o.snapshot(), filter)
		if err != nil {
			return invalid("search.filter", err.Error())
		}
		if m {
			matched = append(matched, o)
		}
	}
	field, desc := st.Sort[0].FieldName, st.Sort[0].Order == "DESC"
	key := func(o *simOrder) string {
		switch field {
		case "updatedDate":
			return formatDate(o.updated)
		case "number":
			return fmt.Sprintf("%012s", o.o.Number)
		}
		return formatDate(o.created)
	}
	less := func(a, b *simOrder) int {
		c := strings.Compare(key(a), key(b))
		if c == 0 {
			c = strings.Compare(a.o.ID, b.o.ID)
		}
		if desc {
			c = -c
		}
		return c
	}
	slices.SortFunc(matched, less)
	start := 0
	if st.ID != "" {
		for start < len(matched) {
			c := strings.Compare(key(matched[start]), st.Value)
			if c == 0 {
				c = strings.Compare(matched[start].o.ID, st.ID)
			}
			if desc {
				c = -c
			}
			if c > 0 {
				break
			}
			start++
		}
	}
	page := matched[start:min(start+limit, len(matched))]
	orders := make([]Order, len(page))
	for i, o := range page {
		orders[i] = o.snapshot()
	}
	meta := map[string]any{"count": len(orders), "hasNext": start+limit < len(matched), "cursors": map[string]any{}}
	if start+limit < len(matched) {
		last := page[len(page)-1]
		next := cursorState{Filter: st.Filter, Sort: st.Sort, Value: key(last), ID: last.o.ID}
		b, _ := json.Marshal(next)
		meta["cursors"] = map[string]any{"next": base64.RawURLEncoding.EncodeToString(b)}
	}
	return ok(map[string]any{"orders": orders, "metadata": meta})
}

// matches evaluates a Wix query language filter against an order.
func matches(o Order, filter map[string]json.RawMessage) (bool, error) {
	for field, cond := range filter {
		if field == "$and" {
			var subs []map[string]json.RawMessage
			if err := json.Unmarshal(cond, &subs); err != nil {
				return false, fmt.Errorf("$and takes a list of filters")
			}
			for _, sub := range subs {
				m, err := matches(o, sub)
				if err != nil || !m {
					return m, err
				}
			}
			continue
		}
		var value string
		date := false
		switch field {
		case "id":
			value = o.ID
		case "status":
			value = o.Status
		case "paymentStatus":
			value = o.PaymentStatus
		case "fulfillmentStatus":
			value = o.FulfillmentStatus
		case "number":
			value = o.Number
		case "createdDate":
			value, date = o.CreatedDate, true
		case "updatedDate":
			value, date = o.UpdatedDate, true
		default:
			return false, fmt.Errorf("field %q cannot be filtered", field)
		}
		m, err := condition(value, date, cond)
		if err != nil {
			return false, fmt.Errorf("%s: %w", field, err)
		}
		if !m {
			return false, nil
		}
	}
	return true, nil
}

// condition evaluates one field's condition: a bare value (equality) or an
// object of operators.
func condition(value string, date bool, cond json.RawMessage) (bool, error) {
	var ops map[string]json.RawMessage
	if json.Unmarshal(cond, &ops) != nil || len(ops) == 0 {
		ops = map[string]json.RawMessage{"$eq": cond}
	}
	cmp := func(raw json.RawMessage) (int, error) {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			var d struct {
				Date string `json:"$date"`
			}
			if err2 := json.Unmarshal(raw, &d); err2 != nil || d.Date == "" {
				return 0, fmt.Errorf("value %s is not a string", raw)
			}
			v = d.Date
		}
		if !date {
			return strings.Compare(value, v), nil
		}
		a, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return 0, err
		}
		b, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 date", v)
		}
		return a.Compare(b), nil
	}
	for op, raw := range ops {
		switch op {
		case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte":
			c, err := cmp(raw)
			if err != nil {
				return false, err
			}
			var m bool
			switch op {
			case "$eq":
				m = c == 0
			case "$ne":
				m = c != 0
			case "$gt":
				m = c > 0
			case "$gte":
				m = c >= 0
			case "$lt":
				m = c < 0
			case "$lte":
				m = c <= 0
			}
			if !m {
				return false, nil
			}
		case "$in", "$nin":
			var list []json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				return false, fmt.Errorf("%s takes a list", op)
			}
			found := false
			for _, x := range list {
				c, err := cmp(x)
				if err != nil {
					return false, err
				}
				if c == 0 {
					found = true
				}
			}
			if found != (op == "$in") {
				return false, nil
			}
		default:
			return false, fmt.Errorf("operator %q is not supported", op)
		}
	}
	return true, nil
}

// parseCents parses a decimal amount with at most two decimals.
func parseCents(amount string) (int64, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(amount), ".")
	if whole == "" || len(frac) > 2 || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("price %q is not a decimal", amount)
	}
	frac += strings.Repeat("0", 2-len(frac))
	return strconv.ParseInt(whole+frac, 10, 64)
}
