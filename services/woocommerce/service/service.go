package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/telemetry"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/ports"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

// Name is the service's name in logs, traces and NATS connections.
const Name = "woocommerce"

// ReconcileName is the checkpoint name of a store's reconciliation;
// renaming it makes the next pass read InitialLookback again.
func ReconcileName(slug string) string { return "woocommerce." + slug }

// Run runs the connector until ctx ends or a part of it fails, serving
// webhooks on lis, on the NATS connection cfg names (or an embedded
// server).
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	conn, err := natsconn.Open(ctx, cfg.NATS, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return RunOn(ctx, cfg, conn.JS, lis, log)
}

// RunOn is Run on a JetStream connection, connected or not yet, for the
// stores in cfg.Stores (Load reads them); the orders service and the
// notifier are dialled when their addresses are set. HTTP is served on lis
// at once: GET /livez answers 200; GET /readyz (and /healthz) answers 503,
// as does every webhook (WooCommerce retries it), until the streams and
// buckets exist and the command consumer runs, then 200.
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger) error {
	reg, err := stores.New(cfg.Stores)
	if err != nil {
		return fmt.Errorf("stores: %w", err)
	}
	if len(cfg.Stores) == 0 {
		log.WarnContext(ctx, "no woocommerce store registered (DROPSYNC_WOOCOMMERCE_STORES)")
	}
	deps := Deps{JS: js, Stores: reg, Listener: lis, Log: log}
	peer, err := peers.Dial(ctx, peers.Config{OrdersAddr: cfg.WooCommerce.OrdersAddr, NotifierAddr: cfg.WooCommerce.NotifierAddr, GRPC: cfg.GRPCClient}, log)
	if err != nil {
		return err
	}
	defer func() { _ = peer.Close() }() // closing client connections at exit has nothing to report
	deps.Settings, deps.Confirmations = peer.Settings, peer.Confirmations
	// HTTP is served at once: liveness, and readiness (503, as is every
	// webhook) until New has set up and Run's command consumer runs.
	probes := webhook.NewProbes()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return webhook.Serve(ctx, lis, probes, cfg.WooCommerce.ShutdownGrace) })
	g.Go(func() error {
		s, err := New(ctx, cfg, deps)
		if err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // stopped before NATS came up: not a failure
			}
			return err
		}
		return s.run(ctx, probes)
	})
	return g.Wait()
}

// Deps are what the connector is wired to.
type Deps struct {
	// JS is the JetStream connection.
	JS jetstream.JetStream
	// Listener serves the webhook endpoint.
	Listener net.Listener
	// Stores is the store registry.
	Stores *stores.Registry
	// Settings gives store settings (carrier mapping).
	Settings peers.Settings
	// Confirmations asks for shipping confirmation decisions.
	Confirmations peers.Confirmations
	// HTTPClient sends calls to the stores; default a plain client (each
	// attempt is bounded by CallTimeout).
	HTTPClient *http.Client
	// Log receives the service's logs.
	Log *slog.Logger
}

// Service is the wired connector.
type Service struct {
	cfg  Config
	deps Deps
	// Webhooks is the webhook endpoint's handler (its Stats count
	// deliveries by outcome).
	Webhooks *webhook.Handler
	// Reconcilers holds each store's reconciliation, by slug.
	Reconcilers map[string]*reconcile.Reconciler
	// Commands carries out FulfillmentRequested, TrackingUpdateRequested
	// and ResyncRequested.
	Commands *ports.Commands
	// APIs holds each store's REST client, by slug.
	APIs map[string]*wcapi.Client
	// Health is each store's connection health, from the REST API's
	// answers; Run publishes its changes as StoreConnectionChanged.
	Health *storehealth.Tracker
	pub    *bus.Publisher
}

