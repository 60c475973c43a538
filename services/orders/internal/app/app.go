// Package app is the orders service's application layer: it loads an order
// (or a store's catalog) from the event store, lets the pure aggregate
// decide, and appends what it decided with optimistic concurrency. It never
// publishes: the relay publishes what was stored.
package app

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/catalog"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/order"
)

// Errors of the application layer.
var (
	// ErrContention: the order kept changing under every attempt; the
	// caller may try again (gRPC Aborted).
	ErrContention = errors.New("orders: the order kept changing concurrently; try again")
	// ErrInvalidSettings: settings or a mapping that cannot be used.
	ErrInvalidSettings = catalog.ErrInvalidSettings
)

// Config tunes the application.
type Config struct {
	// MaxAttempts bounds load-decide-append rounds on concurrency conflicts.
	MaxAttempts int
	// CacheSize bounds the orders kept folded in memory.
	CacheSize int
	// BulkParallelism bounds the orders a bulk command works on at once.
	BulkParallelism int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Revisions tells the last revision of an order's stream the service has
// seen recorded (the read model follows the event store), so a cached order
// that another replica has moved on is folded again.
type Revisions interface {
	Revision(orderID string) (uint64, bool)
}

// App carries out facts and commands on orders and stores.
type App struct {
	store   eventstore.Store
	revs    Revisions
	cfg     Config
	log     *slog.Logger
	seed    maphash.Seed
	locks   [256]sync.Mutex
	orders  *lru
	catMu   sync.Mutex
	catalog map[string]*storeEntry
}

// New returns the application over an event store.
func New(store eventstore.Store, revs Revisions, cfg Config, log *slog.Logger) *App {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 50_000
	}
	if cfg.BulkParallelism <= 0 {
		cfg.BulkParallelism = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &App{
		store: store, revs: revs, cfg: cfg, log: log, seed: maphash.MakeSeed(),
		orders: newLRU(cfg.CacheSize), catalog: map[string]*storeEntry{},
	}
}

func (a *App) lock(id string) *sync.Mutex {
	return &a.locks[maphash.String(a.seed, id)%uint64(len(a.locks))]
}

// load returns the order folded from its stream, from the cache when it is
// current. Callers hold the order's lock.
func (a *App) load(ctx context.Context, id order.ID, fresh bool) (*order.Order, error) {
	key := id.String()
	if !fresh {
		if o := a.orders.get(key); o != nil {
			if rev, ok := a.revs.Revision(key); !ok || o.Revision() > rev {
				return o, nil
			}
		}
	}
	o := order.New(id)
	for rec, err := range a.store.ReadStream(ctx, id.StreamName(), 0) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load order %s: %w", key, err)
		}
		env, err := envelope.Unmarshal(rec.Data)
		if err != nil {
			return nil, fmt.Errorf("load order %s@%d: %w", key, rec.Revision, err)
		}
		o.Apply(env)
	}
	a.orders.put(key, o)
	return o, nil
}

// execute loads the order, lets decide return new events and appends them
// at the order's revision; on a concurrency conflict it reloads and decides
// again. It returns the order with the new events applied.
func (a *App) execute(ctx context.Context, id order.ID, decide func(*order.Order) ([]*eventsv1.Envelope, error)) (*order.Order, error) {
	mu := a.lock(id.String())
	mu.Lock()
	defer mu.Unlock()
	for attempt := range a.cfg.MaxAttempts {
		o, err := a.load(ctx, id, attempt > 0)
		if err != nil {
			return nil, err
		}
		events, err := decide(o)
		if err != nil || len(events) == 0 {
			return o, err
		}
		err = a.append(ctx, id.StreamName(), o.Revision(), events)
		if errors.Is(err, eventstore.ErrConcurrency) {
			a.orders.drop(id.String())
			continue
		}
		if err != nil {
			a.orders.drop(id.String())
			return nil, err
		}
		for _, e := range events {
			o.Apply(e)
		}
		return o, nil
	}
	return nil, fmt.Errorf("order %s: %w", id, ErrContention)
}

