// Package app is the orders service's application layer: it loads an order
// (or a store's catalog) from the event store, lets the pure aggregate
// decide, and appends what it decided with optimistic concurrency. It never
// publishes: the relay publishes what was stored.
//
// Writers of one order take turns on its lock; readers take none. The
// orders in the cache (golang-lru) are immutable: a writer folds what it
// appended into a copy and caches the copy, so GetOrder never waits for an
// append. Every Config.SnapshotEvery events an order's state is saved as a
// snapshot through the event store (eventstore.Snapshots), so an order not
// in the cache loads with a snapshot read and a read of the events after
// it, however long its stream.
package app

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/catalog"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Errors of the application layer.
var (
	// ErrContention: the order kept changing under every attempt; the
	// caller may try again (gRPC Aborted).
	ErrContention = errors.New("orders: the order kept changing concurrently; try again")
	// ErrInvalidSettings: settings or a mapping that cannot be used.
	ErrInvalidSettings = catalog.ErrInvalidSettings
	// ErrUnsupportedSetting: a setting the store's platform cannot honour
	// through its API; the error names the platform's limit.
	ErrUnsupportedSetting = catalog.ErrUnsupportedSetting
)

// Config tunes the application.
type Config struct {
	// MaxAttempts bounds load-decide-append rounds on concurrency conflicts.
	MaxAttempts int
	// CacheSize bounds the orders kept folded in memory.
	CacheSize int
	// SnapshotEvery saves an order's snapshot each time its stream passes
	// a multiple of this many events, so an order not in the cache loads
	// with one snapshot read and one read of at most this many events;
	// DefaultSnapshotEvery when 0, never when negative (or when the store
	// keeps no snapshots).
	SnapshotEvery int
	// BulkParallelism bounds the orders a bulk command works on at once.
	BulkParallelism int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Telemetry makes the decide and append spans; the global providers
	// when nil.
	Telemetry *telemetry.Providers
}

// Revisions tells the last revision of an order's stream the service has
// seen recorded (the read model follows the event store), so a cached order
// that another replica has moved on is folded again.
type Revisions interface {
	Revision(orderID string) (uint64, bool)
}

// DefaultSnapshotEvery is Config.SnapshotEvery's default.
const DefaultSnapshotEvery = 100

// snapshotType names the order snapshot format in the event store: a
// snapshot of another type (an older SnapshotVersion) is passed over and
// the order folded from its events, then snapshotted anew.
var snapshotType = fmt.Sprintf("order.v%d", order.SnapshotVersion)

// maxSnapshotSaves bounds the snapshot saves in flight; a save that finds
// them all busy is skipped (the next boundary saves one).
const maxSnapshotSaves = 4

// App carries out facts and commands on orders and stores.
type App struct {
	store    eventstore.Store
	snaps    eventstore.Snapshots // nil: no snapshots
	saving   chan struct{}        // semaphore on snapshot saves in flight
	saves    sync.WaitGroup       // snapshot saves in flight
	revs     Revisions
	cfg      Config
	log      *slog.Logger
	tracer   trace.Tracer
	journeys *journeys
	seed     maphash.Seed
	locks    [256]sync.Mutex
	orders   *orderCache
	catMu    sync.Mutex
	catalog  map[string]*storeEntry
	health   connections
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
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Telemetry == nil {
		cfg.Telemetry = telemetry.FromContext(context.Background())
	}
	a := &App{
		store: store, revs: revs, cfg: cfg, log: log, seed: maphash.MakeSeed(),
		tracer: cfg.Telemetry.Tracer.Tracer(instrumentation), journeys: newJourneys(cfg.CacheSize),
		orders: newOrderCache(cfg.CacheSize), catalog: map[string]*storeEntry{},
		saving: make(chan struct{}, maxSnapshotSaves),
	}
	if ss, ok := store.(eventstore.Snapshots); ok && cfg.SnapshotEvery > 0 {
		a.snaps = ss
	}
	return a
}

// WaitSnapshots waits for the snapshot saves in flight.
func (a *App) WaitSnapshots() { a.saves.Wait() }

func (a *App) lock(id string) *sync.Mutex {
	return &a.locks[maphash.String(a.seed, id)%uint64(len(a.locks))]
}

// load returns the order folded from its stream, from the cache when it is
// current. The order is shared with the cache and with readers: callers
// must not change it (execute folds new events into a clone).
func (a *App) load(ctx context.Context, id order.ID, fresh bool) (*order.Order, error) {
	key := id.String()
	if !fresh {
		if o := a.cached(key); o != nil {
			return o, nil
		}
	}
	return a.fold(ctx, id)
}

// cached returns the cached order when it is current: not behind what the
// read model has seen recorded (another replica may have moved it on).
func (a *App) cached(key string) *order.Order {
	o := a.orders.get(key)
	if o == nil {
		return nil
	}
	if rev, ok := a.revs.Revision(key); ok && o.Revision() <= rev {
		return nil
	}
	return o
}

