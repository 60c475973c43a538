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
	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// SyncConfig tunes the Syncer.
type SyncConfig struct {
	// Schedule shapes the continuous poll (domain.Schedule).
	Schedule domain.ScheduleConfig
	// PollInterval is the continuous poll's round; 0 turns it off.
	PollInterval time.Duration
	// SyncTimes are the daily fixed-time syncs (offsets from midnight
	// UTC) of a store whose settings name none.
	SyncTimes []time.Duration
	// StoreSyncTimes gives a store's own fixed-time syncs (its
	// supplier_sync_times setting); ok false: the store uses SyncTimes.
	// Nil: every store uses SyncTimes.
	StoreSyncTimes func(ctx context.Context, store string) (times []time.Duration, ok bool)
	// SweepShare is the share of a round's calls that fixed-time syncs
	// take while other orders are due (domain.Pick).
	SweepShare float64
	// MaxBackoff caps the pause after AliExpress refuses the app's calls
	// over its limits (domain.LimitBackoff).
	MaxBackoff time.Duration
	// Quota is the manual sync quota per store.
	Quota domain.QuotaRule
	// Owns reports whether an open order is this account's; nil: every
	// order is.
	Owns func(*domain.Tracked) bool
}

// Syncer follows one account's open AliExpress orders and publishes
// supplier events for what changed: continuously, spending the account's
// daily API budget where news is likeliest (domain.Schedule) at an even
// pace over the day (domain.Pace); at each store's fixed sync times,
// within the same budget; and on a manual "sync now" within its quota and
// what is left of the day's budget. Polls run one at a time.
type Syncer struct {
	api    *aeapi.Client
	store  *Store
	pub    bus.EventPublisher
	budget *Budget
	now    func() time.Time
	cfg    SyncConfig
	log    *slog.Logger
	mu     sync.Mutex

	// Under mu.
	backoff  domain.Backoff
	sweeping map[string]sweepRun // store -> the fixed-time sync under way
}

// sweepRun is a fixed-time sync under way: when it was due and how many
// orders it had then.
type sweepRun struct {
	at     time.Time
	orders int
}

// NewSyncer returns a Syncer.
func NewSyncer(api *aeapi.Client, store *Store, pub bus.EventPublisher, budget *Budget, now func() time.Time, cfg SyncConfig, log *slog.Logger) *Syncer {
	return &Syncer{api: api, store: store, pub: pub, budget: budget, now: now, cfg: cfg, log: log, sweeping: map[string]sweepRun{}}
}

// Result counts what a sync did: orders polled successfully, events
// published, orders whose poll failed, and orders left for lack of
// budget.
type Result struct {
	Polled, Published, Failed, Skipped int
}

// stopRound: AliExpress refuses every call for now (credentials, limits):
// the round stops.
func stopRound(err error) bool {
	var ae *aeapi.APIError
	return errors.As(err, &ae) && (ae.Auth() || ae.QuotaExhausted() || ae.Throttled())
}

// limited is the AliExpress call-limit error in err, if any.
func limited(err error) (*aeapi.APIError, bool) {
	var ae *aeapi.APIError
	if errors.As(err, &ae) && (ae.QuotaExhausted() || ae.Throttled()) {
		return ae, true
	}
	return nil, false
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
				obs.Packages = append(obs.Packages, domain.Package{LogisticsNo: p.LogisticsNo, Service: svc, Items: items,
					Latest: domain.Checkpoint(p.Latest), Delivered: p.Delivered})
			}
		}
		if !obs.FromTracking {
			for _, l := range info.Logistics {
				obs.Packages = append(obs.Packages, domain.Package{LogisticsNo: l.LogisticsNo, Service: l.Service})
			}
		}
	}
	now := s.now()
	d := domain.Decide(t, obs, now)
	for _, e := range d.Events {
		if err := s.pub.Publish(ctx, bus.SupplierSubject(t.OrderID), e); err != nil {
			return 0, fmt.Errorf("poll %s: %w", t.AEOrderID, err)
		}
		if e.GetSupplierShipmentCreated() != nil {
			recordDetection(ctx, t, now)
		}
	}
	if err := s.store.Put(ctx, d.Next); err != nil {
		return len(d.Events), err
	}
	return len(d.Events), nil
}

// recordDetection records the aliexpress_to_dropsync leg of a tracking
// number this poll found: AliExpress does not say when the number
// appeared, so the leg is the time since the order's previous poll (or,
// on the first, its payment or placement), an upper bound of how long it
// was visible before dropsync knew it.
func recordDetection(ctx context.Context, t domain.Tracked, now time.Time) {
	since := t.LastPolled
	for _, at := range []time.Time{t.PaidAt, t.PlacedAt} {
		if since.IsZero() {
			since = at
		}
	}
	if since.IsZero() {
		return
	}
	platform, store := metrics.SplitStore(t.OrderID)
	metrics.RecordLeg(ctx, metrics.LegAliExpressToDropsync, platform, store, now.Sub(since))
}

// observe notes the outcome of a poll for the limit backoff. Callers
// hold mu.
func (s *Syncer) observe(ctx context.Context, err error) {
	now := s.now()
	if ae, ok := limited(err); ok {
		s.backoff = s.backoff.Limited(now, ae.QuotaExhausted(), s.cfg.MaxBackoff)
		s.log.WarnContext(ctx, "aliexpress call limit: polling paused", "until", s.backoff.Until, "quota_exhausted", ae.QuotaExhausted(), "err", err)
		return
	}
	if err == nil {
		s.backoff = domain.Backoff{}
	}
}

