package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/envelope"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/internal/ports"
	"github.com/dropsync/dropsync/services/orders/service"
)

// harness runs the orders service on a real embedded JetStream server and
// talks to it over gRPC on loopback.
type harness struct {
	t      *testing.T
	tune   func(*service.Config)
	nc     *nats.Conn
	js     jetstream.JetStream
	pub    *bus.Publisher
	client ordersv1.OrderServiceClient
	health healthpb.HealthClient
	stop   func()
}

func newHarness(t *testing.T, tune ...func(*service.Config)) *harness {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, nc: nc, js: js, pub: bus.NewPublisher(js, bus.PublisherConfig{})}
	if len(tune) > 0 {
		h.tune = tune[0]
	}
	h.start()
	return h
}

// start runs the service and waits until it says SERVING; stop (also run
// at cleanup) stops it and waits.
func (h *harness) start() {
	h.t.Helper()
	h.launch()
	h.eventually("service serving", func() error {
		r, err := h.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("status %v", r.GetStatus())
		}
		return nil
	})
}

// launch runs the service without waiting for it.
func (h *harness) launch() {
	t := h.t
	t.Helper()
	var cfg service.Config
	pki := grpcauthtest.New(t)
	pki.Setenv(t, "orders")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Orders.MaxDeliver = 3
	cfg.Orders.AckWait = 2 * time.Second
	cfg.Orders.AttentionInterval = 0 // on only where a test asks
	if h.tune != nil {
		h.tune(&cfg)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- service.RunOn(ctx, cfg, h.js, lis, log) }()
	conn, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauth.RoleOperator)...)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		conn.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("service stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("service did not stop within 30s")
		}
	}
	t.Cleanup(h.stop)
	h.client = ordersv1.NewOrderServiceClient(conn)
	h.health = healthpb.NewHealthClient(conn)
}

func (h *harness) eventually(what string, f func() error) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: still %v after 20s", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) publish(env *eventsv1.Envelope) {
	h.t.Helper()
	subject, err := bus.SubjectFor(env)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.pub.Publish(context.Background(), subject, env); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) waitTab(id string, tab eventsv1.Tab) *ordersv1.Order {
	h.t.Helper()
	var o *ordersv1.Order
	h.eventually(id+" in "+tab.String(), func() error {
		r, err := h.client.GetOrder(context.Background(), &ordersv1.GetOrderRequest{OrderId: id})
		if err != nil {
			return err
		}
		if o = r.GetOrder(); o.GetTab() != tab {
			return fmt.Errorf("tab %v", o.GetTab())
		}
		return nil
	})
	return o
}

func (h *harness) history(id string) []*ordersv1.RecordedEvent {
	h.t.Helper()
	r, err := h.client.GetOrderHistory(context.Background(), &ordersv1.GetOrderHistoryRequest{OrderId: id, PageSize: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.GetEvents()
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func snapshot(id string, paid bool, at time.Time) *eventsv1.StoreOrder {
	return &eventsv1.StoreOrder{
		StoreOrderId: id, Name: "#" + id,
		LineItems: []*eventsv1.StoreLineItem{
			{Id: "li-1", VariantId: "v-1", Sku: "MUG", Quantity: 2},
			{Id: "li-2", VariantId: "v-2", Sku: "TEE", Quantity: 1},
		},
		ShippingAddress: &eventsv1.Address{FullName: "Ada", Address1: "1 St", City: "Lisbon", CountryCode: "PT"},
		PaymentCaptured: paid,
		StoreCreatedAt:  timestamppb.New(t0),
		StoreUpdatedAt:  timestamppb.New(at),
	}
}

func fact(orderID, key string, at time.Time, set func(*eventsv1.Envelope)) *eventsv1.Envelope {
	e := &eventsv1.Envelope{
		EventId:    envelope.ID("test", orderID, key),
		OrderId:    orderID,
		OccurredAt: timestamppb.New(at),
		RecordedAt: timestamppb.New(at),
		Source:     &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_SHOPIFY, StoreId: "demo", Service: "test"},
	}
	set(e)
	return e
}

func created(orderID, storeID string) *eventsv1.Envelope {
	return fact(orderID, "created", t0, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: snapshot(storeID, false, t0)}}
	})
}

func paid(orderID, storeID string) *eventsv1.Envelope {
	at := t0.Add(time.Minute)
	return fact(orderID, "paid", at, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{Order: snapshot(storeID, true, at)}}
	})
}

