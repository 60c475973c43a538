// Package relay publishes the order events recorded in the event store to
// the bus, so that no event is published that was not stored, and none is
// stored and never published.
//
// How: the orders service never publishes from its command path. It appends
// to the event store, and the relay follows the store (a subscription from a
// durable checkpoint) and publishes every order event it sees, with the
// event id as Nats-Msg-Id, pipelined. The checkpoint moves only past events
// whose publish JetStream acknowledged. After a crash the relay resumes from
// the checkpoint and publishes some events again: JetStream drops them
// within its duplicate window, and every consumer is idempotent on the event
// id beyond it. Each publish continues the trace of the append that stored
// the event: the orders service keeps the trace context in the event's
// metadata. Store and supplier facts folded into order streams are not
// published again: they came from the bus.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Checkpoints keep the relay's position durably.
type Checkpoints interface {
	// Load returns the saved position, or eventstore.Start.
	Load(ctx context.Context) (eventstore.Position, error)
	// Save records that every event up to pos is published.
	Save(ctx context.Context, pos eventstore.Position) error
}

// Config tunes a Relay.
type Config struct {
	// MaxInFlight bounds unacknowledged publishes.
	MaxInFlight int
	// CheckpointEvery is how often the position is saved.
	CheckpointEvery time.Duration
}

// Relay follows the event store and publishes order events.
type Relay struct {
	store eventstore.Store
	pub   *bus.Publisher
	cp    Checkpoints
	cfg   Config
	log   *slog.Logger
	prop  propagation.TextMapPropagator
}

// New returns a relay.
func New(store eventstore.Store, pub *bus.Publisher, cp Checkpoints, cfg Config, log *slog.Logger) *Relay {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 512
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Second
	}
	return &Relay{store: store, pub: pub, cp: cp, cfg: cfg, log: log, prop: telemetry.Propagator()}
}

type pending struct {
	f   *bus.PubFuture // nil: nothing to wait for (a fact, not republished)
	pos eventstore.Position
}