// SyncAll polls, now and at once, every open order that match accepts
// (nil: all), most urgent first, while what is left of the day's budget
// lasts: the manual sync. It goes on past an order that fails, and stops
// when AliExpress refuses every call.
func (s *Syncer) SyncAll(ctx context.Context, match func(domain.Tracked) bool) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	open := s.open()
	_, limit := s.budget.Used()
	var r Result
	var errs []error
	for _, d := range domain.Schedule(open, now, float64(limit), nil, s.cfg.Schedule) {
		t := open[d.Index]
		if now.Sub(t.PlacedAt) < s.cfg.Schedule.VisibleAfter || match != nil && !match(t) {
			continue
		}
		if s.budget.Left() < domain.MaxPollCost {
			r.Skipped++
			continue
		}
		n, err := s.poll(ctx, t)
		s.observe(ctx, err)
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
	if r.Skipped > 0 {
		s.log.WarnContext(ctx, "manual sync: today's API budget is spent; orders left to the continuous poll", "skipped", r.Skipped)
	}
	return r, errors.Join(errs...)
}

// sweeps are the latest fixed-time sync of every store with open orders,
// by its own schedule or the default one.
func (s *Syncer) sweeps(ctx context.Context, open []domain.Tracked, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for i := range open {
		store := open[i].StoreKey()
		if _, done := out[store]; done {
			continue
		}
		times := s.cfg.SyncTimes
		if s.cfg.StoreSyncTimes != nil {
			if own, ok := s.cfg.StoreSyncTimes(ctx, store); ok {
				times = own
			}
		}
		out[store] = domain.LastSyncTime(now, times)
	}
	return out
}

// logSweeps logs each store's fixed-time sync as it starts (with the
// orders and calls it needs against the budget's pace) and as it ends.
// Callers hold mu.
func (s *Syncer) logSweeps(ctx context.Context, due []domain.Due, sweeps map[string]time.Time, open []domain.Tracked) {
	pending := map[string]int{}
	calls := map[string]int{}
	for _, d := range due {
		if d.Sweep {
			store := open[d.Index].StoreKey()
			pending[store]++
			calls[store] += d.Cost
		}
	}
	used, limit := s.budget.Used()
	for store, n := range pending {
		run, ok := s.sweeping[store]
		if ok && run.at.Equal(sweeps[store]) {
			continue
		}
		s.sweeping[store] = sweepRun{at: sweeps[store], orders: n}
		s.log.InfoContext(ctx, "fixed-time sync started", "store", store, "due_at", sweeps[store], "orders", n, "calls", calls[store],
			"budget_used", used, "budget_limit", limit, "spread", calls[store] > s.budget.Allowance())
	}
	for store, run := range s.sweeping {
		if pending[store] == 0 {
			delete(s.sweeping, store)
			s.log.InfoContext(ctx, "fixed-time sync done", "store", store, "due_at", run.at, "orders", run.orders, "took", s.now().Sub(run.at).Round(time.Second))
		}
	}
}

// PollDue is one round of the continuous poll: it polls the orders due now
// (domain.Schedule, domain.Pick) within the calls the budget's pace
// allows, unless AliExpress's limits paused polling.
func (s *Syncer) PollDue(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r Result
	now := s.now()
	if s.backoff.Paused(now) {
		return r, nil
	}
	allowance := s.budget.Allowance()
	open := s.open()
	sweeps := s.sweeps(ctx, open, now)
	_, limit := s.budget.Used()
	due := domain.Schedule(open, now, float64(limit), sweeps, s.cfg.Schedule)
	s.logSweeps(ctx, due, sweeps, open)
	if allowance <= 0 {
		return r, nil
	}
	for _, d := range domain.Pick(due, now, allowance, s.cfg.SweepShare) {
		if s.budget.Left() < domain.MaxPollCost {
			break // the day's budget is kept to the call
		}
		n, err := s.poll(ctx, open[d.Index])
		s.observe(ctx, err)
		r.Published += n
		if err != nil {
			r.Failed++
			if stopRound(err) || ctx.Err() != nil {
				return r, err
			}
			s.log.WarnContext(ctx, "poll failed", "ae_order_id", d.AEOrderID, "err", err)
			continue
		}
		r.Polled++
	}
	return r, nil
}

// RunContinuous runs PollDue every PollInterval until ctx ends.
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
		if _, err := s.PollDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "continuous poll stopped for this round", "err", err)
		}
	}
}

// Next is the account's sync outlook: the next fixed-time sync of the
// default schedule (zero when none; stores with their own
// supplier_sync_times keep theirs) and when polling resumes after a limit
// pause (zero when not paused). It waits for a round under way.
func (s *Syncer) Next() (fixed, resume time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	fixed = domain.NextSyncTime(now, s.cfg.SyncTimes)
	if s.backoff.Paused(now) {
		resume = s.backoff.Until
	}
	return fixed, resume
}

// Budget returns today's API calls and the daily budget.
func (s *Syncer) Budget() (used, limit int) { return s.budget.Used() }

// Account is the name of the account the Syncer follows.
func (s *Syncer) Account() string { return s.budget.account }

// Own makes the Syncer follow only the open orders owns accepts (the
// account's, Accounts.Owns). Call it before the Syncer runs.
func (s *Syncer) Own(owns func(*domain.Tracked) bool) { s.cfg.Owns = owns }

// RunBudget keeps the account's budget use durable (Budget.Run).
func (s *Syncer) RunBudget(ctx context.Context) error { return s.budget.Run(ctx) }

// Open is how many open orders the Syncer follows.
func (s *Syncer) Open() int { return len(s.open()) }

// open are the account's open orders.
func (s *Syncer) open() []domain.Tracked {
	all := s.store.Open()
	if s.cfg.Owns == nil {
		return all
	}
	return slices.DeleteFunc(all, func(t domain.Tracked) bool { return !s.cfg.Owns(&t) })
}
