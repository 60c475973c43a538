package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names. Each stream holds one kind of subject; a stream's name is
// part of every consumer bound to it and of every dead letter's subject, so
// renaming one is a migration, not a refactoring.
const (
	// StreamStore holds store events ("store.>"), published by the store
	// connectors, consumed by the orders service.
	StreamStore = "STORE_EVENTS"
	// StreamSupplier holds supplier events ("supplier.>"), published by the
	// supplier connector, consumed by the orders service.
	StreamSupplier = "SUPPLIER_EVENTS"
	// StreamOrder holds order events ("order.>"), published by the orders
	// service, consumed by the connectors (commands addressed to a store or
	// supplier) and the notifier.
	StreamOrder = "ORDER_EVENTS"
	// StreamDeadLetter holds the messages no consumer could process
	// ("dlq.<stream>"), with the reason in headers, until an operator looks
	// at them.
	StreamDeadLetter = "DEAD_LETTER"
)

// DefaultDuplicateWindow is how long JetStream remembers event ids when
// Config.DuplicateWindow is zero.
const DefaultDuplicateWindow = 2 * time.Hour

// Config shapes the streams EnsureStreams creates. Durability is not here:
// the embedded server syncs every write to disk (`sync_interval: always`,
// see natsserver.Options.RelaxedSync), and an external cluster must be
// configured the same way; the streams use the default (synchronous)
// persist mode, never the async one.
type Config struct {
	// Replicas of each stream: 1 for the embedded server, 3 on a cluster.
	Replicas int `envconfig:"REPLICAS" default:"1"`
	// DuplicateWindow is how long JetStream drops a message whose
	// Nats-Msg-Id (the event id) it has seen. It is a first line only: the
	// platforms retry for longer (Shopify 4 h, Wix about 2 days), and a
	// replay comes back after any window, so consumers stay idempotent (the
	// order aggregate dedupes on event id). The server keeps every id of the
	// window in memory (about 100 bytes each): 2 h at 1,000 events/s is
	// about 720 MB, so raise it with care.
	DuplicateWindow time.Duration `envconfig:"DUPLICATE_WINDOW" default:"2h"`
	// DeadLetterMaxAge is how long dead letters are kept; 0 keeps them
	// forever. Event streams always keep everything: events are facts that
	// analysts replay.
	DeadLetterMaxAge time.Duration `envconfig:"DEAD_LETTER_MAX_AGE" default:"8760h"`
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("bus: replicas %d: want 1 to 5", c.Replicas))
	}
	if c.DuplicateWindow < 0 {
		errs = append(errs, fmt.Errorf("bus: duplicate window %s is negative", c.DuplicateWindow))
	}
	if c.DeadLetterMaxAge < 0 {
		errs = append(errs, fmt.Errorf("bus: dead letter max age %s is negative", c.DeadLetterMaxAge))
	}
	if c.DeadLetterMaxAge > 0 && c.DuplicateWindow > c.DeadLetterMaxAge {
		errs = append(errs, fmt.Errorf("bus: duplicate window %s exceeds dead letter max age %s", c.DuplicateWindow, c.DeadLetterMaxAge))
	}
	return errors.Join(errs...)
}

// StreamConfigs returns the configuration of every stream, for EnsureStreams
// and for tools that want to show or diff it.
func StreamConfigs(cfg Config) []jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	events := func(name, subject, desc string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      0, // facts are kept forever
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  cfg.DuplicateWindow,
			PersistMode: jetstream.DefaultPersistMode,
			AllowDirect: true,
			DenyDelete:  true,
			DenyPurge:   true,
		}
	}
	dlqWindow := cfg.DuplicateWindow
	if cfg.DeadLetterMaxAge > 0 && dlqWindow > cfg.DeadLetterMaxAge {
		dlqWindow = cfg.DeadLetterMaxAge
	}
	return []jetstream.StreamConfig{
		events(StreamStore, KindStore+".>", "dropsync store events: store.<platform>.<store>.<order>"),
		events(StreamSupplier, KindSupplier+".>", "dropsync supplier events: supplier.<platform>.<store>.<order>"),
		events(StreamOrder, KindOrder+".>", "dropsync order events: order.<platform>.<store>.<order>.<EventType>"),
		{
			Name:        StreamDeadLetter,
			Description: "dropsync dead letters: dlq.<stream>, original bytes and headers plus Dropsync-Dlq-* headers",
			Subjects:    []string{KindDeadLetter + ".>"},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      cfg.DeadLetterMaxAge,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Duplicates:  dlqWindow,
			PersistMode: jetstream.DefaultPersistMode,
			AllowDirect: true,
		},
	}
}

// EnsureStreams creates the streams, or updates them to cfg. It is safe to
// call from every service at start-up.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, sc := range StreamConfigs(cfg) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// createTimeout bounds OpenStreams' attempt to create a missing stream: a
// server that refuses the request for lack of permission does not answer
// it, and the caller retries (natsconn.Await) until the owner made it.
const createTimeout = 2 * time.Second

// OpenStreams checks that every stream exists, creating one that does not
// as cfg says, and never changes one that does. It is what every service
// but the streams' owner (the orders service, which calls EnsureStreams)
// calls at start-up: in a deployment with per-service NATS users
// (pkg/natsperm) only the owner may create or update streams, so here a
// missing stream is an error until the owner has made it, and a service
// started first waits for it.
func OpenStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, sc := range StreamConfigs(cfg) {
		_, err := js.Stream(ctx, sc.Name)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("open stream %s: %w", sc.Name, err)
		}
		cctx, cancel := context.WithTimeout(ctx, createTimeout)
		_, err = js.CreateStream(cctx, sc)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("open stream %s: not there yet (created by the orders service), and creating it: %w", sc.Name, err)
		}
	}
	return nil
}
