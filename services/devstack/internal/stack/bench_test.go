package stack_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/services/devstack/internal/demo"
	"github.com/dropsync/dropsync/services/devstack/internal/stack"
)

// BenchmarkTrackingToFulfilment measures, through the whole system, the
// time from a supplier tracking event on the bus (SupplierShipmentCreated,
// as the AliExpress connector publishes it once its poll sees the number)
// to the simulated Shopify shop receiving the fulfillmentCreate for it, at
// 200 orders a second (SPEC: p99 under 50 ms). In between: the orders
// service decides and appends, the relay publishes FulfillmentRequested,
// the Shopify connector asks the notifier (which asks the orders service)
// and calls the Admin API. The poll interval is not counted, as the SPEC
// says. The simulated shop restores 10,000 cost points a second: a real
// Shopify store cannot take 200 fulfilments a second (Plus restores 1,000),
// so the figure is dropsync's own latency, not a store's limit.
func BenchmarkTrackingToFulfilment(b *testing.B) {
	const orders, rate = 400, 200
	s := startSystem(b, 0, func(d *stack.Devstack) { d.ShopifyRestoreRate = 10_000 })
	ctx := context.Background()

	// Orders paid at the store, placed, paid on AliExpress: Awaiting shipment.
	ids := make([]string, orders)
	for i := range ids {
		ids[i], _ = s.order("shopify", true, demo.ShopifyMug)
	}
	for _, id := range ids {
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	}
	if _, err := s.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "bench", OrderIds: ids}); err != nil {
		b.Fatal(err)
	}
	placed := make([]*ordersv1.Order, orders)
	for i, id := range ids {
		placed[i] = s.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
		for _, ao := range s.aeOrders(placed[i]) {
			if err := s.st.AliExpress.Pay(ao.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, id := range ids {
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_SHIPMENT)
	}

	// 200 tracking events a second, each time stamped when it is stored.
	pub := bus.NewPublisher(s.js, bus.PublisherConfig{})
	sent := make(map[string]time.Time, orders) // tracking number -> published
	var mu sync.Mutex
	tick := time.NewTicker(time.Second / rate)
	b.ResetTimer()
	for i, o := range placed {
		<-tick.C
		so := o.GetSupplierOrders()[0]
		number := fmt.Sprintf("LB%09dCN", i)
		env := &eventsv1.Envelope{
			EventId: envelope.ID("bench", o.GetOrderId(), number), OrderId: o.GetOrderId(), OccurredAt: timestamppb.Now(),
			Source: &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_ALIEXPRESS, Service: "bench"},
			Event: &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
				SupplierOrderId: so.GetSupplierOrderId(), ShipmentId: envelope.ID(so.GetSupplierOrderId(), number),
				Tracking: &eventsv1.Tracking{Number: number, Carrier: "CAINIAO_STANDARD"}, Lines: so.GetLines(),
			}},
		}
		start := time.Now()
		if err := pub.Publish(ctx, bus.SupplierSubject(o.GetOrderId()), env); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		sent[number] = start
		mu.Unlock()
	}
	tick.Stop()
	var lat []time.Duration
	s.eventually("every fulfilment on the shop", func() error {
		fs, err := s.st.Shopify.Fulfillments(stack.ShopifyDomain)
		if err != nil {
			return err
		}
		lat = lat[:0]
		for _, f := range fs {
			if len(f.Tracking) == 1 {
				if t0, ok := sent[f.Tracking[0].Number]; ok {
					lat = append(lat, f.ReceivedAt.Sub(t0))
				}
			}
		}
		if len(lat) != orders {
			return fmt.Errorf("%d of %d fulfilments", len(lat), orders)
		}
		return nil
	})
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(rate, "orders/s")
}
