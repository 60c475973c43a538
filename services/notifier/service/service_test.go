package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/notifier/internal/app"
	"github.com/dropsync/dropsync/services/notifier/internal/ledger"
	"github.com/dropsync/dropsync/services/notifier/internal/ports"
	"github.com/dropsync/dropsync/services/notifier/service"
)

// fakeOrders stands in for the orders service (another module's internal
// package): a real OrderService gRPC server on loopback with canned
// orders and store settings.
type fakeOrders struct {
	ordersv1.UnimplementedOrderServiceServer
	mu       sync.Mutex
	orders   map[string]*ordersv1.Order
	settings map[string]*eventsv1.StoreSettings
	delay    time.Duration
	getOrder atomic.Int64
}

func (f *fakeOrders) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	f.getOrder.Add(1)
	f.mu.Lock()
	o, delay := f.orders[req.GetOrderId()], f.delay
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if o == nil {
		return nil, status.Errorf(codes.NotFound, "order %s not found", req.GetOrderId())
	}
	return &ordersv1.GetOrderResponse{Order: o}, nil
}

func (f *fakeOrders) GetStoreSettings(ctx context.Context, req *ordersv1.GetStoreSettingsRequest) (*ordersv1.GetStoreSettingsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.settings[req.GetStore()]
	if s == nil {
		s = order.DefaultSettings()
	}
	return &ordersv1.GetStoreSettingsResponse{Settings: s}, nil
}

func (f *fakeOrders) put(o *ordersv1.Order) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orders[o.GetOrderId()] = o
}

func (f *fakeOrders) setConfirmation(store string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings[store] = &eventsv1.StoreSettings{ShippingConfirmation: on}
}

// harness runs notifier instances on one embedded JetStream server and the
// fake orders service, and talks to them over gRPC on loopback.
type harness struct {
	t          *testing.T
	natsURL    string
	js         jetstream.JetStream
	orders     *fakeOrders
	ordersAddr string
	pki        *grpcauthtest.PKI
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, natsURL: s.URL(), js: js, orders: &fakeOrders{
		orders:   map[string]*ordersv1.Order{},
		settings: map[string]*eventsv1.StoreSettings{},
	}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.pki = grpcauthtest.New(t)
	srv := grpc.NewServer(h.pki.ServerOptions("orders")...)
	ordersv1.RegisterOrderServiceServer(srv, h.orders)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	h.ordersAddr = lis.Addr().String()
	return h
}

// instance is one running notifier.
type instance struct {
	client notifierv1.ShippingConfirmationServiceClient
	stop   func()
}

// start runs a notifier instance with its own NATS connection; stop (also
// run at cleanup) stops it and waits.
func (h *harness) start(tune func(*service.Config)) *instance {
	t := h.t
	t.Helper()
	var cfg service.Config
	pki := h.pki
	pki.Setenv(t, "notifier")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Notifier.OrdersAddr = h.ordersAddr
	if tune != nil {
		tune(&cfg)
	}
	nc, err := nats.Connect(h.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- service.RunOn(ctx, cfg, js, lis, log) }()
	conn, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauthtest.AllRoles)...)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = conn.Close()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("notifier stopped with %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("notifier did not stop within 20s")
			}
			nc.Close()
		})
	}
	t.Cleanup(stop)
	health := healthpb.NewHealthClient(conn)
	h.eventually("notifier serving", func() error {
		r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("status %v", r.GetStatus())
		}
		return nil
	})
	return &instance{client: notifierv1.NewShippingConfirmationServiceClient(conn), stop: stop}
}

func (h *harness) eventually(what string, f func() error) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: still %v after 15s", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// published counts the ShippingConfirmationIssued messages of an order in
// ORDER_EVENTS.
func (h *harness) published(orderID string) int {
	h.t.Helper()
	ctx := context.Background()
	subject := bus.OrderSubject(orderID, "ShippingConfirmationIssued")
	st, err := h.js.Stream(ctx, bus.StreamOrder)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		h.t.Fatal(err)
	}
	return int(info.State.Subjects[subject])
}

// ledgerKeys lists the ledger's keys.
func (h *harness) ledgerKeys() []string {
	h.t.Helper()
	kv, err := h.js.KeyValue(context.Background(), ledger.DefaultBucket)
	if err != nil {
		h.t.Fatal(err)
	}
	keys, err := kv.Keys(context.Background())
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return keys
}