// append writes events after the stream's first next events.
func (a *App) append(ctx context.Context, stream string, next uint64, events []*eventsv1.Envelope) error {
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		b, err := envelope.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode %s: %w", envelope.Type(e), err)
		}
		data[i] = eventstore.EventData{ID: e.GetEventId(), Type: envelope.Type(e), Data: b, ContentType: envelope.ContentType}
	}
	expected := eventstore.NoStream()
	if next > 0 {
		expected = eventstore.Exact(next - 1)
	}
	_, err := a.store.Append(ctx, stream, expected, data...)
	return err
}

func (a *App) context() order.Context { return order.Context{Now: a.cfg.Now().UTC()} }

// HandleFact takes in a store or supplier fact from the bus. It is
// idempotent: a fact the order already has changes nothing. Errors that no
// retry can cure are marked bus.Permanent, so the message is dead-lettered
// at once with the reason.
func (a *App) HandleFact(ctx context.Context, env *eventsv1.Envelope) error {
	if env.GetSupplierConnectionChanged() != nil {
		return a.recordConnection(ctx, env)
	}
	id, err := order.ParseID(env.GetOrderId())
	if err != nil {
		return bus.Permanent(err)
	}
	st, err := a.storeFor(ctx, id.StoreKey())
	if err != nil {
		return err
	}
	c := a.context()
	c.Settings = st.settings()
	_, err = a.execute(ctx, id, func(o *order.Order) ([]*eventsv1.Envelope, error) { return o.Handle(env, c) })
	var re *order.RuleError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, order.ErrUnknownOrder):
		// The store event that creates the order may still be on its way
		// (webhooks come in any order): retry, then dead-letter.
		return err
	case errors.Is(err, order.ErrInvalidEvent), errors.Is(err, order.ErrUnsupportedEvent), errors.Is(err, order.ErrInvalidID), errors.As(err, &re):
		return bus.Permanent(err)
	default:
		return err
	}
}

// CheckAttention flags an order that needs the merchant's attention (a
// supplier order paid with no tracking, a shipment whose tracking went
// stale: see [order.Order.CheckAttention]); it is a no-op when nothing is
// late or the flag is already up.
func (a *App) CheckAttention(ctx context.Context, orderID string, p order.AttentionPolicy) error {
	id, err := order.ParseID(orderID)
	if err != nil {
		return err
	}
	_, err = a.execute(ctx, id, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		if !o.Exists() {
			return nil, nil
		}
		return o.CheckAttention(p, a.context())
	})
	return err
}

// ConnectionStreamPrefix starts the event streams of supplier connections
// ("connection-aliexpress:<account>").
const ConnectionStreamPrefix = "connection-"

// recordConnection keeps a supplier connection's health changes in the
// event store, one stream per account, for operators and analysts. A
// redelivery within JetStream's duplicate window is dropped by event id.
func (a *App) recordConnection(ctx context.Context, env *eventsv1.Envelope) error {
	platform, account, ok := strings.Cut(env.GetOrderId(), ":")
	if !ok || platform != order.WordAliExpress || account == "" {
		return bus.Permanent(fmt.Errorf("connection event for %q: want aliexpress:<account>", env.GetOrderId()))
	}
	b, err := envelope.Marshal(env)
	if err != nil {
		return bus.Permanent(err)
	}
	_, err = a.store.Append(ctx, ConnectionStreamPrefix+env.GetOrderId(), eventstore.Any(), eventstore.EventData{
		ID: env.GetEventId(), Type: envelope.Type(env), Data: b, ContentType: envelope.ContentType,
	})
	if errors.Is(err, eventstore.ErrInvalidEvent) {
		return bus.Permanent(err)
	}
	return err
}

// Get returns an order's view.
func (a *App) Get(ctx context.Context, orderID string) (*ordersv1.Order, error) {
	id, err := order.ParseID(orderID)
	if err != nil {
		return nil, err
	}
	mu := a.lock(orderID)
	mu.Lock()
	defer mu.Unlock()
	o, err := a.load(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if !o.Exists() {
		return nil, fmt.Errorf("order %s: %w", orderID, order.ErrUnknownOrder)
	}
	return o.ToProto(), nil
}

// History returns up to n events of an order from revision from, and the
// revision to ask for next (0 when there are no more).
func (a *App) History(ctx context.Context, orderID string, from uint64, n int) ([]*ordersv1.RecordedEvent, uint64, error) {
	id, err := order.ParseID(orderID)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []*ordersv1.RecordedEvent
	for rec, err := range a.store.ReadStream(ctx, id.StreamName(), from) {
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return nil, 0, fmt.Errorf("order %s: %w", orderID, order.ErrUnknownOrder)
			}
			return nil, 0, fmt.Errorf("history %s: %w", orderID, err)
		}
		if len(out) == n {
			return out, rec.Revision, nil
		}
		env, err := envelope.Unmarshal(rec.Data)
		if err != nil {
			return nil, 0, fmt.Errorf("history %s@%d: %w", orderID, rec.Revision, err)
		}
		out = append(out, &ordersv1.RecordedEvent{Revision: rec.Revision, Type: rec.Type, Envelope: env})
	}
	return out, 0, nil
}

