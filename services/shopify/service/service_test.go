package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
	"github.com/dropsync/dropsync/services/shopify/service"
)

const (
	shop   = "demo.myshopify.com"
	token  = "shpat_test_token"
	secret = "whsec_test_secret"
)

// harness runs the connector on a real embedded JetStream server, against
// the Shopify simulator over HTTP on loopback (webhooks included), with a
// notifier and an orders service answering gRPC on loopback.
type harness struct {
	t        *testing.T
	js       jetstream.JetStream
	pub      *bus.Publisher
	sim      *shopifysim.Sim
	cfg      service.Config
	addr     string
	notifier *notifier
	stop     func()
}

type option func(*service.Config, *shopifysim.ShopConfig)

func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, js: js, pub: bus.NewPublisher(js, bus.PublisherConfig{})}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = lis.Addr().String()
	lis.Close()

	h.sim = shopifysim.New(shopifysim.Config{Seed: 42})
	t.Cleanup(h.sim.Close)
	simSrv := httptest.NewServer(h.sim)
	t.Cleanup(simSrv.Close)

	h.notifier = &notifier{on: true, ledger: map[string]notifierv1.Decision{}}
	pki := grpcauthtest.New(t)
	grpcAddr := serveGRPC(t, pki, func(s *grpc.Server) {
		notifierv1.RegisterShippingConfirmationServiceServer(s, h.notifier)
		ordersv1.RegisterOrderServiceServer(s, settingsServer{})
	})

	t.Setenv("DROPSYNC_SHOPIFY_STORES", "demo="+shop)
	t.Setenv("DROPSYNC_SHOPIFY_STORE_DEMO_ACCESS_TOKEN", token)
	t.Setenv("DROPSYNC_SHOPIFY_STORE_DEMO_WEBHOOK_SECRET", secret)
	pki.Setenv(t, "shopify")
	var cfg service.Config
	if err := service.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Shopify.Addr = h.addr
	cfg.Shopify.APIBaseURL = simSrv.URL + "/{shop}"
	cfg.Shopify.APIAttemptTimeout = 2 * time.Second
	cfg.Shopify.ReconcileInterval = 0
	cfg.Shopify.CommandAckWait = 2 * time.Second
	cfg.Shopify.CommandBackoff = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}
	cfg.Shopify.ShutdownGrace = 500 * time.Millisecond
	cfg.Shopify.OrdersAddr = grpcAddr
	cfg.Shopify.NotifierAddr = grpcAddr
	cfg.Shopify.MaxBodyBytes = 64 << 10
	sc := shopifysim.ShopConfig{Domain: shop, AccessToken: token, AppSecret: secret, Currency: "EUR", WebhookURL: "http://" + h.addr + service.WebhookPath}
	for _, o := range opts {
		o(&cfg, &sc)
	}
	h.cfg = cfg
	if err := h.sim.AddShop(sc); err != nil {
		t.Fatal(err)
	}
	h.start()
	return h
}

