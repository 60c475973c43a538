package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// Placer carries out PlacementRequested commands: it places the order with
// AliExpress and publishes SupplierOrderPlaced or SupplierPlacementFailed.
type Placer struct {
	api        *aeapi.Client
	store      *Store
	pub        bus.EventPublisher
	now        func() time.Time
	log        *slog.Logger
	maxDeliver int
	settle     time.Duration
	account    string
	// readBackAfter is the delay of a placement whose orders must be
	// read back and are not visible yet.
	readBackAfter time.Duration
}

// NewPlacer returns a Placer. maxDeliver is the consumer's MaxDeliver: on
// the last delivery (bus.Message.Last, or maxDeliver deliveries) a
// transient failure is published as SupplierPlacementFailed (retryable)
// instead of being retried, and a placement made is recorded whatever the
// delivery's time left (see Handle).
func NewPlacer(api *aeapi.Client, store *Store, pub bus.EventPublisher, now func() time.Time, maxDeliver int, log *slog.Logger) *Placer {
	return &Placer{api: api, store: store, pub: pub, now: now, maxDeliver: maxDeliver, settle: settleWithin, readBackAfter: readBackDelay, log: log}
}

// ReadBackAfter sets how long a placement waits for its next delivery
// when the AliExpress orders it made must be read back to map their lines
// and are not visible yet (default 15s), and returns p. Call it before
// Handle runs.
func (p *Placer) ReadBackAfter(d time.Duration) *Placer {
	p.readBackAfter = d
	return p
}

// readBack reads each order of a placement (trade.ds.order.get) and
// returns the result with the products its children list.
func (p *Placer) readBack(ctx context.Context, res *aeapi.PlaceResult) (*aeapi.PlaceResult, error) {
	out := *res
	out.Products = nil
	for _, id := range res.OrderIDs {
		info, err := p.api.GetOrder(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", id, err)
		}
		for _, c := range info.Children {
			out.Products = append(out.Products, aeapi.PlacedProduct{OrderID: id, ProductID: c.ProductID, SkuID: c.SkuID, Count: c.Count})
		}
	}
	return &out, nil
}

// SettleWithin sets how long the last delivery of a placement made keeps
// trying to record it before it asks for a later delivery (default 30s),
// and returns p. Call it before Handle runs.
func (p *Placer) SettleWithin(d time.Duration) *Placer {
	p.settle = d
	return p
}

// ForAccount records the AliExpress account the Placer places through in
// the orders it tracks, so that the account's Syncer follows them, and
// returns p. Call it before Handle runs.
func (p *Placer) ForAccount(name string) *Placer {
	p.account = name
	return p
}

// OutOrderID is the out_order_id of a placement: derived from the order id
// and the placement key (see placementKey), so a redelivered command, or a
// retry after an uncertain failure, places nothing twice.
func OutOrderID(orderID, key string) string {
	return strings.ReplaceAll(envelope.ID("aliexpress", "out_order_id", orderID, key), "-", "")
}

