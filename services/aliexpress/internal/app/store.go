// Package app carries out the AliExpress connector's work: placing orders
// (Placer), following open orders and publishing what changed (Syncer),
// within the API budget and the manual sync quota, and watching the
// connection's health.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// Bucket is the JetStream KV bucket of the connector's state: open orders
// ("order.<ae order id>"), manual sync quotas ("quota.<scope>") and each
// account's API calls of the day ("budget.<account>").
const Bucket = "dropsync_aliexpress"

// Store keeps the open AliExpress orders and the quotas durably, with the
// open orders also in memory. It is safe for concurrent use.
type Store struct {
	kv   jetstream.KeyValue
	mu   sync.Mutex
	open map[string]domain.Tracked
}

// OpenStore opens (creating if needed) the bucket and loads the open orders.
func OpenStore(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "dropsync AliExpress connector: open supplier orders and manual sync quotas",
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{kv: kv, open: map[string]domain.Tracked{}}
	lister, err := kv.ListKeysFiltered(ctx, "order.>")
	if err != nil {
		return nil, fmt.Errorf("open store: list: %w", err)
	}
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open store: get %s: %w", key, err)
		}
		var t domain.Tracked
		if err := json.Unmarshal(e.Value(), &t); err != nil {
			return nil, fmt.Errorf("open store: decode %s: %w", key, err)
		}
		s.open[t.AEOrderID] = t
	}
	return s, nil
}

func orderKey(aeOrderID string) string { return "order." + aeOrderID }

// quotaKey is the key of a scope: "shopify:acme" -> "quota.shopify.acme",
// "*" -> "quota.all".
func quotaKey(scope string) string {
	if scope == "*" || scope == "" {
		return "quota.all"
	}
	return "quota." + strings.ReplaceAll(scope, ":", ".")
}

// Put stores a tracked order; one that is done (closed, or delivered:
// domain.StageDone) is deleted, since it is never polled again.
func (s *Store) Put(ctx context.Context, t domain.Tracked) error {
	if domain.StageOf(&t) == domain.StageDone {
		if err := s.kv.Delete(ctx, orderKey(t.AEOrderID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("delete order %s: %w", t.AEOrderID, err)
		}
		s.mu.Lock()
		delete(s.open, t.AEOrderID)
		s.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode order %s: %w", t.AEOrderID, err)
	}
	if _, err := s.kv.Put(ctx, orderKey(t.AEOrderID), b); err != nil {
		return fmt.Errorf("put order %s: %w", t.AEOrderID, err)
	}
	s.mu.Lock()
	s.open[t.AEOrderID] = t
	s.mu.Unlock()
	return nil
}

// Get returns an open order.
func (s *Store) Get(aeOrderID string) (domain.Tracked, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.open[aeOrderID]
	return t, ok
}

// Open returns every open order.
func (s *Store) Open() []domain.Tracked {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]domain.Tracked, 0, len(s.open))
	for _, t := range s.open {
		out = append(out, t)
	}
	return out
}

// Quota reads a scope's manual sync use and its revision (0: none yet).
func (s *Store) Quota(ctx context.Context, scope string) (domain.Quota, uint64, error) {
	e, err := s.kv.Get(ctx, quotaKey(scope))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return domain.Quota{}, 0, nil
	}
	if err != nil {
		return domain.Quota{}, 0, fmt.Errorf("get quota %s: %w", scope, err)
	}
	var q domain.Quota
	if err := json.Unmarshal(e.Value(), &q); err != nil {
		return domain.Quota{}, 0, fmt.Errorf("decode quota %s: %w", scope, err)
	}
	return q, e.Revision(), nil
}

// ErrQuotaConflict: the quota changed between read and write.
var ErrQuotaConflict = errors.New("quota changed concurrently")

// PutQuota writes a scope's use if it is still at revision rev.
func (s *Store) PutQuota(ctx context.Context, scope string, q domain.Quota, rev uint64) error {
	b, err := json.Marshal(q)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, quotaKey(scope), b)
	} else {
		_, err = s.kv.Update(ctx, quotaKey(scope), b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return ErrQuotaConflict
	}
	if err != nil {
		return fmt.Errorf("put quota %s: %w", scope, err)
	}
	return nil
}

func budgetKey(account string) string { return "budget." + account }

// BudgetUse reads an account's API calls of the day it last counted.
func (s *Store) BudgetUse(ctx context.Context, account string) (domain.BudgetUse, error) {
	e, err := s.kv.Get(ctx, budgetKey(account))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return domain.BudgetUse{}, nil
	}
	if err != nil {
		return domain.BudgetUse{}, fmt.Errorf("get budget %s: %w", account, err)
	}
	var u domain.BudgetUse
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return domain.BudgetUse{}, fmt.Errorf("decode budget %s: %w", account, err)
	}
	return u, nil
}

// PutBudgetUse writes an account's API calls of the day.
func (s *Store) PutBudgetUse(ctx context.Context, account string, u domain.BudgetUse) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, budgetKey(account), b); err != nil {
		return fmt.Errorf("put budget %s: %w", account, err)
	}
	return nil
}
