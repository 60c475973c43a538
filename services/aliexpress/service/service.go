package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/grpcserver"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
	"github.com/dropsync/dropsync/services/aliexpress/internal/app"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
	"github.com/dropsync/dropsync/services/aliexpress/internal/ports"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Name is the service's name in logs, traces and NATS connections.
const Name = "aliexpress"

// Option adjusts RunOn, for tests.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes the connector read time from now (timestamps, budget,
// quota, visibility), so a test can share a clock with the simulator.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

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
// served at once; the health service says NOT_SERVING until the streams,
// the store and the budget exist and the placement consumer runs, then
// SERVING.
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger, opts ...Option) error {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	a := cfg.AliExpress
	times, err := domain.ParseSyncTimes(a.SyncTimes)
	if err != nil {
		return err
	}
	// gRPC is served at once: health says NOT_SERVING, and calls answer
	// UNAVAILABLE, until the set-up is done and the placement consumer
	// runs. NATS need not be up yet: the streams and the store are made
	// once it answers (retried until then).
	srv, err := grpcserver.NewSecure(ctx, log, cfg.GRPC)
	if err != nil {
		return err
	}
	pending := newPendingSync()
	aliexpressv1.RegisterSupplierSyncServiceServer(srv.Server, pending)
	setServing(srv, healthpb.HealthCheckResponse_NOT_SERVING)
	ops, err := grpcserver.ListenOps(ctx, cfg.Ops)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(ctx, lis, cfg.ShutdownGrace) })
	if ops != nil {
		g.Go(func() error { return srv.ServeOps(ctx, ops) })
	}
	// The rest runs inside the group, so that a failure of the set-up
	// stops the server too.
	g.Go(func() error {
		var store *app.Store
		err := natsconn.Await(ctx, log, "aliexpress connector set-up (streams, store)", func(ctx context.Context) error {
			if err := bus.OpenStreams(ctx, js, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
				return err
			}
			var err error
			store, err = app.OpenStore(ctx, js, cfg.Replicas)
			return err
		})
		if err != nil {
			return nil // stopped before NATS came up: not a failure
		}
		if a.Simulate {
			if a, err = startSimulator(ctx, g, a, log); err != nil {
				return err
			}
		}
		specs, err := a.osAccounts()
		if err != nil {
			return err
		}
		settings, err := peers.Dial(ctx, peers.Config{OrdersAddr: a.OrdersAddr, GRPC: cfg.GRPCClient}, log)
		if err != nil {
			return err
		}
		defer func() { _ = settings.Close() }()
		pub := bus.NewPublisher(js, bus.PublisherConfig{Telemetry: telemetry.FromContext(ctx)})
		accounts := make(app.Accounts, 0, len(specs))
		for _, spec := range specs {
			acc, err := openAccount(ctx, spec, a, store, pub, o.now, log, app.SyncConfig{
				Schedule: a.Schedule(), PollInterval: a.PollInterval, SyncTimes: times, StoreSyncTimes: storeSyncTimes(settings.Settings, log),
				SweepShare: 0.5, MaxBackoff: a.MaxBackoff,
				Quota: domain.QuotaRule{Daily: a.ManualSyncsPerDay, Interval: a.ManualSyncInterval},
			})
			if err != nil {
				return err
			}
			accounts = append(accounts, acc)
		}
		for _, acc := range accounts {
			acc.Syncer.Own(accounts.Owns(acc.Name))
			g.Go(func() error { return publishHealth(ctx, acc.Health, pub, acc.Name, log) })
			g.Go(func() error { return acc.Syncer.RunBudget(ctx) })
			g.Go(func() error { return acc.Syncer.RunContinuous(ctx) })
		}

		pending.open(ports.NewSyncService(accounts, o.now, log))
		g.Go(func() error {
			return ports.ConsumePlacements(ctx, js, bus.ConsumerConfig{
				Concurrency: a.Concurrency, MaxDeliver: a.MaxDeliver, AckWait: a.AckWait,
				HandlerTimeout: a.AckWait, Logger: log,
				Started: func() {
					setServing(srv, healthpb.HealthCheckResponse_SERVING)
					log.InfoContext(ctx, "aliexpress connector ready", "grpc", lis.Addr().String(), "open_orders", len(store.Open()),
						"gateway", a.GatewayURL, "accounts", len(accounts))
				},
			}, accounts.Place)
		})
		return nil
	})
	return g.Wait()
}

