package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// TestRetryFulfillmentOverGRPC: a fulfilment the store refused for good
// leaves the shipment failed with the store's reason and attention;
// RetryFulfillment records a second attempt (once per request id, naming
// the caller), refuses an order with nothing failed and answers NOT_FOUND
// for an unknown one; the pushed second attempt fulfils the order.
func TestRetryFulfillmentOverGRPC(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const id, other = "shopify:demo:3201", "shopify:demo:3202"
	for _, oid := range []string{id, other} {
		h.publish(created(oid, oid[len("shopify:demo:"):]))
		h.publish(paid(oid, oid[len("shopify:demo:"):]))
		h.waitTab(oid, eventsv1.Tab_TAB_AWAITING_ORDER)
	}
	h.mapVariants("shopify:demo")
	if _, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "rf-place", OrderIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	h.publish(fact(id, "placed", t0.Add(2*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{
			RequestId: "rf-place",
			Orders: []*eventsv1.SupplierOrder{{SupplierOrderId: "8200001", Lines: []*eventsv1.LineQuantity{
				{LineItemId: "li-1", Quantity: 2}, {LineItemId: "li-2", Quantity: 1},
			}}},
		}}
	}))
	h.publish(fact(id, "ae-paid", t0.Add(3*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: "8200001"}}
	}))
	h.publish(fact(id, "shipped", t0.Add(4*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: "8200001", ShipmentId: "shp-1",
			Tracking: &eventsv1.Tracking{Number: "LP00123456789CN", Carrier: "CAINIAO_STANDARD"},
			Lines:    []*eventsv1.LineQuantity{{LineItemId: "li-1", Quantity: 2}, {LineItemId: "li-2", Quantity: 1}},
		}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_FULFILLMENT)
	h.publish(fact(id, "refused", t0.Add(5*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentFailed{FulfillmentFailed: &eventsv1.FulfillmentFailed{
			ShipmentId: "shp-1", Attempt: 1,
			Reason: &eventsv1.FailureReason{Code: "INVALID_TRACKING_COMPANY", Message: "tracking company not accepted"},
		}}
	}))
	h.eventually("shipment failed with attention", func() error {
		r, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: id})
		if err != nil {
			return err
		}
		o := r.GetOrder()
		s := o.GetShipments()[0]
		if s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_FAILED || s.GetFulfillmentFailure().GetCode() != "INVALID_TRACKING_COMPANY" {
			return fmt.Errorf("shipment %v", s)
		}
		if len(o.GetAttention()) != 1 || o.GetAttention()[0].GetKind() != eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED {
			return fmt.Errorf("attention %v", o.GetAttention())
		}
		return nil
	})

	// The same request twice: one new attempt.
	for range 2 {
		r, err := h.client.RetryFulfillment(ctx, &ordersv1.RetryFulfillmentRequest{RequestId: "rf-1", OrderIds: []string{id, other, "shopify:demo:404"}})
		if err != nil {
			t.Fatal(err)
		}
		res := r.GetResults()
		if !res[0].GetAccepted() || res[0].GetTab() != eventsv1.Tab_TAB_AWAITING_FULFILLMENT {
			t.Fatalf("failed order: %v", res[0])
		}
		if res[1].GetAccepted() || res[1].GetErrorCode() != order.CodeNoFailedFulfillment {
			t.Fatalf("order with nothing failed: %v", res[1])
		}
		if res[2].GetAccepted() || res[2].GetErrorCode() != order.CodeNotFound {
			t.Fatalf("unknown order: %v", res[2])
		}
	}
	r, err := h.client.RetryFulfillment(ctx, &ordersv1.RetryFulfillmentRequest{RequestId: "rf-2", OrderIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GetResults()[0]; got.GetAccepted() || got.GetErrorCode() != order.CodeNoFailedFulfillment {
		t.Fatalf("retry with the attempt in flight: %v", got)
	}
	h.eventually("second attempt relayed", func() error {
		var attempts []int32
		for _, e := range h.orderEvents(bus.OrderFilter("shopify", "FulfillmentRequested")) {
			if e.GetOrderId() == id {
				attempts = append(attempts, e.GetFulfillmentRequested().GetAttempt())
			}
		}
		if len(attempts) != 2 || attempts[0] != 1 || attempts[1] != 2 {
			return fmt.Errorf("attempts %v", attempts)
		}
		return nil
	})
	for _, e := range h.history(id) {
		if f := e.GetEnvelope().GetFulfillmentRequested(); f.GetAttempt() == 2 {
			if by := e.GetEnvelope().GetRequestedBy(); by.GetName() != "test-operator" || f.GetRequestId() != "rf-1" {
				t.Fatalf("second attempt requested_by %v, request %q", by, f.GetRequestId())
			}
		}
	}

	h.publish(fact(id, "pushed", t0.Add(6*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{ShipmentId: "shp-1", StoreFulfillmentId: "gid://shopify/Fulfillment/1"}}
	}))
	o := h.waitTab(id, eventsv1.Tab_TAB_FULFILLED)
	if s := o.GetShipments()[0]; s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED || s.GetFulfillmentAttempts() != 2 || len(o.GetAttention()) != 0 {
		t.Fatalf("after the second attempt: %v", o)
	}
}
