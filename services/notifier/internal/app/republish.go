package app

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Republish is the background pass: it follows the ledger and publishes
// the event of every NOTIFY record still not marked published once it is
// older than every, checking each such record every interval, until ctx
// ends. It covers a decision whose caller never asked again after a
// failed publish. Several replicas may run it: a publish is a duplicate
// that JetStream (or the order aggregate, by event id) drops, and marking
// is a compare-and-set.
func (a *App) Republish(ctx context.Context, every time.Duration) error {
	var (
		mu      sync.Mutex
		pending = make(map[[2]string]Record)
	)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return a.ledger.Watch(ctx, func(r Record) {
			k := [2]string{r.OrderID, r.ShipmentID}
			mu.Lock()
			defer mu.Unlock()
			if r.needsPublishing() {
				pending[k] = r
			} else {
				delete(pending, k)
			}
		})
	})
	g.Go(func() error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			cutoff := a.now().Add(-every)
			var due []Record
			mu.Lock()
			for _, r := range pending {
				if r.DecidedAt.Before(cutoff) {
					due = append(due, r)
				}
			}
			mu.Unlock()
			for _, r := range due {
				if ctx.Err() != nil {
					return nil
				}
				// Read it again: another replica may have published it.
				r, err := a.ledger.Get(ctx, r.OrderID, r.ShipmentID)
				if err != nil || !r.needsPublishing() {
					continue
				}
				if _, err := a.ensurePublished(ctx, r); err != nil {
					a.log.WarnContext(ctx, "republish confirmation", "order_id", r.OrderID, "shipment_id", r.ShipmentID, "err", err)
					continue
				}
				a.log.InfoContext(ctx, "confirmation republished", "order_id", r.OrderID, "shipment_id", r.ShipmentID)
			}
		}
	})
	return g.Wait()
}
