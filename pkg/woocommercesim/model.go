package woocommercesim

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Order statuses, without WooCommerce's internal "wc-" prefix.
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

// Statuses lists every order status the REST API accepts.
var Statuses = []string{
	StatusPending, StatusProcessing, StatusOnHold, StatusCompleted, StatusCancelled,
	StatusRefunded, StatusFailed, StatusTrash, StatusCheckoutDraft,
}

func validStatus(s string) bool { return slices.Contains(Statuses, s) }

// Address is a billing or shipping address. Email is billing only, as in
// WooCommerce.
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
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone"`
}

// LineSpec is one line of a new order.
type LineSpec struct {
	// ProductID is required; VariationID is 0 for a simple product.
	ProductID, VariationID int64
	Name, SKU              string
	Quantity               int
	// PriceCents is the unit price in cents.
	PriceCents int64
}

// OrderSpec describes a new order, as checkout would create it.
type OrderSpec struct {
	// Status is the initial status; default pending. processing or
	// completed set date_paid.
	Status   string
	Lines    []LineSpec
	Shipping Address
	Billing  Address
	// PaymentMethod; default "bacs".
	PaymentMethod string
}

// RefundSpec describes a refund made in wp-admin.
type RefundSpec struct {
	// Lines maps order line item ids to refunded quantities; empty refunds
	// money only.
	Lines map[int64]int
	// AmountCents refunded; default the refunded lines' value.
	AmountCents int64
	Reason      string
}

// Note is an order note.
type Note struct {
	ID           int64     `json:"id"`
	Author       string    `json:"author"`
	Note         string    `json:"note"`
	CustomerNote bool      `json:"customer_note"`
	Created      time.Time `json:"-"`
}

// TrackingItem is one Shipment Tracking item of an order.
type TrackingItem struct {
	// ID is the extension's tracking_id (an md5 hex).
	ID string
	// Provider is the sanitized name of a known provider ("usps"); empty
	// for a custom one.
	Provider string
	// CustomProvider and CustomLink name a provider the extension does
	// not know and the tracking page.
	CustomProvider, CustomLink string
	// Number is the tracking number.
	Number string
	// DateShipped is the shipping date (midnight UTC of the given day).
	DateShipped time.Time
	// ReceivedAt is when the simulator created it, at full precision (the
	// API shows only DateShipped), for latency measurements.
	ReceivedAt time.Time
}

type line struct {
	id, productID, variationID int64
	name, sku                  string
	qty                        int
	price                      int64
}

type refund struct {
	id      int64
	created time.Time
	amount  int64
	reason  string
	lines   map[int64]int
	lineIDs map[int64]int64 // order line id -> refund line id
}

type order struct {
	id                                 int64
	key                                string
	status                             string
	trashedFrom                        string
	currency                           string
	created, modified, paid, completed time.Time
	billing, shipping                  Address
	payment                            string
	lines                              []*line
	refunds                            []*refund
	notes                              []*Note
	trackings                          []*TrackingItem
	metaID                             int64
}

func (o *order) total() int64 {
	var t int64
	for _, l := range o.lines {
		t += l.price * int64(l.qty)
	}
	return t
}

func (o *order) refunded() int64 {
	var t int64
	for _, r := range o.refunds {
		t += r.amount
	}
	return t
}

func (o *order) line(id int64) *line {
	for _, l := range o.lines {
		if l.id == id {
			return l
		}
	}
	return nil
}

// refundedQty is how much of a line refunds took back.
func (o *order) refundedQty(id int64) int {
	n := 0
	for _, r := range o.refunds {
		n += r.lines[id]
	}
	return n
}

// money renders cents as WooCommerce does: "29.90".
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// price renders a unit price as WooCommerce's line item "price": a JSON
// number (float), e.g. 14.95 or 3.
func price(cents int64) json.Number {
	return json.Number(strconv.FormatFloat(float64(cents)/100, 'f', -1, 64))
}

const wcDate = "2006-01-02T15:04:05"

// dates renders a time as the pair WooCommerce sends: site-local and GMT,
// both without a zone; null when zero.
func (s *Sim) dates(t time.Time) (local, gmt *string) {
	if t.IsZero() {
		return nil, nil
	}
	l := t.In(s.cfg.Location).Format(wcDate)
	g := t.UTC().Format(wcDate)
	return &l, &g
}

