package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// connections is the stores' connection health, folded from their
// StoreConnectionChanged events (the streams ConnectionStreamPrefix +
// store key). The zero value is empty and ready.
type connections struct {
	mu     sync.Mutex
	stores map[string]*ordersv1.StoreHealth
}

// apply folds one connection event; an event older than the health it
// would replace (a redelivery, a replay) changes nothing.
func (c *connections) apply(env *eventsv1.Envelope) {
	ch := env.GetStoreConnectionChanged()
	if ch == nil {
		return
	}
	key := env.GetOrderId()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stores == nil {
		c.stores = map[string]*ordersv1.StoreHealth{}
	}
	if cur, ok := c.stores[key]; ok && env.GetOccurredAt().AsTime().Before(cur.GetSince().AsTime()) {
		return
	}
	c.stores[key] = &ordersv1.StoreHealth{
		Store: key, Healthy: ch.GetHealthy(), Reason: ch.GetReason(), Since: timestamppb.New(env.GetOccurredAt().AsTime()),
	}
}

// get returns a copy of the store's health; a store never reported is
// healthy, with no since.
func (c *connections) get(key string) *ordersv1.StoreHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.stores[key]; ok {
		return &ordersv1.StoreHealth{Store: h.GetStore(), Healthy: h.GetHealthy(), Reason: h.GetReason(), Since: h.GetSince()}
	}
	return &ordersv1.StoreHealth{Store: key, Healthy: true}
}

// all returns every reported store's health, by store key.
func (c *connections) all() []*ordersv1.StoreHealth {
	c.mu.Lock()
	keys := make([]string, 0, len(c.stores))
	for k := range c.stores {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	slices.Sort(keys)
	out := make([]*ordersv1.StoreHealth, 0, len(keys))
	for _, k := range keys {
		out = append(out, c.get(k))
	}
	return out
}

// StoreHealth returns the connection health of the store (a store key),
// or of every store a connector reported on when store is empty, as
// folded from StoreConnectionChanged.
func (a *App) StoreHealth(_ context.Context, store string) ([]*ordersv1.StoreHealth, error) {
	if store == "" {
		return a.health.all(), nil
	}
	if _, _, err := order.ParseStoreKey(store); err != nil {
		return nil, err
	}
	return []*ordersv1.StoreHealth{a.health.get(store)}, nil
}

// FollowConnections folds every store's connection events, from the
// start of the event store, and then each one appended (by this replica or
// another), until ctx ends.
func (a *App) FollowConnections(ctx context.Context) error {
	for rec, err := range a.store.Subscribe(ctx, eventstore.Start, eventstore.Filter{StreamPrefix: ConnectionStreamPrefix}) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow connections: %w", err)
		}
		if rec.Type != "StoreConnectionChanged" {
			continue
		}
		env, err := envelope.Unmarshal(rec.Data)
		if err != nil {
			a.log.ErrorContext(ctx, "undecodable connection event", "stream", rec.Stream, "revision", rec.Revision, "err", err)
			continue
		}
		a.health.apply(env)
	}
	return nil
}

// connectionKey checks the order id of a connection event: a supplier's
// "aliexpress:<account>", a store's "<platform>:<store>".
func connectionKey(env *eventsv1.Envelope) error {
	platform, rest, ok := strings.Cut(env.GetOrderId(), ":")
	switch {
	case env.GetSupplierConnectionChanged() != nil:
		if !ok || platform != order.WordAliExpress || rest == "" {
			return fmt.Errorf("connection event for %q: want aliexpress:<account>", env.GetOrderId())
		}
	default:
		p, store, err := order.ParseStoreKey(env.GetOrderId())
		if err != nil {
			return fmt.Errorf("connection event: %w", err)
		}
		if p == eventsv1.Platform_PLATFORM_ALIEXPRESS || p == eventsv1.Platform_PLATFORM_DROPSYNC || store != env.GetStoreConnectionChanged().GetStore() {
			return fmt.Errorf("store connection event for %q (store %q): want <store platform>:<store>", env.GetOrderId(), env.GetStoreConnectionChanged().GetStore())
		}
	}
	return nil
}
