package reconcile_test

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// oneOrder is a platform with one order, last changed at updated.
type oneOrder struct{ updated time.Time }

func (p oneOrder) Changed(_ context.Context, since time.Time) iter.Seq2[reconcile.Item, error] {
	return func(yield func(reconcile.Item, error) bool) {
		if p.updated.Before(since) {
			return
		}
		yield(reconcile.Item{OrderID: "shopify:demo:1001", UpdatedAt: p.updated, Envelopes: []*eventsv1.Envelope{{
			EventId: reconcile.EventID("shopify", "demo.myshopify.com", "1001", "StoreOrderUpdated", p.updated),
			OrderId: "shopify:demo:1001",
			Event:   &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{}},
		}}}, nil)
	}
}

type printer struct{}

func (printer) Publish(_ context.Context, subject string, env *eventsv1.Envelope) error {
	fmt.Println("publish", subject, env.GetEventId()[:8])
	return nil
}

// Two passes over an unchanged order publish the same event id twice:
// JetStream (or the aggregate) drops the second.
func Example() {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	r, _ := reconcile.New(reconcile.Config{
		Name:        "shopify.demo",
		Lister:      oneOrder{updated: now.Add(-time.Hour)},
		Publisher:   printer{},
		Checkpoints: &reconcile.MemoryCheckpoints{},
		Now:         func() time.Time { return now },
		Logger:      slog.New(slog.DiscardHandler),
	})
	for range 2 {
		res, _ := r.Pass(context.Background())
		fmt.Println("checkpoint", res.Checkpoint.Format(time.RFC3339))
	}
	// Output:
	// publish store.shopify.demo.1001 c6aa7da9
	// checkpoint 2026-11-20T11:00:00Z
	// publish store.shopify.demo.1001 c6aa7da9
	// checkpoint 2026-11-20T11:00:00Z
}