func serveGRPC(t *testing.T, pki *grpcauthtest.PKI, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(pki.ServerOptions("orders")...)
	register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func testLogger() *slog.Logger {
	if os.Getenv("DROPSYNC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs the connector; stop (also run at cleanup) stops it and waits.
func (h *harness) start() {
	t := h.t
	t.Helper()
	var lis net.Listener
	var err error
	for range 50 { // the port of a stopped run may take a moment to free
		if lis, err = net.Listen("tcp", h.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.RunOn(ctx, h.cfg, h.js, lis, testLogger()) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("connector stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("connector did not stop within 30s")
		}
	}
	t.Cleanup(h.stop)
	h.eventually("connector ready", func() error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+h.addr+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readiness %d", resp.StatusCode)
		}
		return nil
	})
}

func (h *harness) eventually(what string, f func() error) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: still %v after 30s", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events returns every event on the store stream, oldest first.
func (h *harness) events() []*eventsv1.Envelope {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, bus.StreamStore)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*eventsv1.Envelope
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			h.t.Fatal(err)
		}
		env, err := envelope.Unmarshal(m.Data)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

// of lists the events of a type, optionally of one order.
func (h *harness) of(typ, orderID string) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range h.events() {
		if envelope.Type(e) == typ && (orderID == "" || e.GetOrderId() == orderID) {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) waitFor(typ, orderID string, n int) []*eventsv1.Envelope {
	h.t.Helper()
	var got []*eventsv1.Envelope
	h.eventually(fmt.Sprintf("%d %s of %s", n, typ, orderID), func() error {
		if got = h.of(typ, orderID); len(got) < n {
			return fmt.Errorf("%d so far", len(got))
		}
		return nil
	})
	return got
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

func (h *harness) stats() service.Stats {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+h.addr+"/statsz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st service.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// newOrder creates a paid order on the simulator: a mug (2) and a tee (1).
func (h *harness) newOrder() shopifysim.Order {
	h.t.Helper()
	o, err := h.sim.CreateOrder(shop, shopifysim.NewOrder{
		Email:    "customer@example.com",
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "Example", Address1: "1 Rua", City: "Lisboa", Zip: "1000-001", Country: "Portugal", CountryCode: "PT"},
		Lines: []shopifysim.NewLine{
			{Title: "Mug", SKU: "MUG", Quantity: 2, Price: "9.95"},
			{Title: "Tee", SKU: "TEE", Quantity: 1, Price: "19.90"},
		},
		Paid: true,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

func orderID(o shopifysim.Order) string { return "shopify:demo:" + strconv.FormatInt(o.ID, 10) }

func line(o shopifysim.Order, i int) string { return strconv.FormatInt(o.Lines[i].ID, 10) }

// command is an order event addressed to the connector, as the orders
// service's relay publishes it.
func command(orderID, key string, set func(*eventsv1.Envelope)) *eventsv1.Envelope {
	e := &eventsv1.Envelope{
		EventId:    envelope.ID("test", orderID, key),
		OrderId:    orderID,
		OccurredAt: timestamppb.Now(),
		RecordedAt: timestamppb.Now(),
		Source:     &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_DROPSYNC, StoreId: "demo", Service: "orders"},
	}
	set(e)
	return e
}

func fulfilmentRequested(orderID, key, shipment string, lines map[string]int32, number, carrier string) *eventsv1.Envelope {
	return command(orderID, key, func(e *eventsv1.Envelope) {
		fr := &eventsv1.FulfillmentRequested{ShipmentId: shipment, Tracking: []*eventsv1.Tracking{{Number: number, Carrier: carrier}}}
		for id, q := range lines {
			fr.Lines = append(fr.Lines, &eventsv1.LineQuantity{LineItemId: id, Quantity: q})
		}
		e.Event = &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: fr}
	})
}

// notifier is an idempotent ShippingConfirmationService: one decision per
// shipment, the same on every call.
type notifier struct {
	notifierv1.UnimplementedShippingConfirmationServiceServer
	mu     sync.Mutex
	on     bool
	calls  int
	ledger map[string]notifierv1.Decision
}

func (n *notifier) IssueConfirmation(_ context.Context, r *notifierv1.IssueConfirmationRequest) (*notifierv1.IssueConfirmationResponse, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	key := r.GetOrderId() + "/" + r.GetShipmentId()
	d, existing := n.ledger[key]
	if !existing {
		d = notifierv1.Decision_DECISION_SKIP_SETTING_OFF
		if n.on {
			d = notifierv1.Decision_DECISION_NOTIFY
		}
		n.ledger[key] = d
	}
	return &notifierv1.IssueConfirmationResponse{Existing: existing, Confirmation: &notifierv1.Confirmation{
		OrderId: r.GetOrderId(), ShipmentId: r.GetShipmentId(), Store: r.GetStore(), Decision: d, Channel: r.GetChannel(),
	}}, nil
}

// settingsServer answers GetStoreSettings with a carrier mapping.
type settingsServer struct {
	ordersv1.UnimplementedOrderServiceServer
}

func (settingsServer) GetStoreSettings(context.Context, *ordersv1.GetStoreSettingsRequest) (*ordersv1.GetStoreSettingsResponse, error) {
	return &ordersv1.GetStoreSettingsResponse{Settings: &eventsv1.StoreSettings{
		FulfillmentPolicy:    eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART,
		ShippingConfirmation: true,
		CarrierMapping:       map[string]string{"YANWEN_JYT": "Yanwen"},
	}}, nil
}

// post sends a webhook straight to the connector.
func (h *harness) post(topic, eventID string, body []byte, sign func([]byte) string) int {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+h.addr+service.WebhookPath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shopifysim.HeaderTopic, topic)
	req.Header.Set(shopifysim.HeaderShopDomain, shop)
	req.Header.Set(shopifysim.HeaderEventID, eventID)
	req.Header.Set(shopifysim.HeaderWebhookID, eventID)
	req.Header.Set(shopifysim.HeaderAPIVersion, "2025-10")
	if sign != nil {
		if s := sign(body); s != "" {
			req.Header.Set(shopifysim.HeaderHmac, s)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func signed(b []byte) string { return shopifysim.Sign(secret, b) }

func TestWebhookRefusals(t *testing.T) {
	h := newHarness(t)
	o := h.newOrder()
	h.waitFor("StoreOrderCreated", orderID(o), 1)
	// Every webhook of the order (created, paid, ...) delivered first, so
	// none lands while the refusals are counted.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, d := range h.sim.Deliveries() {
		if d.Topic == "orders/create" {
			body = d.Body
		}
	}
	before := len(h.events())
	cases := []struct {
		name   string
		topic  string
		body   []byte
		sign   func([]byte) string
		status int
	}{
		{"missing hmac", "orders/create", body, nil, 401},
		{"bad hmac", "orders/create", body, func(b []byte) string { return shopifysim.Sign("not-the-secret", b) }, 401},
		{"hmac of other bytes", "orders/create", body, func([]byte) string { return signed(append([]byte(" "), body...)) }, 401},
		{"malformed json", "orders/create", []byte(`{"id": 1, "line_items": [`), signed, 400},
		{"not an order", "orders/create", []byte(`{"id": "x"}`), signed, 400},
		{"unknown topic", "carts/update", []byte(`{"id": 1}`), signed, 200},
		{"oversize", "orders/create", []byte(`{"note":"` + strings.Repeat("x", 70<<10) + `"}`), signed, 413},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := h.post(c.topic, fmt.Sprint("refusal-", i), c.body, c.sign); got != c.status {
				t.Fatalf("status %d, want %d", got, c.status)
			}
		})
	}
	if got := len(h.events()); got != before {
		t.Fatalf("%d events published by refused webhooks", got-before)
	}
	st := h.stats().Webhooks
	if st.BadSignature != 3 || st.BadBody != 2 || st.Ignored != 1 || st.TooLarge != 1 {
		t.Fatalf("counters %+v", st)
	}
}

// TestDuplicateWebhooks: duplicated deliveries, and one redelivered after
// JetStream's duplicate window, give one event each.
func TestDuplicateWebhooks(t *testing.T) {
	const window = time.Second
	h := newHarness(t, func(c *service.Config, _ *shopifysim.ShopConfig) { c.DuplicateWindow = window })
	h.sim.SetFaults(shopifysim.Faults{DuplicateWebhooks: 1})
	o := h.newOrder()
	h.sim.SetFaults(shopifysim.Faults{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	var created string
	deliveries := 0
	for _, d := range h.sim.Deliveries() {
		if d.Topic == "orders/create" && d.Delivered {
			deliveries++
			created = d.EventID
		}
	}
	if deliveries != 2 {
		t.Fatalf("%d deliveries of orders/create, want 2", deliveries)
	}
	time.Sleep(window + 500*time.Millisecond) // past JetStream's memory
	if err := h.sim.Redeliver(created); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.of("StoreOrderCreated", orderID(o)); len(got) != 1 {
		t.Fatalf("%d StoreOrderCreated, want 1", len(got))
	}
	if got := h.of("StorePaymentCaptured", orderID(o)); len(got) != 1 {
		t.Fatalf("%d StorePaymentCaptured, want 1", len(got))
	}
	if st := h.stats().Webhooks; st.Duplicate < 2 {
		t.Fatalf("duplicates counted %d, want at least 2", st.Duplicate)
	}
}

// TestFulfilmentExactlyOnce: a command delivered twice makes one
// fulfilment with the right lines, tracking and notify flag, and one
// FulfillmentPushed; Shopify's echo carries the same fulfillment id.
func TestFulfilmentExactlyOnce(t *testing.T) {
	h := newHarness(t)
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)
	lines := map[string]int32{line(o, 0): 2}
	h.publish(fulfilmentRequested(id, "fr-1", "ship-1", lines, "LP00123456789CN", "CAINIAO_STANDARD"))
	h.publish(fulfilmentRequested(id, "fr-1-again", "ship-1", lines, "LP00123456789CN", "CAINIAO_STANDARD"))
	pushed := h.waitFor("FulfillmentPushed", id, 1)[0].GetFulfillmentPushed()

	// The second command is handled too: give it time, then count.
	h.eventually("both commands handled", func() error {
		if n := h.notifier.count(); n < 2 {
			return fmt.Errorf("notifier asked %d times", n)
		}
		return nil
	})
	fs, _ := h.sim.Fulfillments(shop)
	if len(fs) != 1 {
		t.Fatalf("%d fulfilments on shopify, want 1", len(fs))
	}
	f := fs[0]
	if f.Lines[o.Lines[0].ID] != 2 || len(f.Lines) != 1 {
		t.Errorf("lines %v", f.Lines)
	}
	if len(f.Tracking) != 1 || f.Tracking[0] != (shopifysim.Tracking{Company: "Cainiao", Number: "LP00123456789CN"}) {
		t.Errorf("tracking %+v (Cainiao is recognised: no url)", f.Tracking)
	}
	if !f.NotifyCustomer || len(h.sim.Notifications()) != 1 {
		t.Errorf("notify %v, %d notifications", f.NotifyCustomer, len(h.sim.Notifications()))
	}
	if pushed.GetShipmentId() != "ship-1" || pushed.GetStoreFulfillmentId() != strconv.FormatInt(f.ID, 10) || !pushed.GetCustomerNotified() {
		t.Errorf("pushed %v", pushed)
	}
	if got := h.of("FulfillmentPushed", id); len(got) != 1 {
		t.Errorf("%d FulfillmentPushed, want 1", len(got))
	}
	echo := h.waitFor("StoreOrderFulfilled", id, 1)[0].GetStoreOrderFulfilled()
	if echo.GetStoreFulfillmentId() != pushed.GetStoreFulfillmentId() || echo.GetTracking()[0].GetNumber() != "LP00123456789CN" {
		t.Errorf("echo %v does not name the pushed fulfilment", echo)
	}

	// A carrier Shopify does not know gets the store's mapping and a URL.
	h.publish(fulfilmentRequested(id, "fr-2", "ship-2", map[string]int32{line(o, 1): 1}, "YW123", "YANWEN_JYT"))
	h.waitFor("FulfillmentPushed", id, 2)
	fs, _ = h.sim.Fulfillments(shop)
	if len(fs) != 2 || fs[1].Tracking[0].Company != "Yanwen" || !strings.Contains(fs[1].Tracking[0].URL, "YW123") {
		t.Fatalf("second fulfilment %+v", fs)
	}
}

func (n *notifier) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls
}

// TestRestartBetweenCreateAndAck: the connector stops after Shopify
// created the fulfilment and before it heard so; the command comes again
// after the restart and finds the fulfilment instead of making a second
// one (and a second e-mail).
func TestRestartBetweenCreateAndAck(t *testing.T) {
	h := newHarness(t, func(c *service.Config, _ *shopifysim.ShopConfig) { c.Shopify.APIAttemptTimeout = 20 * time.Second })
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)
	h.sim.SetFaults(shopifysim.Faults{SlowResponses: 1, SlowDelay: 30 * time.Second, Only: []string{"fulfillmentCreate"}})
	h.publish(fulfilmentRequested(id, "fr-1", "ship-1", map[string]int32{line(o, 0): 2, line(o, 1): 1}, "LP1", "CAINIAO_STANDARD"))
	h.eventually("fulfilment created on shopify", func() error {
		if fs, _ := h.sim.Fulfillments(shop); len(fs) != 1 {
			return fmt.Errorf("%d fulfilments", len(fs))
		}
		return nil
	})
	h.stop() // the create's answer never arrives; the command is not acked
	if got := h.of("FulfillmentPushed", id); len(got) != 0 {
		t.Fatalf("FulfillmentPushed before the restart: %v", got)
	}
	h.sim.SetFaults(shopifysim.Faults{})
	h.start()
	pushed := h.waitFor("FulfillmentPushed", id, 1)[0].GetFulfillmentPushed()
	fs, _ := h.sim.Fulfillments(shop)
	if len(fs) != 1 || len(h.sim.Notifications()) != 1 {
		t.Fatalf("%d fulfilments, %d notifications, want 1 and 1", len(fs), len(h.sim.Notifications()))
	}
	if pushed.GetStoreFulfillmentId() != strconv.FormatInt(fs[0].ID, 10) || !pushed.GetCustomerNotified() {
		t.Fatalf("pushed %v, fulfilment %d", pushed, fs[0].ID)
	}
}

// TestFaultsConverge: 429s, 5xx and lost answers on a fifth of the calls
// each; every shipment still ends with exactly one fulfilment.
func TestFaultsConverge(t *testing.T) {
	h := newHarness(t, func(c *service.Config, _ *shopifysim.ShopConfig) { c.Shopify.CommandMaxDeliver = 20 })
	var orders []shopifysim.Order
	for range 8 {
		o := h.newOrder()
		orders = append(orders, o)
		h.waitFor("StoreOrderCreated", orderID(o), 1)
	}
	h.sim.SetFaults(shopifysim.Faults{TooManyRequests: 0.2, RetryAfter: 50 * time.Millisecond, ServerErrors: 0.2, LostResponses: 0.2})
	for i, o := range orders {
		h.publish(fulfilmentRequested(orderID(o), "fr", "ship-1", map[string]int32{line(o, 0): 2, line(o, 1): 1}, fmt.Sprint("LP", i), "CAINIAO_STANDARD"))
	}
	for _, o := range orders {
		h.waitFor("FulfillmentPushed", orderID(o), 1)
	}
	h.sim.SetFaults(shopifysim.Faults{})
	fs, _ := h.sim.Fulfillments(shop)
	per := map[int64]int{}
	for _, f := range fs {
		per[f.OrderID]++
	}
	for _, o := range orders {
		if per[o.ID] != 1 {
			t.Errorf("order %d has %d fulfilments", o.ID, per[o.ID])
		}
	}
	if n := len(h.sim.Notifications()); n != len(orders) {
		t.Errorf("%d notifications, want %d", n, len(orders))
	}
	st := h.sim.Stats()
	if st.TooManyRequests == 0 || st.ServerErrors == 0 || st.LostResponses == 0 {
		t.Errorf("faults not exercised: %+v", st)
	}
	t.Logf("simulator: %d calls, %d 429, %d 5xx, %d lost", st.Calls, st.TooManyRequests, st.ServerErrors, st.LostResponses)
}

// TestThrottled: an empty cost bucket answers THROTTLED; the connector
// waits for the restore and goes on.
func TestThrottled(t *testing.T) {
	h := newHarness(t, func(_ *service.Config, sc *shopifysim.ShopConfig) { sc.RestoreRate = 1000 })
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)
	if err := h.sim.SetAvailable(shop, 0); err != nil {
		t.Fatal(err)
	}
	h.publish(fulfilmentRequested(id, "fr-1", "ship-1", map[string]int32{line(o, 0): 1}, "LP1", "CAINIAO_STANDARD"))
	h.waitFor("FulfillmentPushed", id, 1)
	if st := h.sim.Stats(); st.Throttled == 0 {
		t.Fatalf("no THROTTLED answer: %+v", st)
	}
	if fs, _ := h.sim.Fulfillments(shop); len(fs) != 1 {
		t.Fatalf("%d fulfilments", len(fs))
	}
}

// TestReconcileCatchesDroppedWebhook: the simulator drops an order's
// webhooks; the reconciliation pass publishes it.
func TestReconcileCatchesDroppedWebhook(t *testing.T) {
	h := newHarness(t, func(c *service.Config, _ *shopifysim.ShopConfig) {
		c.Shopify.ReconcileInterval = 200 * time.Millisecond
	})
	h.sim.SetFaults(shopifysim.Faults{DropWebhooks: 1})
	o := h.newOrder()
	h.sim.SetFaults(shopifysim.Faults{})
	for _, d := range h.sim.Deliveries() {
		if d.OrderID == o.ID && !d.Dropped {
			t.Fatalf("webhook %s not dropped", d.Topic)
		}
	}
	got := h.waitFor("StoreOrderUpdated", orderID(o), 1)[0].GetStoreOrderUpdated().GetOrder()
	if !got.GetPaymentCaptured() || len(got.GetLineItems()) != 2 || got.GetName() != o.Name {
		t.Fatalf("reconciled snapshot %v", got)
	}
	if len(h.of("StoreOrderCreated", orderID(o))) != 0 {
		t.Fatal("a webhook got through")
	}
	// Passes over an unchanged order publish nothing new.
	n := len(h.events())
	time.Sleep(600 * time.Millisecond)
	if got := len(h.events()); got != n {
		t.Fatalf("unchanged order republished: %d -> %d events", n, got)
	}
	if st := h.stats().Reconcile["demo"]; st.Passes < 2 || st.Failures != 0 {
		t.Fatalf("reconcile stats %+v", st)
	}
}

// TestMerchantChanges: the merchant's actions on Shopify reach the bus as
// the events the order aggregate takes.
func TestMerchantChanges(t *testing.T) {
	h := newHarness(t)
	o, err := h.sim.CreateOrder(shop, shopifysim.NewOrder{Lines: []shopifysim.NewLine{{Title: "Mug", Quantity: 3, Price: "9.95"}, {Title: "Tee", Quantity: 1, Price: "19.90"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)
	must(t, h.sim.MarkPaid(shop, o.ID))
	h.waitFor("StorePaymentCaptured", id, 1)
	must(t, h.sim.EditQuantity(shop, o.ID, o.Lines[0].ID, 2))
	_, err = h.sim.Refund(shop, o.ID, map[int64]int{o.Lines[1].ID: 1})
	must(t, err)
	refunded := h.waitFor("StoreOrderRefunded", id, 1)[0].GetStoreOrderRefunded()
	if len(refunded.GetLines()) != 1 || refunded.GetLines()[0].GetLineItemId() != line(o, 1) || refunded.GetAmount().GetMinorUnits() != 1990 {
		t.Fatalf("refund %v", refunded)
	}
	_, err = h.sim.FulfillByMerchant(shop, o.ID, nil, []shopifysim.Tracking{{Company: "UPS", Number: "1Z999"}}, true)
	must(t, err)
	f := h.waitFor("StoreOrderFulfilled", id, 1)[0].GetStoreOrderFulfilled()
	if f.GetTracking()[0].GetNumber() != "1Z999" || f.GetLines()[0].GetQuantity() != 2 {
		t.Fatalf("merchant fulfilment %v", f)
	}
	// orders/edited was read back from the API: one StoreOrderUpdated
	// shows the mug at 2.
	found := false
	for _, e := range h.waitFor("StoreOrderUpdated", id, 3) {
		for _, l := range e.GetStoreOrderUpdated().GetOrder().GetLineItems() {
			if l.GetId() == line(o, 0) && l.GetQuantity() == 2 {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no snapshot with the edited quantity")
	}
	if err := h.sim.Cancel(shop, o.ID, "customer"); !errors.Is(err, shopifysim.ErrInvalid) {
		t.Fatalf("cancelling a fulfilled order: %v", err)
	}

	o2 := h.newOrder()
	must(t, h.sim.Cancel(shop, o2.ID, "inventory"))
	c := h.waitFor("StoreOrderCanceled", orderID(o2), 1)[0].GetStoreOrderCanceled()
	if c.GetReason() != "inventory" || len(c.GetLines()) != 0 {
		t.Fatalf("cancel %v", c)
	}
}

// TestMerchantFulfilmentChanges: fulfillments/update reaches the bus: a
// tracking change made on the store as StoreTrackingChanged, a cancelled
// fulfilment as StoreFulfillmentCanceled naming what it had fulfilled.
func TestMerchantFulfilmentChanges(t *testing.T) {
	h := newHarness(t)
	o := h.newOrder()
	id := orderID(o)
	f, err := h.sim.FulfillByMerchant(shop, o.ID, nil, []shopifysim.Tracking{{Company: "UPS", Number: "1Z1"}}, false)
	must(t, err)
	h.waitFor("StoreOrderFulfilled", id, 1)
	must(t, h.sim.UpdateTrackingByMerchant(shop, o.ID, f.ID, []shopifysim.Tracking{{Company: "UPS", Number: "1Z2"}}))
	tc := h.waitFor("StoreTrackingChanged", id, 1)[0].GetStoreTrackingChanged()
	if tc.GetStoreFulfillmentId() != strconv.FormatInt(f.ID, 10) || tc.GetTracking()[0].GetNumber() != "1Z2" {
		t.Fatalf("tracking change %v", tc)
	}
	must(t, h.sim.CancelFulfillment(shop, o.ID, f.ID))
	c := h.waitFor("StoreFulfillmentCanceled", id, 1)[0].GetStoreFulfillmentCanceled()
	if c.GetStoreFulfillmentId() != strconv.FormatInt(f.ID, 10) || c.GetStatus() != "cancelled" || len(c.GetLines()) != len(o.Lines) {
		t.Fatalf("fulfilment cancel %v", c)
	}
}

// TestResyncAndTrackingUpdate: ResyncRequested re-reads the order;
// TrackingUpdateRequested changes the pushed fulfilment's tracking without
// a second e-mail.
func TestResyncAndTrackingUpdate(t *testing.T) {
	h := newHarness(t)
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)
	h.publish(command(id, "resync", func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_ResyncRequested{ResyncRequested: &eventsv1.ResyncRequested{RequestId: "req-1"}}
	}))
	rr := h.waitFor("StoreOrderReread", id, 1)[0].GetStoreOrderReread()
	if rr.GetRequestId() != "req-1" || rr.GetOrder().GetStoreOrderId() != strconv.FormatInt(o.ID, 10) || len(rr.GetOrder().GetLineItems()) != 2 {
		t.Fatalf("reread %v", rr)
	}

	h.publish(fulfilmentRequested(id, "fr-1", "ship-1", map[string]int32{line(o, 0): 2, line(o, 1): 1}, "LP1", "CAINIAO_STANDARD"))
	pushed := h.waitFor("FulfillmentPushed", id, 1)[0].GetFulfillmentPushed()
	h.publish(command(id, "tu-1", func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
			ShipmentId: "ship-1", StoreFulfillmentId: pushed.GetStoreFulfillmentId(),
			Tracking: &eventsv1.Tracking{Number: "4PX000111", Carrier: "FOURPX_RM"},
		}}
	}))
	h.eventually("tracking updated", func() error {
		if u := h.sim.TrackingUpdates(); len(u) != 1 {
			return fmt.Errorf("%d updates", len(u))
		}
		return nil
	})
	u := h.sim.TrackingUpdates()[0]
	if u.Tracking[0] != (shopifysim.Tracking{Company: "4PX", Number: "4PX000111"}) || u.NotifyCustomer {
		t.Fatalf("update %+v", u)
	}
	if n := len(h.sim.Notifications()); n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestQuietAndRefused: with the setting off the fulfilment is made
// without an e-mail; an order cancelled on Shopify is reported as
// FulfillmentFailed, not retried, not fulfilled.
func TestQuietAndRefused(t *testing.T) {
	h := newHarness(t)
	h.notifier.mu.Lock()
	h.notifier.on = false
	h.notifier.mu.Unlock()

	a := h.newOrder()
	h.waitFor("StoreOrderCreated", orderID(a), 1)
	h.publish(fulfilmentRequested(orderID(a), "fr-a", "ship-a", map[string]int32{line(a, 0): 2}, "LPA", "CAINIAO_STANDARD"))
	pushed := h.waitFor("FulfillmentPushed", orderID(a), 1)[0].GetFulfillmentPushed()
	if pushed.GetCustomerNotified() {
		t.Fatal("customer notified with the setting off")
	}
	if fs, _ := h.sim.Fulfillments(shop); len(fs) != 1 || fs[0].NotifyCustomer || len(h.sim.Notifications()) != 0 {
		t.Fatalf("fulfilments %+v, notifications %v", fs, h.sim.Notifications())
	}

	b := h.newOrder()
	h.waitFor("StoreOrderCreated", orderID(b), 1)
	must(t, h.sim.Cancel(shop, b.ID, "fraud"))
	h.publish(fulfilmentRequested(orderID(b), "fr-b", "ship-b", map[string]int32{line(b, 0): 2}, "LPB", "CAINIAO_STANDARD"))
	failed := h.waitFor("FulfillmentFailed", orderID(b), 1)[0].GetFulfillmentFailed()
	if failed.GetShipmentId() != "ship-b" || failed.GetReason().GetCode() != "STORE_ORDER_CANCELED" || failed.GetReason().GetRetryable() {
		t.Fatalf("failed %v", failed)
	}
	if fs, _ := h.sim.Fulfillments(shop); len(fs) != 1 {
		t.Fatalf("%d fulfilments, want 1", len(fs))
	}
	if dl, err := bus.DeadLetters(context.Background(), h.js, bus.StreamOrder, 0); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %v %v", dl, err)
	}
}