func (h *harness) mapVariants(store string) {
	h.t.Helper()
	for _, v := range []string{"v-1", "v-2"} {
		_, err := h.client.UpdateSupplierMapping(context.Background(), &ordersv1.UpdateSupplierMappingRequest{
			RequestId: "map-" + v, Store: store,
			Mapping: &eventsv1.SupplierMapping{VariantId: v, ProductId: "100500" + v, SkuAttr: "14:1", ShippingMethod: "CAINIAO_STANDARD"},
		})
		if err != nil {
			h.t.Fatal(err)
		}
	}
}

// orderEvents reads the ORDER_EVENTS stream: what the relay published.
func (h *harness) orderEvents(filter string) []*eventsv1.Envelope {
	h.t.Helper()
	ctx := context.Background()
	c, err := h.js.OrderedConsumer(ctx, bus.StreamOrder, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*eventsv1.Envelope
	for n := info.NumPending; n > 0; {
		batch, err := c.Fetch(int(n), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			h.t.Fatal(err)
		}
		for m := range batch.Messages() {
			env, err := envelope.Unmarshal(m.Data())
			if err != nil {
				h.t.Fatal(err)
			}
			out = append(out, env)
			n--
		}
		if batch.Error() != nil {
			h.t.Fatal(batch.Error())
		}
	}
	return out
}

func TestJourneyFromStoreOrderToFulfilled(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const id = "shopify:demo:1001"
	watch, err := h.client.WatchOrders(ctx, &ordersv1.WatchOrdersRequest{Store: "shopify:demo"})
	if err != nil {
		t.Fatal(err)
	}

	h.publish(created(id, "1001"))
	h.waitTab(id, eventsv1.Tab_TAB_PENDING)
	h.publish(paid(id, "1001"))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)

	h.mapVariants("shopify:demo")
	pr, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "place-1", OrderIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if r := pr.GetResults()[0]; !r.GetAccepted() {
		t.Fatalf("placement refused: %v", r)
	}
	// The relay publishes the placement command for the supplier connector.
	h.eventually("PlacementRequested relayed", func() error {
		if n := len(h.orderEvents(bus.OrderFilter("shopify", "PlacementRequested"))); n != 1 {
			return fmt.Errorf("%d published", n)
		}
		return nil
	})

	h.publish(fact(id, "placed", t0.Add(2*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{
			RequestId: "place-1",
			Orders: []*eventsv1.SupplierOrder{{SupplierOrderId: "8100001", Lines: []*eventsv1.LineQuantity{
				{LineItemId: "li-1", Quantity: 2}, {LineItemId: "li-2", Quantity: 1},
			}}},
		}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
	h.publish(fact(id, "ae-paid", t0.Add(3*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: "8100001"}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_SHIPMENT)
	h.publish(fact(id, "shipped", t0.Add(4*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: "8100001", ShipmentId: "shp-1",
			Tracking: &eventsv1.Tracking{Number: "LP00123456789CN", Carrier: "CAINIAO_STANDARD"},
			Lines:    []*eventsv1.LineQuantity{{LineItemId: "li-1", Quantity: 2}, {LineItemId: "li-2", Quantity: 1}},
		}}
	}))
	h.eventually("FulfillmentRequested relayed", func() error {
		evs := h.orderEvents(bus.OrderFilter("shopify", "FulfillmentRequested"))
		if len(evs) != 1 || evs[0].GetFulfillmentRequested().GetShipmentId() != "shp-1" {
			return fmt.Errorf("published %v", evs)
		}
		return nil
	})
	h.publish(fact(id, "pushed", t0.Add(5*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{ShipmentId: "shp-1", StoreFulfillmentId: "gid://shopify/Fulfillment/1"}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_FULFILLED)
	// The notifier records its decision on the order stream; the service
	// takes it in as a fact. Published twice, it is recorded once.
	confirmed := fact(id, "confirmed", t0.Add(6*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_ShippingConfirmationIssued{ShippingConfirmationIssued: &eventsv1.ShippingConfirmationIssued{ShipmentId: "shp-1", Channel: "shopify.notifyCustomer"}}
	})
	h.publish(confirmed)
	h.publish(confirmed)
	var o *ordersv1.Order
	h.eventually("confirmation recorded", func() error {
		r, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: id})
		if err != nil {
			return err
		}
		if o = r.GetOrder(); !o.GetShipments()[0].GetConfirmationIssued() {
			return errors.New("not yet")
		}
		return nil
	})
	if len(o.GetSupplierOrders()) != 1 || o.GetSupplierOrders()[0].GetSupplierOrderId() != "8100001" {
		t.Errorf("supplier orders = %v", o.GetSupplierOrders())
	}
	if s := o.GetShipments(); len(s) != 1 || s[0].GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED {
		t.Errorf("shipments = %v", s)
	}

	// The watch saw every move, in order: everything shipped, then the
	// store fulfilled.
	want := []eventsv1.Tab{
		eventsv1.Tab_TAB_PENDING, eventsv1.Tab_TAB_AWAITING_ORDER, eventsv1.Tab_TAB_AWAITING_PAYMENT,
		eventsv1.Tab_TAB_AWAITING_SHIPMENT, eventsv1.Tab_TAB_AWAITING_FULFILLMENT, eventsv1.Tab_TAB_FULFILLED,
	}
	for i, tab := range want {
		ch, err := watch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ch.GetOrderId() != id || ch.GetTo() != tab {
			t.Fatalf("change %d = %v, want to %v", i, ch, tab)
		}
	}

	// Read model: counts and list.
	h.eventually("counted", func() error {
		c, err := h.client.CountOrders(ctx, &ordersv1.CountOrdersRequest{Store: "shopify:demo"})
		if err != nil {
			return err
		}
		for _, tc := range c.GetCounts() {
			if tc.GetTab() == eventsv1.Tab_TAB_FULFILLED && tc.GetCount() == 1 {
				return nil
			}
		}
		return fmt.Errorf("counts %v", c.GetCounts())
	})
	l, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{Tab: eventsv1.Tab_TAB_FULFILLED})
	if err != nil || len(l.GetOrders()) != 1 || l.GetOrders()[0].GetName() != "#1001" {
		t.Fatalf("ListOrders = %v, %v", l, err)
	}

	// History: every fact and decision, in order, with contiguous revisions.
	hist := h.history(id)
	for i, e := range hist {
		if e.GetRevision() != uint64(i) {
			t.Fatalf("revision %d at %d", e.GetRevision(), i)
		}
	}
	if hist[0].GetType() != "StoreOrderCreated" {
		t.Fatalf("first event %s", hist[0].GetType())
	}
	confirmations := 0
	for _, e := range hist {
		if e.GetType() == "ShippingConfirmationIssued" {
			confirmations++
		}
	}
	if confirmations != 1 {
		t.Fatalf("%d ShippingConfirmationIssued recorded, want 1", confirmations)
	}
}

// TestReplayChangesNothing redelivers every fact (a new consumer replays the
// streams, as after a lost ack or a renamed consumer) and restarts the
// service: the order's history and tab stay as they were.
func TestReplayChangesNothing(t *testing.T) {
	h := newHarness(t)
	const id = "shopify:demo:2001"
	h.publish(created(id, "2001"))
	h.publish(paid(id, "2001"))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	before := len(h.history(id))

	h.stop()
	ctx := context.Background()
	for _, c := range []struct{ stream, name string }{
		{bus.StreamStore, ports.ConsumerStoreEvents}, {bus.StreamSupplier, ports.ConsumerSupplierEvents},
	} {
		if err := h.js.DeleteConsumer(ctx, c.stream, c.name); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	o := h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	// Wait until the new consumer has taken in the replayed facts.
	h.eventually("facts replayed", func() error {
		info, err := h.js.Consumer(ctx, bus.StreamStore, ports.ConsumerStoreEvents)
		if err != nil {
			return err
		}
		ci, err := info.Info(ctx)
		if err != nil {
			return err
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 {
			return fmt.Errorf("pending %d, ack pending %d", ci.NumPending, ci.NumAckPending)
		}
		return nil
	})
	if after := len(h.history(id)); after != before {
		t.Fatalf("history grew from %d to %d events on replay", before, after)
	}
	if o.GetRevision() != uint64(before-1) {
		t.Fatalf("revision %d, want %d", o.GetRevision(), before-1)
	}
	c, err := h.client.CountOrders(ctx, &ordersv1.CountOrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range c.GetCounts() {
		if tc.GetTab() == eventsv1.Tab_TAB_AWAITING_ORDER && tc.GetCount() != 1 {
			t.Fatalf("rebuilt read model counts %d awaiting order", tc.GetCount())
		}
	}
}

func TestUnprocessableFactsAreDeadLettered(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// Not an envelope at all.
	if _, err := h.js.Publish(ctx, "store.shopify.demo.9", []byte("{not protobuf")); err != nil {
		t.Fatal(err)
	}
	// An envelope whose order id does not parse.
	bad := created("shopify-without-store", "9")
	if err := h.pub.Publish(ctx, "store.shopify.demo.9", bad); err != nil {
		t.Fatal(err)
	}
	// A good fact after them is not blocked.
	h.publish(created("shopify:demo:9", "9"))
	h.waitTab("shopify:demo:9", eventsv1.Tab_TAB_PENDING)

	h.eventually("two dead letters", func() error {
		dl, err := bus.DeadLetters(ctx, h.js, bus.StreamStore, 10)
		if err != nil {
			return err
		}
		if len(dl) != 2 {
			return fmt.Errorf("%d dead letters", len(dl))
		}
		return nil
	})
	dl, _ := bus.DeadLetters(ctx, h.js, bus.StreamStore, 10)
	for _, d := range dl {
		if d.Reason == "" {
			t.Errorf("dead letter without a reason: %+v", d)
		}
	}
}

func TestCommandsAreIdempotentAndRefusedByRule(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const id = "shopify:demo:3001"
	h.publish(created(id, "3001"))
	h.publish(paid(id, "3001"))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)

	// Unmapped: rejected with SKU_NOT_MAPPED, the order goes Failed.
	r, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "p1", OrderIds: []string{id, "shopify:demo:404"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GetResults()[0]; got.GetAccepted() || got.GetErrorCode() != "SKU_NOT_MAPPED" || got.GetTab() != eventsv1.Tab_TAB_FAILED {
		t.Fatalf("unmapped placement = %v", got)
	}
	if got := r.GetResults()[1]; got.GetAccepted() || got.GetErrorCode() != "NOT_FOUND" {
		t.Fatalf("unknown order = %v", got)
	}

	// Rule 5: fulfilled by hand before placing; the same request again is a no-op.
	for range 2 {
		fr, err := h.client.FulfillManually(ctx, &ordersv1.FulfillManuallyRequest{RequestId: "f1", OrderId: id, Note: "sent from stock"})
		if err != nil {
			t.Fatal(err)
		}
		if fr.GetOrder().GetTab() != eventsv1.Tab_TAB_FULFILLED || !fr.GetOrder().GetFulfilledManually() {
			t.Fatalf("after FulfillManually: %v", fr.GetOrder())
		}
	}
	n := len(h.history(id))

	h.mapVariants("shopify:demo")
	rr, err := h.client.RetryOrders(ctx, &ordersv1.RetryOrdersRequest{RequestId: "p2", OrderIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rr.GetResults()[0]; got.GetAccepted() || got.GetErrorCode() != "RULE_5_FULFILLED_MANUALLY" {
		t.Fatalf("retry of a manually fulfilled order = %v", got)
	}
	_, err = h.client.FulfillManually(ctx, &ordersv1.FulfillManuallyRequest{RequestId: "f2", OrderId: id})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second manual fulfilment: %v, want FailedPrecondition", err)
	}
	if got := len(h.history(id)); got != n {
		t.Fatalf("refused commands appended events: %d -> %d", n, got)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"no order id", func() error {
			_, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{})
			return err
		}, codes.InvalidArgument},
		{"unknown order", func() error {
			_, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: "wix:shop:nope"})
			return err
		}, codes.NotFound},
		{"no request id", func() error {
			_, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{OrderIds: []string{"wix:shop:1"}})
			return err
		}, codes.InvalidArgument},
		{"page size", func() error {
			_, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{PageSize: 5000})
			return err
		}, codes.InvalidArgument},
		{"page token", func() error {
			_, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{PageToken: "%%%"})
			return err
		}, codes.InvalidArgument},
		{"store key", func() error {
			_, err := h.client.GetStoreSettings(ctx, &ordersv1.GetStoreSettingsRequest{Store: "etsy:x"})
			return err
		}, codes.InvalidArgument},
		{"settings", func() error {
			_, err := h.client.UpdateStoreSettings(ctx, &ordersv1.UpdateStoreSettingsRequest{
				RequestId: "s", Store: "shopify:demo", Settings: &eventsv1.StoreSettings{SupplierSyncTimes: []string{"noon"}},
			})
			return err
		}, codes.InvalidArgument},
		{"mapping", func() error {
			_, err := h.client.UpdateSupplierMapping(ctx, &ordersv1.UpdateSupplierMappingRequest{
				RequestId: "m", Store: "shopify:demo", Mapping: &eventsv1.SupplierMapping{VariantId: "v"},
			})
			return err
		}, codes.InvalidArgument},
		{"history of unknown", func() error {
			_, err := h.client.GetOrderHistory(ctx, &ordersv1.GetOrderHistoryRequest{OrderId: "wix:shop:nope"})
			return err
		}, codes.NotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if status.Code(err) != c.code {
				t.Fatalf("got %v, want %v", err, c.code)
			}
			if msg := status.Convert(err).Message(); msg == "" || errors.Is(err, context.Canceled) {
				t.Fatalf("no reason given: %v", err)
			}
		})
	}
}

