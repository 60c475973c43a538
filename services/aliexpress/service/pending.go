package service

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
)

// errNotReady answers what reaches SupplierSyncService before the
// connector is set up: it is still waiting for NATS.
var errNotReady = status.Error(codes.Unavailable, "aliexpress connector starting: not set up yet")

// pendingSync is the SupplierSyncService served from the start: it
// answers UNAVAILABLE until open gives it the service to pass calls to.
type pendingSync struct {
	aliexpressv1.UnimplementedSupplierSyncServiceServer
	ready chan struct{}
	srv   aliexpressv1.SupplierSyncServiceServer // set once, before ready is closed
}

func newPendingSync() *pendingSync { return &pendingSync{ready: make(chan struct{})} }

// open makes s the service every call goes to. It is called once.
func (p *pendingSync) open(s aliexpressv1.SupplierSyncServiceServer) {
	p.srv = s
	close(p.ready)
}

// get returns the open service, or nil.
func (p *pendingSync) get() aliexpressv1.SupplierSyncServiceServer {
	select {
	case <-p.ready:
		return p.srv
	default:
		return nil
	}
}

// SyncNow implements aliexpressv1.SupplierSyncServiceServer.
func (p *pendingSync) SyncNow(ctx context.Context, r *aliexpressv1.SyncNowRequest) (*aliexpressv1.SyncNowResponse, error) {
	s := p.get()
	if s == nil {
		return nil, errNotReady
	}
	return s.SyncNow(ctx, r)
}

// GetSyncQuota implements aliexpressv1.SupplierSyncServiceServer.
func (p *pendingSync) GetSyncQuota(ctx context.Context, r *aliexpressv1.GetSyncQuotaRequest) (*aliexpressv1.GetSyncQuotaResponse, error) {
	s := p.get()
	if s == nil {
		return nil, errNotReady
	}
	return s.GetSyncQuota(ctx, r)
}

// GetConnectionHealth implements aliexpressv1.SupplierSyncServiceServer.
func (p *pendingSync) GetConnectionHealth(ctx context.Context, r *aliexpressv1.GetConnectionHealthRequest) (*aliexpressv1.GetConnectionHealthResponse, error) {
	s := p.get()
	if s == nil {
		return nil, errNotReady
	}
	return s.GetConnectionHealth(ctx, r)
}