// orderJSON is an order as the REST API v3 renders it (the fields dropsync
// reads and the usual neighbours, in WooCommerce's order).
type orderJSON struct {
	ID                 int64          `json:"id"`
	ParentID           int64          `json:"parent_id"`
	Status             string         `json:"status"`
	Currency           string         `json:"currency"`
	Version            string         `json:"version"`
	PricesIncludeTax   bool           `json:"prices_include_tax"`
	DateCreated        *string        `json:"date_created"`
	DateModified       *string        `json:"date_modified"`
	DiscountTotal      string         `json:"discount_total"`
	DiscountTax        string         `json:"discount_tax"`
	ShippingTotal      string         `json:"shipping_total"`
	ShippingTax        string         `json:"shipping_tax"`
	CartTax            string         `json:"cart_tax"`
	Total              string         `json:"total"`
	TotalTax           string         `json:"total_tax"`
	CustomerID         int64          `json:"customer_id"`
	OrderKey           string         `json:"order_key"`
	Billing            Address        `json:"billing"`
	Shipping           shippingJSON   `json:"shipping"`
	PaymentMethod      string         `json:"payment_method"`
	PaymentMethodTitle string         `json:"payment_method_title"`
	TransactionID      string         `json:"transaction_id"`
	CustomerIPAddress  string         `json:"customer_ip_address"`
	CustomerUserAgent  string         `json:"customer_user_agent"`
	CreatedVia         string         `json:"created_via"`
	CustomerNote       string         `json:"customer_note"`
	DateCompleted      *string        `json:"date_completed"`
	DatePaid           *string        `json:"date_paid"`
	CartHash           string         `json:"cart_hash"`
	Number             string         `json:"number"`
	MetaData           []metaJSON     `json:"meta_data"`
	LineItems          []lineJSON     `json:"line_items"`
	TaxLines           []any          `json:"tax_lines"`
	ShippingLines      []any          `json:"shipping_lines"`
	FeeLines           []any          `json:"fee_lines"`
	CouponLines        []any          `json:"coupon_lines"`
	Refunds            []refundRef    `json:"refunds"`
	PaymentURL         string         `json:"payment_url"`
	IsEditable         bool           `json:"is_editable"`
	NeedsPayment       bool           `json:"needs_payment"`
	NeedsProcessing    bool           `json:"needs_processing"`
	DateCreatedGMT     *string        `json:"date_created_gmt"`
	DateModifiedGMT    *string        `json:"date_modified_gmt"`
	DateCompletedGMT   *string        `json:"date_completed_gmt"`
	DatePaidGMT        *string        `json:"date_paid_gmt"`
	CurrencySymbol     string         `json:"currency_symbol"`
	Links              map[string]any `json:"_links"`
}

type shippingJSON struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
	Phone     string `json:"phone"`
}

type metaJSON struct {
	ID    int64  `json:"id"`
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type lineJSON struct {
	ID          int64       `json:"id"`
	Name        string      `json:"name"`
	ProductID   int64       `json:"product_id"`
	VariationID int64       `json:"variation_id"`
	Quantity    int         `json:"quantity"`
	TaxClass    string      `json:"tax_class"`
	Subtotal    string      `json:"subtotal"`
	SubtotalTax string      `json:"subtotal_tax"`
	Total       string      `json:"total"`
	TotalTax    string      `json:"total_tax"`
	Taxes       []any       `json:"taxes"`
	MetaData    []metaJSON  `json:"meta_data"`
	SKU         string      `json:"sku"`
	Price       json.Number `json:"price"`
	ParentName  *string     `json:"parent_name"`
}

type refundRef struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Total  string `json:"total"`
}

// trackingMeta is one entry of the _wc_shipment_tracking_items meta value,
// as the extension stores it.
type trackingMeta struct {
	TrackingProvider       string `json:"tracking_provider"`
	CustomTrackingProvider string `json:"custom_tracking_provider"`
	CustomTrackingLink     string `json:"custom_tracking_link"`
	TrackingNumber         string `json:"tracking_number"`
	DateShipped            string `json:"date_shipped"`
	TrackingID             string `json:"tracking_id"`
}

