package ports

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

// StoreAPI is the part of the REST API one store's reconciliation reads.
type StoreAPI interface {
	Modified(ctx context.Context, since time.Time, status string, page int) (wcapi.Page, error)
	Refunds(ctx context.Context, orderID int64) ([]domain.RefundDetail, error)
}

// Lister is the reconcile.Lister of one WooCommerce store: GET /orders
// with modified_after (UTC, dates_are_gmt=true), orderby=modified
// ascending, per_page=100, until X-WP-TotalPages says the last page was
// read; first every status but trash, then the trash (so a trashed order is
// seen canceled). Each order gives the same events a webhook of its state
// gives (snapshot StoreOrderUpdated), so what a webhook already said is a
// duplicate. WooCommerce never retries a webhook: this pass is what
// catches a lost one.
//
// Offset pages shift when an order changes during the pass (it moves to
// the end, and the first order of the next page slides onto the page
// already read, never to be seen). So after each page the lister moves
// modified_after up to the last order read (less a second: the filter is
// strict and dates have second resolution) and starts again at page 1,
// skipping orders already yielded; it turns pages only while a whole page
// shares one modification second.
type Lister struct {
	// Store is the store reconciled.
	Store *stores.Store
	// API reads it.
	API StoreAPI
	// Log receives orders that did not parse; default slog.Default().
	Log *slog.Logger
}

var _ reconcile.Lister = (*Lister)(nil)

// Changed implements reconcile.Lister.
func (l *Lister) Changed(ctx context.Context, since time.Time) iter.Seq2[reconcile.Item, error] {
	return func(yield func(reconcile.Item, error) bool) {
		store := l.Store.Ref()
		for _, status := range []string{"any", domain.StatusTrash} {
			type seenKey struct {
				id       int64
				modified time.Time
			}
			seen := map[seenKey]bool{}
			cursor, page := since, 1
			for {
				p, err := l.API.Modified(ctx, cursor, status, page)
				if err != nil {
					yield(reconcile.Item{}, fmt.Errorf("list %s orders page %d: %w", status, page, err))
					return
				}
				if p.Invalid > 0 {
					log := l.Log
					if log == nil {
						log = slog.Default()
					}
					log.WarnContext(ctx, "orders that do not parse skipped", "store", l.Store.Slug, "count", p.Invalid)
				}
				for _, o := range p.Orders {
					k := seenKey{o.ID, o.Modified()}
					if seen[k] {
						continue
					}
					seen[k] = true
					var refunds []domain.Refund
					if o.NeedsRefunds() {
						details, err := l.API.Refunds(ctx, o.ID)
						if err != nil {
							yield(reconcile.Item{}, fmt.Errorf("order %d refunds: %w", o.ID, err))
							return
						}
						refunds = o.ResolveRefunds(details)
					}
					envs, err := store.Events(o, domain.KindUpdated, refunds)
					if err != nil {
						yield(reconcile.Item{}, fmt.Errorf("order %d: %w", o.ID, err))
						return
					}
					if !yield(reconcile.Item{OrderID: envs[0].GetOrderId(), UpdatedAt: o.Modified(), Envelopes: envs}, nil) {
						return
					}
				}
				if page >= p.TotalPages || len(p.Orders) == 0 {
					break
				}
				if last := p.Orders[len(p.Orders)-1].Modified().Add(-time.Second); last.After(cursor) {
					cursor, page = last, 1
				} else {
					page++
				}
			}
		}
	}
}
