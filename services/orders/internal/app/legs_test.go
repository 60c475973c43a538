package app

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// TestRecordLegs: a store order taken in, shipped and fulfilled records
// the store_to_dropsync, dropsync_to_store and end_to_end legs with the
// times the events carry.
func TestRecordLegs(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	ctx := context.Background()
	const id = "shopify:legs:1"
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }
	lines := []*eventsv1.LineQuantity{{LineItemId: "li-1", Quantity: 1}}
	created := &eventsv1.Envelope{EventId: "e1", OrderId: id, OccurredAt: at(0), RecordedAt: at(0),
		Event: &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: &eventsv1.StoreOrder{
			StoreOrderId: "1", PaymentCaptured: true, StoreCreatedAt: at(0),
			LineItems: []*eventsv1.StoreLineItem{{Id: "li-1", VariantId: "v-1", Quantity: 1}},
		}}}}
	history := []*eventsv1.Envelope{
		created,
		{EventId: "e2", OrderId: id, RecordedAt: at(time.Minute), Event: &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{
			Orders: []*eventsv1.SupplierOrder{{SupplierOrderId: "ae-1", Lines: lines}}}}},
		{EventId: "e3", OrderId: id, RecordedAt: at(2 * time.Minute), Event: &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: "ae-1"}}},
		{EventId: "e4", OrderId: id, RecordedAt: at(time.Hour), Event: &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: "ae-1", ShipmentId: "s-1", Tracking: &eventsv1.Tracking{Number: "LP1"}, Lines: lines}}},
		{EventId: "e5", OrderId: id, RecordedAt: at(time.Hour), Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
			ShipmentId: "s-1", Lines: lines, CompletesOrder: true}}},
	}

	// The order created on the store 3 s before the orders service took it in.
	recordLegs(ctx, order.Rebuild(history[:1]), created, factsBefore(order.New(mustID(t, id)), created), t0.Add(3*time.Second))

	o := order.Rebuild(history)
	pushed := &eventsv1.Envelope{EventId: "e6", OrderId: id, OccurredAt: at(time.Hour + 2*time.Second),
		Event: &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{ShipmentId: "s-1", StoreFulfillmentId: "f-1"}}}
	f := factsBefore(o, pushed)
	o.Apply(pushed)
	if o.Tab() != eventsv1.Tab_TAB_FULFILLED {
		t.Fatalf("tab %v after the push, want Fulfilled", o.Tab())
	}
	recordLegs(ctx, o, pushed, f, t0.Add(time.Hour+3*time.Second))
	// A redelivered push appends nothing and records nothing.
	recordLegs(ctx, o, pushed, legFacts{}, t0.Add(time.Hour+4*time.Second))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metrics.SyncLegDuration {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				leg, _ := dp.Attributes.Value(metrics.LabelLeg)
				store, _ := dp.Attributes.Value(metrics.LabelStore)
				if store != attribute.StringValue("legs") {
					t.Errorf("store label %v, want legs", store)
				}
				got[leg.AsString()] = append(got[leg.AsString()], dp.Sum, float64(dp.Count))
			}
		}
	}
	want := map[string][]float64{
		metrics.LegStoreToDropsync: {3, 1},
		metrics.LegDropsyncToStore: {2, 1},
		metrics.LegEndToEnd:        {3602, 1},
	}
	for leg, w := range want {
		if g := got[leg]; len(g) != 2 || g[0] != w[0] || g[1] != w[1] {
			t.Errorf("%s: sum, count %v, want %v", leg, g, w)
		}
	}
}

func mustID(t *testing.T, s string) order.ID {
	t.Helper()
	id, err := order.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
