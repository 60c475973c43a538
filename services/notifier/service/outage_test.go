package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/notifier/internal/ports"
	"github.com/dropsync/dropsync/services/notifier/service"
)

// TestStartsBeforeNATS: started as its main does (service.Run, its own
// NATS connection) with no NATS server on its port, the notifier serves
// gRPC at once, every health service says NOT_SERVING and a call answers
// UNAVAILABLE (the ledger is not open yet); once the server starts on that
// port every health service says SERVING.
func TestStartsBeforeNATS(t *testing.T) {
	h := newHarness(t) // the fake orders service
	var cfg service.Config
	pki := h.pki
	pki.Setenv(t, "notifier")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Notifier.OrdersAddr = h.ordersAddr
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauthtest.AllRoles)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	o := fulfilling("7001", "s1")
	h.orders.put(o)
	ledgerUnavailable := func() error {
		_, err := notifierv1.NewShippingConfirmationServiceClient(conn).IssueConfirmation(context.Background(), issue(o.GetOrderId(), "s1", "r1"))
		st, _ := status.FromError(err)
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && st.Code() == codes.Unavailable && info.GetReason() == ports.ReasonLedgerUnavailable {
				return nil
			}
		}
		return errors.Join(errors.New("want UNAVAILABLE "+ports.ReasonLedgerUnavailable), err)
	}
	svc := notifierv1.ShippingConfirmationService_ServiceDesc.ServiceName
	natstest.StartsBeforeNATS(t, func(ctx context.Context, url string) error {
		cfg.URL = url
		return service.Run(ctx, cfg, lis, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}, []natstest.Check{
		{Name: "server", Holds: natstest.GRPCHealth(conn, "", healthpb.HealthCheckResponse_NOT_SERVING)},
		{Name: "ShippingConfirmationService", Holds: natstest.GRPCHealth(conn, svc, healthpb.HealthCheckResponse_NOT_SERVING)},
		{Name: "a call says the ledger is not open", Holds: ledgerUnavailable},
	}, []natstest.Check{
		{Name: "server", Holds: natstest.GRPCHealth(conn, "", healthpb.HealthCheckResponse_SERVING)},
		{Name: "ShippingConfirmationService", Holds: natstest.GRPCHealth(conn, svc, healthpb.HealthCheckResponse_SERVING)},
	})
}
