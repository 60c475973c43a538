package shopifysim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Address is a shipping address, in Shopify's fields.
type Address struct {
	FirstName, LastName  string
	Address1, Address2   string
	City                 string
	Province             string
	ProvinceCode         string
	Zip                  string
	Country, CountryCode string
	Phone                string
}

// NewLine is a line of an order to create.
type NewLine struct {
	Title string
	SKU   string
	// Quantity ordered; at least 1.
	Quantity int
	// Price per unit as a decimal string, e.g. "19.90".
	Price string
	// VariantID and ProductID; 0 assigns fresh ids.
	VariantID, ProductID int64
}

// NewOrder describes an order a customer places.
type NewOrder struct {
	Email    string
	Shipping Address
	Lines    []NewLine
	// Paid captures the payment at once (financial_status "paid"),
	// otherwise the order is "pending".
	Paid bool
	Note string
}

// Tracking is one tracking number with its carrier.
type Tracking struct {
	Company string
	Number  string
	URL     string
}

// LineItem is a line of an order as the shop holds it.
type LineItem struct {
	ID, VariantID, ProductID int64
	SKU, Title               string
	Price                    string
	// Quantity ordered, CurrentQuantity after edits and refunds, Fulfilled
	// so far.
	Quantity, CurrentQuantity, Fulfilled int
}

// Fulfillment is a fulfilment of an order.
type Fulfillment struct {
	ID, OrderID int64
	Name        string
	// Status is "success" or "cancelled".
	Status string
	// Lines maps line item ids to fulfilled quantities.
	Lines    map[int64]int
	Tracking []Tracking
	// NotifyCustomer tells whether the shipping confirmation was sent.
	NotifyCustomer bool
	// ByApp is true for fulfilments created through the API, false for the
	// merchant's own.
	ByApp     bool
	CreatedAt time.Time
	// ReceivedAt is when the simulator created it, at full precision
	// (CreatedAt has Shopify's whole seconds), for latency measurements.
	ReceivedAt time.Time
}

// Order is an order as the shop holds it.
type Order struct {
	ID          int64
	Name        string
	Financial   string
	Fulfillment string
	Cancelled   bool
	CancelledAt time.Time
	UpdatedAt   time.Time
	Lines       []LineItem
	// Fulfillments in creation order.
	Fulfillments []Fulfillment
}

type simOrder struct {
	shop         *simShop
	id           int64
	number       int
	email, note  string
	currency     string
	createdAt    time.Time
	updatedAt    time.Time
	cancelledAt  time.Time
	cancelReason string
	closedAt     time.Time
	financial    string
	shipping     Address
	lines        []*simLine
	fos          []*simFO
	fulfillments []*simFulfillment
	refunds      []*simRefund
}

type simLine struct {
	id, variantID, productID int64
	sku, title               string
	price                    string
	quantity                 int
	removed                  int // edited out or refunded
	fulfilled                int
}

func (l *simLine) current() int     { return l.quantity - l.removed }
func (l *simLine) fulfillable() int { return max(l.current()-l.fulfilled, 0) }

type simFO struct {
	id        int64
	order     *simOrder
	status    string // OPEN, IN_PROGRESS, CLOSED, CANCELLED, ...
	lines     []*simFOLine
	createdAt time.Time
	updatedAt time.Time
}

type simFOLine struct {
	id        int64
	line      *simLine
	total     int
	remaining int
}

type simFulfillment struct {
	id        int64
	order     *simOrder
	name      string
	status    string // success, cancelled
	createdAt time.Time
	updatedAt time.Time
	received  time.Time // full precision, for measurements
	tracking  []Tracking
	lines     []fulfilledLine
	notify    bool
	byApp     bool
}

type fulfilledLine struct {
	id   int64
	line *simLine
	qty  int
}

type simRefund struct {
	id        int64
	order     *simOrder
	createdAt time.Time
	note      string
	lines     []refundedLine
	amount    int64 // minor units
}

type refundedLine struct {
	id   int64
	line *simLine
	qty  int
}

func (o *simOrder) name() string { return "#" + strconv.Itoa(o.number) }

func (o *simOrder) cancelled() bool { return !o.cancelledAt.IsZero() }

// fulfillmentStatus is the REST word: "" (null), "partial" or "fulfilled".
func (o *simOrder) fulfillmentStatus() string {
	any, all := false, true
	for _, l := range o.lines {
		if l.fulfilled > 0 {
			any = true
		}
		if l.fulfillable() > 0 {
			all = false
		}
	}
	switch {
	case any && all:
		return "fulfilled"
	case any:
		return "partial"
	}
	return ""
}