// openAccount builds one account's parts: its client (credentials, token
// refresh, the per-API rate limit of its app key), budget, health, placer
// and syncer.
func openAccount(ctx context.Context, spec Account, a AliExpress, store *app.Store, pub *bus.Publisher, now func() time.Time,
	log *slog.Logger, sc app.SyncConfig) (*app.Account, error) {
	log = log.With("account", spec.Name)
	var budget *app.Budget
	err := natsconn.Await(ctx, log, "aliexpress account budget", func(ctx context.Context) error {
		var err error
		budget, err = app.OpenBudget(ctx, store, spec.Name, spec.DailyBudget, now, log)
		return err
	})
	if err != nil {
		return nil, err
	}
	health := app.NewHealth(now, log).ForAccount(spec.Name)
	api := aeapi.New(aeapi.Config{
		BaseURL: a.GatewayURL, AppKey: spec.AppKey, AppSecret: spec.AppSecret.Reveal(),
		AccessToken: spec.AccessToken.Reveal(), RefreshToken: spec.RefreshToken.Reveal(), Now: now,
		HTTP: client.New(client.Config{
			Limit:          client.PerSecond(a.RateLimit, max(1, a.RateLimit)),
			MaxAttempts:    a.MaxAttempts,
			AttemptTimeout: a.CallTimeout,
			Logger:         log,
		}),
		OnCalls:  budget.Add,
		OnHealth: health.Observe,
	})
	return &app.Account{
		Name: spec.Name, Default: spec.Default, Stores: spec.Stores, Health: health,
		Placer: app.NewPlacer(api, store, pub, now, a.MaxDeliver, log).ForAccount(spec.Name).ReadBackAfter(a.VisibleAfter + 5*time.Second),
		Syncer: app.NewSyncer(api, store, pub, budget, now, sc, log),
	}, nil
}

// setServing sets the health of the server and of SupplierSyncService.
func setServing(srv *grpcserver.Server, st healthpb.HealthCheckResponse_ServingStatus) {
	srv.Health.SetServingStatus("", st)
	srv.Health.SetServingStatus(aliexpressv1.SupplierSyncService_ServiceDesc.ServiceName, st)
}

// storeSyncTimes gives a store's supplier_sync_times setting; a store
// without one, or whose settings cannot be read now, uses the default.
func storeSyncTimes(settings peers.Settings, log *slog.Logger) func(context.Context, string) ([]time.Duration, bool) {
	return func(ctx context.Context, store string) ([]time.Duration, bool) {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		st, err := settings.StoreSettings(ctx, store)
		if err != nil || len(st.GetSupplierSyncTimes()) == 0 {
			return nil, false
		}
		times, err := domain.ParseSyncTimes(st.GetSupplierSyncTimes())
		if err != nil {
			log.WarnContext(ctx, "store supplier_sync_times unusable; the default schedule applies", "store", store, "err", err)
			return nil, false
		}
		return times, true
	}
}

// startSimulator runs an in-process AliExpress simulator with a demo
// catalog and points a at it.
func startSimulator(ctx context.Context, g *errgroup.Group, a AliExpress, log *slog.Logger) (AliExpress, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return a, fmt.Errorf("simulator: %w", err)
	}
	sim := aliexpresssim.New(aliexpresssim.Config{})
	if a.AppKey == "" {
		a.AppKey = "sim-app"
	}
	if a.AppSecret.Empty() {
		a.AppSecret = config.NewSecret("sim-secret")
	}
	sim.AddApp(a.AppKey, a.AppSecret.Reveal())
	tok, err := sim.IssueToken(a.AppKey, "demo-buyer")
	if err != nil {
		return a, err
	}
	a.AccessToken, a.RefreshToken = config.NewSecret(tok.AccessToken), config.NewSecret(tok.RefreshToken)
	sim.AddProduct(aliexpresssim.Product{ID: "1005001000000001", SellerID: "9001", StoreName: "Demo Mugs", Title: "Mug",
		SKUs:            []aliexpresssim.SKU{{ID: "12000037255569170", Attr: "14:200013901#White", Stock: 1000, PriceCents: 350}},
		ShippingMethods: []string{"CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD"}})
	sim.AddProduct(aliexpresssim.Product{ID: "1005001000000002", SellerID: "9002", StoreName: "Demo Tees", Title: "Tee",
		SKUs:            []aliexpresssim.SKU{{ID: "12000040000000001", Attr: "5:361386", Stock: 1000, PriceCents: 800}},
		ShippingMethods: []string{"CAINIAO_STANDARD"}})
	a.GatewayURL = "http://" + lis.Addr().String()
	log.WarnContext(ctx, "running against the in-process AliExpress simulator", "url", a.GatewayURL, "controls", a.GatewayURL+"/_sim/")
	g.Go(func() error {
		if err := sim.Serve(ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return a, nil
}

// publishHealth publishes every change of the connection's health as a
// SupplierConnectionChanged event: an expired or revoked token is a fact
// on the bus and in the event store, never a silent stop.
func publishHealth(ctx context.Context, health *app.Health, pub *bus.Publisher, account string, log *slog.Logger) error {
	for {
		var st app.HealthState
		select {
		case <-ctx.Done():
			return nil
		case st = <-health.Changes():
		}
		env := &eventsv1.Envelope{
			EventId:    envelope.ID("aliexpress", "connection", account, st.ChangedAt.UTC().Format(time.RFC3339Nano)),
			OrderId:    order.WordAliExpress + ":" + account,
			OccurredAt: timestamppb.New(st.ChangedAt),
			RecordedAt: timestamppb.New(st.ChangedAt),
			Source:     &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_ALIEXPRESS, Service: "aliexpress"},
			Event: &eventsv1.Envelope_SupplierConnectionChanged{SupplierConnectionChanged: &eventsv1.SupplierConnectionChanged{
				Account: account, Healthy: st.Healthy, Reason: st.Reason,
			}},
		}
		env.CorrelationId = env.GetEventId()
		for {
			err := pub.Publish(ctx, bus.SupplierSubject(env.GetOrderId()), env)
			if err == nil || ctx.Err() != nil {
				break
			}
			log.Warn("publish connection health", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}
