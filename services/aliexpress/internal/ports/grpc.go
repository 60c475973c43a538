package ports

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/grpcserver"
	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	"github.com/dropsync/dropsync/services/aliexpress/internal/app"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// ErrorDomain is the domain of every ErrorInfo this service sends.
const ErrorDomain = "dropsync.aliexpress"

// ErrorInfo reasons of refused manual syncs.
const (
	ReasonQuotaExhausted = "MANUAL_SYNC_QUOTA_EXHAUSTED"
	ReasonTooSoon        = "MANUAL_SYNC_TOO_SOON"
)

// SyncService serves dropsync.aliexpress.v1.SupplierSyncService.
type SyncService struct {
	aliexpressv1.UnimplementedSupplierSyncServiceServer
	accounts app.Accounts
	now      func() time.Time
	log      *slog.Logger
}

// NewSyncService returns the gRPC service of the accounts.
func NewSyncService(accounts app.Accounts, now func() time.Time, log *slog.Logger) *SyncService {
	return &SyncService{accounts: accounts, now: now, log: log}
}

// SyncNow implements SupplierSyncServiceServer.
func (s *SyncService) SyncNow(ctx context.Context, req *aliexpressv1.SyncNowRequest) (*aliexpressv1.SyncNowResponse, error) {
	r, scopes, err := s.accounts.SyncNow(ctx, req.GetStoreIds(), req.GetOrderIds())
	if err != nil && r.Polled == 0 {
		return nil, s.toStatus(ctx, err)
	}
	if err != nil {
		s.log.WarnContext(ctx, "manual sync partly failed", "err", err)
	}
	resp := &aliexpressv1.SyncNowResponse{OrdersPolled: int32(r.Polled), EventsPublished: int32(r.Published)}
	for _, sc := range scopes {
		q, qerr := s.accounts.Quota(ctx, sc)
		if qerr == nil {
			resp.Quotas = append(resp.Quotas, quotaProto(q))
		}
	}
	return resp, nil
}

// GetSyncQuota implements SupplierSyncServiceServer.
func (s *SyncService) GetSyncQuota(ctx context.Context, req *aliexpressv1.GetSyncQuotaRequest) (*aliexpressv1.GetSyncQuotaResponse, error) {
	q, err := s.accounts.Quota(ctx, req.GetStoreId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	acc, _ := s.accounts.Named("")
	if q.Scope != "*" {
		acc = s.accounts.For(q.Scope)
	}
	used, limit := acc.Syncer.Budget()
	b := &aliexpressv1.ApiBudget{DailyLimit: int32(limit), UsedToday: int32(used), OpenOrders: int32(acc.Syncer.Open()), Account: acc.Name}
	fixed, resume := acc.Syncer.Next()
	if !fixed.IsZero() {
		b.NextFixedSyncAt = timestamppb.New(fixed)
	}
	if !resume.IsZero() {
		b.PausedUntil = timestamppb.New(resume)
	}
	return &aliexpressv1.GetSyncQuotaResponse{Quota: quotaProto(q), Budget: b}, nil
}

// GetConnectionHealth implements SupplierSyncServiceServer.
func (s *SyncService) GetConnectionHealth(_ context.Context, req *aliexpressv1.GetConnectionHealthRequest) (*aliexpressv1.GetConnectionHealthResponse, error) {
	acc, ok := s.accounts.Named(req.GetAccount())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no AliExpress account %q", req.GetAccount())
	}
	h := acc.Health.State()
	resp := &aliexpressv1.GetConnectionHealthResponse{Healthy: h.Healthy, Reason: h.Reason, ChangedAt: timestamppb.New(h.ChangedAt),
		UnhealthyCount: h.UnhealthyCount, Account: acc.Name}
	if !h.LastSuccess.IsZero() {
		resp.LastSuccessAt = timestamppb.New(h.LastSuccess)
	}
	return resp, nil
}

func quotaProto(q app.QuotaState) *aliexpressv1.SyncQuota {
	return &aliexpressv1.SyncQuota{
		StoreId: q.Scope, DailyLimit: int32(q.Limit), UsedToday: int32(q.Used),
		MinIntervalSeconds: int32(q.Interval / time.Second),
		NextAllowedAt:      timestamppb.New(q.NextAllowed), ResetsAt: timestamppb.New(q.Res),
	}
}

// toStatus is the one place errors become gRPC statuses.
func (s *SyncService) toStatus(ctx context.Context, err error) error {
	var qe *domain.QuotaError
	switch {
	case errors.As(err, &qe):
		reason := ReasonQuotaExhausted
		if errors.Is(err, domain.ErrTooSoon) {
			reason = ReasonTooSoon
		}
		return grpcserver.Status(codes.ResourceExhausted, err.Error(),
			&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: map[string]string{
				"store_id": qe.Scope, "daily_limit": strconv.Itoa(qe.Limit), "retry_at": qe.Retry.UTC().Format(time.RFC3339),
			}},
			&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: "manual-sync:" + qe.Scope, Description: qe.Detail}}},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(max(qe.Retry.Sub(s.now()), 0))},
		)
	case errors.Is(err, app.ErrInvalidID):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, app.ErrQuotaConflict):
		return status.Error(codes.Aborted, "manual sync quota changed concurrently; try again")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		s.log.ErrorContext(ctx, "sync failed", "err", err)
		return status.Error(codes.Unavailable, "aliexpress sync failed; see the connection health")
	}
}