// fold reads the order's stream and folds it into a new order: from its
// snapshot and the events after it when there is a usable one, else from
// its first event (then it saves a snapshot if the order is long enough
// to have one).
func (a *App) fold(ctx context.Context, id order.ID) (*order.Order, error) {
	key, stream := id.String(), id.StreamName()
	o, from := a.fromSnapshot(ctx, id)
	for rec, err := range a.store.ReadStream(ctx, stream, from) {
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
		if rec.Revision == 0 {
			a.journeys.remember(key, rec.Metadata)
		}
		o.Apply(env)
	}
	if from > 0 {
		a.learnJourney(ctx, key, stream)
	}
	if from == 0 && a.snaps != nil && o.Revision() >= uint64(a.cfg.SnapshotEvery) {
		a.saveSnapshot(ctx, o)
	}
	return o, nil
}

// fromSnapshot returns the order as its snapshot has it and the revision
// to read on from, or a new order and 0 when there is no usable snapshot.
func (a *App) fromSnapshot(ctx context.Context, id order.ID) (*order.Order, uint64) {
	if a.snaps == nil {
		return order.New(id), 0
	}
	if rev, ok := a.revs.Revision(id.String()); ok && rev+1 < uint64(a.cfg.SnapshotEvery) {
		return order.New(id), 0 // too short to have a snapshot: one read, not two
	}
	snap, err := a.snaps.LoadSnapshot(ctx, id.StreamName())
	if err != nil {
		if !errors.Is(err, eventstore.ErrNoSnapshot) {
			a.log.WarnContext(ctx, "order snapshot not read; folding every event", "order_id", id.String(), "err", err)
		}
		return order.New(id), 0
	}
	if snap.Type != snapshotType {
		return order.New(id), 0 // another format: rebuilt from events and saved anew
	}
	o, err := order.FromSnapshot(snap.Data)
	if err != nil || o.Revision() != snap.Revision+1 || o.ID() != id.String() {
		a.log.WarnContext(ctx, "order snapshot unusable; folding every event", "order_id", id.String(), "revision", snap.Revision, "err", err)
		return order.New(id), 0
	}
	return o, snap.Revision + 1
}

// saveSnapshot saves o's snapshot in the background: o is immutable (it
// is cached and shared), and a snapshot is only a cache of the fold, so a
// failed or skipped save costs a longer read later, nothing else.
func (a *App) saveSnapshot(ctx context.Context, o *order.Order) {
	select {
	case a.saving <- struct{}{}:
	default:
		return // enough in flight: the next boundary saves one
	}
	a.saves.Add(1)
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer func() { <-a.saving; a.saves.Done() }()
		data, err := o.Snapshot()
		if err == nil {
			err = a.snaps.SaveSnapshot(ctx, order.StreamName(o.ID()), eventstore.Snapshot{Revision: o.Revision() - 1, Type: snapshotType, Data: data})
		}
		if err != nil {
			a.log.WarnContext(ctx, "save order snapshot", "order_id", o.ID(), "err", err)
		}
	}()
}

// execute loads the order, lets decide return new events and appends them
// at the order's revision; on a concurrency conflict it reloads and decides
// again. It returns the order with the new events applied, a new order:
// the one loaded is shared with readers and never changed. Writers of one
// order take turns on its lock; readers (Get) take no lock.
func (a *App) execute(ctx context.Context, id order.ID, decide func(*order.Order) ([]*eventsv1.Envelope, error)) (*order.Order, error) {
	mu := a.lock(id.String())
	mu.Lock()
	defer mu.Unlock()
	for attempt := range a.cfg.MaxAttempts {
		dctx, o, events, err := a.decide(ctx, id, attempt, decide)
		if err != nil || len(events) == 0 {
			return o, err
		}
		err = a.append(dctx, id.StreamName(), o.Revision(), events)
		if errors.Is(err, eventstore.ErrConcurrency) {
			a.orders.drop(id.String())
			continue
		}
		if err != nil {
			a.orders.drop(id.String())
			return nil, err
		}
		next := o.Clone()
		for _, e := range events {
			next.Apply(e)
		}
		a.orders.put(id.String(), next)
		if every := uint64(a.cfg.SnapshotEvery); a.snaps != nil && next.Revision()/every > o.Revision()/every {
			a.saveSnapshot(ctx, next)
		}
		return next, nil
	}
	return nil, fmt.Errorf("order %s: %w", id, ErrContention)
}

func (a *App) context() order.Context { return order.Context{Now: a.cfg.Now().UTC()} }

// requestedByKey carries who gives the commands run with a context.
type requestedByKey struct{}

// WithRequestedBy returns ctx carrying who gives the commands run with it
// (the gRPC caller): their events record it as requested_by.
func WithRequestedBy(ctx context.Context, p *eventsv1.Principal) context.Context {
	return context.WithValue(ctx, requestedByKey{}, p)
}

// requestedBy is who WithRequestedBy put in ctx, or nil.
func requestedBy(ctx context.Context) *eventsv1.Principal {
	p, _ := ctx.Value(requestedByKey{}).(*eventsv1.Principal)
	return p
}

