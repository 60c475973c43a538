package service

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/wix/internal/app"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/ports"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

// Name is the service's name in logs, traces and NATS connections.
const Name = "wix"

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

// RunOn is Run on a JetStream connection, connected or not yet. HTTP is
// served at once: GET /livez answers 200; GET /readyz (and /healthz)
// answers 503, as does every webhook (Wix retries it), until the streams
// and buckets exist, the carrier mappings are read and the command
// consumer runs, then 200.
func RunOn(ctx context.Context, cfg Config, js jetstream.JetStream, lis net.Listener, log *slog.Logger) error {
	w := cfg.Wix
	list, err := cfg.StoreConfigs()
	if err != nil {
		return err
	}
	stores, err := app.NewStores(list)
	if err != nil {
		return fmt.Errorf("stores: %w", err)
	}
	key, err := ports.ParsePublicKey(w.PublicKey)
	if err != nil {
		return err
	}
	// HTTP is served at once: liveness, and readiness (503, as is every
	// webhook) until the set-up is done and the command consumer runs.
	probes := webhook.NewProbes()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return webhook.Serve(ctx, lis, probes, w.ShutdownGrace) })
	g.Go(func() error { return run(ctx, cfg, js, stores, key, probes, log) })
	return g.Wait()
}

// run sets the connector up once NATS answers and runs it, making probes
// ready once its command consumer runs.
func run(ctx context.Context, cfg Config, js jetstream.JetStream, stores *app.Stores, key *rsa.PublicKey, probes *webhook.Probes, log *slog.Logger) error {
	w := cfg.Wix
	// NATS need not be up yet: the streams and buckets are made once it
	// answers.
	var dedupe *webhook.KVDedupe
	var checkpoints *reconcile.KVCheckpoints
	err := natsconn.Await(ctx, log, "wix connector set-up (streams, buckets)", func(ctx context.Context) error {
		if err := bus.OpenStreams(ctx, js, bus.Config{Replicas: cfg.Replicas, DuplicateWindow: cfg.DuplicateWindow}); err != nil {
			return err
		}
		var err error
		if dedupe, err = webhook.NewKVDedupe(ctx, js, webhook.KVDedupeConfig{TTL: w.DedupeTTL, Replicas: cfg.Replicas}); err != nil {
			return err
		}
		checkpoints, err = reconcile.NewKVCheckpoints(ctx, js, "", cfg.Replicas)
		return err
	})
	if err != nil {
		return nil // stopped before NATS came up: not a failure
	}
	// Store settings follow StoreSettingsChanged on the bus (FollowSettings),
	// not the orders service: only the notifier is dialled.
	peer, err := peers.Dial(ctx, peers.Config{NotifierAddr: w.NotifierAddr, NotifierTimeout: w.NotifierTimeout, GRPC: cfg.GRPCClient}, log)
	if err != nil {
		return err
	}
	defer func() { _ = peer.Close() }() // closing a client connection at exit has nothing to report

	pub := bus.NewPublisher(js, bus.PublisherConfig{Telemetry: telemetry.FromContext(ctx)})
	// Each site's connection health, from the API's answers, published as
	// StoreConnectionChanged.
	health := storehealth.New(storehealth.Config{
		Platform: order.WordWix, Source: eventsv1.Platform_PLATFORM_WIX, Service: domain.Service, Logger: log,
	})
	api := wixapi.New(wixapi.Config{
		Health:         health,
		BaseURL:        w.BaseURL,
		Limit:          wixapi.Limit(w.RateLimit, w.RateWindow),
		MaxAttempts:    w.MaxAttempts,
		AttemptTimeout: w.CallTimeout,
		BaseBackoff:    w.CallBackoff,
		MaxPause:       w.MaxPause,
		Logger:         log,
	})
	settings := app.NewSettings()
	commands, err := app.NewCommands(app.Config{
		Stores:     stores,
		Settings:   settings,
		API:        api,
		Notifier:   peer.Confirmations,
		Publisher:  pub,
		MaxDeliver: w.MaxDeliver,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	verifier := ports.NewVerifier(key, w.JWTLeeway, nil)
	verifier.MaxAge = w.JWTMaxAge
	hook, err := webhook.New(webhook.Config{
		Platform:  order.WordWix,
		Verifier:  verifier,
		Decoder:   ports.Decoder{Stores: stores},
		Publisher: pub,
		Dedupe:    dedupe,
		Timeout:   w.WebhookTimeout,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(w.WebhookPath, hook)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return health.Publish(ctx, pub) })
	g.Go(func() error {
		return natsconn.Keep(ctx, log, "wix settings follower", func(ctx context.Context) error {
			return ports.FollowSettings(ctx, js, settings, log)
		})
	})
	g.Go(func() error {
		// Carrier mappings first: a command must not use the defaults
		// for a store whose mapping is merely not read yet. Stopping
		// before they are read leaves nothing to consume: not a failure.
		if !settings.Wait(ctx) {
			return nil
		}
		return ports.ConsumeCommands(ctx, js, bus.ConsumerConfig{
			Concurrency:     w.Concurrency,
			MaxDeliver:      w.MaxDeliver,
			Backoff:         w.RetryBackoff,
			AckWait:         w.AckWait,
			ShutdownTimeout: w.ShutdownGrace,
			Logger:          log,
			Started: func() {
				probes.Ready(mux)
				log.InfoContext(ctx, "wix connector ready", "stores", len(stores.All()))
			},
		}, commands)
	})
	if w.ReconcileInterval > 0 {
		for _, st := range stores.All() {
			r, err := reconcile.New(reconcile.Config{
				Name:            "wix." + st.Slug,
				Lister:          &app.Lister{API: api, Store: st, Logger: log},
				Publisher:       pub,
				Checkpoints:     checkpoints,
				Interval:        w.ReconcileInterval,
				InitialLookback: w.ReconcileLookback,
				Logger:          log,
			})
			if err != nil {
				return err
			}
			g.Go(func() error { return r.Run(ctx) })
		}
	}
	return g.Wait()
}