// TestHistoryShowsWhoAsked: the events a command records name the gRPC
// caller who gave it (here the test PKI's operator token); facts name no
// one.
func TestHistoryShowsWhoAsked(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const id = "shopify:demo:3101"
	h.publish(created(id, "3101"))
	h.publish(paid(id, "3101"))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	if _, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "who-1", OrderIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.FulfillManually(ctx, &ordersv1.FulfillManuallyRequest{RequestId: "who-2", OrderId: id}); err != nil {
		t.Fatal(err)
	}
	asked := map[string]bool{}
	for _, e := range h.history(id) {
		by := e.GetEnvelope().GetRequestedBy()
		switch e.GetType() {
		case "StoreOrderCreated", "StorePaymentCaptured":
			if by != nil {
				t.Errorf("fact %s requested_by %v, want none", e.GetType(), by)
			}
		case "PlacementRejected", "OrderFulfilledManually":
			if by.GetName() != "test-operator" || by.GetKind() != "token" {
				t.Errorf("%s requested_by %v, want test-operator (token)", e.GetType(), by)
			}
			asked[e.GetType()] = true
		}
	}
	if !asked["PlacementRejected"] || !asked["OrderFulfilledManually"] {
		t.Fatalf("history lacks the commands' events: %v", asked)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	g, err := h.client.GetStoreSettings(ctx, &ordersv1.GetStoreSettingsRequest{Store: "shopify:shop"})
	if err != nil || !g.GetSettings().GetShippingConfirmation() {
		t.Fatalf("default settings = %v, %v", g, err)
	}
	want := &eventsv1.StoreSettings{
		FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER, ShippingConfirmation: false,
		CarrierMapping: map[string]string{"CAINIAO_STANDARD": "Cainiao"}, SupplierSyncTimes: []string{"06:00"},
	}
	if _, err := h.client.UpdateStoreSettings(ctx, &ordersv1.UpdateStoreSettingsRequest{RequestId: "s1", Store: "shopify:shop", Settings: want}); err != nil {
		t.Fatal(err)
	}
	h.stop()
	h.start() // settings are events: they survive a restart
	g, err = h.client.GetStoreSettings(ctx, &ordersv1.GetStoreSettingsRequest{Store: "shopify:shop"})
	if err != nil || g.GetSettings().GetShippingConfirmation() || g.GetSettings().GetCarrierMapping()["CAINIAO_STANDARD"] != "Cainiao" {
		t.Fatalf("settings after restart = %v, %v", g, err)
	}
}

// TestConfirmationOffRefusedWhereThePlatformCannot: WooCommerce and Wix
// e-mail every fulfilment with tracking, so turning the setting off is
// refused with the platform's limit, and the settings stay as they were;
// Shopify takes it.
func TestConfirmationOffRefusedWhereThePlatformCannot(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, c := range []struct {
		store string
		limit string // "" when the setting is taken
	}{
		{"shopify:shop", ""},
		{"woocommerce:shop", "Completed order e-mail"},
		{"wix:shop", "no notify switch"},
	} {
		_, err := h.client.UpdateStoreSettings(ctx, &ordersv1.UpdateStoreSettingsRequest{
			RequestId: "off-" + c.store, Store: c.store, Settings: &eventsv1.StoreSettings{ShippingConfirmation: false},
		})
		if c.limit == "" {
			if err != nil {
				t.Errorf("%s: %v", c.store, err)
			}
			continue
		}
		st := status.Convert(err)
		if st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), c.limit) {
			t.Errorf("%s: %v; want FailedPrecondition naming %q", c.store, err, c.limit)
			continue
		}
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
			}
		}
		if reason != "SETTING_UNSUPPORTED_BY_PLATFORM" {
			t.Errorf("%s: reason %q", c.store, reason)
		}
		g, err := h.client.GetStoreSettings(ctx, &ordersv1.GetStoreSettingsRequest{Store: c.store})
		if err != nil || !g.GetSettings().GetShippingConfirmation() {
			t.Errorf("%s: settings after the refusal = %v, %v", c.store, g, err)
		}
	}
}

