package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/catalog"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/order"
)

// storeEntry is one store's catalog, folded from its stream and kept
// current by FollowStores.
type storeEntry struct {
	mu  sync.RWMutex
	cat *catalog.Store
}

func (e *storeEntry) settings() *eventsv1.StoreSettings {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cat.Settings()
}

// mappings is a copy, safe to use while the catalog moves on.
func (e *storeEntry) mappings() order.Mappings {
	e.mu.RLock()
	defer e.mu.RUnlock()
	m := make(order.Mappings)
	for _, sm := range e.cat.Mappings() {
		m[sm.GetVariantId()] = sm
	}
	return m
}

// apply folds an event recorded at revision rev, once.
func (e *storeEntry) apply(rev uint64, env *eventsv1.Envelope) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rev == e.cat.Revision() {
		e.cat.Apply(env)
	}
}

// storeFor returns a store's catalog entry, reading its stream the first time.
func (a *App) storeFor(ctx context.Context, key string) (*storeEntry, error) {
	if _, _, err := order.ParseStoreKey(key); err != nil {
		return nil, err
	}
	a.catMu.Lock()
	e, ok := a.catalog[key]
	a.catMu.Unlock()
	if ok {
		return e, nil
	}
	e = &storeEntry{cat: catalog.New(key)}
	for rec, err := range a.store.ReadStream(ctx, catalog.StreamName(key), 0) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load store %s: %w", key, err)
		}
		env, err := envelope.Unmarshal(rec.Data)
		if err != nil {
			return nil, fmt.Errorf("load store %s@%d: %w", key, rec.Revision, err)
		}
		e.apply(rec.Revision, env)
	}
	a.catMu.Lock()
	defer a.catMu.Unlock()
	if cur, ok := a.catalog[key]; ok { // loaded concurrently: keep the first
		return cur, nil
	}
	a.catalog[key] = e
	return e, nil
}

// FollowStores keeps loaded catalogs current with what other replicas
// append, until ctx ends.
func (a *App) FollowStores(ctx context.Context, from eventstore.Position) error {
	for rec, err := range a.store.Subscribe(ctx, from, eventstore.Filter{StreamPrefix: catalog.StreamPrefix}) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow stores: %w", err)
		}
		key := strings.TrimPrefix(rec.Stream, catalog.StreamPrefix)
		a.catMu.Lock()
		e, ok := a.catalog[key]
		a.catMu.Unlock()
		if !ok {
			continue // loaded from its stream when first needed
		}
		env, err := envelope.Unmarshal(rec.Data)
		if err != nil {
			a.log.ErrorContext(ctx, "undecodable store event", "stream", rec.Stream, "revision", rec.Revision, "err", err)
			continue
		}
		e.apply(rec.Revision, env)
	}
	return nil
}

// updateStore runs a catalog command with optimistic concurrency.
func (a *App) updateStore(ctx context.Context, key string, decide func(*catalog.Store) ([]*eventsv1.Envelope, error)) (*storeEntry, error) {
	for range a.cfg.MaxAttempts {
		e, err := a.storeFor(ctx, key)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		events, err := decide(e.cat)
		if err != nil || len(events) == 0 {
			e.mu.Unlock()
			return e, err
		}
		err = a.append(ctx, catalog.StreamName(key), e.cat.Revision(), events)
		if err == nil {
			for _, ev := range events {
				e.cat.Apply(ev)
			}
		}
		e.mu.Unlock()
		if errors.Is(err, eventstore.ErrConcurrency) {
			a.catMu.Lock()
			delete(a.catalog, key) // read again from the stream
			a.catMu.Unlock()
			continue
		}
		return e, err
	}
	return nil, fmt.Errorf("store %s: %w", key, ErrContention)
}

// Settings returns a store's settings.
func (a *App) Settings(ctx context.Context, key string) (*eventsv1.StoreSettings, error) {
	e, err := a.storeFor(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.settings(), nil
}

// UpdateSettings replaces a store's settings; idempotent on requestID.
func (a *App) UpdateSettings(ctx context.Context, requestID, key string, st *eventsv1.StoreSettings) (*eventsv1.StoreSettings, error) {
	e, err := a.updateStore(ctx, key, func(c *catalog.Store) ([]*eventsv1.Envelope, error) {
		return stampRequestedBy(ctx)(c.UpdateSettings(requestID, st, a.cfg.Now().UTC()))
	})
	if err != nil {
		return nil, err
	}
	return e.settings(), nil
}

// Mappings returns a store's supplier mappings.
func (a *App) Mappings(ctx context.Context, key string) ([]*eventsv1.SupplierMapping, error) {
	e, err := a.storeFor(ctx, key)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cat.Mappings(), nil
}

// UpdateMapping sets or removes a variant's mapping; idempotent on requestID.
func (a *App) UpdateMapping(ctx context.Context, requestID, key string, m *eventsv1.SupplierMapping, remove bool) (*eventsv1.SupplierMapping, error) {
	if _, err := a.updateStore(ctx, key, func(c *catalog.Store) ([]*eventsv1.Envelope, error) {
		return stampRequestedBy(ctx)(c.UpdateMapping(requestID, m, remove, a.cfg.Now().UTC()))
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// stampRequestedBy records who WithRequestedBy put in ctx in a store
// command's events.
func stampRequestedBy(ctx context.Context) func([]*eventsv1.Envelope, error) ([]*eventsv1.Envelope, error) {
	return func(envs []*eventsv1.Envelope, err error) ([]*eventsv1.Envelope, error) {
		for _, e := range envs {
			e.RequestedBy = requestedBy(ctx)
		}
		return envs, err
	}
}