// Place places orders with the supplier (retry: only Failed or
// supplier-canceled ones), at most BulkParallelism at a time. Each order's
// outcome is reported; one order's refusal does not stop the others.
func (a *App) Place(ctx context.Context, requestID string, ids []string, retry bool) []*ordersv1.OrderResult {
	results := make([]*ordersv1.OrderResult, len(ids))
	sem := make(chan struct{}, a.cfg.BulkParallelism)
	var wg sync.WaitGroup
	for i, orderID := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = a.placeOne(ctx, requestID, orderID, retry)
		}()
	}
	wg.Wait()
	return results
}

func (a *App) placeOne(ctx context.Context, requestID, orderID string, retry bool) *ordersv1.OrderResult {
	res := &ordersv1.OrderResult{OrderId: orderID}
	fail := func(err error) *ordersv1.OrderResult {
		res.ErrorCode, res.ErrorMessage = order.Code(err), err.Error()
		if errors.Is(err, ErrContention) {
			res.ErrorCode = "CONCURRENCY_EXHAUSTED"
		} else if res.ErrorCode == "UNKNOWN" {
			a.log.ErrorContext(ctx, "place order", "order_id", orderID, "err", err)
			res.ErrorMessage = "internal error"
		}
		return res
	}
	id, err := order.ParseID(orderID)
	if err != nil {
		return fail(err)
	}
	st, err := a.storeFor(ctx, id.StoreKey())
	if err != nil {
		return fail(err)
	}
	cmd := order.PlaceCommand{RequestID: requestID, Lookup: st.mappings().Lookup}
	o, err := a.execute(ctx, id, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		if !o.Exists() {
			return nil, fmt.Errorf("order %s: %w", orderID, order.ErrUnknownOrder)
		}
		if retry {
			return o.Retry(cmd, a.context())
		}
		return o.Place(cmd, a.context())
	})
	if err != nil {
		return fail(err)
	}
	res.Tab = o.Tab()
	if out, ok := o.Request(requestID); ok && out.Rejected != nil {
		res.ErrorCode, res.ErrorMessage = out.Rejected.GetCode(), out.Rejected.GetMessage()
		return res
	}
	res.Accepted = true
	return res
}

// command runs one single-order command.
func (a *App) command(ctx context.Context, orderID string, run func(*order.Order) ([]*eventsv1.Envelope, error)) (*ordersv1.Order, error) {
	id, err := order.ParseID(orderID)
	if err != nil {
		return nil, err
	}
	o, err := a.execute(ctx, id, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		if !o.Exists() {
			return nil, fmt.Errorf("order %s: %w", orderID, order.ErrUnknownOrder)
		}
		return run(o)
	})
	if err != nil {
		return nil, err
	}
	return o.ToProto(), nil
}

// FulfillManually marks an order fulfilled by hand (rules 5 and 6).
func (a *App) FulfillManually(ctx context.Context, requestID, orderID, note string) (*ordersv1.Order, error) {
	return a.command(ctx, orderID, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		return o.FulfillManually(requestID, note, a.context())
	})
}

// Resync records that the order is to be re-read from the store; the store
// connector carries it out.
func (a *App) Resync(ctx context.Context, requestID, orderID string) (*ordersv1.Order, error) {
	return a.command(ctx, orderID, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		return o.Resync(requestID, a.context())
	})
}

// ResolveConflict decides a conflict with the store (rule 11).
func (a *App) ResolveConflict(ctx context.Context, requestID, orderID string, acceptStore bool) (*ordersv1.Order, error) {
	return a.command(ctx, orderID, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		return o.ResolveConflict(requestID, acceptStore, a.context())
	})
}
