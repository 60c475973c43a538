// Package ports holds what the notifier is asked: the gRPC
// dropsync.notifier.v1.ShippingConfirmationService.
package ports

import (
	"context"
	"log/slog"
	"strings"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

// Limits of requests.
const (
	// MaxPageSize bounds ListConfirmations pages.
	MaxPageSize = 500
	// DefaultPageSize is the page size when none is asked for.
	DefaultPageSize = 50
	// MaxRequestID bounds request ids.
	MaxRequestID = 128
	// MaxShipmentID bounds shipment ids.
	MaxShipmentID = 256
	// MaxChannel bounds channel names.
	MaxChannel = 64
)

// App is what the gRPC port needs of the application.
type App interface {
	// Issue returns the shipment's decision, recording it first if needed,
	// and whether it existed before the call.
	Issue(ctx context.Context, req app.IssueRequest) (app.Record, bool, error)
	// Get returns the shipment's recorded decision.
	Get(ctx context.Context, orderID, shipmentID string) (app.Record, error)
	// List returns a page of recorded decisions and the next page token.
	List(ctx context.Context, f app.Filter, pageToken string, n int) ([]app.Record, string, error)
}

// ConfirmationService serves dropsync.notifier.v1.ShippingConfirmationService.
type ConfirmationService struct {
	notifierv1.UnimplementedShippingConfirmationServiceServer
	app App
	log *slog.Logger
}

var _ notifierv1.ShippingConfirmationServiceServer = (*ConfirmationService)(nil)

// NewConfirmationService returns the gRPC service over the application.
func NewConfirmationService(a App, log *slog.Logger) *ConfirmationService {
	return &ConfirmationService{app: a, log: log}
}

func (s *ConfirmationService) fail(ctx context.Context, err error) error {
	return toStatus(ctx, s.log, err)
}

// IssueConfirmation implements ShippingConfirmationService.
func (s *ConfirmationService) IssueConfirmation(ctx context.Context, req *notifierv1.IssueConfirmationRequest) (*notifierv1.IssueConfirmationResponse, error) {
	id, err := checkOrderID("order_id", req.GetOrderId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkShipmentID(req.GetShipmentId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	switch {
	case req.GetStore() == "":
		return nil, s.fail(ctx, invalid("store", "required: the order's store key <platform>:<store>"))
	case req.GetStore() != id.StoreKey():
		return nil, s.fail(ctx, invalid("store", "is not the store of order_id ("+id.StoreKey()+")"))
	}
	if err := checkChannel(req.GetChannel(), id.Platform); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	r, existing, err := s.app.Issue(ctx, app.IssueRequest{
		OrderID:    req.GetOrderId(),
		ShipmentID: req.GetShipmentId(),
		Store:      req.GetStore(),
		Channel:    req.GetChannel(),
		RequestID:  req.GetRequestId(),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &notifierv1.IssueConfirmationResponse{Confirmation: r.Proto(), Existing: existing}, nil
}

// GetConfirmation implements ShippingConfirmationService.
func (s *ConfirmationService) GetConfirmation(ctx context.Context, req *notifierv1.GetConfirmationRequest) (*notifierv1.GetConfirmationResponse, error) {
	if _, err := checkOrderID("order_id", req.GetOrderId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkShipmentID(req.GetShipmentId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	r, err := s.app.Get(ctx, req.GetOrderId(), req.GetShipmentId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &notifierv1.GetConfirmationResponse{Confirmation: r.Proto()}, nil
}

// ListConfirmations implements ShippingConfirmationService.
func (s *ConfirmationService) ListConfirmations(ctx context.Context, req *notifierv1.ListConfirmationsRequest) (*notifierv1.ListConfirmationsResponse, error) {
	if req.GetStore() != "" {
		if _, _, err := order.ParseStoreKey(req.GetStore()); err != nil {
			return nil, s.fail(ctx, invalid("store", err.Error()))
		}
	}
	if req.GetOrderId() != "" {
		id, err := checkOrderID("order_id", req.GetOrderId())
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if req.GetStore() != "" && req.GetStore() != id.StoreKey() {
			return nil, s.fail(ctx, invalid("order_id", "is not in store "+req.GetStore()))
		}
	}
	n := int(req.GetPageSize())
	switch {
	case n < 0:
		return nil, s.fail(ctx, invalid("page_size", "negative"))
	case n == 0:
		n = DefaultPageSize
	case n > MaxPageSize:
		n = MaxPageSize
	}
	records, next, err := s.app.List(ctx, app.Filter{Store: req.GetStore(), OrderID: req.GetOrderId()}, req.GetPageToken(), n)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &notifierv1.ListConfirmationsResponse{NextPageToken: next, Confirmations: make([]*notifierv1.Confirmation, len(records))}
	for i, r := range records {
		out.Confirmations[i] = r.Proto()
	}
	return out, nil
}

func checkOrderID(field, id string) (order.ID, error) {
	if id == "" {
		return order.ID{}, invalid(field, "required")
	}
	parsed, err := order.ParseID(id)
	if err != nil {
		return order.ID{}, invalid(field, err.Error())
	}
	return parsed, nil
}

func checkShipmentID(id string) error {
	switch {
	case id == "":
		return invalid("shipment_id", "required")
	case len(id) > MaxShipmentID:
		return invalid("shipment_id", "longer than 256 bytes")
	case hasControl(id):
		return invalid("shipment_id", "contains control characters")
	}
	return nil
}

// checkChannel accepts "" (the platform's default) or
// "<platform>.<mechanism>" in letters, digits, '.', '_' and '-'.
func checkChannel(ch string, p eventsv1.Platform) error {
	if ch == "" {
		return nil
	}
	platform := order.PlatformWord(p)
	if len(ch) > MaxChannel {
		return invalid("channel", "longer than 64 bytes")
	}
	if !strings.HasPrefix(ch, platform+".") || len(ch) == len(platform)+1 {
		return invalid("channel", "want "+platform+".<mechanism>, e.g. "+order.Channel(p))
	}
	for i := 0; i < len(ch); i++ {
		if !channelByte(ch[i]) {
			return invalid("channel", "has a character other than letters, digits, '.', '_', '-'")
		}
	}
	return nil
}

// channelByte reports whether c may appear in a channel name.
func channelByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func checkRequestID(id string) error {
	switch {
	case id == "":
		return invalid("request_id", "required")
	case len(id) > MaxRequestID:
		return invalid("request_id", "longer than 128 bytes")
	case hasControl(id):
		return invalid("request_id", "contains control characters")
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