// total is the order total in minor units.
func (o *simOrder) total() int64 {
	var t int64
	for _, l := range o.lines {
		t += minor(l.price) * int64(l.current())
	}
	return t
}

// touch moves updated_at forward: to now, or one second past the previous
// value, so that every change has a distinct second-resolution time.
func (o *simOrder) touch(now time.Time) {
	now = now.Truncate(time.Second)
	if !now.After(o.updatedAt) {
		now = o.updatedAt.Add(time.Second)
	}
	o.updatedAt = now
}

// refreshFOs recomputes the fulfillment orders' statuses.
func (o *simOrder) refreshFOs(now time.Time) {
	for _, fo := range o.fos {
		if fo.status == "CANCELLED" || fo.status == "CLOSED" {
			continue
		}
		remaining, done := 0, false
		for _, l := range fo.lines {
			remaining += l.remaining
			if l.remaining < l.total {
				done = true
			}
		}
		old := fo.status
		switch {
		case remaining == 0:
			fo.status = "CLOSED"
		case done:
			fo.status = "IN_PROGRESS"
		default:
			fo.status = "OPEN"
		}
		if fo.status != old {
			fo.updatedAt = now
		}
	}
}

// minor parses a decimal price into minor units (two decimals).
func minor(price string) int64 {
	whole, frac, _ := strings.Cut(price, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "00")[:2]
	f, _ := strconv.ParseInt(frac, 10, 64)
	if strings.HasPrefix(whole, "-") {
		return w*100 - f
	}
	return w*100 + f
}

// decimal formats minor units as "12.30".
func decimal(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}

func (s *Sim) order(domain string, id int64) (*simShop, *simOrder, error) {
	sh, err := s.shop(domain)
	if err != nil {
		return nil, nil, err
	}
	o, ok := sh.orders[id]
	if !ok {
		return nil, nil, fmt.Errorf("%w %d in %s", ErrUnknownOrder, id, domain)
	}
	return sh, o, nil
}

// CreateOrder places an order as a customer would; the shop sends
// orders/create, and orders/paid when it is paid at once.
func (s *Sim) CreateOrder(domain string, n NewOrder) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.shop(domain)
	if err != nil {
		return Order{}, err
	}
	if len(n.Lines) == 0 {
		return Order{}, fmt.Errorf("%w: an order needs line items", ErrInvalid)
	}
	now := s.cfg.Now().Truncate(time.Second)
	sh.number++
	o := &simOrder{
		shop: sh, id: s.newID(), number: sh.number, email: n.Email, note: n.Note,
		currency: sh.cfg.Currency, createdAt: now, updatedAt: now,
		financial: "pending", shipping: n.Shipping,
	}
	if n.Paid {
		o.financial = "paid"
	}
	for _, nl := range n.Lines {
		if nl.Quantity < 1 {
			return Order{}, fmt.Errorf("%w: quantity %d", ErrInvalid, nl.Quantity)
		}
		l := &simLine{id: s.newID(), variantID: nl.VariantID, productID: nl.ProductID, sku: nl.SKU, title: nl.Title, price: nl.Price, quantity: nl.Quantity}
		if l.variantID == 0 {
			l.variantID = s.newID()
		}
		if l.productID == 0 {
			l.productID = s.newID()
		}
		if l.price == "" {
			l.price = "0.00"
		}
		o.lines = append(o.lines, l)
	}
	fo := &simFO{id: s.newID(), order: o, status: "OPEN", createdAt: now, updatedAt: now}
	for _, l := range o.lines {
		fo.lines = append(fo.lines, &simFOLine{id: s.newID(), line: l, total: l.quantity, remaining: l.quantity})
	}
	o.fos = []*simFO{fo}
	sh.orders[o.id] = o
	sh.list = append(sh.list, o)
	s.orderHook(o, "orders/create")
	if n.Paid {
		s.orderHook(o, "orders/paid")
	}
	return o.view(), nil
}

// MarkPaid captures the customer's payment: orders/paid and orders/updated.
func (s *Sim) MarkPaid(domain string, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return err
	}
	if o.financial != "pending" && o.financial != "authorized" && o.financial != "partially_paid" {
		return fmt.Errorf("%w: order %d is %s", ErrInvalid, id, o.financial)
	}
	o.financial = "paid"
	o.touch(s.cfg.Now())
	s.orderHook(o, "orders/paid")
	s.orderHook(o, "orders/updated")
	return nil
}

