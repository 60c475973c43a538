package service

import (
	"context"
	"log/slog"
	"net"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/notifier/internal/app"
	"github.com/dropsync/dropsync/services/notifier/internal/ledger"
	"github.com/dropsync/dropsync/services/notifier/internal/ordersclient"
	"github.com/dropsync/dropsync/services/notifier/internal/ports"
)

// Name is the service's name in logs, traces and NATS connections.
const Name = "notifier"

// Run runs the service until ctx ends or a part of it fails, serving gRPC
// on lis.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	conn, err := natsconn.Open(ctx, cfg.NATS, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return RunOn(ctx, cfg, conn.JS, lis, log)
}

// RunOn is Run on a JetStream connection, connected or not yet. gRPC is
// served at once; the health service says NOT_SERVING until the streams
// and the ledger bucket exist (retried while NATS is unreachable), then
// SERVING. Calls made before the ledger is open answer UNAVAILABLE; the
// orders service need not be up (calls that need it answer UNAVAILABLE
// until it is).
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger) error {
	orders, err := ordersclient.Dial(ordersclient.Config{Addr: cfg.Notifier.OrdersAddr, Timeout: cfg.Notifier.OrdersTimeout, GRPC: cfg.GRPCClient}, telemetry.FromContext(ctx).GRPCDialOption())
	if err != nil {
		return err
	}
	defer func() { _ = orders.Close() }()

	led := newPendingLedger()
	application := app.New(led, orders, bus.NewPublisher(js, bus.PublisherConfig{Telemetry: telemetry.FromContext(ctx)}), app.Config{}, log)
	srv, err := grpcserver.NewSecure(ctx, log, cfg.GRPC)
	if err != nil {
		return err
	}
	notifierv1.RegisterShippingConfirmationServiceServer(srv.Server, ports.NewConfirmationService(application, log))
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	srv.Health.SetServingStatus(notifierv1.ShippingConfirmationService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

	ops, err := grpcserver.ListenOps(ctx, cfg.Ops)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ctx, lis, cfg.ShutdownGrace) })
	if ops != nil {
		g.Go(func() error { return srv.ServeOps(ctx, ops) })
	}
	g.Go(func() error {
		err := natsconn.Await(ctx, log, "notifier set-up (streams, ledger)", func(ctx context.Context) error {
			if err := bus.OpenStreams(ctx, js, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
				return err
			}
			l, err := ledger.Open(ctx, js, ledger.Config{Bucket: cfg.Notifier.LedgerBucket, Replicas: cfg.ledgerReplicas()}, log)
			if err == nil {
				led.open(l)
			}
			return err
		})
		if err != nil {
			return nil //nolint:nilerr // Await fails only when ctx ended: stopped before NATS came up, not a failure
		}
		srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		srv.Health.SetServingStatus(notifierv1.ShippingConfirmationService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
		log.InfoContext(ctx, "notifier ready", "grpc", lis.Addr().String(), "ledger", cfg.Notifier.LedgerBucket)
		if err := application.Republish(ctx, cfg.Notifier.RepublishInterval); err != nil && ctx.Err() == nil {
			return err
		}
		return nil // stopping
	})
	return g.Wait()
}
