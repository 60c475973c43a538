package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// SyncConfig tunes the Syncer.
type SyncConfig struct {
	// VisibleAfter: an order is not queried sooner after placing it.
	VisibleAfter time.Duration
	// MinRepoll: the continuous poll does not poll an order again sooner.
	MinRepoll time.Duration
	// PollInterval is the continuous poll's round; 0 turns it off.
	PollInterval time.Duration
	// SyncTimes are the daily fixed-time syncs (offsets from midnight UTC).
	SyncTimes []time.Duration
	// Quota is the manual sync quota per store.
	Quota domain.QuotaRule
}

// Syncer follows the open AliExpress orders and publishes supplier events
// for what changed: at fixed times, on a manual "sync now" within its
// quota, and continuously within the daily API budget. Polls run one at a
// time.
type Syncer struct {
	api    *aeapi.Client
	store  *Store
	pub    Publisher
	budget *Budget
	now    func() time.Time
	cfg    SyncConfig
	log    *slog.Logger
	mu     sync.Mutex
}

// NewSyncer returns a Syncer.
func NewSyncer(api *aeapi.Client, store *Store, pub Publisher, budget *Budget, now func() time.Time, cfg SyncConfig, log *slog.Logger) *Syncer {
	return &Syncer{api: api, store: store, pub: pub, budget: budget, now: now, cfg: cfg, log: log}
}

// Result counts what a sync did: orders polled successfully, events
// published, and orders whose poll failed.
type Result struct {
	Polled, Published, Failed int
}

// errStop: AliExpress refuses every call for now (credentials, quota):
// the round stops.
func stopRound(err error) bool {
	var ae *aeapi.APIError
	return errors.As(err, &ae) && (ae.Auth() || ae.QuotaExhausted())
}

// poll reads one order (and its parcels when it may have some), publishes
// what changed and stores what it learnt. Callers hold mu.
func (s *Syncer) poll(ctx context.Context, t domain.Tracked) (int, error) {
	info, err := s.api.GetOrder(ctx, t.AEOrderID)
	var ae *aeapi.APIError
	if errors.As(err, &ae) && ae.NotFound() {
		t.LastPolled = s.now()
		return 0, s.store.Put(ctx, t)
	}
	if err != nil {
		return 0, fmt.Errorf("poll %s: %w", t.AEOrderID, err)
	}
	obs := domain.Observation{Status: info.Status, LogisticsStatus: info.LogisticsStatus}
	for _, c := range info.Children {
		obs.Children = append(obs.Children, domain.Child{ProductID: c.ProductID, SkuID: c.SkuID, Count: c.Count, EndReason: c.EndReason})
	}
	if domain.ShippedStatus(info.Status, info.LogisticsStatus) || len(info.Logistics) > 0 {
		pkgs, terr := s.api.Tracking(ctx, t.AEOrderID)
		switch {
		case terr != nil:
			if stopRound(terr) {
				return 0, fmt.Errorf("tracking %s: %w", t.AEOrderID, terr)
			}
			s.log.WarnContext(ctx, "tracking.get failed, using the order's logistics fields", "ae_order_id", t.AEOrderID, "err", terr)
		case len(pkgs) > 0:
			obs.FromTracking = true
			for _, p := range pkgs {
				items := make([]domain.Item, 0, len(p.Items))
				for _, it := range p.Items {
					items = append(items, domain.Item{ProductID: it.ProductID, SkuID: it.SkuID, Count: it.Count})
				}
				svc := p.Service
				for _, l := range info.Logistics {
					if l.LogisticsNo == p.LogisticsNo && l.Service != "" {
						svc = l.Service
					}
				}
				if len(items) == 0 {
					items = nil
				}
				obs.Packages = append(obs.Packages, domain.Package{LogisticsNo: p.LogisticsNo, Service: svc, Items: items})
			}
		}
		if !obs.FromTracking {
			for _, l := range info.Logistics {
				obs.Packages = append(obs.Packages, domain.Package{LogisticsNo: l.LogisticsNo, Service: l.Service})
			}
		}
	}
	d := domain.Decide(t, obs, s.now())
	for _, e := range d.Events {
		if err := s.pub.Publish(ctx, bus.SupplierSubject(t.OrderID), e); err != nil {
			return 0, fmt.Errorf("poll %s: %w", t.AEOrderID, err)
		}
	}
	if err := s.store.Put(ctx, d.Next); err != nil {
		return len(d.Events), err
	}
	return len(d.Events), nil
}