// render returns the REST resource of o; s.mu is held.
func (s *Sim) render(o *order) orderJSON {
	created, createdGMT := s.dates(o.created)
	modified, modifiedGMT := s.dates(o.modified)
	paid, paidGMT := s.dates(o.paid)
	completed, completedGMT := s.dates(o.completed)
	ship := o.shipping
	j := orderJSON{
		ID: o.id, Status: o.status, Currency: o.currency, Version: "9.1.4",
		DateCreated: created, DateModified: modified,
		DiscountTotal: "0.00", DiscountTax: "0.00", ShippingTotal: "0.00", ShippingTax: "0.00", CartTax: "0.00",
		Total: money(o.total()), TotalTax: "0.00", OrderKey: o.key,
		Billing: o.billing,
		Shipping: shippingJSON{
			FirstName: ship.FirstName, LastName: ship.LastName, Company: ship.Company,
			Address1: ship.Address1, Address2: ship.Address2, City: ship.City, State: ship.State,
			Postcode: ship.Postcode, Country: ship.Country, Phone: ship.Phone,
		},
		PaymentMethod: o.payment, PaymentMethodTitle: paymentTitle(o.payment),
		CreatedVia: "checkout", DateCompleted: completed, DatePaid: paid,
		Number:   strconv.FormatInt(o.id, 10),
		MetaData: []metaJSON{}, LineItems: []lineJSON{}, TaxLines: []any{}, ShippingLines: []any{},
		FeeLines: []any{}, CouponLines: []any{}, Refunds: []refundRef{},
		IsEditable:     o.status == StatusPending || o.status == StatusOnHold || o.status == StatusCheckoutDraft,
		NeedsPayment:   o.status == StatusPending || o.status == StatusFailed,
		DateCreatedGMT: createdGMT, DateModifiedGMT: modifiedGMT, DateCompletedGMT: completedGMT, DatePaidGMT: paidGMT,
		CurrencySymbol: "$",
		Links: map[string]any{
			"self":       []map[string]string{{"href": s.siteURL + "/wp-json/wc/v3/orders/" + strconv.FormatInt(o.id, 10)}},
			"collection": []map[string]string{{"href": s.siteURL + "/wp-json/wc/v3/orders"}},
		},
	}
	j.NeedsProcessing = true
	for _, l := range o.lines {
		j.LineItems = append(j.LineItems, lineJSON{
			ID: l.id, Name: l.name, ProductID: l.productID, VariationID: l.variationID, Quantity: l.qty,
			Subtotal: money(l.price * int64(l.qty)), SubtotalTax: "0.00",
			Total: money(l.price * int64(l.qty)), TotalTax: "0.00", Taxes: []any{}, MetaData: []metaJSON{},
			SKU: l.sku, Price: price(l.price),
		})
	}
	// WooCommerce lists refunds newest first.
	for i := len(o.refunds) - 1; i >= 0; i-- {
		r := o.refunds[i]
		j.Refunds = append(j.Refunds, refundRef{ID: r.id, Reason: r.reason, Total: money(-r.amount)})
	}
	if len(o.trackings) > 0 {
		items := make([]trackingMeta, 0, len(o.trackings))
		for _, t := range o.trackings {
			items = append(items, trackingMeta{
				TrackingProvider: t.Provider, CustomTrackingProvider: t.CustomProvider, CustomTrackingLink: t.CustomLink,
				TrackingNumber: t.Number, DateShipped: strconv.FormatInt(t.DateShipped.Unix(), 10), TrackingID: t.ID,
			})
		}
		j.MetaData = append(j.MetaData, metaJSON{ID: o.metaID, Key: "_wc_shipment_tracking_items", Value: items})
	}
	return j
}

func paymentTitle(method string) string {
	switch method {
	case "bacs":
		return "Direct bank transfer"
	case "cod":
		return "Cash on delivery"
	case "stripe":
		return "Credit Card (Stripe)"
	}
	return method
}