// breakOrderStream makes ORDER_EVENTS stop taking order.> subjects, so a
// publish finds no stream; the returned function restores it.
func (h *harness) breakOrderStream() (restore func()) {
	h.t.Helper()
	ctx := context.Background()
	st, err := h.js.Stream(ctx, bus.StreamOrder)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	broken := cfg
	broken.Subjects = []string{"unrouted.order.>"}
	if _, err := h.js.UpdateStream(ctx, broken); err != nil {
		h.t.Fatal(err)
	}
	return func() {
		h.t.Helper()
		if _, err := h.js.UpdateStream(ctx, cfg); err != nil {
			h.t.Fatal(err)
		}
	}
}

const store = "shopify:acme"

// fulfilling is an order whose shipments' fulfilment dropsync asked of the store.
func fulfilling(storeOrderID string, shipments ...string) *ordersv1.Order {
	o := &ordersv1.Order{
		OrderId:  store + ":" + storeOrderID,
		Platform: eventsv1.Platform_PLATFORM_SHOPIFY, StoreId: "acme", StoreOrderId: storeOrderID,
		Tab:      eventsv1.Tab_TAB_FULFILLED,
		Revision: 9,
	}
	for _, s := range shipments {
		o.Shipments = append(o.Shipments, &ordersv1.Shipment{ShipmentId: s, State: ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED})
	}
	return o
}

func issue(orderID, shipmentID, requestID string) *notifierv1.IssueConfirmationRequest {
	return &notifierv1.IssueConfirmationRequest{OrderId: orderID, ShipmentId: shipmentID, Store: store, RequestId: requestID}
}

// wantStatus checks a gRPC error's code and, when given, its ErrorInfo
// reason or BadRequest field.
func wantStatus(t *testing.T, err error, code codes.Code, reason, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	gotReason, gotField := "", ""
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			gotReason = d.GetReason()
		case *errdetails.BadRequest:
			if v := d.GetFieldViolations(); len(v) > 0 {
				gotField = v[0].GetField()
			}
		}
	}
	if reason != "" && gotReason != reason {
		t.Fatalf("reason = %q (%v), want %q", gotReason, err, reason)
	}
	if field != "" && gotField != field {
		t.Fatalf("field = %q (%v), want %q", gotField, err, field)
	}
}

