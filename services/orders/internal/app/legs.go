package app

import (
	"context"
	"time"

	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// legFacts is what the sync legs need of an order before a fact is applied.
type legFacts struct {
	recorded  bool      // the fact was new: it was appended
	fulfilled bool      // the order was in Fulfilled already
	knownAt   time.Time // FulfillmentPushed: when dropsync knew the tracking it carries
}

// factsBefore notes, on the order as it was, what recordLegs compares
// with once env is appended.
func factsBefore(o *order.Order, env *eventsv1.Envelope) legFacts {
	f := legFacts{recorded: true, fulfilled: o.Tab() == eventsv1.Tab_TAB_FULFILLED}
	if p := env.GetFulfillmentPushed(); p != nil {
		f.knownAt, _ = o.TrackingKnownAt(p.GetShipmentId())
	}
	return f
}

// recordLegs records the sync legs that end with env, appended to o
// (metrics.SyncLegDuration): store_to_dropsync for a store order created,
// paid or updated (its time on the store to now), dropsync_to_store for a
// fulfilment the store connector created (the tracking known to the
// fulfilment created), and end_to_end when that fulfilment made the order
// Fulfilled (the order created on the store to the fulfilment created).
func recordLegs(ctx context.Context, o *order.Order, env *eventsv1.Envelope, f legFacts, now time.Time) {
	if !f.recorded || o == nil {
		return
	}
	platform, store := metrics.SplitStore(env.GetOrderId())
	at := now
	if t := env.GetOccurredAt(); t != nil {
		at = t.AsTime()
	}
	switch {
	case env.GetStoreOrderCreated() != nil, env.GetStoreOrderUpdated() != nil, env.GetStorePaymentCaptured() != nil:
		if t := env.GetOccurredAt(); t != nil {
			metrics.RecordLeg(ctx, metrics.LegStoreToDropsync, platform, store, now.Sub(t.AsTime()))
		}
	case env.GetFulfillmentPushed() != nil:
		if !f.knownAt.IsZero() {
			metrics.RecordLeg(ctx, metrics.LegDropsyncToStore, platform, store, at.Sub(f.knownAt))
		}
		if !f.fulfilled && o.Tab() == eventsv1.Tab_TAB_FULFILLED && !o.CreatedAt().IsZero() {
			metrics.RecordLeg(ctx, metrics.LegEndToEnd, platform, store, at.Sub(o.CreatedAt()))
		}
	}
}
