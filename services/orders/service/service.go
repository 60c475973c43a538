package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/backend"
	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/services/orders/internal/app"
	"github.com/dropsync/dropsync/services/orders/internal/ports"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
	"github.com/dropsync/dropsync/services/orders/internal/relay"
)

// Name is the service's name in logs, traces and NATS connections.
const Name = "orders"

// RelayCheckpoint names the relay's checkpoint; renaming it republishes
// every order event (harmless, consumers are idempotent, but slow).
const RelayCheckpoint = "orders-relay"

// Run runs the service until ctx ends or a part of it fails, serving gRPC
// on lis. The health service says SERVING once the read model has replayed
// the event store.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	conn, err := natsconn.Open(ctx, cfg.NATS, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return RunOn(ctx, cfg, conn.JS, lis, log)
}

// RunOn is Run on an open JetStream connection.
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger) error {
	if err := bus.EnsureStreams(ctx, js, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
		return err
	}
	store, err := backend.Open(ctx, cfg.EventStore, js, cfg.Replicas, log)
	if err != nil {
		return fmt.Errorf("event store: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Warn("close event store", "err", err)
		}
	}()
	checkpoints, err := relay.NewKVCheckpoints(ctx, js, cfg.Replicas, RelayCheckpoint)
	if err != nil {
		return err
	}

	view := readmodel.New()
	application := app.New(store, view, app.Config{
		MaxAttempts: cfg.Orders.MaxAttempts,
		CacheSize:   cfg.Orders.CacheSize,
	}, log)
	rel := relay.New(store, bus.NewPublisher(js, bus.PublisherConfig{}), checkpoints, relay.Config{}, log)
	srv := grpcserver.New(log)
	ordersv1.RegisterOrderServiceServer(srv.Server, ports.NewOrderService(application, view, log))
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	srv.Health.SetServingStatus(ordersv1.OrderService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return view.Run(ctx, store, log) })
	g.Go(func() error { return application.FollowStores(ctx, eventstore.Start) })
	g.Go(func() error { return rel.Run(ctx) })
	g.Go(func() error { return srv.Serve(ctx, lis, cfg.ShutdownGrace) })
	if every := cfg.Orders.AttentionInterval; every > 0 {
		g.Go(func() error { return watchAttention(ctx, application, view, every, cfg.Orders.NoTrackingAfter, log) })
	}
	g.Go(func() error {
		select {
		case <-view.CaughtUp():
		case <-ctx.Done():
			return nil
		}
		srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		srv.Health.SetServingStatus(ordersv1.OrderService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
		log.InfoContext(ctx, "orders service ready", "grpc", lis.Addr().String(), "orders", view.Len())
		consume := func(ctx context.Context, c bus.ConsumerConfig, h bus.Handler) error {
			return bus.Consume(ctx, js, c, h)
		}
		return ports.ConsumeFacts(ctx, consume, bus.ConsumerConfig{
			Concurrency: cfg.Orders.Concurrency,
			MaxDeliver:  cfg.Orders.MaxDeliver,
			AckWait:     cfg.Orders.AckWait,
		}, application, log)
	})
	return g.Wait()
}

// watchAttention checks every open order that has paid supplier orders for
// the merchant's attention, every interval, once the read model is current.
func watchAttention(ctx context.Context, a *app.App, view *readmodel.Model, every, noTrackingAfter time.Duration, log *slog.Logger) error {
	select {
	case <-view.CaughtUp():
	case <-ctx.Done():
		return nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for _, id := range view.IDs(eventsv1.Tab_TAB_AWAITING_PAYMENT, eventsv1.Tab_TAB_AWAITING_SHIPMENT, eventsv1.Tab_TAB_AWAITING_FULFILLMENT) {
			if ctx.Err() != nil {
				return nil
			}
			if err := a.CheckAttention(ctx, id, noTrackingAfter); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "attention check", "order_id", id, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
