package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	"github.com/dropsync/dropsync/services/aliexpress/service"
)

// TestStartsBeforeNATS: started as its main does (service.Run, its own
// NATS connection) with no NATS server on its port, the connector serves
// gRPC at once, every health service says NOT_SERVING and a call answers
// UNAVAILABLE; once the server starts on that port every health service
// says SERVING and calls are answered.
func TestStartsBeforeNATS(t *testing.T) {
	h := newHarness(t)
	h.stop() // its connector runs on the harness's NATS: this one starts without
	cfg := h.config()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(), h.pki.DialOptions(grpcauthtest.AllRoles)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := aliexpressv1.NewSupplierSyncServiceClient(conn)
	call := func(want codes.Code) func() error {
		return func() error {
			_, err := client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{})
			if status.Code(err) != want {
				return fmt.Errorf("GetConnectionHealth: %v, want %v", status.Code(err), want)
			}
			return nil
		}
	}
	svc := aliexpressv1.SupplierSyncService_ServiceDesc.ServiceName
	natstest.StartsBeforeNATS(t, func(ctx context.Context, url string) error {
		cfg.URL = url
		return service.Run(ctx, cfg, lis, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}, []natstest.Check{
		{Name: "server", Holds: natstest.GRPCHealth(conn, "", healthpb.HealthCheckResponse_NOT_SERVING)},
		{Name: "SupplierSyncService", Holds: natstest.GRPCHealth(conn, svc, healthpb.HealthCheckResponse_NOT_SERVING)},
		{Name: "a call is unavailable", Holds: call(codes.Unavailable)},
	}, []natstest.Check{
		{Name: "server", Holds: natstest.GRPCHealth(conn, "", healthpb.HealthCheckResponse_SERVING)},
		{Name: "SupplierSyncService", Holds: natstest.GRPCHealth(conn, svc, healthpb.HealthCheckResponse_SERVING)},
		{Name: "a call is answered", Holds: call(codes.OK)},
	})
}
