package order_test

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Example follows one Shopify order from the store to the supplier and back,
// the way the orders service drives the aggregate: decide, append, apply.
func Example() {
	id, _ := order.ParseID("shopify:acme:1001")
	o := order.New(id)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ctx := func() order.Context {
		now = now.Add(time.Minute)
		return order.Context{Settings: order.DefaultSettings(), Now: now}
	}
	// apply stands for "append to stream order.StreamName(id), then fold".
	apply := func(evs []*eventsv1.Envelope, err error) {
		if err != nil {
			fmt.Println("refused:", order.Code(err))
			return
		}
		for _, e := range evs {
			o.Apply(e)
			if c := e.GetOrderStatusChanged(); c != nil {
				fmt.Printf("%v -> %v\n", c.GetFrom(), c.GetTo())
			} else {
				fmt.Println(envelope.Type(e))
			}
		}
	}
	fact := func(n int, set func(e *eventsv1.Envelope)) *eventsv1.Envelope {
		e := &eventsv1.Envelope{
			EventId:    envelope.ID("shopify", "acme", "X-Shopify-Event-Id", fmt.Sprint(n)),
			OrderId:    id.String(),
			OccurredAt: timestamppb.New(now),
		}
		set(e)
		return e
	}
	store := &eventsv1.StoreOrder{
		StoreOrderId:    "1001",
		LineItems:       []*eventsv1.StoreLineItem{{Id: "L1", VariantId: "V1", Quantity: 1}},
		ShippingAddress: &eventsv1.Address{CountryCode: "FR"},
		PaymentCaptured: true,
	}

	apply(o.Handle(fact(1, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: store}}
	}), ctx()))
	mappings := order.Mappings{"V1": {VariantId: "V1", ProductId: "1005001", ShippingMethod: "CAINIAO_FULFILLMENT_STD"}}
	apply(o.Place(order.PlaceCommand{RequestID: "req-1", Lookup: mappings.Lookup}, ctx()))
	apply(o.Place(order.PlaceCommand{RequestID: "req-1", Lookup: mappings.Lookup}, ctx())) // idempotent: nothing new
	apply(o.Handle(fact(2, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{
			RequestId: "req-1", Orders: []*eventsv1.SupplierOrder{{SupplierOrderId: "AE1", Lines: []*eventsv1.LineQuantity{{LineItemId: "L1", Quantity: 1}}}},
		}}
	}), ctx()))
	apply(o.Handle(fact(3, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: "AE1"}}
	}), ctx()))
	apply(o.Handle(fact(4, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: "AE1", ShipmentId: "AE1-T1", Tracking: &eventsv1.Tracking{Number: "T1"},
		}}
	}), ctx()))
	apply(o.Handle(fact(5, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{ShipmentId: "AE1-T1", StoreFulfillmentId: "F1"}}
	}), ctx()))
	apply(o.Place(order.PlaceCommand{RequestID: "req-2", Lookup: mappings.Lookup}, ctx()))
	fmt.Println("confirmations due:", o.ConfirmationsDue(order.DefaultSettings()))
	// Output:
	// StoreOrderCreated
	// TAB_UNSPECIFIED -> TAB_AWAITING_ORDER
	// PlacementRequested
	// SupplierOrderPlaced
	// TAB_AWAITING_ORDER -> TAB_AWAITING_PAYMENT
	// SupplierOrderPaid
	// TAB_AWAITING_PAYMENT -> TAB_AWAITING_SHIPMENT
	// SupplierShipmentCreated
	// FulfillmentRequested
	// TAB_AWAITING_SHIPMENT -> TAB_AWAITING_FULFILLMENT
	// FulfillmentPushed
	// TAB_AWAITING_FULFILLMENT -> TAB_FULFILLED
	// refused: RULE_4_ORDER_FULFILLED
	// confirmations due: [AE1-T1]
}

// ExampleParseID shows an order id's parts and names.
func ExampleParseID() {
	id, err := order.ParseID("woocommerce:my-shop:4711")
	if err != nil {
		panic(err)
	}
	fmt.Println(id.Platform, id.Store, id.StoreOrderID)
	fmt.Println(id.StoreKey(), id.StreamName())
	// Output:
	// PLATFORM_WOOCOMMERCE my-shop 4711
	// woocommerce:my-shop order-woocommerce:my-shop:4711
}

// ExampleOrder_Snapshot saves an order's state and restores it, as the
// orders service does so that an order not in its cache loads without
// reading its whole stream.
func ExampleOrder_Snapshot() {
	id, _ := order.ParseID("shopify:acme:1002")
	o := order.New(id)
	at := timestamppb.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	created := &eventsv1.Envelope{
		EventId: envelope.ID("example", id.String(), "created"), OrderId: id.String(), OccurredAt: at,
		Event: &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: &eventsv1.StoreOrder{
			StoreOrderId: "1002", Name: "#1002", StoreCreatedAt: at,
			LineItems: []*eventsv1.StoreLineItem{{Id: "L1", VariantId: "V1", Quantity: 1}},
		}}},
	}
	o.Apply(created)

	data, err := o.Snapshot()
	if err != nil {
		fmt.Println(err)
		return
	}
	restored, err := order.FromSnapshot(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Read the stream on from restored.Revision(); an event applied before
	// the snapshot is still known.
	fmt.Println(restored.ID(), restored.Revision(), restored.Tab(), restored.Seen(created.GetEventId()))
	// Output: shopify:acme:1002 1 TAB_PENDING true
}