// Run publishes until ctx ends, and returns nil then. When the store or the
// bus fails (NATS away, a publish not acknowledged, the checkpoint not
// readable) it logs why, waits and resumes from the checkpoint, for as long
// as the outage lasts: republished events are dropped as duplicates.
func (r *Relay) Run(ctx context.Context) error {
	failures := 0
	for {
		began := time.Now()
		err := r.run(ctx)
		select {
		case <-ctx.Done():
			return nil // stopping: whatever run said is about the stop
		default:
		}
		if err == nil {
			return nil
		}
		if time.Since(began) > time.Minute {
			failures = 0 // it ran a good while: start the backoff afresh
		}
		failures++
		delay := min(maxRestartDelay, 100*time.Millisecond<<min(failures, 6))
		r.log.WarnContext(ctx, "relay stopped; resuming from the checkpoint", "err", err, "delay", delay, "failures", failures)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// maxRestartDelay caps the wait before the relay resumes after a failure.
const maxRestartDelay = 5 * time.Second

// run publishes from the checkpoint until ctx ends (nil) or the store or
// the bus fails.
func (r *Relay) run(ctx context.Context) error {
	from, err := r.cp.Load(ctx)
	if err != nil {
		return fmt.Errorf("relay: load checkpoint: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan pending, r.cfg.MaxInFlight)
	acked := make(chan error, 1)
	go func() {
		err := r.confirm(ctx, queue, from)
		if err != nil {
			cancel(err) // unblocks publish
		}
		acked <- err
	}()

	err = r.publish(ctx, from, queue)
	close(queue)
	if cerr := <-acked; cerr != nil && !errors.Is(cerr, context.Canceled) {
		return cerr
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// publish follows the store and sends order events, in order.
func (r *Relay) publish(ctx context.Context, from eventstore.Position, queue chan<- pending) error {
	for rec, err := range r.store.Subscribe(ctx, from, eventstore.Filter{}) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("relay: subscribe: %w", err)
		}
		p := pending{pos: rec.Position}
		if n := envelope.FieldNumber(rec.Type); n >= 50 && n < 90 {
			env, err := envelope.Unmarshal(rec.Data)
			if err != nil {
				// An undecodable event in the store is a bug upstream; it
				// cannot be published, and stopping here would stop every
				// later event. Say so loudly and go on.
				r.log.ErrorContext(ctx, "relay: undecodable event skipped", "stream", rec.Stream, "revision", rec.Revision, "err", err)
			} else {
				subject, err := bus.SubjectFor(env)
				if err != nil {
					return fmt.Errorf("relay: %s@%d: %w", rec.Stream, rec.Revision, err)
				}
				// The publish continues the trace of the append that
				// stored the event (its context is in the metadata).
				pctx := ctx
				if len(rec.Metadata) > 0 {
					pctx = r.prop.Extract(ctx, propagation.MapCarrier(rec.Metadata))
				}
				f, err := r.pub.PublishAsync(pctx, subject, env)
				if err != nil {
					return fmt.Errorf("relay: %w", err)
				}
				p.f = f
			}
		}
		select {
		case queue <- p:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// confirm waits for acks in order and saves the checkpoint now and then.
func (r *Relay) confirm(ctx context.Context, queue <-chan pending, pos eventstore.Position) error {
	saved := pos
	tick := time.NewTicker(r.cfg.CheckpointEvery)
	defer tick.Stop()
	save := func(ctx context.Context) error {
		if pos == saved {
			return nil
		}
		if err := r.cp.Save(ctx, pos); err != nil {
			return fmt.Errorf("relay: save checkpoint: %w", err)
		}
		saved = pos
		return nil
	}
	defer func() {
		// Keep what was confirmed, even while shutting down.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := save(sctx); err != nil {
			r.log.Warn("relay: final checkpoint not saved", "err", err)
		}
	}()
	for {
		select {
		case p, ok := <-queue:
			if !ok {
				return nil
			}
			if p.f != nil {
				if err := p.f.Wait(ctx); err != nil {
					return err
				}
			}
			pos = p.pos
		case <-tick.C:
			// A checkpoint not saved now is saved on a later tick; the
			// relay goes on publishing meanwhile.
			if err := save(ctx); err != nil {
				r.log.WarnContext(ctx, "relay: checkpoint not saved, will retry", "err", err)
			}
		}
	}
}

// KVCheckpoints keeps checkpoints in a JetStream key-value bucket.
type KVCheckpoints struct {
	kv  jetstream.KeyValue
	key string
}

// CheckpointBucket is the KV bucket of relay checkpoints.
const CheckpointBucket = "dropsync_checkpoints"

// NewKVCheckpoints opens (creating if needed) the checkpoint bucket; key
// names this relay.
func NewKVCheckpoints(ctx context.Context, js jetstream.JetStream, replicas int, key string) (*KVCheckpoints, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      CheckpointBucket,
		Description: "dropsync relay positions in the event store",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint bucket: %w", err)
	}
	return &KVCheckpoints{kv: kv, key: key}, nil
}

// Load implements Checkpoints.
func (c *KVCheckpoints) Load(ctx context.Context) (eventstore.Position, error) {
	e, err := c.kv.Get(ctx, c.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Start, err
	}
	return parsePosition(string(e.Value()))
}

// Save implements Checkpoints.
func (c *KVCheckpoints) Save(ctx context.Context, pos eventstore.Position) error {
	_, err := c.kv.Put(ctx, c.key, []byte(pos.String()))
	return err
}

func parsePosition(s string) (eventstore.Position, error) {
	a, b, ok := strings.Cut(s, "/")
	commit, err1 := strconv.ParseUint(a, 10, 64)
	prepare, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return eventstore.Start, fmt.Errorf("checkpoint %q: not commit/prepare", s)
	}
	return eventstore.Position{Commit: commit, Prepare: prepare}, nil
}
