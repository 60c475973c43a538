// Package ports holds what the orders service is asked: the gRPC
// OrderService and the bus consumers of store and supplier events.
package ports

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/orders/internal/app"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

// Limits of requests.
const (
	MaxBulk         = 500
	MaxPageSize     = 500
	DefaultPageSize = 50
	MaxHistoryPage  = 1000
	DefaultHistory  = 100
	MaxRequestID    = 128
	MaxNote         = 2000
)

// App is what the gRPC port needs of the application.
type App interface {
	Get(ctx context.Context, id string) (*ordersv1.Order, error)
	History(ctx context.Context, id string, from uint64, n int) ([]*ordersv1.RecordedEvent, uint64, error)
	Place(ctx context.Context, requestID string, ids []string, retry bool) []*ordersv1.OrderResult
	RetryFulfillment(ctx context.Context, requestID string, ids []string) []*ordersv1.OrderResult
	FulfillManually(ctx context.Context, requestID, id, note string) (*ordersv1.Order, error)
	Resync(ctx context.Context, requestID, id string) (*ordersv1.Order, error)
	ResolveConflict(ctx context.Context, requestID, id string, acceptStore bool) (*ordersv1.Order, error)
	Settings(ctx context.Context, store string) (*eventsv1.StoreSettings, error)
	UpdateSettings(ctx context.Context, requestID, store string, s *eventsv1.StoreSettings) (*eventsv1.StoreSettings, error)
	Mappings(ctx context.Context, store string) ([]*eventsv1.SupplierMapping, error)
	UpdateMapping(ctx context.Context, requestID, store string, m *eventsv1.SupplierMapping, remove bool) (*eventsv1.SupplierMapping, error)
	StoreHealth(ctx context.Context, store string) ([]*ordersv1.StoreHealth, error)
}

// OrderService serves dropsync.orders.v1.OrderService.
type OrderService struct {
	ordersv1.UnimplementedOrderServiceServer
	app  App
	view *readmodel.Model
	log  *slog.Logger
}

var _ ordersv1.OrderServiceServer = (*OrderService)(nil)

// NewOrderService returns the gRPC service over app and the read model.
func NewOrderService(app App, view *readmodel.Model, log *slog.Logger) *OrderService {
	return &OrderService{app: app, view: view, log: log}
}

func (s *OrderService) fail(ctx context.Context, err error) error { return toStatus(ctx, s.log, err) }

func checkOrderID(field, id string) error {
	if id == "" {
		return invalid(field, "required")
	}
	if _, err := order.ParseID(id); err != nil {
		return invalid(field, err.Error())
	}
	return nil
}

func checkStore(field, store string, required bool) error {
	if store == "" {
		if required {
			return invalid(field, "required")
		}
		return nil
	}
	if _, _, err := order.ParseStoreKey(store); err != nil {
		return invalid(field, err.Error())
	}
	return nil
}

func checkRequestID(id string) error {
	switch {
	case id == "":
		return invalid("request_id", "required: commands are idempotent on it")
	case len(id) > MaxRequestID:
		return invalid("request_id", "longer than 128 bytes")
	case strings.ContainsAny(id, "\x00\n\r"):
		return invalid("request_id", "contains control characters")
	}
	return nil
}

func checkTab(field string, t eventsv1.Tab) error {
	if _, ok := eventsv1.Tab_name[int32(t)]; !ok {
		return invalid(field, "unknown tab")
	}
	return nil
}