// visible reports whether t may be queried at now.
func (s *Syncer) visible(t domain.Tracked, now time.Time) bool {
	return !t.Closed && now.Sub(t.PlacedAt) >= s.cfg.VisibleAfter
}

// SyncAll polls every open order that match accepts (nil: all), ignoring
// the budget: the fixed-time and manual syncs. It goes on past an order
// that fails, and stops when AliExpress refuses every call.
func (s *Syncer) SyncAll(ctx context.Context, match func(domain.Tracked) bool) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	open := s.store.Open()
	slices.SortFunc(open, func(a, b domain.Tracked) int { return a.PlacedAt.Compare(b.PlacedAt) })
	var r Result
	var errs []error
	for _, t := range open {
		if !s.visible(t, now) || match != nil && !match(t) {
			continue
		}
		n, err := s.poll(ctx, t)
		r.Published += n
		if err != nil {
			r.Failed++
			errs = append(errs, err)
			if stopRound(err) || ctx.Err() != nil {
				break
			}
			continue
		}
		r.Polled++
	}
	return r, errors.Join(errs...)
}

// PollBudgeted spends up to calls API calls on the open orders that matter
// most (domain.Plan): paid longest ago without tracking first, then
// shipped orders, then unpaid ones.
func (s *Syncer) PollBudgeted(ctx context.Context, calls int) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Result
	if calls <= 0 {
		return r, nil
	}
	plan := domain.Plan(s.store.Open(), s.now(), domain.PlanConfig{VisibleAfter: s.cfg.VisibleAfter, MinRepoll: s.cfg.MinRepoll})
	spent := 0
	for _, t := range plan {
		if spent >= calls {
			break
		}
		before, _ := s.budget.Used()
		n, err := s.poll(ctx, t)
		after, _ := s.budget.Used()
		spent += max(after-before, 1)
		r.Published += n
		if err != nil {
			r.Failed++
			if stopRound(err) || ctx.Err() != nil {
				return r, err
			}
			s.log.WarnContext(ctx, "poll failed", "ae_order_id", t.AEOrderID, "err", err)
			continue
		}
		r.Polled++
	}
	return r, nil
}

// RunContinuous polls every PollInterval with the round's share of the
// daily budget, until ctx ends.
func (s *Syncer) RunContinuous(ctx context.Context) error {
	if s.cfg.PollInterval <= 0 {
		return nil
	}
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		used, limit := s.budget.Used()
		calls := domain.Allowance(limit, used, s.now(), s.cfg.PollInterval)
		if calls == 0 {
			continue
		}
		if _, err := s.PollBudgeted(ctx, calls); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "continuous poll stopped for this round", "err", err)
		}
	}
}

// RunSchedule syncs every open order at the fixed times, until ctx ends.
func (s *Syncer) RunSchedule(ctx context.Context) error {
	for {
		now := s.now()
		next := domain.NextSyncTime(now, s.cfg.SyncTimes)
		if next.IsZero() {
			return nil
		}
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		r, err := s.SyncAll(ctx, nil)
		s.log.InfoContext(ctx, "fixed-time sync", "polled", r.Polled, "published", r.Published, "err", err)
	}
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
// or none) and polls the open orders of the named stores and orders.
func (s *Syncer) SyncNow(ctx context.Context, stores, orders []string) (Result, []string, error) {
	scopes, err := Scopes(stores, orders)
	if err != nil {
		return Result{}, nil, err
	}
	if err := s.takeQuota(ctx, scopes); err != nil {
		return Result{}, scopes, err
	}
	all := slices.Contains(scopes, "*")
	r, err := s.SyncAll(ctx, func(t domain.Tracked) bool {
		return all || slices.Contains(stores, t.StoreKey()) || slices.Contains(orders, t.OrderID)
	})
	return r, scopes, err
}

// takeQuota takes one manual sync of every scope, or none.
func (s *Syncer) takeQuota(ctx context.Context, scopes []string) error {
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
func (s *Syncer) Quota(ctx context.Context, scope string) (QuotaState, error) {
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

// Budget returns today's API calls and the daily budget.
func (s *Syncer) Budget() (used, limit int) { return s.budget.Used() }