// EditQuantity sets a line's quantity, as an order edit: orders/edited and
// orders/updated. The quantity cannot go below what is fulfilled.
func (s *Sim) EditQuantity(domain string, id, lineItemID int64, quantity int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return err
	}
	if o.cancelled() {
		return fmt.Errorf("%w: order %d is cancelled", ErrInvalid, id)
	}
	l := o.line(lineItemID)
	if l == nil {
		return fmt.Errorf("%w: no line item %d", ErrInvalid, lineItemID)
	}
	if quantity < l.fulfilled || quantity < 0 {
		return fmt.Errorf("%w: quantity %d below fulfilled %d", ErrInvalid, quantity, l.fulfilled)
	}
	delta := quantity - l.current()
	if delta == 0 {
		return nil
	}
	if delta < 0 {
		l.removed -= delta
	} else {
		l.quantity += delta
	}
	for _, fo := range o.fos {
		for _, fl := range fo.lines {
			if fl.line == l && fo.status != "CLOSED" && fo.status != "CANCELLED" {
				fl.total += delta
				fl.remaining = max(fl.remaining+delta, 0)
			}
		}
	}
	now := s.cfg.Now()
	o.touch(now)
	o.refreshFOs(now)
	edit := map[string]any{"line_item_id": l.id, "delta": delta}
	s.enqueue(o, "orders/edited", s.orderEditBody(o, []map[string]any{edit}))
	s.orderHook(o, "orders/updated")
	return nil
}

// Cancel cancels an order, as the merchant would: orders/cancelled and
// orders/updated. A fulfilled or partly fulfilled order cannot be
// cancelled (Shopify refuses it too). reason is customer, fraud, inventory,
// declined, staff or other.
func (s *Sim) Cancel(domain string, id int64, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return err
	}
	if o.cancelled() {
		return fmt.Errorf("%w: order %d is already cancelled", ErrInvalid, id)
	}
	if o.fulfillmentStatus() != "" {
		return fmt.Errorf("%w: order %d is fulfilled or partly fulfilled", ErrInvalid, id)
	}
	switch reason {
	case "customer", "fraud", "inventory", "declined", "staff", "other":
	default:
		return fmt.Errorf("%w: cancel reason %q", ErrInvalid, reason)
	}
	now := s.cfg.Now()
	o.touch(now)
	o.cancelledAt, o.cancelReason, o.closedAt = o.updatedAt, reason, o.updatedAt
	for _, fo := range o.fos {
		if fo.status != "CLOSED" {
			fo.status, fo.updatedAt = "CLOSED", now
			for _, fl := range fo.lines {
				fl.remaining = 0
			}
		}
	}
	switch o.financial {
	case "paid":
		o.financial = "refunded"
	case "pending", "authorized":
		o.financial = "voided"
	}
	s.orderHook(o, "orders/cancelled")
	s.orderHook(o, "orders/updated")
	return nil
}

// Refund refunds quantities of line items (restocking them: they leave the
// fulfillment orders): refunds/create and orders/updated.
func (s *Sim) Refund(domain string, id int64, lines map[int64]int) (refundID int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return 0, err
	}
	now := s.cfg.Now()
	r := &simRefund{id: s.newID(), order: o, createdAt: now.Truncate(time.Second)}
	for _, lid := range sortedKeys(lines) {
		q := lines[lid]
		l := o.line(lid)
		if l == nil {
			return 0, fmt.Errorf("%w: no line item %d", ErrInvalid, lid)
		}
		if q < 1 || q > l.current() {
			return 0, fmt.Errorf("%w: refund %d of line %d holding %d", ErrInvalid, q, lid, l.current())
		}
		r.lines = append(r.lines, refundedLine{id: s.newID(), line: l, qty: q})
	}
	for _, rl := range r.lines {
		l := rl.line
		unfulfilled := min(rl.qty, l.fulfillable())
		l.removed += rl.qty
		if l.fulfilled > l.current() {
			l.fulfilled = l.current()
		}
		for _, fo := range o.fos {
			for _, fl := range fo.lines {
				if fl.line == l && unfulfilled > 0 {
					take := min(unfulfilled, fl.remaining)
					fl.remaining -= take
					fl.total -= take
					unfulfilled -= take
				}
			}
		}
		r.amount += minor(l.price) * int64(rl.qty)
	}
	o.refunds = append(o.refunds, r)
	if o.total() == 0 {
		o.financial = "refunded"
	} else {
		o.financial = "partially_refunded"
	}
	o.touch(now)
	o.refreshFOs(now)
	s.enqueue(o, "refunds/create", s.refundBody(r))
	s.orderHook(o, "orders/updated")
	return r.id, nil
}