// TestSupplierConnectionChangesAreRecorded: an expired AliExpress token is
// an event, kept in the event store, not a dead letter.
func TestSupplierConnectionChangesAreRecorded(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	env := &eventsv1.Envelope{
		EventId: envelope.ID("test", "connection", "1"), OrderId: "aliexpress:app-1", OccurredAt: timestamppb.New(t0),
		Event: &eventsv1.Envelope_SupplierConnectionChanged{SupplierConnectionChanged: &eventsv1.SupplierConnectionChanged{
			Account: "app-1", Healthy: false, Reason: "AliExpress IllegalAccessToken",
		}},
	}
	h.publish(env)
	h.publish(created("shopify:demo:4001", "4001")) // the next fact is not blocked
	h.waitTab("shopify:demo:4001", eventsv1.Tab_TAB_PENDING)
	store, err := jsstore.New(ctx, h.js, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h.eventually("connection event recorded", func() error {
		for rec, err := range store.ReadStream(ctx, "connection-aliexpress:app-1", 0) {
			if err != nil {
				return err
			}
			if rec.Type != "SupplierConnectionChanged" {
				return fmt.Errorf("recorded %s", rec.Type)
			}
			return nil
		}
		return errors.New("empty stream")
	})
	if dl, _ := bus.DeadLetters(ctx, h.js, bus.StreamSupplier, 10); len(dl) != 0 {
		t.Fatalf("connection event dead-lettered: %+v", dl)
	}
}

// TestAttentionFlagsPaidOrdersWithoutTracking: a supplier order paid longer
// ago than DROPSYNC_ORDERS_NO_TRACKING_AFTER with no tracking is flagged,
// listed with attention_only, and unlisted once the order moves on.
func TestAttentionFlagsPaidOrdersWithoutTracking(t *testing.T) {
	h := newHarness(t, func(c *service.Config) {
		c.Orders.AttentionInterval, c.Orders.NoTrackingAfter = 100*time.Millisecond, time.Hour
		c.Orders.TrackingStaleAfter = 100 * 365 * 24 * time.Hour // the shipment below is weeks old
	})
	ctx := context.Background()
	const id = "shopify:demo:5001"
	h.publish(created(id, "5001"))
	h.publish(paid(id, "5001"))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	h.mapVariants("shopify:demo")
	if r, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "p", OrderIds: []string{id}}); err != nil || !r.GetResults()[0].GetAccepted() {
		t.Fatalf("place: %v %v", r, err)
	}
	lines := []*eventsv1.LineQuantity{{LineItemId: "li-1", Quantity: 2}, {LineItemId: "li-2", Quantity: 1}}
	h.publish(fact(id, "placed", t0.Add(2*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{
			RequestId: "p", Orders: []*eventsv1.SupplierOrder{{SupplierOrderId: "8200001", Lines: lines}},
		}}
	}))
	// Paid a day before the test runs: far past the hour allowed.
	h.publish(fact(id, "ae-paid", t0.Add(3*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{SupplierOrderId: "8200001"}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_SHIPMENT)
	h.eventually("flagged and listed", func() error {
		l, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{AttentionOnly: true})
		if err != nil {
			return err
		}
		if len(l.GetOrders()) != 1 || l.GetOrders()[0].GetOrderId() != id ||
			l.GetOrders()[0].GetAttention()[0].GetKind() != eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING {
			return fmt.Errorf("listed %v", l.GetOrders())
		}
		return nil
	})
	if a := h.get(id).GetAttention(); len(a) != 1 {
		t.Fatalf("GetOrder attention = %v, want the one flag (raised once, not every pass)", a)
	}
	h.publish(fact(id, "shipped", t0.Add(4*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: "8200001", ShipmentId: "shp-9", Tracking: &eventsv1.Tracking{Number: "LP9", Carrier: "CAINIAO_STANDARD"}, Lines: lines,
		}}
	}))
	h.eventually("unlisted once it moved", func() error {
		l, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{AttentionOnly: true})
		if err != nil {
			return err
		}
		if len(l.GetOrders()) != 0 {
			return fmt.Errorf("still listed %v", l.GetOrders())
		}
		return nil
	})
}

