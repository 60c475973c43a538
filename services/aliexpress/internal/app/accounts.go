package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// Account is one AliExpress account's parts: its own credentials and
// token refresh (in the Placer's and Syncer's client), budget, health and
// sync.
type Account struct {
	Name string
	// Default: the account serves every store no account names.
	Default bool
	// Stores are the stores ("<platform>:<store>") the account serves.
	Stores []string
	Placer *Placer
	Syncer *Syncer
	Health *Health
}

// Serves reports whether the account serves store.
func (a *Account) Serves(store string) bool { return slices.Contains(a.Stores, store) }

// Accounts are the accounts of one connector; the first is the default.
// It routes each store's placements, syncs and questions to its account.
type Accounts []*Account

// For is the account that serves store.
func (as Accounts) For(store string) *Account {
	for _, a := range as {
		if a.Serves(store) {
			return a
		}
	}
	for _, a := range as {
		if a.Default {
			return a
		}
	}
	return as[0]
}

// Named is the account called name; "" is the default account.
func (as Accounts) Named(name string) (*Account, bool) {
	for _, a := range as {
		if a.Name == name || name == "" && a.Default {
			return a, true
		}
	}
	return nil, false
}

// Owns reports whether an open order belongs to account name: the account
// it was placed through, or, for orders tracked before accounts were
// recorded, the account of its store.
func (as Accounts) Owns(name string) func(*domain.Tracked) bool {
	return func(t *domain.Tracked) bool {
		if t.Account != "" {
			return t.Account == name
		}
		return as.For(t.StoreKey()).Name == name
	}
}

// Place is the bus handler of PlacementRequested: the store's account
// places the order.
func (as Accounts) Place(ctx context.Context, m *bus.Message) error {
	id, err := order.ParseID(m.Envelope.GetOrderId())
	if err != nil {
		return as[0].Placer.Handle(ctx, m) // the placer refuses it with the reason
	}
	return as.For(id.StoreKey()).Placer.Handle(ctx, m)
}

// ErrInvalidID: a store or order id in a sync request is malformed.
var ErrInvalidID = errors.New("invalid id")

// Scopes are the quota scopes a manual sync of stores and orders uses:
// each store named directly or through an order, or "*" for everything.
func Scopes(stores, orders []string) ([]string, error) {
	var scopes []string
	add := func(s string) {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	for _, s := range stores {
		if s == "*" {
			add(s)
			continue
		}
		p, store, err := order.ParseStoreKey(s)
		if err != nil {
			return nil, fmt.Errorf("%w: store %q: %w", ErrInvalidID, s, err)
		}
		add(order.StoreKey(p, store))
	}
	for _, o := range orders {
		id, err := order.ParseID(o)
		if err != nil {
			return nil, fmt.Errorf("%w: order %q: %w", ErrInvalidID, o, err)
		}
		add(id.StoreKey())
	}
	if len(scopes) == 0 {
		scopes = []string{"*"}
	}
	return scopes, nil
}

// SyncNow is the manual sync: it takes one use of each scope's quota (all
// or none) and polls the open orders of the named stores and orders, each
// through its account (Syncer.SyncAll).
func (as Accounts) SyncNow(ctx context.Context, stores, orders []string) (Result, []string, error) {
	scopes, err := Scopes(stores, orders)
	if err != nil {
		return Result{}, nil, err
	}
	if err := as.takeQuota(ctx, scopes); err != nil {
		return Result{}, scopes, err
	}
	all := slices.Contains(scopes, "*")
	var total Result
	var errs []error
	for _, a := range as {
		r, err := a.Syncer.SyncAll(ctx, func(t domain.Tracked) bool {
			return all || slices.Contains(stores, t.StoreKey()) || slices.Contains(orders, t.OrderID)
		})
		total.Polled += r.Polled
		total.Published += r.Published
		total.Failed += r.Failed
		total.Skipped += r.Skipped
		if err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", a.Name, err))
		}
	}
	return total, scopes, errors.Join(errs...)
}

// takeQuota takes one manual sync of every scope, or none.
func (as Accounts) takeQuota(ctx context.Context, scopes []string) error {
	s := as[0].Syncer // the quotas are per store, in the one bucket
	for range 5 {
		now := s.now()
		type take struct {
			scope string
			q     domain.Quota
			rev   uint64
		}
		var takes []take
		for _, sc := range scopes {
			q, rev, err := s.store.Quota(ctx, sc)
			if err != nil {
				return err
			}
			nq, err := q.Take(sc, now, s.cfg.Quota)
			if err != nil {
				return err
			}
			takes = append(takes, take{sc, nq, rev})
		}
		conflict := false
		for _, t := range takes {
			if err := s.store.PutQuota(ctx, t.scope, t.q, t.rev); errors.Is(err, ErrQuotaConflict) {
				conflict = true
				break
			} else if err != nil {
				return err
			}
		}
		if !conflict {
			return nil
		}
	}
	return ErrQuotaConflict
}

// QuotaState is a scope's manual sync quota now.
type QuotaState struct {
	Scope            string
	Limit, Used      int
	Interval         time.Duration
	NextAllowed, Res time.Time
}

// Quota returns a scope's manual sync quota.
func (as Accounts) Quota(ctx context.Context, scope string) (QuotaState, error) {
	s := as[0].Syncer
	if scope == "" {
		scope = "*"
	}
	if scope != "*" {
		sc, err := Scopes([]string{scope}, nil)
		if err != nil {
			return QuotaState{}, err
		}
		scope = sc[0]
	}
	q, _, err := s.store.Quota(ctx, scope)
	if err != nil {
		return QuotaState{}, err
	}
	now := s.now()
	return QuotaState{Scope: scope, Limit: s.cfg.Quota.Daily, Used: q.Used(now), Interval: s.cfg.Quota.Interval,
		NextAllowed: q.NextAllowed(now, s.cfg.Quota), Res: domain.ResetsAt(now)}, nil
}