// GetOrder implements OrderService.
func (s *OrderService) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	if err := checkOrderID("order_id", req.GetOrderId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	o, err := s.app.Get(ctx, req.GetOrderId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.GetOrderResponse{Order: o}, nil
}

// ListOrders implements OrderService from the read model: the orders carry
// their summary (id, platform, store, name, tab, times, revision); GetOrder
// has the detail.
//
// It, CountOrders and WatchOrders answer Unavailable until the read model
// has replayed the event store after a start: never a partial list.
func (s *OrderService) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	if err := s.view.Ready(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkTab("tab", req.GetTab()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkStore("store", req.GetStore(), false); err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > MaxPageSize:
		return nil, s.fail(ctx, invalid("page_size", "must be 0..500"))
	case size == 0:
		size = DefaultPageSize
	}
	if a, b := req.GetCreatedAfter(), req.GetCreatedBefore(); a != nil && b != nil && !a.AsTime().Before(b.AsTime()) {
		return nil, s.fail(ctx, invalid("created_before", "must be after created_after"))
	}
	q := readmodel.Query{Tab: req.GetTab(), Store: req.GetStore(), PageSize: size, PageToken: req.GetPageToken(), AttentionOnly: req.GetAttentionOnly()}
	if t := req.GetCreatedAfter(); t != nil {
		q.CreatedAfter = t.AsTime()
	}
	if t := req.GetCreatedBefore(); t != nil {
		q.CreatedBefore = t.AsTime()
	}
	page, next, err := s.view.List(q)
	if err != nil {
		return nil, s.fail(ctx, invalid("page_token", err.Error()))
	}
	resp := &ordersv1.ListOrdersResponse{Orders: make([]*ordersv1.Order, 0, len(page)), NextPageToken: next}
	for _, sum := range page {
		resp.Orders = append(resp.Orders, summaryView(sum))
	}
	return resp, nil
}

func summaryView(sum readmodel.Summary) *ordersv1.Order {
	o := &ordersv1.Order{
		OrderId:   sum.ID,
		Name:      sum.Name,
		Tab:       sum.Tab,
		CreatedAt: timestamppb.New(sum.CreatedAt),
		UpdatedAt: timestamppb.New(sum.UpdatedAt),
		Revision:  sum.Revision,
	}
	if sum.Attention != nil {
		o.Attention = []*eventsv1.AttentionRaised{sum.Attention}
	}
	if id, err := order.ParseID(sum.ID); err == nil {
		o.Platform, o.StoreId, o.StoreOrderId = id.Platform, id.Store, id.StoreOrderID
	}
	return o
}

// CountOrders implements OrderService.
func (s *OrderService) CountOrders(ctx context.Context, req *ordersv1.CountOrdersRequest) (*ordersv1.CountOrdersResponse, error) {
	if err := s.view.Ready(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkStore("store", req.GetStore(), false); err != nil {
		return nil, s.fail(ctx, err)
	}
	counts := s.view.Count(req.GetStore())
	resp := &ordersv1.CountOrdersResponse{}
	for t := eventsv1.Tab_TAB_PENDING; t <= eventsv1.Tab_TAB_FAILED; t++ {
		resp.Counts = append(resp.Counts, &ordersv1.TabCount{Tab: t, Count: counts[t]})
	}
	return resp, nil
}

// GetOrderHistory implements OrderService.
func (s *OrderService) GetOrderHistory(ctx context.Context, req *ordersv1.GetOrderHistoryRequest) (*ordersv1.GetOrderHistoryResponse, error) {
	if err := checkOrderID("order_id", req.GetOrderId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	n := int(req.GetPageSize())
	switch {
	case n < 0 || n > MaxHistoryPage:
		return nil, s.fail(ctx, invalid("page_size", "must be 0..1000"))
	case n == 0:
		n = DefaultHistory
	}
	events, next, err := s.app.History(ctx, req.GetOrderId(), req.GetFromRevision(), n)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.GetOrderHistoryResponse{Events: events, NextRevision: next}, nil
}

func (s *OrderService) checkBulk(requestID string, ids []string) error {
	if err := checkRequestID(requestID); err != nil {
		return err
	}
	if len(ids) == 0 {
		return invalid("order_ids", "required")
	}
	if len(ids) > MaxBulk {
		return invalid("order_ids", "at most 500 per call")
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if err := checkOrderID("order_ids", id); err != nil {
			return err
		}
		if seen[id] {
			return invalid("order_ids", "duplicate "+id)
		}
		seen[id] = true
	}
	return nil
}

// PlaceOrders implements OrderService.
func (s *OrderService) PlaceOrders(ctx context.Context, req *ordersv1.PlaceOrdersRequest) (*ordersv1.PlaceOrdersResponse, error) {
	if err := s.checkBulk(req.GetRequestId(), req.GetOrderIds()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.PlaceOrdersResponse{Results: s.app.Place(asked(ctx), req.GetRequestId(), req.GetOrderIds(), false)}, nil
}

// RetryOrders implements OrderService.
func (s *OrderService) RetryOrders(ctx context.Context, req *ordersv1.RetryOrdersRequest) (*ordersv1.RetryOrdersResponse, error) {
	if err := s.checkBulk(req.GetRequestId(), req.GetOrderIds()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.RetryOrdersResponse{Results: s.app.Place(asked(ctx), req.GetRequestId(), req.GetOrderIds(), true)}, nil
}

// RetryFulfillment implements OrderService.
func (s *OrderService) RetryFulfillment(ctx context.Context, req *ordersv1.RetryFulfillmentRequest) (*ordersv1.RetryFulfillmentResponse, error) {
	if err := s.checkBulk(req.GetRequestId(), req.GetOrderIds()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.RetryFulfillmentResponse{Results: s.app.RetryFulfillment(asked(ctx), req.GetRequestId(), req.GetOrderIds())}, nil
}

// FulfillManually implements OrderService.
func (s *OrderService) FulfillManually(ctx context.Context, req *ordersv1.FulfillManuallyRequest) (*ordersv1.FulfillManuallyResponse, error) {
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkOrderID("order_id", req.GetOrderId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if len(req.GetNote()) > MaxNote {
		return nil, s.fail(ctx, invalid("note", "longer than 2000 bytes"))
	}
	o, err := s.app.FulfillManually(asked(ctx), req.GetRequestId(), req.GetOrderId(), req.GetNote())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.FulfillManuallyResponse{Order: o}, nil
}

// ResyncOrder implements OrderService.
func (s *OrderService) ResyncOrder(ctx context.Context, req *ordersv1.ResyncOrderRequest) (*ordersv1.ResyncOrderResponse, error) {
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkOrderID("order_id", req.GetOrderId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	o, err := s.app.Resync(asked(ctx), req.GetRequestId(), req.GetOrderId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &ordersv1.ResyncOrderResponse{Order: o}
	id, _ := order.ParseID(req.GetOrderId()) // checked above
	if hs, err := s.app.StoreHealth(ctx, id.StoreKey()); err == nil && len(hs) == 1 && !hs[0].GetHealthy() {
		resp.StoreHealth = hs[0]
		s.log.WarnContext(ctx, "resync requested for a store whose connection is unhealthy: the connector holds it until the platform takes the store's credentials again",
			"order", req.GetOrderId(), "store", id.StoreKey(), "reason", hs[0].GetReason())
	}
	return resp, nil
}

// ResolveConflict implements OrderService.
func (s *OrderService) ResolveConflict(ctx context.Context, req *ordersv1.ResolveConflictRequest) (*ordersv1.ResolveConflictResponse, error) {
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkOrderID("order_id", req.GetOrderId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	o, err := s.app.ResolveConflict(asked(ctx), req.GetRequestId(), req.GetOrderId(), req.GetAcceptStore())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.ResolveConflictResponse{Order: o}, nil
}

// WatchOrders implements OrderService: status changes recorded from now on,
// until the client goes away. A client that reads too slowly is cut off
// with ResourceExhausted and should call again (and re-read what it missed
// with ListOrders).
func (s *OrderService) WatchOrders(req *ordersv1.WatchOrdersRequest, stream ordersv1.OrderService_WatchOrdersServer) error {
	ctx := stream.Context()
	if err := s.view.Ready(); err != nil {
		return s.fail(ctx, err)
	}
	if err := checkStore("store", req.GetStore(), false); err != nil {
		return s.fail(ctx, err)
	}
	for _, t := range req.GetTabs() {
		if err := checkTab("tabs", t); err != nil {
			return s.fail(ctx, err)
		}
	}
	changes, errf := s.view.Watch(ctx, req.GetStore(), req.GetTabs())
	for c := range changes {
		err := stream.Send(&ordersv1.WatchOrdersResponse{
			OrderId: c.OrderID, From: c.From, To: c.To, ChangedAt: timestamppb.New(c.ChangedAt), Revision: c.Revision,
		})
		if err != nil {
			return err
		}
	}
	if err := errf(); err != nil {
		return status.Error(codes.ResourceExhausted, err.Error())
	}
	return s.fail(ctx, ctx.Err())
}

// GetStoreSettings implements OrderService.
func (s *OrderService) GetStoreSettings(ctx context.Context, req *ordersv1.GetStoreSettingsRequest) (*ordersv1.GetStoreSettingsResponse, error) {
	if err := checkStore("store", req.GetStore(), true); err != nil {
		return nil, s.fail(ctx, err)
	}
	st, err := s.app.Settings(ctx, req.GetStore())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.GetStoreSettingsResponse{Settings: st}, nil
}

// UpdateStoreSettings implements OrderService.
func (s *OrderService) UpdateStoreSettings(ctx context.Context, req *ordersv1.UpdateStoreSettingsRequest) (*ordersv1.UpdateStoreSettingsResponse, error) {
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkStore("store", req.GetStore(), true); err != nil {
		return nil, s.fail(ctx, err)
	}
	if req.GetSettings() == nil {
		return nil, s.fail(ctx, invalid("settings", "required"))
	}
	st, err := s.app.UpdateSettings(asked(ctx), req.GetRequestId(), req.GetStore(), req.GetSettings())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.UpdateStoreSettingsResponse{Settings: st}, nil
}

// ListSupplierMappings implements OrderService.
func (s *OrderService) ListSupplierMappings(ctx context.Context, req *ordersv1.ListSupplierMappingsRequest) (*ordersv1.ListSupplierMappingsResponse, error) {
	if err := checkStore("store", req.GetStore(), true); err != nil {
		return nil, s.fail(ctx, err)
	}
	ms, err := s.app.Mappings(ctx, req.GetStore())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.ListSupplierMappingsResponse{Mappings: ms}, nil
}

// GetStoreHealth implements OrderService.
func (s *OrderService) GetStoreHealth(ctx context.Context, req *ordersv1.GetStoreHealthRequest) (*ordersv1.GetStoreHealthResponse, error) {
	if err := checkStore("store", req.GetStore(), false); err != nil {
		return nil, s.fail(ctx, err)
	}
	hs, err := s.app.StoreHealth(ctx, req.GetStore())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.GetStoreHealthResponse{Stores: hs}, nil
}

// UpdateSupplierMapping implements OrderService.
func (s *OrderService) UpdateSupplierMapping(ctx context.Context, req *ordersv1.UpdateSupplierMappingRequest) (*ordersv1.UpdateSupplierMappingResponse, error) {
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkStore("store", req.GetStore(), true); err != nil {
		return nil, s.fail(ctx, err)
	}
	m := req.GetMapping()
	switch {
	case m == nil:
		return nil, s.fail(ctx, invalid("mapping", "required"))
	case m.GetVariantId() == "":
		return nil, s.fail(ctx, invalid("mapping.variant_id", "required"))
	case !req.GetRemove() && m.GetProductId() == "":
		return nil, s.fail(ctx, invalid("mapping.product_id", "required"))
	case !req.GetRemove() && m.GetShippingMethod() == "":
		return nil, s.fail(ctx, invalid("mapping.shipping_method", "required"))
	}
	out, err := s.app.UpdateMapping(asked(ctx), req.GetRequestId(), req.GetStore(), m, req.GetRemove())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &ordersv1.UpdateSupplierMappingResponse{Mapping: out}, nil
}

// asked returns ctx carrying the caller (grpcauth's principal), so the
// command's events record who asked for it.
func asked(ctx context.Context) context.Context {
	p, ok := grpcauth.FromContext(ctx)
	if !ok {
		return ctx
	}
	return app.WithRequestedBy(ctx, &eventsv1.Principal{Name: p.Name, Kind: string(p.Kind)})
}
