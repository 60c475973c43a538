package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Service is the connector's name in the Source of its events.
const Service = "aliexpress"

// Line is a store line an AliExpress order holds.
type Line struct {
	LineItemID string `json:"line_item_id"`
	ProductID  string `json:"product_id"`
	SkuID      string `json:"sku_id,omitempty"`
	SkuAttr    string `json:"sku_attr,omitempty"`
	Quantity   int32  `json:"quantity"`
}

// Shipment is a parcel dropsync told the order service about.
type Shipment struct {
	// ShipmentID is envelope.ID(ae order id, first logistics number); it
	// stays when the number is replaced.
	ShipmentID  string           `json:"shipment_id"`
	LogisticsNo string           `json:"logistics_no"`
	LineQty     map[string]int32 `json:"lines"`
	// Items is the package's content as AliExpress listed it (product
	// ids), to recognise the package when its number changes.
	Items string `json:"items,omitempty"`
	// LastCheckpoint is the time of the newest tracking checkpoint
	// published (SupplierTrackingProgressed).
	LastCheckpoint time.Time `json:"last_checkpoint,omitzero"`
	// Delivered: a SupplierTrackingProgressed saying delivered was published.
	Delivered bool `json:"delivered,omitzero"`
}

// Tracked is one AliExpress order the connector follows until it is
// finished or canceled; the connector keeps them durably (JetStream KV).
type Tracked struct {
	AEOrderID string `json:"ae_order_id"`
	// OrderID is the dropsync order id "<platform>:<store>:<store order id>".
	OrderID string `json:"order_id"`
	// Account is the AliExpress account the order was placed through;
	// empty for orders tracked before accounts were recorded.
	Account   string    `json:"account,omitempty"`
	RequestID string    `json:"request_id"`
	Lines     []Line    `json:"lines"`
	PlacedAt  time.Time `json:"placed_at"`
	// Status is the last order_status seen.
	Status string `json:"status,omitempty"`
	// PaidAt is when the order was first seen paid.
	PaidAt    time.Time  `json:"paid_at,omitzero"`
	Shipments []Shipment `json:"shipments,omitempty"`
	// CanceledLines are the line ids whose cancellation was published.
	CanceledLines []string `json:"canceled_lines,omitempty"`
	// LastTrackingChange is when a shipment last appeared or changed.
	LastTrackingChange time.Time `json:"last_tracking_change,omitzero"`
	LastPolled         time.Time `json:"last_polled,omitzero"`
	// Closed: FINISH was seen and published; the order is no longer open.
	Closed bool `json:"closed,omitempty"`
	// DeliveredAt: tracking says every parcel was delivered; the order is
	// no longer polled.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// StoreKey is "<platform>:<store>" of the tracked order.
func (t *Tracked) StoreKey() string {
	p, rest, _ := strings.Cut(t.OrderID, ":")
	s, _, _ := strings.Cut(rest, ":")
	return p + ":" + s
}

// Paid reports whether the order was seen paid.
func (t *Tracked) Paid() bool { return !t.PaidAt.IsZero() }

// Shipped reports whether any shipment is known.
func (t *Tracked) Shipped() bool { return len(t.Shipments) > 0 }

// Child is an observed child order.
type Child struct {
	ProductID, SkuID string
	Count            int
	EndReason        string
}

// Item is an observed quantity of a product in a package.
type Item struct {
	ProductID, SkuID string
	Count            int
}

// Checkpoint is an observed tracking event of a parcel.
type Checkpoint struct {
	// Name and Desc are the supplier's texts (tracking_name,
	// tracking_detail_desc).
	Name, Desc string
	// At is when it happened at the carrier.
	At time.Time
}

// Package is an observed parcel. Items is nil when only the order-level
// logistics fields named it (the content is then unknown).
type Package struct {
	LogisticsNo, Service string
	Items                []Item
	// Latest is the parcel's newest tracking checkpoint (tracking.get);
	// zero when none is known.
	Latest Checkpoint
	// Delivered: the tracking says the parcel was delivered.
	Delivered bool
}

// Observation is what a poll saw of an order.
type Observation struct {
	Status, LogisticsStatus string
	Children                []Child
	Packages                []Package
	// FromTracking: Packages came from tracking.get (with their items),
	// not from the order-level fallback.
	FromTracking bool
}

// paidStatuses are the order_status values of a paid order that has not
// ended.
var paidStatuses = []string{
	"RISK_CONTROL", "RISK_CONTROL_HOLD", "WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS",
	"WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING", "IN_ISSUE", "IN_FROZEN", "WAIT_GROUP",
}

// ShippedStatus reports whether an order in this state may have parcels,
// so that tracking is worth a call.
func ShippedStatus(status, logistics string) bool {
	switch status {
	case "SELLER_PART_SEND_GOODS", "WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING", "IN_ISSUE", "IN_FROZEN":
		return true
	}
	switch logistics {
	case "SELLER_SEND_PART_GOODS", "SELLER_SEND_GOODS", "BUYER_ACCEPT_GOODS":
		return true
	}
	return false
}

// Canceled reports whether a child's end_reason means it was canceled, not
// delivered ("CANCELED", "IN_CANCEL", "cancelled", "buyer_cancel...").
func Canceled(endReason string) bool {
	return strings.Contains(strings.ToUpper(endReason), "CANCEL")
}

// Decision is what an observation means: the supplier events to publish (in
// order) and the tracked order to keep afterwards.
type Decision struct {
	Events []*eventsv1.Envelope
	Next   Tracked
}

// Decide turns an observation of t at now into supplier events with
// deterministic ids (so re-polling publishes duplicates that are dropped)
// and the updated tracked order:
//
//   - SupplierOrderPaid once a paid (or later) status is seen;
//   - SupplierShipmentCreated per new logistics number, with the store
//     lines of the package's items (tracking.get), or of the whole order
//     when only the order-level number is known and everything shipped;
//   - SupplierTrackingChanged when a known package comes back under a new
//     number;
//   - SupplierOrderCanceled for children ended canceled: the whole order
//     (no lines) when FINISH and every child was canceled, else the lines;
//   - SupplierOrderFinished when FINISH and not everything was canceled;
//   - SupplierTrackingProgressed for a known shipment whose package's
//     newest checkpoint is newer than the last one published, or which
//     now says delivered; nothing after delivery.
//
// Once every line is shipped or canceled and every shipment delivered,
// Next.DeliveredAt is set: the order is no longer polled.
func Decide(t Tracked, o Observation, now time.Time) Decision {
	next := t
	next.Shipments = slices.Clone(t.Shipments)
	next.CanceledLines = slices.Clone(t.CanceledLines)
	next.LastPolled = now
	next.Status = o.Status
	d := &decision{t: &next, now: now}

	allCanceled := len(o.Children) > 0
	for _, c := range o.Children {
		if !Canceled(c.EndReason) {
			allCanceled = false
		}
	}
	// An order that finishes with nothing ever shipped was closed, not
	// delivered, whatever its end reason says (AliExpress closes unpaid
	// orders on a payment timeout, sellers close what they cannot ship).
	if o.Status == "FINISH" && len(o.Packages) == 0 && len(t.Shipments) == 0 && len(o.Children) > 0 {
		allCanceled = true
	}
	paid := slices.Contains(paidStatuses, o.Status) || len(o.Packages) > 0 ||
		o.Status == "FINISH" && !allCanceled
	if paid && !next.Paid() {
		next.PaidAt = now
		d.emit("paid", &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: t.AEOrderID}}})
	}
	d.shipments(o)

	if o.Status == "FINISH" && allCanceled {
		d.emit("canceled", &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierOrderCanceled{SupplierOrderCanceled: &eventsv1.SupplierOrderCanceled{
			SupplierOrderId: t.AEOrderID, Reason: o.Children[0].EndReason,
		}}})
	} else if lines := d.canceledLines(o.Children); len(lines) > 0 {
		ids := make([]string, len(lines))
		for i, l := range lines {
			ids[i] = l.GetLineItemId()
			next.CanceledLines = append(next.CanceledLines, l.GetLineItemId())
		}
		d.emit("canceled-lines:"+strings.Join(ids, ","), &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierOrderCanceled{SupplierOrderCanceled: &eventsv1.SupplierOrderCanceled{
			SupplierOrderId: t.AEOrderID, Reason: "CANCELED", Lines: lines,
		}}})
	}
	d.progress(o)
	if next.DeliveredAt.IsZero() && d.delivered() {
		next.DeliveredAt = now
	}
	if o.Status == "FINISH" {
		if !allCanceled {
			d.emit("finished", &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierOrderFinished{SupplierOrderFinished: &eventsv1.SupplierOrderFinished{SupplierOrderId: t.AEOrderID}}})
		}
		next.Closed = true
	}
	return Decision{Events: d.out, Next: next}
}