// FulfillByMerchant fulfils line items from the shop admin, as the merchant
// (or another app) would: fulfillments/create, orders/fulfilled or
// orders/partially_fulfilled, orders/updated. Empty lines fulfil every
// remaining item.
func (s *Sim) FulfillByMerchant(domain string, id int64, lines map[int64]int, tracking []Tracking, notify bool) (Fulfillment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return Fulfillment{}, err
	}
	if o.cancelled() {
		return Fulfillment{}, fmt.Errorf("%w: order %d is cancelled", ErrInvalid, id)
	}
	var req []foRequest
	for _, fo := range o.fos {
		if fo.status == "CLOSED" || fo.status == "CANCELLED" {
			continue
		}
		for _, fl := range fo.lines {
			q := fl.remaining
			if len(lines) > 0 {
				q = min(lines[fl.line.id], fl.remaining)
			}
			if q > 0 {
				req = append(req, foRequest{fo: fo, line: fl, qty: q})
			}
		}
	}
	if len(req) == 0 {
		return Fulfillment{}, fmt.Errorf("%w: nothing left to fulfil on order %d", ErrInvalid, id)
	}
	f := s.fulfil(o, req, tracking, notify, false)
	return f.view(), nil
}

// CancelFulfillment cancels a fulfilment from the shop admin, as the
// merchant would: its status becomes "cancelled", what it fulfilled is
// open again on the order and its fulfillment orders (a closed one
// reopens), and the shop sends fulfillments/update and orders/updated.
// Only a fulfilment that stands (success) can be cancelled.
func (s *Sim) CancelFulfillment(domain string, orderID, fulfillmentID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, orderID)
	if err != nil {
		return err
	}
	var f *simFulfillment
	for _, x := range o.fulfillments {
		if x.id == fulfillmentID {
			f = x
		}
	}
	if f == nil {
		return fmt.Errorf("%w: order %d has no fulfillment %d", ErrInvalid, orderID, fulfillmentID)
	}
	if f.status != "success" {
		return fmt.Errorf("%w: fulfillment %d is %s", ErrInvalid, fulfillmentID, f.status)
	}
	now := s.cfg.Now()
	o.touch(now)
	f.status, f.updatedAt = "cancelled", o.updatedAt
	for _, fl := range f.lines {
		fl.line.fulfilled -= fl.qty
		left := fl.qty
		for _, fo := range o.fos {
			if fo.status == "CANCELLED" {
				continue
			}
			for _, l := range fo.lines {
				if l.line != fl.line || left == 0 {
					continue
				}
				back := min(left, l.total-l.remaining)
				if back > 0 {
					l.remaining += back
					left -= back
					if fo.status == "CLOSED" {
						fo.status, fo.updatedAt = "IN_PROGRESS", now
					}
				}
			}
		}
	}
	o.refreshFOs(now)
	s.enqueue(o, "fulfillments/update", s.fulfillmentBody(f))
	s.orderHook(o, "orders/updated")
	return nil
}

// UpdateTrackingByMerchant changes a fulfilment's tracking from the shop
// admin, as the merchant would: the shop sends fulfillments/update.
func (s *Sim) UpdateTrackingByMerchant(domain string, orderID, fulfillmentID int64, tracking []Tracking) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, orderID)
	if err != nil {
		return err
	}
	for _, f := range o.fulfillments {
		if f.id != fulfillmentID {
			continue
		}
		if f.status != "success" {
			return fmt.Errorf("%w: fulfillment %d is %s", ErrInvalid, fulfillmentID, f.status)
		}
		f.tracking = append([]Tracking(nil), tracking...)
		f.updatedAt = s.cfg.Now().Truncate(time.Second)
		if !f.updatedAt.After(f.createdAt) {
			f.updatedAt = f.createdAt.Add(time.Second)
		}
		s.enqueue(o, "fulfillments/update", s.fulfillmentBody(f))
		return nil
	}
	return fmt.Errorf("%w: order %d has no fulfillment %d", ErrInvalid, orderID, fulfillmentID)
}