// CreateOrder adds an order as checkout would and sends order.created.
func (s *Sim) CreateOrder(spec OrderSpec) (int64, error) {
	if spec.Status == "" {
		spec.Status = StatusPending
	}
	if !validStatus(spec.Status) || spec.Status == StatusTrash {
		return 0, fmt.Errorf("%w: status %q", ErrInvalid, spec.Status)
	}
	if len(spec.Lines) == 0 {
		return 0, fmt.Errorf("%w: an order needs line items", ErrInvalid)
	}
	if spec.PaymentMethod == "" {
		spec.PaymentMethod = "bacs"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	o := &order{
		id: s.newID(), status: StatusPending, currency: s.cfg.Currency, created: now, modified: now,
		billing: spec.Billing, shipping: spec.Shipping, payment: spec.PaymentMethod,
	}
	sum := md5.Sum([]byte(fmt.Sprintf("%d/%d", o.id, s.rng.Uint64())))
	o.key = "wc_order_" + hex.EncodeToString(sum[:])[:13]
	for _, ls := range spec.Lines {
		if ls.ProductID <= 0 || ls.Quantity <= 0 || ls.PriceCents < 0 {
			return 0, fmt.Errorf("%w: line needs a product id, a positive quantity and a price", ErrInvalid)
		}
		o.lines = append(o.lines, &line{
			id: s.newID(), productID: ls.ProductID, variationID: ls.VariationID,
			name: ls.Name, sku: ls.SKU, qty: ls.Quantity, price: ls.PriceCents,
		})
	}
	s.orders[o.id] = o
	s.list = append(s.list, o)
	if spec.Status != StatusPending {
		s.transition(o, spec.Status, now)
	}
	s.trigger(o, "order.created")
	return o.id, nil
}

// transition moves o to status to at now, with WooCommerce's side effects:
// date_paid, date_completed and the customer e-mails. It reports whether
// the status changed; s.mu is held.
func (s *Sim) transition(o *order, to string, now time.Time) bool {
	from := o.status
	if from == to {
		return false
	}
	o.status = to
	o.modified = now
	if to == StatusTrash {
		o.trashedFrom = from
		return true
	}
	if (to == StatusProcessing || to == StatusCompleted) && o.paid.IsZero() {
		o.paid = now
	}
	switch to {
	case StatusProcessing:
		if from == StatusPending || from == StatusFailed || from == StatusOnHold || from == StatusCancelled {
			s.email(o, EmailProcessing, "", now)
		}
	case StatusOnHold:
		if from == StatusPending || from == StatusFailed || from == StatusCancelled {
			s.email(o, EmailOnHold, "", now)
		}
	case StatusCompleted:
		o.completed = now
		if s.completed {
			s.email(o, EmailCompleted, "", now)
		}
	case StatusRefunded:
		// wc_order_fully_refunded: what is not refunded yet is refunded now.
		if rest := o.total() - o.refunded(); rest > 0 {
			r := &refund{id: s.newID(), created: now, amount: rest, reason: "Order status set to refunded.", lines: map[int64]int{}, lineIDs: map[int64]int64{}}
			for _, l := range o.lines {
				if q := l.qty - o.refundedQty(l.id); q > 0 {
					r.lines[l.id] = q
					r.lineIDs[l.id] = s.newID()
				}
			}
			o.refunds = append(o.refunds, r)
		}
		s.email(o, EmailRefunded, "", now)
	}
	return true
}

// email records a customer e-mail about o; s.mu is held.
func (s *Sim) email(o *order, kind, note string, now time.Time) {
	e := Email{OrderID: o.id, Kind: kind, Note: note, At: now}
	if kind != EmailNote {
		for _, t := range o.trackings {
			e.Tracking = append(e.Tracking, t.Number)
		}
	}
	s.emails.Append(e)
}

func (s *Sim) get(id int64) (*order, error) {
	o, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownOrder, id)
	}
	return o, nil
}

// Pay captures the customer's payment (payment_complete): the order moves
// to processing with date_paid, and order.updated is sent.
func (s *Sim) Pay(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return err
	}
	switch o.status {
	case StatusPending, StatusOnHold, StatusFailed, StatusCheckoutDraft:
	default:
		return fmt.Errorf("%w: order %d is %s", ErrInvalid, id, o.status)
	}
	now := s.now()
	o.paid = now
	s.transition(o, StatusProcessing, now)
	s.trigger(o, "order.updated")
	return nil
}

