package storehealth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// State is one store's connection health.
type State struct {
	// Store is the store's slug.
	Store string
	// Healthy is false once the platform refused the credentials, true
	// after a call succeeded (and before any call was answered).
	Healthy bool
	// Reason is the platform's refusal, when unhealthy.
	Reason string
	// ChangedAt is when the health last changed; zero before any answer.
	ChangedAt time.Time
}

// Publisher stores events; *bus.Publisher is one.
type Publisher interface {
	Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error
}

// Config configures a Tracker.
type Config struct {
	// Platform is the platform's word in order ids ("shopify").
	Platform string
	// Source is the platform as events name it.
	Source eventsv1.Platform
	// Service names the connector in the events' source.
	Service string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives each change; default slog.Default().
	Logger *slog.Logger
}

// Tracker keeps each store's health. A store's first answer after the
// connector starts is a change too (the connector does not know what it
// reported before it stopped), so a restart with a repaired credential
// reports the store healthy again. It is safe for concurrent use.
type Tracker struct {
	cfg    Config
	mu     sync.Mutex
	stores map[string]*entry
	queue  []State
	wake   chan struct{}
}

type entry struct {
	State
	known bool // an answer was seen since the start
}

// New returns a Tracker that knows no store's health yet.
func New(cfg Config) *Tracker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Tracker{cfg: cfg, stores: map[string]*entry{}, wake: make(chan struct{}, 1)}
}

// ObserveStore implements client.HealthObserver.
func (t *Tracker) ObserveStore(store string, healthy bool, reason string) {
	if healthy {
		reason = ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.stores[store]
	if !ok {
		e = &entry{State: State{Store: store, Healthy: true}}
		t.stores[store] = e
	}
	if e.known && e.Healthy == healthy {
		return // a burst of refusals (or of successes) is one change
	}
	e.known, e.Healthy, e.Reason, e.ChangedAt = true, healthy, reason, t.cfg.Now().UTC()
	log := t.cfg.Logger.With("platform", t.cfg.Platform, "store", store)
	if healthy {
		log.Info("store connection healthy: the platform takes the credentials; held commands resume")
	} else {
		log.Error("store connection unhealthy: the platform refused the credentials; replace the store's secret (commands are held until then)", "reason", reason)
	}
	t.queue = append(t.queue, e.State)
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// State returns the store's health: healthy when nothing was answered yet.
func (t *Tracker) State(store string) State {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.stores[store]; ok {
		return e.State
	}
	return State{Store: store, Healthy: true}
}

// Event is the StoreConnectionChanged of a change. Its id derives from the
// store and the time of the change, so publishing it again is a duplicate.
func (t *Tracker) Event(st State) *eventsv1.Envelope {
	id := t.cfg.Platform + ":" + st.Store
	env := &eventsv1.Envelope{
		EventId:    envelope.ID(t.cfg.Platform, "connection", st.Store, st.ChangedAt.Format(time.RFC3339Nano), boolWord(st.Healthy)),
		OrderId:    id,
		OccurredAt: timestamppb.New(st.ChangedAt),
		RecordedAt: timestamppb.New(st.ChangedAt),
		Source:     &eventsv1.Source{Platform: t.cfg.Source, StoreId: st.Store, Service: t.cfg.Service},
		Event: &eventsv1.Envelope_StoreConnectionChanged{StoreConnectionChanged: &eventsv1.StoreConnectionChanged{
			Store: st.Store, Healthy: st.Healthy, Reason: st.Reason,
		}},
	}
	env.CorrelationId = env.GetEventId()
	return env
}

func boolWord(b bool) string {
	if b {
		return "healthy"
	}
	return "unhealthy"
}

// retryPublish is the wait before publishing a change again.
const retryPublish = time.Second

// Publish publishes every change as a StoreConnectionChanged, in order,
// until ctx ends; a failed publish is retried (the bus drops a
// duplicate by event id). It returns nil when ctx ends.
func (t *Tracker) Publish(ctx context.Context, pub Publisher) error {
	for {
		t.mu.Lock()
		pending := len(t.queue) > 0
		var next State
		if pending {
			next = t.queue[0]
		}
		t.mu.Unlock()
		if !pending {
			select {
			case <-ctx.Done():
				return nil
			case <-t.wake:
			}
			continue
		}
		env := t.Event(next)
		err := pub.Publish(ctx, bus.StoreSubject(env.GetOrderId()), env)
		if err != nil && ctx.Err() == nil {
			t.cfg.Logger.Warn("publish store connection health", "store", next.Store, "err", err)
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retryPublish):
			}
			continue
		}
		t.mu.Lock()
		t.queue = t.queue[1:]
		t.mu.Unlock()
	}
}