// Handle is the bus handler of PlacementRequested. It is idempotent: the
// same command gives the same out_order_id, AliExpress answers with the
// orders it created the first time, and the events have deterministic ids.
// Its last delivery ends in a fact, SupplierOrderPlaced or
// SupplierPlacementFailed; when NATS cannot store that fact for a while it
// returns bus.RetryLater, never an error that dead-letters the command.
func (p *Placer) Handle(ctx context.Context, m *bus.Message) error {
	env := m.Envelope
	req := env.GetPlacementRequested()
	if req == nil {
		return nil // not a placement (the filter lets only placements through)
	}
	orderID := env.GetOrderId()
	log := p.log.With("order_id", orderID, "request_id", req.GetRequestId())
	last := m.LastDelivery(p.maxDeliver)
	if len(req.GetItems()) == 0 || req.GetRequestId() == "" {
		return p.failed(ctx, env, req, &eventsv1.FailureReason{Code: domain.ReasonInvalidPlacement, Message: "placement without items or request id"}, last)
	}
	items := make([]aeapi.PlaceItem, len(req.GetItems()))
	for i, it := range req.GetItems() {
		items[i] = aeapi.PlaceItem{ProductID: it.GetProductId(), Count: int(it.GetQuantity()), SkuAttr: it.GetSkuAttr(), LogisticsService: it.GetShippingMethod()}
	}
	res, err := p.api.CreateOrder(ctx, aeapi.PlaceRequest{
		OutOrderID: OutOrderID(orderID, placementKey(req)),
		Address:    Address(req.GetShippingAddress()),
		Items:      items,
	})
	if err != nil {
		var ae *aeapi.APIError
		switch {
		case errors.As(err, &ae) && !client.IsRetryable(err):
			log.WarnContext(ctx, "aliexpress refused the placement", "code", ae.Code, "sub_code", ae.SubCode)
			return p.failed(ctx, env, req, domain.Failure(ae.Msg, ae.SubCode, ae.Code), last)
		case !last:
			return err // retried by the consumer with backoff
		default:
			log.ErrorContext(ctx, "placement failed on its last delivery", "err", err)
			return p.failed(ctx, env, req, &eventsv1.FailureReason{
				Code:      domain.ReasonUnavailable,
				Message:   "AliExpress did not answer the placement; it may have been placed, check before placing again: " + err.Error(),
				Retryable: true,
			}, last)
		}
	}
	if !res.Success {
		log.WarnContext(ctx, "aliexpress refused the placement", "code", res.ErrorCode)
		return p.failed(ctx, env, req, domain.Failure(res.ErrorMsg, res.ErrorCode), last)
	}
	orders, tracked, err := Assign(res, req.GetItems())
	if errors.Is(err, ErrUnmapped) {
		// AliExpress created the orders but did not say which holds which
		// line: read them back. Until they are visible (about 10 s) the
		// command comes again later, never to the dead letters: placing
		// again returns the same orders.
		back, rerr := p.readBack(ctx, res)
		if rerr != nil {
			log.WarnContext(ctx, "placed with aliexpress; orders not readable yet to map the lines, will read them later",
				"ae_orders", len(res.OrderIDs), "err", rerr, "delay", p.readBackAfter)
			return bus.RetryLater(fmt.Errorf("placement %s of %s placed, lines not mapped yet: %w", req.GetRequestId(), orderID, rerr), p.readBackAfter)
		}
		res = back
		orders, tracked, err = Assign(res, req.GetItems())
	}
	if err != nil {
		// Not even the orders' children say where a line went. The orders
		// exist, so the fact is recorded, the lines left put where
		// unmatched children are.
		log.ErrorContext(ctx, "placed with aliexpress; lines mapped by elimination", "ae_orders", len(res.OrderIDs), "err", err)
		orders, tracked = assign(res, req.GetItems(), true)
	}
	if len(orders) == 0 {
		return bus.Permanent(fmt.Errorf("placement %s of %s: success without orders", req.GetRequestId(), orderID)) // the decoder never returns one
	}
	now := p.now()
	for i := range tracked {
		tracked[i].OrderID, tracked[i].RequestID, tracked[i].PlacedAt = orderID, req.GetRequestId(), now
		tracked[i].Account = p.account
	}
	out := p.envelope(env, "placed", req.GetRequestId())
	out.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{RequestId: req.GetRequestId(), Orders: orders}}
	if !last {
		if err := p.record(ctx, tracked, out); err != nil {
			return err // retried: placing again gives the same orders
		}
		log.InfoContext(ctx, "placed with aliexpress", "ae_orders", len(orders))
		return nil
	}
	// The last delivery: the orders are placed, so the command ends in
	// SupplierOrderPlaced, whatever time the delivery had left. If NATS
	// stays away through settleWithin, it comes again later rather than
	// going to the dead letters: placing again is safe (the same
	// out_order_id gives the same orders, the event id is the same), and
	// losing the fact would leave the order waiting for its supplier for
	// good.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.settle)
	defer cancel()
	if err := retrying(sctx, func(ctx context.Context) error { return p.record(ctx, tracked, out) }); err != nil {
		log.ErrorContext(ctx, "placed with aliexpress, fact not recorded on the last delivery; will place again later",
			"ae_orders", len(orders), "err", err, "delay", laterDelay)
		return bus.RetryLater(fmt.Errorf("placement %s of %s placed, not recorded: %w", req.GetRequestId(), orderID, err), laterDelay)
	}
	log.InfoContext(ctx, "placed with aliexpress", "ae_orders", len(orders))
	return nil
}

// Bounds of recording a placement's outcome on its last delivery.
const (
	// factTimeout bounds one attempt at storing a fact.
	factTimeout = 10 * time.Second
	// settleWithin is the default bound of the attempts at recording a
	// placement made on its last delivery, past the delivery's own
	// deadline (Placer.SettleWithin).
	settleWithin = 30 * time.Second
	// laterDelay is how long a last delivery whose outcome could not be
	// recorded waits for its next delivery.
	laterDelay = time.Minute
	// readBackDelay is the default of Placer.ReadBackAfter: longer than
	// AliExpress takes to show a new order (about 10 s).
	readBackDelay = 15 * time.Second
)

// record tracks the placed orders (kept when already tracked: a
// redelivery keeps what polls learnt) and publishes their
// SupplierOrderPlaced. It is idempotent.
func (p *Placer) record(ctx context.Context, tracked []domain.Tracked, placed *eventsv1.Envelope) error {
	for _, t := range tracked {
		if old, ok := p.store.Get(t.AEOrderID); ok {
			t = old
		}
		if err := p.store.Put(ctx, t); err != nil {
			return err
		}
	}
	return p.pub.Publish(ctx, bus.SupplierSubject(placed.GetOrderId()), placed)
}