type decision struct {
	t   *Tracked
	now time.Time
	out []*eventsv1.Envelope
}

// EventID is the id of a supplier fact about an AliExpress order.
func EventID(aeOrderID, fact string) string {
	return envelope.ID("aliexpress", aeOrderID, fact)
}

// ShipmentID is the id of the shipment a logistics number starts.
func ShipmentID(aeOrderID, logisticsNo string) string {
	return envelope.ID(aeOrderID, logisticsNo)
}

func (d *decision) emit(fact string, e *eventsv1.Envelope) {
	e.EventId = EventID(d.t.AEOrderID, fact)
	e.OrderId = d.t.OrderID
	e.OccurredAt = timestamppb.New(d.now)
	e.RecordedAt = timestamppb.New(d.now)
	e.CorrelationId = d.t.RequestID
	platform := eventsv1.Platform_PLATFORM_ALIEXPRESS
	e.Source = &eventsv1.Source{Platform: platform, StoreId: storeOf(d.t.OrderID), Service: Service}
	d.out = append(d.out, e)
}

func storeOf(orderID string) string {
	_, rest, _ := strings.Cut(orderID, ":")
	s, _, _ := strings.Cut(rest, ":")
	return s
}

func itemsKey(items []Item) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.ProductID + "/" + it.SkuID + "x" + strconv.Itoa(it.Count)
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// shipped is how much of each line the known shipments hold.
func (d *decision) shipped() map[string]int32 {
	m := map[string]int32{}
	for _, s := range d.t.Shipments {
		for id, q := range s.LineQty {
			m[id] += q
		}
	}
	return m
}

