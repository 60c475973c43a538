package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// Budget counts one account's AliExpress API calls of the UTC day against
// its daily budget. Every call counts (continuous polling, fixed-time and
// manual syncs, placements, retries). The count is kept durably in the
// connector's bucket, so a restart goes on from it; Run writes it back
// whenever it changed, so a crash forgets at most the calls of the last
// moment. It is safe for concurrent use.
type Budget struct {
	store   *Store
	account string
	now     func() time.Time
	log     *slog.Logger

	mu    sync.Mutex
	limit int
	use   domain.BudgetUse
	dirty chan struct{}
}

// OpenBudget loads the account's use of today from store.
func OpenBudget(ctx context.Context, store *Store, account string, limit int, now func() time.Time, log *slog.Logger) (*Budget, error) {
	use, err := store.BudgetUse(ctx, account)
	if err != nil {
		return nil, err
	}
	b := &Budget{store: store, account: account, now: now, log: log, limit: limit, use: use, dirty: make(chan struct{}, 1)}
	b.export()
	return b, nil
}

// export reports the budget, at each collection, as the
// dropsync_aliexpress_budget_{used,left,limit} gauges of its account.
func (b *Budget) export() {
	acct := attribute.String(metrics.LabelAccount, b.account)
	metrics.BudgetUsedGauge.SetSource(b.account, func(o metrics.Observe) {
		used, _ := b.Used()
		o(int64(used), acct)
	})
	metrics.BudgetLeftGauge.SetSource(b.account, func(o metrics.Observe) { o(int64(b.Left()), acct) })
	metrics.BudgetLimitGauge.SetSource(b.account, func(o metrics.Observe) {
		_, limit := b.Used()
		o(int64(limit), acct)
	})
}

// Add counts n calls (aeapi.Config.OnCalls).
func (b *Budget) Add(n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.use = b.use.Add(b.now(), n)
	b.mu.Unlock()
	select {
	case b.dirty <- struct{}{}:
	default:
	}
}

// Used returns today's calls and the daily limit.
func (b *Budget) Used() (used, limit int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.use.Today(b.now()), b.limit
}

// Allowance is how many calls the budget allows now (domain.Pace).
func (b *Budget) Allowance() int {
	used, limit := b.Used()
	return domain.Pace(limit, used, domain.PaceBurst(limit), b.now())
}

// Left is what is left of today's budget, whatever the pace: what a
// manual sync may spend.
func (b *Budget) Left() int {
	used, limit := b.Used()
	return max(limit-used, 0)
}

// Run writes the count back whenever it changed, until ctx ends, and once
// more then. A failed write is retried at the next change or tick.
func (b *Budget) Run(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var saved domain.BudgetUse
	save := func(ctx context.Context) {
		b.mu.Lock()
		use := b.use
		b.mu.Unlock()
		if use == saved {
			return
		}
		if err := b.store.PutBudgetUse(ctx, b.account, use); err != nil {
			b.log.WarnContext(ctx, "save api budget use", "account", b.account, "err", err)
			return
		}
		saved = use
	}
	for {
		select {
		case <-ctx.Done():
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			save(stop)
			cancel()
			return nil
		case <-b.dirty:
		case <-tick.C:
		}
		save(ctx)
	}
}
