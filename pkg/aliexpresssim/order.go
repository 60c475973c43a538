package aliexpresssim

import (
	"fmt"
	"time"
)

// Order statuses the simulator moves through (PLATFORMS.md lists them all).
const (
	StatusPlaced         = "PLACE_ORDER_SUCCESS"
	StatusRiskControl    = "RISK_CONTROL"
	StatusWaitSend       = "WAIT_SELLER_SEND_GOODS"
	StatusPartSent       = "SELLER_PART_SEND_GOODS"
	StatusWaitAccept     = "WAIT_BUYER_ACCEPT_GOODS"
	StatusFinish         = "FINISH"
	LogisticsDefault     = "DEFAULT"
	LogisticsWaitSend    = "WAIT_SELLER_SEND_GOODS"
	LogisticsPartSent    = "SELLER_SEND_PART_GOODS"
	LogisticsSent        = "SELLER_SEND_GOODS"
	LogisticsAccepted    = "BUYER_ACCEPT_GOODS"
	EndReasonCanceled    = "CANCELED"
	EndReasonAccepted    = "buyer_accept_goods"
	defaultTrackingLabel = "In transit"
)

type order struct {
	id         int64
	account    string
	outOrderID string
	sellerID   string
	storeName  string
	created    time.Time
	status     string
	logistics  string
	riskUntil  time.Time
	children   []*child
	packages   []*pkg
}

type child struct {
	id                     int64
	productID, skuID, attr string
	title                  string
	count, shipped         int
	priceCents             int64
	endReason              string
}

type pkg struct {
	logisticsNo, service string
	items                []PackageItem
	at                   time.Time
	// checkpoints after "Shipped", oldest first (tracking.get's detail_node_list).
	checkpoints []checkpoint
	delivered   bool
}

type checkpoint struct {
	name, desc string
	at         time.Time
}

// PackageItem is a quantity of one product in a package.
type PackageItem struct {
	ProductID string
	// SkuID picks the child when the order holds the product in several
	// SKUs; empty takes the first with items left.
	SkuID string
	Count int
}

// Package is a shipped parcel.
type Package struct {
	LogisticsNo, Service string
	Items                []PackageItem
	// Checkpoints counts the tracking checkpoints after "Shipped".
	Checkpoints int
	Delivered   bool
}

// Child is a child order: one product and SKU of an AliExpress order.
type Child struct {
	ID                     int64
	ProductID, SkuID, Attr string
	Count, Shipped         int
	EndReason              string
}

// Order is a snapshot of an AliExpress order.
type Order struct {
	ID                      int64
	OutOrderID, Account     string
	SellerID                string
	Created                 time.Time
	Status, LogisticsStatus string
	Children                []Child
	Packages                []Package
}

func (o *order) view() Order {
	v := Order{ID: o.id, OutOrderID: o.outOrderID, Account: o.account, SellerID: o.sellerID, Created: o.created, Status: o.status, LogisticsStatus: o.logistics}
	for _, c := range o.children {
		v.Children = append(v.Children, Child{ID: c.id, ProductID: c.productID, SkuID: c.skuID, Attr: c.attr, Count: c.count, Shipped: c.shipped, EndReason: c.endReason})
	}
	for _, p := range o.packages {
		v.Packages = append(v.Packages, Package{LogisticsNo: p.logisticsNo, Service: p.service, Items: append([]PackageItem(nil), p.items...),
			Checkpoints: len(p.checkpoints), Delivered: p.delivered})
	}
	return v
}

// advance applies what the clock does to an order. Callers hold mu.
func (s *Sim) advance(o *order, now time.Time) {
	if o.status == StatusRiskControl && !now.Before(o.riskUntil) {
		o.status, o.logistics = StatusWaitSend, LogisticsWaitSend
	}
}

// find returns an order, advanced to now. Callers hold mu.
func (s *Sim) find(id int64) (*order, error) {
	o, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("%w order %d", ErrUnknown, id)
	}
	s.advance(o, s.cfg.Now())
	return o, nil
}

// Order returns a snapshot of an order.
func (s *Sim) Order(id int64) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return Order{}, err
	}
	return o.view(), nil
}

// Orders returns a snapshot of every order, in creation order.
func (s *Sim) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.orderIDs))
	for _, id := range s.orderIDs {
		o, _ := s.find(id)
		out = append(out, o.view())
	}
	return out
}

