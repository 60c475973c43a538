package app

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

// Searcher is the part of the Wix API reconciliation uses
// (*wixapi.Client).
type Searcher interface {
	SearchChanged(ctx context.Context, site wixapi.Site, since time.Time, cursor string, limit int) (wixapi.Page, error)
	ListFulfillments(ctx context.Context, site wixapi.Site, orderID string) ([]domain.Fulfillment, error)
}

// DefaultPageSize is how many orders one Search Orders page holds (Wix's
// maximum).
const DefaultPageSize = 100

// Lister is a reconcile.Lister for one Wix store: Search Orders by
// updatedDate, oldest change first, and each changed order's fulfilments
// when Wix shows any (one more call, only for orders not NOT_FULFILLED).
type Lister struct {
	// API reads Wix.
	API Searcher
	// Store is the store to read.
	Store StoreConfig
	// PageSize is the Search Orders page; default DefaultPageSize.
	PageSize int
	// Logger receives orders skipped because Wix's data cannot be mapped.
	Logger *slog.Logger
}

// Changed implements reconcile.Lister.
func (l *Lister) Changed(ctx context.Context, since time.Time) iter.Seq2[reconcile.Item, error] {
	return func(yield func(reconcile.Item, error) bool) {
		size := l.PageSize
		if size <= 0 || size > 100 {
			size = DefaultPageSize
		}
		log := l.Logger
		if log == nil {
			log = slog.Default()
		}
		cursor := ""
		for {
			page, err := l.API.SearchChanged(ctx, l.Store.Site, since, cursor, size)
			if err != nil {
				yield(reconcile.Item{}, err)
				return
			}
			for _, o := range page.Orders {
				var fs []domain.Fulfillment
				if o.FulfillmentStatus != "" && o.FulfillmentStatus != domain.FulfillmentNotFulfilled {
					if fs, err = l.API.ListFulfillments(ctx, l.Store.Site, o.ID); err != nil {
						yield(reconcile.Item{}, err)
						return
					}
				}
				envs, err := l.Store.Reconciled(o, fs)
				if err != nil {
					// One order Wix shows in a shape we cannot map must
					// not stop every later pass at the same checkpoint.
					log.WarnContext(ctx, "wix order skipped by reconciliation", "store", l.Store.Slug, "wix_order_id", o.ID, "err", err)
					continue
				}
				oid, _ := l.Store.OrderID(o.ID)
				if !yield(reconcile.Item{OrderID: oid, UpdatedAt: o.UpdatedAt, Envelopes: envs}, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			cursor = page.Next
		}
	}
}