// shipments publishes new and renumbered packages.
func (d *decision) shipments(o Observation) {
	seen := map[string]bool{}
	for _, p := range o.Packages {
		seen[p.LogisticsNo] = true
	}
	for _, p := range o.Packages {
		if d.known(p.LogisticsNo) {
			continue
		}
		key := itemsKey(p.Items)
		// A known package no longer listed, with the same content: its
		// number was replaced.
		if i := d.replaced(seen, key, p.Items != nil, len(o.Packages)); i >= 0 {
			s := &d.t.Shipments[i]
			s.LogisticsNo = p.LogisticsNo
			d.t.LastTrackingChange = d.now
			d.emit("tracking:"+s.ShipmentID+":"+p.LogisticsNo, &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierTrackingChanged{SupplierTrackingChanged: &eventsv1.SupplierTrackingChanged{
				ShipmentId: s.ShipmentID, Tracking: &eventsv1.Tracking{Number: p.LogisticsNo, Carrier: p.Service},
			}}})
			continue
		}
		var lines map[string]int32
		if p.Items != nil {
			lines = d.linesOf(p.Items)
		} else {
			// Only the order-level number: its content is the whole order
			// once everything shipped; while the order is partly shipped
			// the content is unknown, so wait for tracking.get.
			if o.Status != "WAIT_BUYER_ACCEPT_GOODS" && o.Status != "FINISH" && o.LogisticsStatus != "SELLER_SEND_GOODS" || len(o.Packages) != 1 {
				continue
			}
			lines = d.remaining(o.Children)
		}
		if len(lines) == 0 {
			continue
		}
		sid := ShipmentID(d.t.AEOrderID, p.LogisticsNo)
		d.t.Shipments = append(d.t.Shipments, Shipment{ShipmentID: sid, LogisticsNo: p.LogisticsNo, LineQty: lines, Items: key})
		d.t.LastTrackingChange = d.now
		d.emit("shipment:"+p.LogisticsNo, &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: d.t.AEOrderID,
			ShipmentId:      sid,
			Tracking:        &eventsv1.Tracking{Number: p.LogisticsNo, Carrier: p.Service},
			Lines:           lineQuantities(lines, d.t.Lines),
		}}})
	}
}