// OrdersByOutOrderID returns the ids of the orders one placement created.
func (s *Sim) OrdersByOutOrderID(account, outOrderID string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.byOut[account+"\x00"+outOrderID]...)
}

// ErrState: a control does not apply to the order's status.
var ErrState = fmt.Errorf("aliexpresssim: order status does not allow this")

// Pay pays an order: PLACE_ORDER_SUCCESS -> WAIT_SELLER_SEND_GOODS (or
// RISK_CONTROL for Config.RiskControlFor).
func (s *Sim) Pay(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	if o.status != StatusPlaced {
		return fmt.Errorf("%w: pay order %d in %s", ErrState, id, o.status)
	}
	o.status, o.logistics = StatusWaitSend, LogisticsWaitSend
	if s.cfg.RiskControlFor > 0 {
		o.status, o.riskUntil = StatusRiskControl, s.cfg.Now().Add(s.cfg.RiskControlFor)
	}
	return nil
}

// RiskControl puts an order in RISK_CONTROL for d (AliExpress does so
// about 24 h after payment); an unpaid order counts as paid by then.
func (s *Sim) RiskControl(id int64, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	if o.status != StatusPlaced && o.status != StatusWaitSend {
		return fmt.Errorf("%w: risk control on order %d in %s", ErrState, id, o.status)
	}
	o.status, o.logistics, o.riskUntil = StatusRiskControl, LogisticsWaitSend, s.cfg.Now().Add(d)
	return nil
}

// Ship ships items of a paid order in one package with a tracking number;
// no items ships everything not shipped yet. The order goes to
// SELLER_PART_SEND_GOODS while items are left, then WAIT_BUYER_ACCEPT_GOODS.
func (s *Sim) Ship(id int64, logisticsNo, service string, items ...PackageItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	if o.status != StatusWaitSend && o.status != StatusPartSent {
		return fmt.Errorf("%w: ship order %d in %s", ErrState, id, o.status)
	}
	if logisticsNo == "" {
		return fmt.Errorf("aliexpresssim: ship order %d: empty logistics number", id)
	}
	if len(items) == 0 {
		for _, c := range o.children {
			if left := c.count - c.shipped; left > 0 && c.endReason == "" {
				items = append(items, PackageItem{ProductID: c.productID, SkuID: c.skuID, Count: left})
			}
		}
	}
	var packed []PackageItem
	for _, it := range items {
		left := it.Count
		for _, c := range o.children {
			if left == 0 {
				break
			}
			if c.productID != it.ProductID || it.SkuID != "" && c.skuID != it.SkuID || c.endReason != "" {
				continue
			}
			n := min(left, c.count-c.shipped)
			if n <= 0 {
				continue
			}
			c.shipped += n
			left -= n
			packed = append(packed, PackageItem{ProductID: c.productID, SkuID: c.skuID, Count: n})
		}
		if left > 0 {
			return fmt.Errorf("aliexpresssim: ship order %d: %d of product %s not in the order or shipped already", id, left, it.ProductID)
		}
	}
	if len(packed) == 0 {
		return fmt.Errorf("%w: ship order %d: nothing left to ship", ErrState, id)
	}
	if service == "" {
		service = "CAINIAO_STANDARD"
	}
	o.packages = append(o.packages, &pkg{logisticsNo: logisticsNo, service: service, items: packed, at: s.cfg.Now()})
	o.status, o.logistics = StatusWaitAccept, LogisticsSent
	for _, c := range o.children {
		if c.endReason == "" && c.shipped < c.count {
			o.status, o.logistics = StatusPartSent, LogisticsPartSent
		}
	}
	return nil
}

// ChangeTracking replaces a package's tracking number (a seller's
// correction).
func (s *Sim) ChangeTracking(id int64, oldNo, newNo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	for _, p := range o.packages {
		if p.logisticsNo == oldNo {
			p.logisticsNo = newNo
			return nil
		}
	}
	return fmt.Errorf("%w package %s of order %d", ErrUnknown, oldNo, id)
}

// Checkpoint adds a tracking checkpoint to a parcel, at the simulator's
// clock: tracking.get lists it after the "Shipped" node, with
// tracking_name name and tracking_detail_desc desc. A delivered parcel
// takes no more checkpoints.
func (s *Sim) Checkpoint(id int64, logisticsNo, name, desc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.parcel(id, logisticsNo)
	if err != nil {
		return err
	}
	p.checkpoints = append(p.checkpoints, checkpoint{name: name, desc: desc, at: s.cfg.Now()})
	return nil
}

