package ports

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// ChangedLister is the part of the Admin API reconciliation reads.
type ChangedLister interface {
	ChangedSince(ctx context.Context, s *stores.Store, since time.Time, after string) (domain.ChangedPage, error)
	Order(ctx context.Context, s *stores.Store, orderID string) (domain.Order, error)
}

// Lister is the reconcile.Lister of one Shopify store: the orders updated
// since a time (GraphQL orders query, updated_at filter, oldest first, by
// pages), each read whole and turned into the events reconciliation
// publishes (domain.Store.Reconciled).
type Lister struct {
	Store *stores.Store
	API   ChangedLister
}

var _ reconcile.Lister = (*Lister)(nil)

// Changed implements reconcile.Lister.
func (l *Lister) Changed(ctx context.Context, since time.Time) iter.Seq2[reconcile.Item, error] {
	return func(yield func(reconcile.Item, error) bool) {
		after := ""
		for {
			page, err := l.API.ChangedSince(ctx, l.Store, since, after)
			if err != nil {
				yield(reconcile.Item{}, err)
				return
			}
			for _, c := range page.Orders {
				o, err := l.API.Order(ctx, l.Store, c.ID)
				if err != nil {
					yield(reconcile.Item{}, fmt.Errorf("order %s: %w", c.ID, err))
					return
				}
				envs, err := l.Store.Ref().Reconciled(o)
				if err != nil {
					yield(reconcile.Item{}, fmt.Errorf("order %s: %w", c.ID, err))
					return
				}
				if !yield(reconcile.Item{OrderID: envs[0].GetOrderId(), UpdatedAt: o.UpdatedAt, Envelopes: envs}, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			after = page.Next
		}
	}
}
