package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/backend"
	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
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
// on lis. NATS need not be up: the service starts, health says
// NOT_SERVING, and it goes on once NATS answers.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	conn, err := natsconn.Open(ctx, cfg.NATS, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return RunOn(ctx, cfg, conn.JS, lis, log)
}

// RunOn is Run on a JetStream connection, connected or not yet. gRPC is
// served at once; the health service says NOT_SERVING until the streams,
// the event store and the relay's checkpoint bucket are there (retried
// while NATS or the event store is unreachable) and the read model has
// replayed the event store, then SERVING. OrderService calls made before
// the event store is open answer UNAVAILABLE.
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger) error {
	store := newPendingStore()
	view := readmodel.New()
	defer exportOrders(view)()
	application := app.New(store, view, app.Config{
		MaxAttempts:   cfg.Orders.MaxAttempts,
		CacheSize:     cfg.Orders.CacheSize,
		SnapshotEvery: snapshotEvery(cfg.Orders.SnapshotEvery),
		Telemetry:     telemetry.FromContext(ctx),
	}, log)
	srv, err := grpcserver.NewSecure(ctx, log, cfg.GRPC)
	if err != nil {
		return err
	}
	ordersv1.RegisterOrderServiceServer(srv.Server, ports.NewOrderService(application, view, log))
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	srv.Health.SetServingStatus(ordersv1.OrderService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

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
		var opened eventstore.Store
		var checkpoints *relay.KVCheckpoints
		err := natsconn.Await(ctx, log, "orders service set-up (streams, event store, relay checkpoint)", func(ctx context.Context) error {
			if err := bus.EnsureStreams(ctx, js, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
				return err
			}
			if opened == nil {
				s, err := backend.Open(ctx, cfg.EventStore, js, cfg.Replicas, log)
				if err != nil {
					return fmt.Errorf("event store: %w", err)
				}
				opened = s
			}
			cp, err := relay.NewKVCheckpoints(ctx, js, cfg.Replicas, RelayCheckpoint)
			checkpoints = cp
			return err
		})
		if err != nil {
			if opened != nil {
				_ = opened.Close() // stopped before it was used: nothing to report
			}
			return nil // stopped before NATS came up: not a failure
		}
		store.open(opened)
		defer func() {
			if err := opened.Close(); err != nil {
				log.Warn("close event store", "err", err)
			}
		}()
		defer application.WaitSnapshots() // before the store closes
		return runParts(ctx, cfg, js, opened, checkpoints, application, view, srv, lis, log)
	})
	return g.Wait()
}

// exportOrders reports the read model's orders per store and tab as the
// dropsync_orders gauge, until the returned function is called.
func exportOrders(view *readmodel.Model) (stop func()) {
	return metrics.OrdersGauge.Source(func(o metrics.Observe) {
		view.EachCount(func(store string, tab eventsv1.Tab, n int64) {
			platform, slug := metrics.SplitStore(store)
			o(n, attribute.String(metrics.LabelPlatform, platform), attribute.String(metrics.LabelStore, slug),
				attribute.String(metrics.LabelTab, strings.ToLower(strings.TrimPrefix(tab.String(), "TAB_"))))
		})
	})
}

// runParts runs what follows the event store and the bus, once they are
// there, and says SERVING once the read model is current.
func runParts(ctx context.Context, cfg Config, js jetstream.JetStream, store eventstore.Store, checkpoints *relay.KVCheckpoints,
	application *app.App, view *readmodel.Model, srv *grpcserver.Server, lis net.Listener, log *slog.Logger) error {
	rel := relay.New(store, bus.NewPublisher(js, bus.PublisherConfig{Telemetry: telemetry.FromContext(ctx)}), checkpoints, relay.Config{}, log)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return natsconn.Keep(ctx, log, "read model", func(ctx context.Context) error { return view.Run(ctx, store, log) })
	})
	g.Go(func() error {
		return natsconn.Keep(ctx, log, "store settings follower", func(ctx context.Context) error {
			return application.FollowStores(ctx, eventstore.Start)
		})
	})
	g.Go(func() error {
		return natsconn.Keep(ctx, log, "store connection follower", application.FollowConnections)
	})
	g.Go(func() error { return rel.Run(ctx) })
	g.Go(func() error { return bus.WatchDeadLetters(ctx, js, 0) })
	if every := cfg.Orders.AttentionInterval; every > 0 {
		p := order.AttentionPolicy{NoTrackingAfter: cfg.Orders.NoTrackingAfter, TrackingStaleAfter: cfg.Orders.TrackingStaleAfter}
		g.Go(func() error { return watchAttention(ctx, application, view, every, p, log) })
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

// watchAttention checks for the merchant's attention, every interval once
// the read model is current, every open order that may have paid supplier
// orders and every order with a parcel not delivered yet (its tracking may
// go stale, whatever the tab).
func watchAttention(ctx context.Context, a *app.App, view *readmodel.Model, every time.Duration, p order.AttentionPolicy, log *slog.Logger) error {
	select {
	case <-view.CaughtUp():
	case <-ctx.Done():
		return nil
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ids := view.IDs(eventsv1.Tab_TAB_AWAITING_PAYMENT, eventsv1.Tab_TAB_AWAITING_SHIPMENT, eventsv1.Tab_TAB_AWAITING_FULFILLMENT)
		listed := make(map[string]bool, len(ids))
		for _, id := range ids {
			listed[id] = true
		}
		for _, id := range view.InTransit() {
			if !listed[id] {
				ids = append(ids, id)
			}
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return nil
			}
			if err := a.CheckAttention(ctx, id, p); err != nil && ctx.Err() == nil {
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

// snapshotEvery maps the configuration's "0 is off" to app.Config's
// "negative is off".
func snapshotEvery(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