// retrying calls f, each attempt bounded by factTimeout, until it succeeds
// or ctx ends; the pause between attempts doubles from 100ms up to 2s.
func retrying(ctx context.Context, f func(context.Context) error) error {
	pause := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, factTimeout)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

func (p *Placer) envelope(cmd *eventsv1.Envelope, fact, requestID string) *eventsv1.Envelope {
	now := timestamppb.New(p.now())
	corr := cmd.GetCorrelationId()
	if corr == "" {
		corr = cmd.GetEventId()
	}
	_, rest, _ := strings.Cut(cmd.GetOrderId(), ":")
	store, _, _ := strings.Cut(rest, ":")
	return &eventsv1.Envelope{
		EventId:       envelope.ID("aliexpress", fact, cmd.GetOrderId(), requestID),
		OrderId:       cmd.GetOrderId(),
		OccurredAt:    now,
		RecordedAt:    now,
		CausationId:   cmd.GetEventId(),
		CorrelationId: corr,
		Source:        &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_ALIEXPRESS, StoreId: store, Service: domain.Service},
	}
}

// failed publishes SupplierPlacementFailed, with time of its own: the
// delivery's may be spent (AliExpress took it). A fact that cannot be
// stored is retried by the consumer; on the last delivery it comes again
// later instead of going to the dead letters.
func (p *Placer) failed(ctx context.Context, cmd *eventsv1.Envelope, req *eventsv1.PlacementRequested, reason *eventsv1.FailureReason, last bool) error {
	out := p.envelope(cmd, "placement-failed", req.GetRequestId())
	out.Event = &eventsv1.Envelope_SupplierPlacementFailed{SupplierPlacementFailed: &eventsv1.SupplierPlacementFailed{RequestId: req.GetRequestId(), Reason: reason}}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), factTimeout)
	defer cancel()
	err := p.pub.Publish(pctx, bus.SupplierSubject(cmd.GetOrderId()), out)
	if err != nil && last {
		p.log.ErrorContext(ctx, "placement failure not recorded on the last delivery; will try again later",
			"order_id", cmd.GetOrderId(), "request_id", req.GetRequestId(), "code", reason.GetCode(), "err", err, "delay", laterDelay)
		return bus.RetryLater(fmt.Errorf("placement %s of %s failed (%s), not recorded: %w", req.GetRequestId(), cmd.GetOrderId(), reason.GetCode(), err), laterDelay)
	}
	return err
}

// ErrUnmapped: a placement's result does not say which of several
// AliExpress orders holds a line (ds.order.create lists order ids only);
// the orders must be read back (trade.ds.order.get).
var ErrUnmapped = errors.New("aliexpress orders do not say which holds which line")

// Assign maps the AliExpress orders of a placement back to the store lines
// they hold. Each placed product (order_product_list, or the children of
// the orders read back) takes an unassigned item, in passes: the same
// product id, SKU attributes and quantity; the same product id; for a
// product without product_id (a child as trade.ds.order.get's sample has
// it), the same quantity, then any item left. With a single order every
// item left is in it; with several, an item left is ErrUnmapped.
func Assign(res *aeapi.PlaceResult, items []*eventsv1.SupplierItem) ([]*eventsv1.SupplierOrder, []domain.Tracked, error) {
	orders, tracked := assign(res, items, false)
	if orders == nil {
		return nil, nil, fmt.Errorf("%d aliexpress orders, %d products listed: %w", len(res.OrderIDs), len(res.Products), ErrUnmapped)
	}
	return orders, tracked, nil
}