// commandContext is the decision context of a command given with ctx.
func (a *App) commandContext(ctx context.Context) order.Context {
	c := a.context()
	c.RequestedBy = requestedBy(ctx)
	return c
}

// HandleFact takes in a store or supplier fact from the bus. It is
// idempotent: a fact the order already has changes nothing. Errors that no
// retry can cure are marked bus.Permanent, so the message is dead-lettered
// at once with the reason.
func (a *App) HandleFact(ctx context.Context, env *eventsv1.Envelope) error {
	if env.GetSupplierConnectionChanged() != nil || env.GetStoreConnectionChanged() != nil {
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
	var facts legFacts
	o, err := a.execute(ctx, id, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		events, err := o.Handle(env, c)
		facts = legFacts{}
		if err == nil && len(events) > 0 {
			facts = factsBefore(o, env)
		}
		return events, err
	})
	var re *order.RuleError
	switch {
	case err == nil:
		recordLegs(ctx, o, env, facts, a.cfg.Now())
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

// ConnectionStreamPrefix starts the event streams of supplier and store
// connections ("connection-aliexpress:<account>",
// "connection-shopify:<store>").
const ConnectionStreamPrefix = "connection-"

// recordConnection keeps a supplier connection's or a store connection's
// health changes in the event store, one stream per account or store, for
// operators and analysts; a store's health is folded for StoreHealth. A
// redelivery within JetStream's duplicate window is dropped by event id.
func (a *App) recordConnection(ctx context.Context, env *eventsv1.Envelope) error {
	if err := connectionKey(env); err != nil {
		return bus.Permanent(err)
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
	if err == nil {
		a.health.apply(env) // at once; FollowConnections folds it too
	}
	return err
}

// Get returns an order's view. It never waits for a writer: it takes no
// lock, and serves the cached order (immutable, the state after the last
// append) or folds the stream without holding anything.
func (a *App) Get(ctx context.Context, orderID string) (*ordersv1.Order, error) {
	id, err := order.ParseID(orderID)
	if err != nil {
		return nil, err
	}
	o := a.cached(orderID)
	if o == nil {
		if o, err = a.fold(ctx, id); err != nil {
			return nil, err
		}
		a.orders.putNewer(orderID, o)
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
			return o.Retry(cmd, a.commandContext(ctx))
		}
		return o.Place(cmd, a.commandContext(ctx))
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

// RetryFulfillment asks the store again to fulfil the failed shipments of
// orders (a new fulfilment attempt each), at most BulkParallelism orders at
// a time. Each order's outcome is reported, like [App.Place]: an order with
// nothing failed answers RULE_4_NO_FAILED_FULFILLMENT, an unknown one
// NOT_FOUND; the same request id again is accepted and changes nothing.
func (a *App) RetryFulfillment(ctx context.Context, requestID string, ids []string) []*ordersv1.OrderResult {
	results := make([]*ordersv1.OrderResult, len(ids))
	sem := make(chan struct{}, a.cfg.BulkParallelism)
	var wg sync.WaitGroup
	for i, orderID := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = a.retryFulfillmentOne(ctx, requestID, orderID)
		}()
	}
	wg.Wait()
	return results
}

func (a *App) retryFulfillmentOne(ctx context.Context, requestID, orderID string) *ordersv1.OrderResult {
	res := &ordersv1.OrderResult{OrderId: orderID}
	fail := func(err error) *ordersv1.OrderResult {
		res.ErrorCode, res.ErrorMessage = order.Code(err), err.Error()
		if errors.Is(err, ErrContention) {
			res.ErrorCode = "CONCURRENCY_EXHAUSTED"
		} else if res.ErrorCode == "UNKNOWN" {
			a.log.ErrorContext(ctx, "retry fulfillment", "order_id", orderID, "err", err)
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
	c := a.commandContext(ctx)
	c.Settings = st.settings()
	o, err := a.execute(ctx, id, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		if !o.Exists() {
			return nil, fmt.Errorf("order %s: %w", orderID, order.ErrUnknownOrder)
		}
		return o.RetryFulfillment(requestID, c)
	})
	if err != nil {
		return fail(err)
	}
	res.Tab, res.Accepted = o.Tab(), true
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
		return o.FulfillManually(requestID, note, a.commandContext(ctx))
	})
}

// Resync records that the order is to be re-read from the store; the store
// connector carries it out.
func (a *App) Resync(ctx context.Context, requestID, orderID string) (*ordersv1.Order, error) {
	return a.command(ctx, orderID, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		return o.Resync(requestID, a.commandContext(ctx))
	})
}

// ResolveConflict decides a conflict with the store (rule 11).
func (a *App) ResolveConflict(ctx context.Context, requestID, orderID string, acceptStore bool) (*ordersv1.Order, error) {
	return a.command(ctx, orderID, func(o *order.Order) ([]*eventsv1.Envelope, error) {
		return o.ResolveConflict(requestID, acceptStore, a.commandContext(ctx))
	})
}