type foRequest struct {
	fo   *simFO
	line *simFOLine
	qty  int
}

// fulfil creates a fulfilment of checked requests; s.mu is held.
func (s *Sim) fulfil(o *simOrder, req []foRequest, tracking []Tracking, notify, byApp bool) *simFulfillment {
	now := s.cfg.Now()
	o.touch(now)
	f := &simFulfillment{
		id: s.newID(), order: o, name: fmt.Sprintf("%s.%d", o.name(), len(o.fulfillments)+1),
		status: "success", createdAt: o.updatedAt, updatedAt: o.updatedAt, received: now,
		tracking: tracking, notify: notify, byApp: byApp,
	}
	for _, r := range req {
		r.line.remaining -= r.qty
		r.line.line.fulfilled += r.qty
		merged := false
		for i := range f.lines {
			if f.lines[i].line == r.line.line {
				f.lines[i].qty += r.qty
				merged = true
			}
		}
		if !merged {
			f.lines = append(f.lines, fulfilledLine{id: s.newID(), line: r.line.line, qty: r.qty})
		}
	}
	o.fulfillments = append(o.fulfillments, f)
	o.refreshFOs(now)
	if notify {
		s.notes.Append(Notification{Shop: o.shop.cfg.Domain, OrderID: o.id, FulfillmentID: f.id, Kind: "shipping_confirmation"})
	}
	s.enqueue(o, "fulfillments/create", s.fulfillmentBody(f))
	if o.fulfillmentStatus() == "fulfilled" {
		s.orderHook(o, "orders/fulfilled")
	} else {
		s.orderHook(o, "orders/partially_fulfilled")
	}
	s.orderHook(o, "orders/updated")
	return f
}

func (o *simOrder) line(id int64) *simLine {
	for _, l := range o.lines {
		if l.id == id {
			return l
		}
	}
	return nil
}

func sortedKeys(m map[int64]int) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// Order returns an order as the shop holds it.
func (s *Sim) Order(domain string, id int64) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return Order{}, err
	}
	return o.view(), nil
}

// Orders lists a shop's orders, oldest first.
func (s *Sim) Orders(domain string) ([]Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.shop(domain)
	if err != nil {
		return nil, err
	}
	out := make([]Order, len(sh.list))
	for i, o := range sh.list {
		out[i] = o.view()
	}
	return out, nil
}

// Fulfillments lists every fulfilment of every order of a shop, oldest
// first: what tests count to check "exactly one fulfilment per shipment".
func (s *Sim) Fulfillments(domain string) ([]Fulfillment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.shop(domain)
	if err != nil {
		return nil, err
	}
	var out []Fulfillment
	for _, o := range sh.list {
		for _, f := range o.fulfillments {
			out = append(out, f.view())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (o *simOrder) view() Order {
	v := Order{
		ID: o.id, Name: o.name(), Financial: o.financial, Fulfillment: o.fulfillmentStatus(),
		Cancelled: o.cancelled(), CancelledAt: o.cancelledAt, UpdatedAt: o.updatedAt,
	}
	for _, l := range o.lines {
		v.Lines = append(v.Lines, LineItem{
			ID: l.id, VariantID: l.variantID, ProductID: l.productID, SKU: l.sku, Title: l.title, Price: l.price,
			Quantity: l.quantity, CurrentQuantity: l.current(), Fulfilled: l.fulfilled,
		})
	}
	for _, f := range o.fulfillments {
		v.Fulfillments = append(v.Fulfillments, f.view())
	}
	return v
}

func (f *simFulfillment) view() Fulfillment {
	v := Fulfillment{
		ID: f.id, OrderID: f.order.id, Name: f.name, Status: f.status, Lines: map[int64]int{},
		Tracking: append([]Tracking(nil), f.tracking...), NotifyCustomer: f.notify, ByApp: f.byApp, CreatedAt: f.createdAt, ReceivedAt: f.received,
	}
	for _, l := range f.lines {
		v.Lines[l.line.id] += l.qty
	}
	return v
}

// FulfillmentOrderIDs returns the global ids of an order's fulfillment
// orders.
func (s *Sim) FulfillmentOrderIDs(domain string, id int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, o, err := s.order(domain, id)
	if err != nil {
		return nil
	}
	out := make([]string, len(o.fos))
	for i, fo := range o.fos {
		out[i] = gid("FulfillmentOrder", fo.id)
	}
	return out
}