// assign is Assign; an item left with several orders makes it return nil,
// unless force, when the items left go to the orders of the products left
// unmatched, in order, and then to the first order.
func assign(res *aeapi.PlaceResult, items []*eventsv1.SupplierItem, force bool) ([]*eventsv1.SupplierOrder, []domain.Tracked) {
	byOrder := map[string]*domain.Tracked{}
	var order []string
	for _, id := range res.OrderIDs {
		if byOrder[id] == nil {
			byOrder[id] = &domain.Tracked{AEOrderID: id}
			order = append(order, id)
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	used := make([]bool, len(items))
	in := make([]string, len(items)) // the order holding each item
	sku := make([]string, len(items))
	put := func(i int, orderID, skuID string) {
		used[i], in[i], sku[i] = true, orderID, skuID
	}
	passes := []func(pp aeapi.PlacedProduct, it *eventsv1.SupplierItem) bool{
		func(pp aeapi.PlacedProduct, it *eventsv1.SupplierItem) bool {
			return pp.ProductID != "" && it.GetProductId() == pp.ProductID && it.GetSkuAttr() == pp.SkuAttr && int(it.GetQuantity()) == pp.Count
		},
		func(pp aeapi.PlacedProduct, it *eventsv1.SupplierItem) bool {
			return pp.ProductID != "" && it.GetProductId() == pp.ProductID
		},
		func(pp aeapi.PlacedProduct, it *eventsv1.SupplierItem) bool {
			return pp.ProductID == "" && int(it.GetQuantity()) == pp.Count
		},
		func(pp aeapi.PlacedProduct, _ *eventsv1.SupplierItem) bool { return pp.ProductID == "" },
	}
	matched := make([]bool, len(res.Products))
	for _, ok := range passes {
		for pi, pp := range res.Products {
			if matched[pi] || byOrder[pp.OrderID] == nil {
				continue
			}
			for i, it := range items {
				if !used[i] && ok(pp, it) {
					matched[pi] = true
					put(i, pp.OrderID, pp.SkuID)
					break
				}
			}
		}
	}
	var spare []string // orders of the products left, in order
	for pi, pp := range res.Products {
		if !matched[pi] && byOrder[pp.OrderID] != nil {
			spare = append(spare, pp.OrderID)
		}
	}
	for i := range items {
		switch {
		case used[i]:
		case len(order) == 1:
			put(i, order[0], "")
		case !force:
			return nil, nil
		case len(spare) > 0:
			put(i, spare[0], "")
			spare = spare[1:]
		default:
			put(i, order[0], "")
		}
	}
	for i, it := range items { // lines in the placement's order
		t := byOrder[in[i]]
		t.Lines = append(t.Lines, domain.Line{LineItemID: it.GetLineItemId(), ProductID: it.GetProductId(), SkuID: sku[i], SkuAttr: it.GetSkuAttr(), Quantity: it.GetQuantity()})
	}
	var orders []*eventsv1.SupplierOrder
	var tracked []domain.Tracked
	for _, id := range order {
		t := byOrder[id]
		so := &eventsv1.SupplierOrder{SupplierOrderId: id}
		for _, l := range t.Lines {
			so.Lines = append(so.Lines, &eventsv1.LineQuantity{LineItemId: l.LineItemID, Quantity: l.Quantity})
		}
		orders = append(orders, so)
		tracked = append(tracked, *t)
	}
	return orders, tracked
}

// callingCodes are the international calling codes of the countries whose
// numbers may come without one.
var callingCodes = map[string]string{
	"US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "ES": "+34", "IT": "+39", "PT": "+351",
	"NL": "+31", "BE": "+32", "BR": "+55", "MX": "+52", "AU": "+61", "NZ": "+64", "PL": "+48", "SE": "+46",
	"IE": "+353", "AT": "+43", "CH": "+41", "DK": "+45", "NO": "+47", "FI": "+358", "JP": "+81", "KR": "+82",
	"IL": "+972", "CL": "+56", "CO": "+57", "AR": "+54", "SA": "+966", "AE": "+971", "UA": "+380", "RU": "+7",
}

// Address turns a store shipping address into AliExpress's
// logistics_address: the calling code goes to phone_country, the rest of
// the number to mobile_no; the tax number is the CPF in Brazil.
func Address(a *eventsv1.Address) aeapi.Address {
	country := strings.ToUpper(a.GetCountryCode())
	code := callingCodes[country]
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '+' {
			return r
		}
		return -1
	}, a.GetPhone())
	mobile := strings.TrimPrefix(digits, "+")
	if strings.HasPrefix(digits, "+") && code != "" && strings.HasPrefix(digits, code) {
		mobile = strings.TrimPrefix(digits, code)
	} else if strings.HasPrefix(digits, "00") && code != "" && strings.HasPrefix(digits, "00"+code[1:]) {
		mobile = strings.TrimPrefix(digits, "00"+code[1:])
	}
	out := aeapi.Address{
		ContactPerson: a.GetFullName(),
		FullName:      a.GetFullName(),
		Address:       a.GetAddress1(),
		Address2:      a.GetAddress2(),
		City:          a.GetCity(),
		Province:      a.GetProvince(),
		Zip:           a.GetZip(),
		Country:       country,
		MobileNo:      mobile,
		PhoneCountry:  code,
		TaxNumber:     a.GetTaxNumber(),
	}
	if country == "BR" {
		out.CPF = a.GetTaxNumber()
	}
	return out
}

// placementKey is the idempotency key of a placement: the aggregate keeps
// it across a retry after an uncertain failure, so the retry gets the same
// out_order_id and AliExpress returns the order it may already have placed.
func placementKey(req *eventsv1.PlacementRequested) string {
	if k := req.GetPlacementKey(); k != "" {
		return k
	}
	return req.GetRequestId()
}