func TestIssueSettingOnNotifiesOnceAndRepeatsTheDecision(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	ctx := context.Background()
	o := fulfilling("1001", "s1")
	h.orders.put(o)

	first, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	c := first.GetConfirmation()
	if c.GetDecision() != notifierv1.Decision_DECISION_NOTIFY || first.GetExisting() ||
		c.GetChannel() != order.ChannelShopify || c.GetReason() != app.CodeConfirmationOn || !c.GetPublished() ||
		c.GetStore() != store || c.GetRequestId() != "req-1" || c.GetOrderRevision() != 9 ||
		c.GetEventId() != envelope.ID("notifier", o.GetOrderId(), "s1") {
		t.Fatalf("first issue = %v", first)
	}
	for _, req := range []string{"req-1", "req-2"} {
		again, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", req))
		if err != nil {
			t.Fatal(err)
		}
		a := again.GetConfirmation()
		if !again.GetExisting() || a.GetDecision() != c.GetDecision() || !a.GetDecidedAt().AsTime().Equal(c.GetDecidedAt().AsTime()) ||
			a.GetRequestId() != "req-1" {
			t.Fatalf("issue again (%s) = %v, want the first decision %v", req, again, c)
		}
	}
	if got := h.orders.getOrder.Load(); got != 1 {
		t.Errorf("orders service asked %d times; retries must answer from the ledger", got)
	}
	if keys := h.ledgerKeys(); len(keys) != 1 || keys[0] != "shopify.acme.1001.s1" {
		t.Errorf("ledger keys = %v, want one", keys)
	}
	// The record's history: the decision, then only its publication mark.
	kv, err := h.js.KeyValue(ctx, ledger.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := kv.History(ctx, "shopify.acme.1001.s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || !strings.Contains(string(hist[0].Value()), `"decision":"DECISION_NOTIFY"`) ||
		strings.Contains(string(hist[0].Value()), "published_at") || !strings.Contains(string(hist[1].Value()), "published_at") {
		t.Errorf("ledger history has %d revisions: %q", len(hist), hist)
	}
	if got := h.published(o.GetOrderId()); got != 1 {
		t.Fatalf("%d ShippingConfirmationIssued in %s, want 1", got, bus.StreamOrder)
	}

	// The message is the event the orders service takes in.
	st, err := h.js.Stream(ctx, bus.StreamOrder)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, bus.OrderSubject(o.GetOrderId(), "ShippingConfirmationIssued"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Unmarshal(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	ev := env.GetShippingConfirmationIssued()
	if env.GetEventId() != c.GetEventId() || msg.Header.Get(jetstream.MsgIDHeader) != c.GetEventId() ||
		env.GetOrderId() != o.GetOrderId() || env.GetSource().GetService() != "notifier" ||
		env.GetSource().GetStoreId() != "acme" || ev.GetShipmentId() != "s1" || ev.GetChannel() != order.ChannelShopify {
		t.Fatalf("published %v", env)
	}

	got, err := n.client.GetConfirmation(ctx, &notifierv1.GetConfirmationRequest{OrderId: o.GetOrderId(), ShipmentId: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetConfirmation().GetDecision() != notifierv1.Decision_DECISION_NOTIFY || !got.GetConfirmation().GetPublished() {
		t.Fatalf("get = %v", got)
	}
}

func TestIssueSettingOffSkipsAndPublishesNothing(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	ctx := context.Background()
	o := fulfilling("1002", "s1")
	h.orders.put(o)
	h.orders.setConfirmation(store, false)

	r, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	c := r.GetConfirmation()
	if c.GetDecision() != notifierv1.Decision_DECISION_SKIP_SETTING_OFF || c.GetReason() != order.CodeConfirmationOff ||
		c.GetChannel() != "" || c.GetEventId() != "" || c.GetPublished() {
		t.Fatalf("issue = %v", r)
	}
	// Turning the setting on later does not change a recorded decision:
	// the fulfilment may already exist without the flag.
	h.orders.setConfirmation(store, true)
	r, err = n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-2"))
	if err != nil {
		t.Fatal(err)
	}
	if r.GetConfirmation().GetDecision() != notifierv1.Decision_DECISION_SKIP_SETTING_OFF || !r.GetExisting() {
		t.Fatalf("issue again = %v", r)
	}
	if got := h.published(o.GetOrderId()); got != 0 {
		t.Fatalf("%d ShippingConfirmationIssued published for a SKIP", got)
	}
}

func TestIssueOrderNotSyncedSkips(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	ctx := context.Background()
	for i, tc := range []struct {
		name   string
		set    func(*ordersv1.Order)
		want   notifierv1.Decision
		reason string
	}{
		{"fulfilled by hand before placing (rule 5)", func(o *ordersv1.Order) { o.FulfilledManually = true },
			notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, order.CodeFulfilledManually},
		{"fulfilled by hand after placing (rule 6)", func(o *ordersv1.Order) {
			o.FulfilledManually = true
			o.SupplierOrders = []*ordersv1.SupplierOrderView{{SupplierOrderId: "ae-1"}}
		}, notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, order.CodeFulfilledManuallyPlaced},
		{"fulfilled on the store (rule 7)", func(o *ordersv1.Order) { o.FulfilledOnStore = true },
			notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, order.CodeFulfilledOnStore},
		{"confirmation already shown by the orders service", func(o *ordersv1.Order) { o.Shipments[0].ConfirmationIssued = true },
			notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED, order.CodeConfirmationIssued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fulfilling(fmt.Sprintf("2%03d", i), "s1")
			tc.set(o)
			h.orders.put(o)
			r, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
			if err != nil {
				t.Fatal(err)
			}
			if c := r.GetConfirmation(); c.GetDecision() != tc.want || c.GetReason() != tc.reason {
				t.Fatalf("issue = %v, want %v %s", r, tc.want, tc.reason)
			}
			if got := h.published(o.GetOrderId()); got != 0 {
				t.Fatalf("%d ShippingConfirmationIssued published", got)
			}
		})
	}
}

func TestIssueRefusedWhileNothingCanBeDecided(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	ctx := context.Background()
	o := fulfilling("3001", "s1")
	o.Shipments[0].State = ordersv1.ShipmentState_SHIPMENT_STATE_WAITING
	h.orders.put(o)

	_, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	wantStatus(t, err, codes.FailedPrecondition, order.CodeShipmentNotFulfilled, "")
	_, err = n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s9", "req-1"))
	wantStatus(t, err, codes.FailedPrecondition, order.CodeUnknownShipment, "")
	_, err = n.client.IssueConfirmation(ctx, issue(store+":9999", "s1", "req-1"))
	wantStatus(t, err, codes.NotFound, order.CodeNotFound, "")
	if keys := h.ledgerKeys(); len(keys) != 0 {
		t.Fatalf("refusals recorded %v", keys)
	}

	// Once the orders service shows the fulfilment requested, the same
	// call decides.
	o.Shipments[0].State = ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED
	h.orders.put(o)
	r, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	if err != nil || r.GetConfirmation().GetDecision() != notifierv1.Decision_DECISION_NOTIFY {
		t.Fatalf("issue = %v, %v", r, err)
	}
}

func TestIssueOrdersServiceUnreachableIsUnavailable(t *testing.T) {
	h := newHarness(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().String()
	_ = lis.Close()
	n := h.start(func(c *service.Config) { c.Notifier.OrdersAddr = closed; c.Notifier.OrdersTimeout = 2 * time.Second })
	_, err = n.client.IssueConfirmation(context.Background(), issue(store+":4001", "s1", "req-1"))
	wantStatus(t, err, codes.Unavailable, ports.ReasonOrdersUnavailable, "")
	if keys := h.ledgerKeys(); len(keys) != 0 {
		t.Fatalf("recorded %v without the orders service", keys)
	}
}

func TestConcurrentReplicasRecordOneDecision(t *testing.T) {
	h := newHarness(t)
	a, b := h.start(nil), h.start(nil)
	o := fulfilling("5001", "s1")
	h.orders.put(o)
	h.orders.mu.Lock()
	h.orders.delay = 100 * time.Millisecond // every caller decides before any records
	h.orders.mu.Unlock()

	const callers = 8
	results := make([]*notifierv1.IssueConfirmationResponse, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		c := a.client
		if i%2 == 1 {
			c = b.client
		}
		wg.Go(func() {
			results[i], errs[i] = c.IssueConfirmation(context.Background(), issue(o.GetOrderId(), "s1", fmt.Sprintf("req-%d", i)))
		})
	}
	wg.Wait()
	fresh := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		c := results[i].GetConfirmation()
		if c.GetDecision() != notifierv1.Decision_DECISION_NOTIFY ||
			!c.GetDecidedAt().AsTime().Equal(results[0].GetConfirmation().GetDecidedAt().AsTime()) ||
			c.GetRequestId() != results[0].GetConfirmation().GetRequestId() {
			t.Fatalf("caller %d got %v, caller 0 %v", i, c, results[0].GetConfirmation())
		}
		if !results[i].GetExisting() {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d callers recorded the decision, want 1", fresh)
	}
	if keys := h.ledgerKeys(); len(keys) != 1 {
		t.Errorf("ledger keys = %v, want one", keys)
	}
	if got := h.published(o.GetOrderId()); got != 1 {
		t.Errorf("%d ShippingConfirmationIssued published, want 1", got)
	}
}

func TestRestartKeepsTheLedger(t *testing.T) {
	h := newHarness(t)
	first := h.start(nil)
	ctx := context.Background()
	o := fulfilling("6001", "s1")
	h.orders.put(o)
	r1, err := first.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	first.stop()

	// A new instance on the same JetStream answers from the ledger, even
	// though the setting is now off.
	h.orders.setConfirmation(store, false)
	second := h.start(nil)
	r2, err := second.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !r2.GetExisting() || r2.GetConfirmation().GetDecision() != notifierv1.Decision_DECISION_NOTIFY ||
		!r2.GetConfirmation().GetDecidedAt().AsTime().Equal(r1.GetConfirmation().GetDecidedAt().AsTime()) {
		t.Fatalf("after restart = %v, before %v", r2, r1)
	}
	if got := h.published(o.GetOrderId()); got != 1 {
		t.Fatalf("%d ShippingConfirmationIssued published, want 1", got)
	}
}

func TestPublishFailureThenRetryRepublishes(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil) // background pass every 30s: only the retry publishes here
	ctx := context.Background()
	o := fulfilling("7001", "s1")
	h.orders.put(o)

	restore := h.breakOrderStream()
	_, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	wantStatus(t, err, codes.Unavailable, ports.ReasonEventNotPublished, "")
	got, err := n.client.GetConfirmation(ctx, &notifierv1.GetConfirmationRequest{OrderId: o.GetOrderId(), ShipmentId: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.GetConfirmation(); c.GetDecision() != notifierv1.Decision_DECISION_NOTIFY || c.GetPublished() {
		t.Fatalf("after the failed publish: %v, want NOTIFY recorded, not published", c)
	}
	restore()
	if n := h.published(o.GetOrderId()); n != 0 {
		t.Fatalf("%d published while the stream was away", n)
	}

	r, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c := r.GetConfirmation(); !r.GetExisting() || c.GetDecision() != notifierv1.Decision_DECISION_NOTIFY || !c.GetPublished() {
		t.Fatalf("retry = %v", r)
	}
	if _, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1")); err != nil {
		t.Fatal(err)
	}
	if got := h.published(o.GetOrderId()); got != 1 {
		t.Fatalf("%d ShippingConfirmationIssued published, want 1", got)
	}
	if got := h.orders.getOrder.Load(); got != 1 {
		t.Errorf("orders service asked %d times, want 1", got)
	}
}

func TestBackgroundPassRepublishes(t *testing.T) {
	h := newHarness(t)
	n := h.start(func(c *service.Config) { c.Notifier.RepublishInterval = 100 * time.Millisecond })
	ctx := context.Background()
	o := fulfilling("8001", "s1")
	h.orders.put(o)

	restore := h.breakOrderStream()
	_, err := n.client.IssueConfirmation(ctx, issue(o.GetOrderId(), "s1", "req-1"))
	wantStatus(t, err, codes.Unavailable, ports.ReasonEventNotPublished, "")
	restore()

	// Nobody asks again: the pass publishes and marks it.
	h.eventually("published by the background pass", func() error {
		got, err := n.client.GetConfirmation(ctx, &notifierv1.GetConfirmationRequest{OrderId: o.GetOrderId(), ShipmentId: "s1"})
		if err != nil {
			return err
		}
		if !got.GetConfirmation().GetPublished() {
			return errors.New("not marked published")
		}
		return nil
	})
	if got := h.published(o.GetOrderId()); got != 1 {
		t.Fatalf("%d ShippingConfirmationIssued published, want 1", got)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	ctx := context.Background()
	oid := store + ":1001"
	for _, tc := range []struct {
		name  string
		call  func() error
		field string
	}{
		{"issue without order id", func() error {
			_, err := n.client.IssueConfirmation(ctx, issue("", "s1", "r"))
			return err
		}, "order_id"},
		{"issue with a malformed order id", func() error {
			_, err := n.client.IssueConfirmation(ctx, issue("shopify:acme", "s1", "r"))
			return err
		}, "order_id"},
		{"issue without shipment id", func() error {
			_, err := n.client.IssueConfirmation(ctx, issue(oid, "", "r"))
			return err
		}, "shipment_id"},
		{"issue without store", func() error {
			req := issue(oid, "s1", "r")
			req.Store = ""
			_, err := n.client.IssueConfirmation(ctx, req)
			return err
		}, "store"},
		{"issue for another store", func() error {
			req := issue(oid, "s1", "r")
			req.Store = "shopify:other"
			_, err := n.client.IssueConfirmation(ctx, req)
			return err
		}, "store"},
		{"issue with another platform's channel", func() error {
			req := issue(oid, "s1", "r")
			req.Channel = order.ChannelWix
			_, err := n.client.IssueConfirmation(ctx, req)
			return err
		}, "channel"},
		{"issue without request id", func() error {
			_, err := n.client.IssueConfirmation(ctx, issue(oid, "s1", ""))
			return err
		}, "request_id"},
		{"get without shipment id", func() error {
			_, err := n.client.GetConfirmation(ctx, &notifierv1.GetConfirmationRequest{OrderId: oid})
			return err
		}, "shipment_id"},
		{"list with a negative page size", func() error {
			_, err := n.client.ListConfirmations(ctx, &notifierv1.ListConfirmationsRequest{PageSize: -1})
			return err
		}, "page_size"},
		{"list an order of another store", func() error {
			_, err := n.client.ListConfirmations(ctx, &notifierv1.ListConfirmationsRequest{Store: "wix:site", OrderId: oid})
			return err
		}, "order_id"},
		{"list with a malformed store", func() error {
			_, err := n.client.ListConfirmations(ctx, &notifierv1.ListConfirmationsRequest{Store: "ebay:x"})
			return err
		}, "store"},
		{"list with a foreign page token", func() error {
			_, err := n.client.ListConfirmations(ctx, &notifierv1.ListConfirmationsRequest{Store: store, PageToken: "bm9wZQ"})
			return err
		}, "page_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, tc.call(), codes.InvalidArgument, "", tc.field)
		})
	}
}

func TestUnknownConfirmationIsNotFound(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	_, err := n.client.GetConfirmation(context.Background(), &notifierv1.GetConfirmationRequest{OrderId: store + ":1001", ShipmentId: "s1"})
	wantStatus(t, err, codes.NotFound, ports.ReasonConfirmationNotFound, "")
}

func TestListConfirmationsPages(t *testing.T) {
	h := newHarness(t)
	n := h.start(nil)
	ctx := context.Background()
	a := fulfilling("9001", "s1", "s2", "s/3") // a shipment id with a byte a key must escape
	b := fulfilling("9002", "s1", "s2")
	other := fulfilling("9003", "s1")
	other.OrderId, other.StoreId = "shopify:zeta:9003", "zeta"
	for _, o := range []*ordersv1.Order{a, b, other} {
		h.orders.put(o)
		for _, s := range o.GetShipments() {
			req := issue(o.GetOrderId(), s.GetShipmentId(), "req")
			req.Store = o.GetOrderId()[:len(o.GetOrderId())-5]
			if _, err := n.client.IssueConfirmation(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	list := func(req *notifierv1.ListConfirmationsRequest) (ids []string, pages int) {
		t.Helper()
		for {
			r, err := n.client.ListConfirmations(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if int32(len(r.GetConfirmations())) > req.GetPageSize() {
				t.Fatalf("page of %d, asked for %d", len(r.GetConfirmations()), req.GetPageSize())
			}
			for _, c := range r.GetConfirmations() {
				ids = append(ids, c.GetOrderId()+"/"+c.GetShipmentId())
			}
			if r.GetNextPageToken() == "" {
				return ids, pages
			}
			req.PageToken = r.GetNextPageToken()
		}
	}
	ids, pages := list(&notifierv1.ListConfirmationsRequest{Store: store, PageSize: 2})
	// Key order: "s/3" is key token "s=2F3", after "s2".
	want := []string{"shopify:acme:9001/s1", "shopify:acme:9001/s2", "shopify:acme:9001/s/3", "shopify:acme:9002/s1", "shopify:acme:9002/s2"}
	if fmt.Sprint(ids) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("store listing = %v in %d pages, want %v in 3", ids, pages, want)
	}
	if ids, _ := list(&notifierv1.ListConfirmationsRequest{OrderId: b.GetOrderId(), PageSize: 10}); fmt.Sprint(ids) != fmt.Sprint(want[3:]) {
		t.Fatalf("order listing = %v", ids)
	}
	if ids, _ := list(&notifierv1.ListConfirmationsRequest{PageSize: 4}); len(ids) != 6 {
		t.Fatalf("listing of every store = %v", ids)
	}

	// A token from the store listing is refused for another store.
	r, err := n.client.ListConfirmations(ctx, &notifierv1.ListConfirmationsRequest{Store: store, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.client.ListConfirmations(ctx, &notifierv1.ListConfirmationsRequest{Store: "shopify:zeta", PageToken: r.GetNextPageToken()})
	wantStatus(t, err, codes.InvalidArgument, "", "page_token")
}