// TestAttentionFlagsStaleTracking: a shipment not delivered whose tracking
// has not moved for DROPSYNC_ORDERS_TRACKING_STALE_AFTER is flagged, though
// its order is Fulfilled; its delivery clears the flag for good.
func TestAttentionFlagsStaleTracking(t *testing.T) {
	h := newHarness(t, func(c *service.Config) {
		c.Orders.AttentionInterval, c.Orders.TrackingStaleAfter = 100*time.Millisecond, 48*time.Hour
	})
	ctx := context.Background()
	const id = "shopify:demo:5002"
	h.publish(created(id, "5002"))
	h.publish(paid(id, "5002"))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	h.mapVariants("shopify:demo")
	if r, err := h.client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: "p", OrderIds: []string{id}}); err != nil || !r.GetResults()[0].GetAccepted() {
		t.Fatalf("place: %v %v", r, err)
	}
	lines := []*eventsv1.LineQuantity{{LineItemId: "li-1", Quantity: 2}, {LineItemId: "li-2", Quantity: 1}}
	h.publish(fact(id, "placed", t0.Add(2*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: &eventsv1.SupplierOrderPlaced{
			RequestId: "p", Orders: []*eventsv1.SupplierOrder{{SupplierOrderId: "8200002", Lines: lines}},
		}}
	}))
	// Shipped, and pushed to the store, days before the test runs.
	h.publish(fact(id, "shipped", t0.Add(4*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: &eventsv1.SupplierShipmentCreated{
			SupplierOrderId: "8200002", ShipmentId: "shp-7", Tracking: &eventsv1.Tracking{Number: "LP7", Carrier: "CAINIAO_STANDARD"}, Lines: lines,
		}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_AWAITING_FULFILLMENT) // store and supplier facts travel on separate streams
	h.publish(fact(id, "pushed", t0.Add(5*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{ShipmentId: "shp-7", StoreFulfillmentId: "F7"}}
	}))
	h.waitTab(id, eventsv1.Tab_TAB_FULFILLED)
	listed := func() ([]*ordersv1.Order, error) {
		l, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{AttentionOnly: true})
		return l.GetOrders(), err
	}
	h.eventually("flagged stale and listed", func() error {
		l, err := listed()
		if err != nil {
			return err
		}
		if len(l) != 1 || l[0].GetOrderId() != id || l[0].GetAttention()[0].GetKind() != eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE {
			return fmt.Errorf("listed %v", l)
		}
		return nil
	})
	h.publish(fact(id, "delivered", t0.Add(6*time.Minute), func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_SupplierTrackingProgressed{SupplierTrackingProgressed: &eventsv1.SupplierTrackingProgressed{
			ShipmentId: "shp-7", TrackingNumber: "LP7", Delivered: true,
			Latest: &eventsv1.TrackingCheckpoint{Name: "Delivered", OccurredAt: timestamppb.New(t0.Add(6 * time.Minute))},
		}}
	}))
	h.eventually("delivered", func() error {
		if s := h.get(id).GetShipments(); len(s) != 1 || !s[0].GetDelivered() {
			return fmt.Errorf("shipments %v", s)
		}
		return nil
	})
	h.eventually("unlisted once delivered", func() error {
		l, err := listed()
		if err != nil {
			return err
		}
		if len(l) != 0 {
			return fmt.Errorf("listed %v", l)
		}
		return nil
	})
	// Passes go on; a delivered shipment is never flagged again.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		if l, err := listed(); err != nil || len(l) != 0 {
			t.Fatalf("listed after delivery: %v %v", l, err)
		}
	}
}

func (h *harness) get(id string) *ordersv1.Order {
	h.t.Helper()
	r, err := h.client.GetOrder(context.Background(), &ordersv1.GetOrderRequest{OrderId: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.GetOrder()
}