// progress publishes the newer checkpoints and deliveries of known
// shipments. The event id derives from the shipment and the checkpoint's
// time (and delivery), so a re-poll publishes a duplicate that is dropped.
func (d *decision) progress(o Observation) {
	for _, p := range o.Packages {
		if p.Latest.At.IsZero() && !p.Delivered {
			continue
		}
		i := slices.IndexFunc(d.t.Shipments, func(s Shipment) bool { return s.LogisticsNo == p.LogisticsNo })
		if i < 0 {
			continue
		}
		s := &d.t.Shipments[i]
		if s.Delivered || !p.Latest.At.After(s.LastCheckpoint) && !p.Delivered {
			continue
		}
		if p.Latest.At.After(s.LastCheckpoint) {
			s.LastCheckpoint = p.Latest.At
		}
		s.Delivered = p.Delivered
		fact := "progress:" + s.ShipmentID + ":" + strconv.FormatInt(p.Latest.At.UnixMilli(), 10)
		if p.Delivered {
			fact += ":delivered"
		}
		c := &eventsv1.TrackingCheckpoint{Name: p.Latest.Name, Description: p.Latest.Desc}
		if !p.Latest.At.IsZero() {
			c.OccurredAt = timestamppb.New(p.Latest.At)
		}
		e := &eventsv1.Envelope{Event: &eventsv1.Envelope_SupplierTrackingProgressed{SupplierTrackingProgressed: &eventsv1.SupplierTrackingProgressed{
			ShipmentId: s.ShipmentID, TrackingNumber: s.LogisticsNo, Latest: c, Delivered: p.Delivered,
		}}}
		d.emit(fact, e)
		if c.OccurredAt != nil {
			e.OccurredAt = c.OccurredAt // when it happened at the carrier
		}
	}
}

// delivered reports whether every line is shipped or canceled and every
// shipment delivered.
func (d *decision) delivered() bool {
	if len(d.t.Shipments) == 0 {
		return false
	}
	for _, s := range d.t.Shipments {
		if !s.Delivered {
			return false
		}
	}
	taken := d.shipped()
	for _, l := range d.t.Lines {
		if taken[l.LineItemID] < l.Quantity && !slices.Contains(d.t.CanceledLines, l.LineItemID) {
			return false
		}
	}
	return true
}

func (d *decision) known(no string) bool {
	for _, s := range d.t.Shipments {
		if s.LogisticsNo == no {
			return true
		}
	}
	return false
}

// replaced finds a known shipment whose number is gone and whose content
// matches; with unknown content, the only known shipment when the order
// still lists as many packages as before.
func (d *decision) replaced(seen map[string]bool, key string, withItems bool, listed int) int {
	gone := -1
	n := 0
	for i, s := range d.t.Shipments {
		if seen[s.LogisticsNo] {
			continue
		}
		n++
		if withItems && s.Items == key {
			return i
		}
		gone = i
	}
	if !withItems && n == 1 && listed == len(d.t.Shipments) {
		return gone
	}
	return -1
}