// SetStatus changes an order's status as the merchant does in wp-admin
// (completing it by hand, cancelling it, putting it on hold, ...) and sends
// order.updated (order.deleted for trash).
func (s *Sim) SetStatus(id int64, status string) error {
	if !validStatus(status) {
		return fmt.Errorf("%w: status %q", ErrInvalid, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return err
	}
	if !s.transition(o, status, s.now()) {
		return nil
	}
	if status == StatusTrash {
		s.trigger(o, "order.deleted")
	} else {
		s.trigger(o, "order.updated")
	}
	return nil
}

// EditShipping changes the shipping address by hand and sends
// order.updated.
func (s *Sim) EditShipping(id int64, a Address) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return err
	}
	a.Email = ""
	o.shipping = a
	o.modified = s.now()
	s.trigger(o, "order.updated")
	return nil
}

// Refund creates a refund, as wp-admin does, and sends order.updated. When
// everything is refunded the order becomes refunded.
func (s *Sim) Refund(id int64, spec RefundSpec) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return 0, err
	}
	now := s.now()
	r := &refund{id: s.newID(), created: now, reason: spec.Reason, lines: map[int64]int{}, lineIDs: map[int64]int64{}}
	var value int64
	for lid, q := range spec.Lines {
		l := o.line(lid)
		if l == nil || q <= 0 || q > l.qty-o.refundedQty(lid) {
			return 0, fmt.Errorf("%w: cannot refund %d of line %d", ErrInvalid, q, lid)
		}
		r.lines[lid] = q
		r.lineIDs[lid] = s.newID()
		value += l.price * int64(q)
	}
	r.amount = spec.AmountCents
	if r.amount == 0 {
		r.amount = value
	}
	if r.amount <= 0 || r.amount > o.total()-o.refunded() {
		return 0, fmt.Errorf("%w: refund amount %s", ErrInvalid, money(r.amount))
	}
	o.refunds = append(o.refunds, r)
	o.modified = now
	if o.refunded() >= o.total() {
		s.transition(o, StatusRefunded, now)
	} else {
		s.email(o, EmailRefunded, "", now)
	}
	s.trigger(o, "order.updated")
	return r.id, nil
}

// Trash moves an order to the trash and sends order.deleted.
func (s *Sim) Trash(id int64) error { return s.SetStatus(id, StatusTrash) }

// Restore takes an order out of the trash and sends order.restored.
func (s *Sim) Restore(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return err
	}
	if o.status != StatusTrash {
		return fmt.Errorf("%w: order %d is not in the trash", ErrInvalid, id)
	}
	o.status, o.trashedFrom = o.trashedFrom, ""
	o.modified = s.now()
	s.trigger(o, "order.restored")
	return nil
}

// Delete deletes an order for good and sends order.deleted.
func (s *Sim) Delete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return err
	}
	s.trigger(o, "order.deleted")
	s.remove(o)
	return nil
}

func (s *Sim) remove(o *order) {
	delete(s.orders, o.id)
	s.list = slices.DeleteFunc(s.list, func(x *order) bool { return x == o })
}

// OrderJSON returns an order as GET /orders/{id} shows it.
func (s *Sim) OrderJSON(id int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s.render(o))
}

// Status returns an order's status.
func (s *Sim) Status(id int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return "", err
	}
	return o.status, nil
}

// LineIDs returns an order's line item ids, in order.
func (s *Sim) LineIDs(id int64) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.get(id)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(o.lines))
	for i, l := range o.lines {
		out[i] = l.id
	}
	return out, nil
}

// Notes returns an order's notes, oldest first.
func (s *Sim) Notes(id int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil
	}
	out := make([]Note, len(o.notes))
	for i, n := range o.notes {
		out[i] = *n
	}
	return out
}

// Trackings returns an order's Shipment Tracking items, oldest first.
func (s *Sim) Trackings(id int64) []TrackingItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return nil
	}
	out := make([]TrackingItem, len(o.trackings))
	for i, t := range o.trackings {
		out[i] = *t
	}
	return out
}

// sanitizeTitle is WordPress's sanitize_title for provider names:
// lower case, spaces to dashes, other punctuation dropped.
func sanitizeTitle(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r == ' ' || r == '-' || r == '_':
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		case r == '.':
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