// New creates the streams and buckets the connector needs and wires it.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	w := cfg.WooCommerce
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	// NATS need not be up yet: the streams and buckets are made once it
	// answers (or ctx ends: then New returns ctx's error).
	var dedupe *webhook.KVDedupe
	var checkpoints *reconcile.KVCheckpoints
	err := natsconn.Await(ctx, log, "woocommerce connector set-up (streams, buckets)", func(ctx context.Context) error {
		if err := bus.OpenStreams(ctx, deps.JS, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
			return err
		}
		var err error
		if dedupe, err = webhook.NewKVDedupe(ctx, deps.JS, webhook.KVDedupeConfig{TTL: w.DedupeTTL, Replicas: cfg.Replicas}); err != nil {
			return err
		}
		checkpoints, err = reconcile.NewKVCheckpoints(ctx, deps.JS, "", cfg.Replicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	pub := bus.NewPublisher(deps.JS, bus.PublisherConfig{Telemetry: telemetry.FromContext(ctx)})
	s := &Service{cfg: cfg, deps: deps, Reconcilers: map[string]*reconcile.Reconciler{}, APIs: map[string]*wcapi.Client{}, pub: pub,
		Health: storehealth.New(storehealth.Config{
			Platform: Name, Source: eventsv1.Platform_PLATFORM_WOOCOMMERCE, Service: domain.Service, Logger: log,
		})}

	for _, st := range deps.Stores.All() {
		out := client.Config{
			HTTPClient:     deps.HTTPClient,
			MaxAttempts:    w.MaxAttempts,
			AttemptTimeout: w.CallTimeout,
			MaxPause:       w.MaxPause,
			Logger:         log,
			Health:         s.Health,
		}
		if w.RateLimit > 0 {
			out.Limit = client.PerSecond(w.RateLimit, max(1, w.RateLimit))
		}
		api, err := wcapi.New(wcapi.Config{
			SiteURL: st.SiteURL, Auth: st.Auth, RateKey: st.Key(), Outbound: out,
			// Read for each request: a replaced Secret file is taken
			// without a restart (config.NewFileSecret).
			Keys: func() (string, string) { return st.ConsumerKey.Reveal(), st.ConsumerSecret.Reveal() },
		})
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", st.Slug, err)
		}
		s.APIs[st.Slug] = api
		rec, err := reconcile.New(reconcile.Config{
			Name:            ReconcileName(st.Slug),
			Lister:          &ports.Lister{Store: st, API: api, Log: log},
			Publisher:       pub,
			Checkpoints:     checkpoints,
			Interval:        w.ReconcileInterval,
			Overlap:         w.ReconcileOverlap,
			InitialLookback: w.ReconcileLookback,
			Logger:          log,
		})
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", st.Slug, err)
		}
		s.Reconcilers[st.Slug] = rec
	}

	s.Webhooks, err = webhook.New(webhook.Config{
		Platform:  Name,
		Verifier:  ports.Verifier(deps.Stores),
		Decoder:   &ports.Decoder{Stores: deps.Stores, Refunds: refundReader(s.APIs), Orders: orderReader(s.APIs), Log: log},
		Publisher: pub,
		Dedupe:    dedupe,
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	s.Commands = &ports.Commands{
		Stores:        deps.Stores,
		API:           func(st *stores.Store) ports.API { return s.APIs[st.Slug] },
		Settings:      deps.Settings,
		Confirmations: deps.Confirmations,
		Publisher:     pub,
		Log:           log,
		Config:        ports.CommandsConfig{TrackingURLTemplate: w.TrackingURLTemplate, MaxDeliver: w.MaxDeliver},
	}
	return s, nil
}

// Handler is the connector's HTTP handler once it is ready: POST
// WebhookPath takes webhooks. The probes (GET /livez, /readyz, /healthz)
// are served in front of it (webhook.Probes).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+s.cfg.WooCommerce.WebhookPath, s.Webhooks)
	return mux
}

// Run serves webhooks and the probes on Deps.Listener, runs every store's
// reconciliation and the command consumer until ctx ends or one of them
// fails.
func (s *Service) Run(ctx context.Context) error {
	probes := webhook.NewProbes()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return webhook.Serve(ctx, s.deps.Listener, probes, s.cfg.WooCommerce.ShutdownGrace) })
	g.Go(func() error { return s.run(ctx, probes) })
	return g.Wait()
}

// run runs every store's reconciliation and the command consumer, making
// probes ready (and so the webhooks served) once the consumer runs.
func (s *Service) run(ctx context.Context, probes *webhook.Probes) error {
	w := s.cfg.WooCommerce
	log := s.deps.Log
	if log == nil {
		log = slog.Default()
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Health.Publish(ctx, s.pub) })
	for _, rec := range s.Reconcilers {
		g.Go(func() error { return rec.Run(ctx) })
	}
	g.Go(func() error {
		return bus.Consume(ctx, s.deps.JS, bus.ConsumerConfig{
			Stream:         bus.StreamOrder,
			Durable:        ports.CommandsDurable,
			FilterSubjects: ports.CommandFilters(),
			MaxDeliver:     w.MaxDeliver,
			AckWait:        w.AckWait,
			Backoff:        w.CommandBackoff,
			Concurrency:    w.Concurrency,
			// In-flight commands get the grace webhooks get, then their
			// calls are cancelled (an unacked command comes again).
			ShutdownTimeout: w.ShutdownGrace,
			Logger:          log,
			Started: func() {
				probes.Ready(s.Handler())
				log.InfoContext(ctx, "woocommerce connector ready", "webhook_path", w.WebhookPath, "stores", len(s.APIs))
			},
		}, s.Commands.Handle)
	})
	return g.Wait()
}

// refundReader reads refunds through the store's client.
type refundReader map[string]*wcapi.Client

// Refunds implements ports.RefundReader.
func (r refundReader) Refunds(ctx context.Context, st *stores.Store, orderID int64) ([]domain.RefundDetail, error) {
	api, ok := r[st.Slug]
	if !ok {
		return nil, fmt.Errorf("%w %q", stores.ErrUnknownStore, st.Slug)
	}
	return api.Refunds(ctx, orderID)
}

// orderReader reads orders back through the store's client.
type orderReader map[string]*wcapi.Client

// Order implements ports.OrderReader.
func (r orderReader) Order(ctx context.Context, st *stores.Store, orderID int64) (domain.Order, error) {
	api, ok := r[st.Slug]
	if !ok {
		return domain.Order{}, fmt.Errorf("%w %q", stores.ErrUnknownStore, st.Slug)
	}
	return api.Order(ctx, orderID)
}