// linesOf maps package items to store lines, never beyond what each line
// holds less what earlier shipments took.
func (d *decision) linesOf(items []Item) map[string]int32 {
	taken := d.shipped()
	out := map[string]int32{}
	for _, it := range items {
		left := int32(it.Count)
		for _, pass := range []bool{true, false} { // exact SKU first, then the product
			for _, l := range d.t.Lines {
				if left == 0 {
					break
				}
				if l.ProductID != it.ProductID || pass && (it.SkuID == "" || l.SkuID != it.SkuID) || !pass && it.SkuID != "" && l.SkuID != "" && l.SkuID != it.SkuID {
					continue
				}
				n := min(left, l.Quantity-taken[l.LineItemID]-out[l.LineItemID])
				if n <= 0 {
					continue
				}
				out[l.LineItemID] += n
				left -= n
			}
		}
	}
	return out
}

// remaining is every line not shipped yet and not canceled.
func (d *decision) remaining(children []Child) map[string]int32 {
	taken := d.shipped()
	canceled := map[string]bool{}
	for _, l := range d.childLines(children, true) {
		canceled[l.GetLineItemId()] = true
	}
	out := map[string]int32{}
	for _, l := range d.t.Lines {
		if q := l.Quantity - taken[l.LineItemID]; q > 0 && !canceled[l.LineItemID] {
			out[l.LineItemID] = q
		}
	}
	return out
}

// canceledLines are the lines of children ended canceled whose
// cancellation was not published yet.
func (d *decision) canceledLines(children []Child) []*eventsv1.LineQuantity {
	var out []*eventsv1.LineQuantity
	for _, l := range d.childLines(children, true) {
		if !slices.Contains(d.t.CanceledLines, l.GetLineItemId()) {
			out = append(out, l)
		}
	}
	return out
}

// childLines maps children (canceled ones only, if canceledOnly) to
// lines, each line to one child at most, in the children's order:
//
//  1. by product and SKU (a child without product_id, as
//     trade.ds.order.get's own sample has, by SKU alone);
//  2. by product, when either side has no SKU id;
//  3. a child without product_id that is still unmatched takes the
//     remaining unmatched line of its quantity, else the first remaining
//     one, so that a partial supplier cancellation still names its line.
func (d *decision) childLines(children []Child, canceledOnly bool) []*eventsv1.LineQuantity {
	used := make([]bool, len(d.t.Lines))
	match := make([]int, len(children))
	for i := range match {
		match[i] = -1
	}
	passes := []func(c Child, l Line) bool{
		func(c Child, l Line) bool {
			return c.SkuID != "" && l.SkuID == c.SkuID && (c.ProductID == "" || l.ProductID == c.ProductID)
		},
		func(c Child, l Line) bool {
			return c.ProductID != "" && l.ProductID == c.ProductID && (c.SkuID == "" || l.SkuID == "")
		},
		func(c Child, l Line) bool { return c.ProductID == "" && int(l.Quantity) == c.Count },
		func(c Child, l Line) bool { return c.ProductID == "" },
	}
	for _, ok := range passes {
		for ci, c := range children {
			if match[ci] >= 0 {
				continue
			}
			for li, l := range d.t.Lines {
				if !used[li] && ok(c, l) {
					used[li], match[ci] = true, li
					break
				}
			}
		}
	}
	var out []*eventsv1.LineQuantity
	for ci, c := range children {
		if match[ci] < 0 || canceledOnly && !Canceled(c.EndReason) {
			continue
		}
		l := d.t.Lines[match[ci]]
		out = append(out, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: l.Quantity})
	}
	return out
}

// lineQuantities lists a line -> quantity map in the order of the lines.
func lineQuantities(m map[string]int32, lines []Line) []*eventsv1.LineQuantity {
	var out []*eventsv1.LineQuantity
	for _, l := range lines {
		if q := m[l.LineItemID]; q > 0 {
			out = append(out, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: q})
		}
	}
	return out
}
