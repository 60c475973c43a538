package service

import (
	"context"
	"encoding/json"
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
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/internal/adapters/admin"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/ports"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// Name is the service's name in logs, traces and NATS connections.
const Name = "shopify"

// WebhookPath is where Shopify delivers webhooks (every topic, every store).
const WebhookPath = "/webhooks/shopify"

// ReconcileName keys a store's reconciliation checkpoint; renaming it
// makes the next pass read DROPSYNC_SHOPIFY_RECONCILE_LOOKBACK again.
func ReconcileName(slug string) string { return order.WordShopify + "." + slug }

// Run runs the connector until ctx ends or a part of it fails, serving
// webhooks on lis.
func Run(ctx context.Context, cfg Config, lis net.Listener, log *slog.Logger) error {
	conn, err := natsconn.Open(ctx, cfg.NATS, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return RunOn(ctx, cfg, conn.JS, lis, log)
}

// Stats is what GET /statsz answers: the webhook counters, the decoder's
// (bodies whose topic disagreed, read back, not on the store, unusable)
// and each store's reconciliation counters.
type Stats struct {
	Webhooks  webhook.Stats              `json:"webhooks"`
	Decoder   ports.DecoderStats         `json:"decoder"`
	Reconcile map[string]reconcile.Stats `json:"reconcile"`
}

// RunOn is Run on a JetStream connection, connected or not yet. HTTP is
// served at once: GET /livez answers 200; GET /readyz (and /healthz)
// answers 503, as does every webhook (Shopify retries it), until the
// streams and buckets exist and the command consumer runs, then 200.
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	reg, err := stores.New(cfg.Stores)
	if err != nil {
		return err
	}
	sc := cfg.Shopify
	pub := bus.NewPublisher(js, bus.PublisherConfig{Telemetry: telemetry.FromContext(ctx)})
	// HTTP is served at once: liveness, and readiness (503, as is every
	// webhook) until the set-up is done and the command consumer runs.
	probes := webhook.NewProbes()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return webhook.Serve(ctx, lis, probes, sc.ShutdownGrace) })
	g.Go(func() error { return run(ctx, cfg, js, pub, reg, probes, log) })
	return g.Wait()
}

// run sets the connector up once NATS answers and runs it, making probes
// ready once its command consumer runs.
func run(ctx context.Context, cfg Config, js jetstream.JetStream, pub *bus.Publisher, reg *stores.Registry, probes *webhook.Probes, log *slog.Logger) error {
	sc := cfg.Shopify
	// NATS need not be up yet: the streams and buckets are made once it
	// answers.
	var dedupe *webhook.KVDedupe
	var checkpoints *reconcile.KVCheckpoints
	err := natsconn.Await(ctx, log, "shopify connector set-up (streams, buckets)", func(ctx context.Context) error {
		if err := bus.OpenStreams(ctx, js, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
			return err
		}
		var err error
		if dedupe, err = webhook.NewKVDedupe(ctx, js, webhook.KVDedupeConfig{TTL: sc.DedupeTTL, Replicas: cfg.Replicas}); err != nil {
			return err
		}
		checkpoints, err = reconcile.NewKVCheckpoints(ctx, js, "", cfg.Replicas)
		return err
	})
	if err != nil {
		return nil // stopped before NATS came up: not a failure
	}
	// Each store's connection health, from the Admin API's answers,
	// published as StoreConnectionChanged.
	health := storehealth.New(storehealth.Config{
		Platform: order.WordShopify, Source: eventsv1.Platform_PLATFORM_SHOPIFY, Service: domain.Service, Logger: log,
	})
	api := admin.New(admin.Config{
		BaseURL: sc.APIBaseURL,
		Version: sc.APIVersion,
		HTTP: admin.NewHTTP(client.Config{
			Health:         health,
			AttemptTimeout: sc.APIAttemptTimeout,
			MaxAttempts:    sc.APIMaxAttempts,
			MaxPause:       sc.APIMaxPause,
			Logger:         log,
		}),
	})

	peer, err := peers.Dial(ctx, peers.Config{OrdersAddr: sc.OrdersAddr, SettingsTTL: sc.SettingsTTL, NotifierAddr: sc.NotifierAddr, GRPC: cfg.GRPCClient}, log)
	if err != nil {
		return err
	}
	defer func() { _ = peer.Close() }() // closing client connections at exit has nothing to report

	decoder := &ports.Decoder{Stores: reg, Orders: api, Log: log}
	hook, err := webhook.New(webhook.Config{
		Platform:     order.WordShopify,
		Verifier:     ports.Verifier(reg),
		Decoder:      decoder,
		Publisher:    pub,
		Dedupe:       dedupe,
		MaxBodyBytes: sc.MaxBodyBytes,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	commands := &ports.Commands{
		Stores:        reg,
		Admin:         api,
		Settings:      peer.Settings,
		Confirmations: peer.Confirmations,
		Publisher:     pub,
		Log:           log,
		Config:        ports.CommandsConfig{TrackingURLTemplate: sc.TrackingURLTemplate, MaxDeliver: sc.CommandMaxDeliver, Backoff: sc.CommandRoundBackoff},
	}
	reconcilers := map[string]*reconcile.Reconciler{}
	if sc.ReconcileInterval > 0 {
		for _, st := range reg.All() {
			r, err := reconcile.New(reconcile.Config{
				Name:            ReconcileName(st.Slug),
				Lister:          &ports.Lister{Store: st, API: api},
				Publisher:       pub,
				Checkpoints:     checkpoints,
				Interval:        sc.ReconcileInterval,
				Overlap:         sc.ReconcileOverlap,
				InitialLookback: sc.ReconcileLookback,
				Logger:          log.With("store", st.Slug),
			})
			if err != nil {
				return err
			}
			reconcilers[st.Slug] = r
		}
	}

	mux := http.NewServeMux()
	mux.Handle("POST "+WebhookPath, hook)
	mux.HandleFunc("GET /statsz", func(w http.ResponseWriter, _ *http.Request) {
		st := Stats{Webhooks: hook.Stats(), Decoder: decoder.Stats(), Reconcile: map[string]reconcile.Stats{}}
		for slug, r := range reconcilers {
			st.Reconcile[slug] = r.Stats()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return health.Publish(ctx, pub) })
	g.Go(func() error {
		return bus.Consume(ctx, js, bus.ConsumerConfig{
			Stream:          bus.StreamOrder,
			Durable:         ports.CommandsDurable,
			FilterSubjects:  ports.CommandFilters(),
			Concurrency:     sc.CommandConcurrency,
			MaxDeliver:      sc.CommandMaxDeliver,
			Backoff:         sc.CommandBackoff,
			AckWait:         sc.CommandAckWait,
			ShutdownTimeout: sc.ShutdownGrace,
			Logger:          log,
			Started: func() {
				probes.Ready(mux)
				log.InfoContext(ctx, "shopify connector ready", "stores", len(cfg.Stores))
			},
		}, commands.Handle)
	})
	for _, r := range reconcilers {
		g.Go(func() error { return r.Run(ctx) })
	}
	return g.Wait()
}