// Deliver marks a parcel delivered: a "Delivered" checkpoint at the
// simulator's clock. The order's status does not change (the buyer
// confirms receipt later: [Sim.Finish]).
func (s *Sim) Deliver(id int64, logisticsNo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.parcel(id, logisticsNo)
	if err != nil {
		return err
	}
	p.checkpoints = append(p.checkpoints, checkpoint{name: "Delivered", desc: "Package delivered to the recipient", at: s.cfg.Now()})
	p.delivered = true
	return nil
}

// parcel returns a parcel not delivered yet. Callers hold mu.
func (s *Sim) parcel(id int64, logisticsNo string) (*pkg, error) {
	o, err := s.find(id)
	if err != nil {
		return nil, err
	}
	for _, p := range o.packages {
		if p.logisticsNo == logisticsNo {
			if p.delivered {
				return nil, fmt.Errorf("%w: package %s of order %d was delivered", ErrState, logisticsNo, id)
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w package %s of order %d", ErrUnknown, logisticsNo, id)
}

// Cancel cancels an order nothing of which has shipped: FINISH, every
// child ended with reason (default CANCELED; "IN_CANCEL" and the like are
// accepted). Stock goes back.
func (s *Sim) Cancel(id int64, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	if o.status == StatusFinish || len(o.packages) > 0 {
		return fmt.Errorf("%w: cancel order %d in %s", ErrState, id, o.status)
	}
	if reason == "" {
		reason = EndReasonCanceled
	}
	for _, c := range o.children {
		c.endReason = reason
		if p, ok := s.products[c.productID]; ok {
			if k := p.sku(c.attr); k != nil {
				k.Stock += c.count
			}
		}
	}
	o.status = StatusFinish
	return nil
}

// CancelItem cancels the child order of one product (the seller could not
// supply it); the rest of the order goes on.
func (s *Sim) CancelItem(id int64, productID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	for _, c := range o.children {
		if c.productID == productID && c.shipped == 0 && c.endReason == "" {
			c.endReason = EndReasonCanceled
			return nil
		}
	}
	return fmt.Errorf("%w unshipped product %s in order %d", ErrUnknown, productID, id)
}

// Finish completes an order (delivered and closed): FINISH, logistics
// BUYER_ACCEPT_GOODS.
func (s *Sim) Finish(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(id)
	if err != nil {
		return err
	}
	if o.status == StatusFinish || len(o.packages) == 0 {
		return fmt.Errorf("%w: finish order %d in %s", ErrState, id, o.status)
	}
	for _, c := range o.children {
		if c.endReason == "" {
			c.endReason = EndReasonAccepted
		}
	}
	o.status, o.logistics = StatusFinish, LogisticsAccepted
	return nil
}

// Failure is a scripted placement refusal: the next Times (default 1)
// placements fail with Code and Msg (ds.order.create's result error_code
// and error_msg), e.g. A003_SUSPICIOUS_BUYER for risk control.
type Failure struct {
	Code, Msg string
	Times     int
}

// Placement error codes (result.error_code of ds.order.create).
const (
	CodeAddressInvalid   = "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"
	CodeDeliveryMethod   = "DELIVERY_METHOD_NOT_EXIST"
	CodeInventory        = "INVENTORY_HOLD_ERROR"
	CodeProductNotExist  = "PRODUCT_NOT_EXIST"
	CodeSKUNotExist      = "SKU_NOT_EXIST"
	CodeCurrency         = "PRICE_PAY_CURRENCY_ERROR"
	CodeBlacklist        = "BLACKLIST_BUYER_IN_LIST"
	CodeSuspiciousBuyer  = "A003_SUSPICIOUS_BUYER"
	CodeAccountDisabled  = "USER_ACCOUNT_DISABLED"
	CodeBuildPlaceOrder  = "ERROR_WHEN_BUILD_FOR_PLACE_ORDER"
	CodeOrderCannotPlace = "A001_ORDER_CANNOT_BE_PLACED"
)

// FailPlacement scripts refusals for the next placements.
func (s *Sim) FailPlacement(f Failure) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f)
}
