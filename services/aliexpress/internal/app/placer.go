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

// Publisher publishes supplier events (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error
}

// Placer carries out PlacementRequested commands: it places the order with
// AliExpress and publishes SupplierOrderPlaced or SupplierPlacementFailed.
type Placer struct {
	api        *aeapi.Client
	store      *Store
	pub        Publisher
	now        func() time.Time
	log        *slog.Logger
	maxDeliver int
}

// NewPlacer returns a Placer. maxDeliver is the consumer's MaxDeliver: on
// the last delivery a transient failure is published as
// SupplierPlacementFailed (retryable) instead of being retried.
func NewPlacer(api *aeapi.Client, store *Store, pub Publisher, now func() time.Time, maxDeliver int, log *slog.Logger) *Placer {
	return &Placer{api: api, store: store, pub: pub, now: now, maxDeliver: maxDeliver, log: log}
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
func (p *Placer) Handle(ctx context.Context, m *bus.Message) error {
	env := m.Envelope
	req := env.GetPlacementRequested()
	if req == nil {
		return nil // not a placement (the filter lets only placements through)
	}
	orderID := env.GetOrderId()
	log := p.log.With("order_id", orderID, "request_id", req.GetRequestId())
	if len(req.GetItems()) == 0 || req.GetRequestId() == "" {
		return p.fail(ctx, env, req, &eventsv1.FailureReason{Code: domain.ReasonInvalidPlacement, Message: "placement without items or request id"})
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
		last := m.Deliveries >= uint64(p.maxDeliver)
		var ae *aeapi.APIError
		switch {
		case errors.As(err, &ae) && !client.IsRetryable(err):
			log.WarnContext(ctx, "aliexpress refused the placement", "code", ae.Code, "sub_code", ae.SubCode)
			return p.fail(ctx, env, req, domain.Failure(ae.Msg, ae.SubCode, ae.Code))
		case !last:
			return err // retried by the consumer with backoff
		default:
			log.ErrorContext(ctx, "placement failed on its last delivery", "err", err)
			return p.fail(ctx, env, req, &eventsv1.FailureReason{
				Code:      domain.ReasonUnavailable,
				Message:   "AliExpress did not answer the placement; it may have been placed, check before placing again: " + err.Error(),
				Retryable: true,
			})
		}
	}
	if !res.Success {
		log.WarnContext(ctx, "aliexpress refused the placement", "code", res.ErrorCode)
		return p.fail(ctx, env, req, domain.Failure(res.ErrorMsg, res.ErrorCode))
	}
	orders, tracked, err := Assign(res, req.GetItems())
	if err != nil {
		return bus.Permanent(fmt.Errorf("placement %s of %s: %w", req.GetRequestId(), orderID, err))
	}
	now := p.now()
	for _, t := range tracked {
		t.OrderID, t.RequestID, t.PlacedAt = orderID, req.GetRequestId(), now
		if old, ok := p.store.Get(t.AEOrderID); ok {
			t = old // placed before (a redelivery): keep what polls learnt
		}
		if err := p.store.Put(ctx, t); err != nil {
			return err
		}
	}
	out := p.envelope(env, "placed", req.GetRequestId())
	out.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{RequestId: req.GetRequestId(), Orders: orders}}
	if err := p.pub.Publish(ctx, bus.SupplierSubject(orderID), out); err != nil {
		return err
	}
	log.InfoContext(ctx, "placed with aliexpress", "ae_orders", len(orders))
	return nil
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

func (p *Placer) fail(ctx context.Context, cmd *eventsv1.Envelope, req *eventsv1.PlacementRequested, reason *eventsv1.FailureReason) error {
	out := p.envelope(cmd, "placement-failed", req.GetRequestId())
	out.Event = &eventsv1.Envelope_SupplierPlacementFailed{SupplierPlacementFailed: &eventsv1.SupplierPlacementFailed{RequestId: req.GetRequestId(), Reason: reason}}
	return p.pub.Publish(ctx, bus.SupplierSubject(cmd.GetOrderId()), out)
}

// Assign maps the AliExpress orders of a placement back to the store lines
// they hold: each placed product (order_product_list) takes the first
// unassigned item with its product id and SKU attributes. With a single
// order and no product list, every item is in it.
func Assign(res *aeapi.PlaceResult, items []*eventsv1.SupplierItem) ([]*eventsv1.SupplierOrder, []domain.Tracked, error) {
	byOrder := map[string]*domain.Tracked{}
	var order []string
	for _, id := range res.OrderIDs {
		byOrder[id] = &domain.Tracked{AEOrderID: id}
		order = append(order, id)
	}
	used := make([]bool, len(items))
	take := func(pp aeapi.PlacedProduct, exact bool) bool {
		for i, it := range items {
			if used[i] || it.GetProductId() != pp.ProductID || exact && (it.GetSkuAttr() != pp.SkuAttr || int(it.GetQuantity()) != pp.Count) {
				continue
			}
			t := byOrder[pp.OrderID]
			if t == nil {
				return false
			}
			used[i] = true
			t.Lines = append(t.Lines, domain.Line{LineItemID: it.GetLineItemId(), ProductID: it.GetProductId(), SkuID: pp.SkuID, SkuAttr: it.GetSkuAttr(), Quantity: it.GetQuantity()})
			return true
		}
		return false
	}
	switch {
	case len(res.Products) > 0:
		var loose []aeapi.PlacedProduct
		for _, pp := range res.Products {
			if !take(pp, true) {
				loose = append(loose, pp)
			}
		}
		for _, pp := range loose {
			take(pp, false)
		}
	case len(order) == 1:
		for i := range items {
			take(aeapi.PlacedProduct{OrderID: order[0], ProductID: items[i].GetProductId()}, false)
		}
	default:
		return nil, nil, fmt.Errorf("%d aliexpress orders and no product list: cannot tell which holds which line", len(order))
	}
	for i, u := range used {
		if !u {
			if len(order) != 1 {
				return nil, nil, fmt.Errorf("line %s is in none of the aliexpress orders", items[i].GetLineItemId())
			}
			it := items[i]
			t := byOrder[order[0]]
			used[i] = true
			t.Lines = append(t.Lines, domain.Line{LineItemID: it.GetLineItemId(), ProductID: it.GetProductId(), SkuAttr: it.GetSkuAttr(), Quantity: it.GetQuantity()})
		}
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
	return orders, tracked, nil
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
