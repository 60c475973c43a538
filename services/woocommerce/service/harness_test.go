package service_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
	"github.com/dropsync/dropsync/services/woocommerce/service"
)

const (
	consumerKey    = "ck_acme"
	consumerSecret = "cs_acme"
	webhookSecret  = "whsec_acme"
	webhookPath    = "/webhooks/woocommerce"
)

// fakeNotifier is the notifier's ShippingConfirmationService over real
// gRPC: it records one decision per shipment and returns it to every later
// call, as the real ledger does.
type fakeNotifier struct {
	notifierv1.UnimplementedShippingConfirmationServiceServer
	mu       sync.Mutex
	decision notifierv1.Decision
	ledger   map[string]notifierv1.Decision
	calls    int
	channels []string
}

func (f *fakeNotifier) IssueConfirmation(_ context.Context, req *notifierv1.IssueConfirmationRequest) (*notifierv1.IssueConfirmationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.channels = append(f.channels, req.GetChannel())
	key := req.GetOrderId() + "/" + req.GetShipmentId()
	d, existing := f.ledger[key]
	if !existing {
		d = f.decision
		f.ledger[key] = d
	}
	c := &notifierv1.Confirmation{OrderId: req.GetOrderId(), ShipmentId: req.GetShipmentId(), Store: req.GetStore(), Decision: d}
	if d == notifierv1.Decision_DECISION_NOTIFY {
		c.Channel = req.GetChannel()
	}
	return &notifierv1.IssueConfirmationResponse{Confirmation: c, Existing: existing}, nil
}

func startNotifier(t testing.TB, d notifierv1.Decision) (*fakeNotifier, *grpc.ClientConn) {
	t.Helper()
	f := &fakeNotifier{decision: d, ledger: map[string]notifierv1.Decision{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pki := grpcauthtest.New(t)
	srv := grpc.NewServer(pki.ServerOptions("notifier")...)
	notifierv1.RegisterShippingConfirmationServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauthtest.AllRoles)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return f, cc
}

type opts struct {
	tls       bool // HTTPS site (Basic auth); plain HTTP uses OAuth 1.0a
	tracking  bool // Shipment Tracking extension installed
	faults    woocommercesim.Faults
	reconcile time.Duration // 0: one pass at start only
	decision  notifierv1.Decision
	hookURL   string // webhook delivery URL; default the connector's
	noHooks   bool
	settings  *eventsv1.StoreSettings
	// callTimeout bounds one HTTP attempt; default 5s.
	callTimeout time.Duration
	// peers replaces the static settings and the fake notifier (a real
	// client of a peer that is down, say).
	peers *peers.Peers
	// maxDeliver is the commands' MaxDeliver; default 8.
	maxDeliver int
}

// harness is a WooCommerce store (the simulator over loopback HTTP), an
// embedded JetStream server, the fake notifier and the connector.
type harness struct {
	t        testing.TB
	sim      *woocommercesim.Sim
	simSrv   *httptest.Server
	js       jetstream.JetStream
	svc      *service.Service
	hookURL  string
	notifier *fakeNotifier
	pub      *bus.Publisher
	stop     func()
	cfg      service.Config
	deps     service.Deps
}

func testConfig(reconcile time.Duration) service.Config {
	if reconcile == 0 {
		reconcile = time.Hour
	}
	return service.Config{
		NATS:      config.NATS{Replicas: 1, DuplicateWindow: 2 * time.Hour},
		Telemetry: config.Telemetry{LogLevel: "info", LogFormat: "text", TraceExporter: "none"},
		WooCommerce: service.WooCommerce{
			WebhookPath:         webhookPath,
			DedupeTTL:           time.Hour,
			ReconcileInterval:   reconcile,
			ReconcileOverlap:    2 * time.Minute,
			ReconcileLookback:   time.Hour,
			CallTimeout:         5 * time.Second,
			MaxAttempts:         4,
			TrackingURLTemplate: "https://t.17track.net/en#nums={number}",
			Concurrency:         4,
			MaxDeliver:          8,
			AckWait:             10 * time.Second,
			CommandBackoff:      []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond},
			ShutdownGrace:       2 * time.Second,
		},
	}
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

func newHarness(t testing.TB, o opts) *harness {
	t.Helper()
	if o.decision == 0 {
		o.decision = notifierv1.Decision_DECISION_NOTIFY
	}
	sim := woocommercesim.New(woocommercesim.Config{
		HTTPS: o.tls, ConsumerKey: consumerKey, ConsumerSecret: consumerSecret,
		ShipmentTracking: o.tracking, Seed: 11, Faults: o.faults,
	})
	var simSrv *httptest.Server
	if o.tls {
		simSrv = httptest.NewTLSServer(sim)
	} else {
		simSrv = httptest.NewServer(sim)
	}
	sim.SetSiteURL(simSrv.URL)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })

	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	notifier, cc := startNotifier(t, o.decision)
	env := map[string]string{"TEST_CONSUMER_KEY": consumerKey, "TEST_CONSUMER_SECRET": consumerSecret, "TEST_WEBHOOK_SECRET": webhookSecret}
	list, err := stores.Resolve([]stores.Spec{{Slug: "acme", SiteURL: simSrv.URL, CredentialsRef: "env:TEST"}},
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := stores.New(list)
	if err != nil {
		t.Fatal(err)
	}
	settings := o.settings
	if settings == nil {
		settings = &eventsv1.StoreSettings{
			FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER, ShippingConfirmation: true,
		}
	}
	h := &harness{t: t, sim: sim, simSrv: simSrv, js: js, notifier: notifier, pub: bus.NewPublisher(js, bus.PublisherConfig{})}
	h.cfg = testConfig(o.reconcile)
	if o.callTimeout > 0 {
		h.cfg.WooCommerce.CallTimeout = o.callTimeout
	}
	h.deps = service.Deps{
		JS: js, Stores: reg, Log: quietLog(),
		Settings:      peers.StaticSettings{Settings: settings},
		Confirmations: &peers.Notifier{Client: notifierv1.NewShippingConfirmationServiceClient(cc)},
	}
	if o.peers != nil {
		h.deps.Settings, h.deps.Confirmations = o.peers.Settings, o.peers.Confirmations
	}
	if o.maxDeliver > 0 {
		h.cfg.WooCommerce.MaxDeliver = o.maxDeliver
	}
	if o.tls {
		h.deps.HTTPClient = simSrv.Client()
	}
	h.start()
	if !o.noHooks {
		url := o.hookURL
		if url == "" {
			url = h.hookURL
		}
		for _, topic := range []string{"order.created", "order.updated", "order.deleted"} {
			if _, err := sim.AddWebhook(woocommercesim.WebhookConfig{Topic: topic, DeliveryURL: url, Secret: webhookSecret}); err != nil && o.hookURL == "" {
				t.Fatalf("webhook %s: %v", topic, err)
			}
		}
	}
	return h
}

// start runs the connector on a fresh listener and waits for its first
// reconciliation pass.
func (h *harness) start() {
	h.t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	deps := h.deps
	deps.Listener = lis
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.New(ctx, h.cfg, deps)
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	h.svc = svc
	h.hookURL = "http://" + lis.Addr().String() + webhookPath
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("connector: %v", err)
			}
		})
	}
	h.t.Cleanup(h.stop)
	h.eventually(5*time.Second, "first reconciliation pass", func() bool {
		return svc.Reconcilers["acme"].Stats().Passes+svc.Reconcilers["acme"].Stats().Failures >= 1
	})
	h.eventually(30*time.Second, "ready", func() bool {
		return probe("http://"+lis.Addr().String()+"/readyz") == http.StatusOK
	})
}

// probe is the status of GET url, 0 when it does not answer.
func probe(url string) int {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// restart stops the connector and starts a new one on the same JetStream:
// a crash and a new pod.
func (h *harness) restart() {
	h.stop()
	h.start()
}

func (h *harness) eventually(d time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events returns every message of a stream, decoded, in stream order.
func (h *harness) events(stream string) []*eventsv1.Envelope {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*eventsv1.Envelope
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			h.t.Fatal(err)
		}
		e, err := envelope.Unmarshal(m.Data)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// storeEvents returns the store events of one WooCommerce order.
func (h *harness) storeEvents(wooID int64) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range h.events(bus.StreamStore) {
		if e.GetOrderId() == orderID(wooID) {
			out = append(out, e)
		}
	}
	return out
}

func orderID(wooID int64) string { return "woocommerce:acme:" + strconv.FormatInt(wooID, 10) }

func has(envs []*eventsv1.Envelope, typ string) bool {
	return slices.ContainsFunc(envs, func(e *eventsv1.Envelope) bool { return envelope.Type(e) == typ })
}

func count(envs []*eventsv1.Envelope, typ string) int {
	n := 0
	for _, e := range envs {
		if envelope.Type(e) == typ {
			n++
		}
	}
	return n
}

// post sends a webhook to the connector and returns the status.
func (h *harness) post(body []byte, hdr map[string]string) int {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, h.hookURL, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// signedHeaders are the headers of a webhook of topic from the store.
func (h *harness) signedHeaders(topic string, body []byte, delivery string) map[string]string {
	return map[string]string{
		"Content-Type":                  "application/json",
		woocommercesim.HeaderSource:     h.sim.SiteURL() + "/",
		woocommercesim.HeaderTopic:      topic,
		woocommercesim.HeaderSignature:  woocommercesim.Sign(webhookSecret, body),
		woocommercesim.HeaderWebhookID:  "99",
		woocommercesim.HeaderDeliveryID: delivery,
		woocommercesim.HeaderResource:   "order",
		woocommercesim.HeaderEvent:      "updated",
	}
}

var specLines = []woocommercesim.LineSpec{
	{ProductID: 11, Name: "Ceramic mug", SKU: "MUG-1", Quantity: 2, PriceCents: 1495},
	{ProductID: 12, VariationID: 13, Name: "Tee - M", SKU: "TEE-M", Quantity: 1, PriceCents: 1900},
}

func (h *harness) order(status string) int64 {
	h.t.Helper()
	id, err := h.sim.CreateOrder(woocommercesim.OrderSpec{
		Status: status, Lines: specLines,
		Shipping: woocommercesim.Address{FirstName: "Ada", LastName: "Lovelace", Address1: "1 Main St", City: "Springfield", Country: "US"},
		Billing:  woocommercesim.Address{Email: "ada@example.com"},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// aggregate folds one order's events with the real order aggregate, as
// the orders service does, and publishes its decisions on ORDER_EVENTS.
type aggregate struct {
	h        *harness
	o        *order.Order
	settings *eventsv1.StoreSettings
	fed      map[string]bool
	decided  []*eventsv1.Envelope
}

func (h *harness) aggregate() *aggregate {
	return &aggregate{h: h, o: &order.Order{}, fed: map[string]bool{}, settings: &eventsv1.StoreSettings{
		FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER, ShippingConfirmation: true,
	}}
}

// feed takes in one fact and returns the decisions, applied.
func (a *aggregate) feed(e *eventsv1.Envelope) []*eventsv1.Envelope {
	a.h.t.Helper()
	a.fed[e.GetEventId()] = true
	out, err := a.o.Handle(e, order.Context{Settings: a.settings, Now: time.Now()})
	if err != nil {
		a.h.t.Fatalf("aggregate: %s: %v", envelope.Type(e), err)
	}
	var decided []*eventsv1.Envelope
	for _, x := range out {
		a.o.Apply(x)
		if x != e && x.GetEventId() != e.GetEventId() {
			decided = append(decided, x)
		}
	}
	a.decided = append(a.decided, decided...)
	return decided
}

// pump feeds the order's store events not fed yet, in stream order.
func (a *aggregate) pump(wooID int64) []*eventsv1.Envelope {
	var decided []*eventsv1.Envelope
	for _, e := range a.h.storeEvents(wooID) {
		if !a.fed[e.GetEventId()] {
			decided = append(decided, a.feed(e)...)
		}
	}
	return decided
}

// publish puts decisions addressed to the store on ORDER_EVENTS.
func (a *aggregate) publish(decided []*eventsv1.Envelope) {
	a.h.t.Helper()
	for _, e := range decided {
		subject, err := bus.SubjectFor(e)
		if err != nil {
			a.h.t.Fatal(err)
		}
		if err := a.h.pub.Publish(context.Background(), subject, e); err != nil {
			a.h.t.Fatal(err)
		}
	}
}

// shipment is a supplier shipment of lines with a tracking number.
func shipment(wooID int64, supplierOrder, shipmentID, number, carrier string, lines map[string]int32) *eventsv1.Envelope {
	ev := &eventsv1.SupplierShipmentCreated{
		SupplierOrderId: supplierOrder, ShipmentId: shipmentID,
		Tracking: &eventsv1.Tracking{Number: number, Carrier: carrier},
	}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ev.Lines = append(ev.Lines, &eventsv1.LineQuantity{LineItemId: k, Quantity: lines[k]})
	}
	return &eventsv1.Envelope{
		EventId:    envelope.ID("test", "shipment", orderID(wooID), shipmentID),
		OrderId:    orderID(wooID),
		OccurredAt: nil,
		Source:     &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_ALIEXPRESS, StoreId: "acme", Service: "aliexpress"},
		Event:      &eventsv1.Envelope_SupplierShipmentCreated{SupplierShipmentCreated: ev},
	}
}

func ofType(envs []*eventsv1.Envelope, typ string) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range envs {
		if envelope.Type(e) == typ {
			out = append(out, e)
		}
	}
	return out
}

// placed is the supplier's acceptance of a placement: one supplier order
// per store line, each holding the line's whole quantity.
func placed(wooID int64, orders map[string]map[string]int32) *eventsv1.Envelope {
	ev := &eventsv1.SupplierOrderPlaced{RequestId: "place-" + strconv.FormatInt(wooID, 10)}
	keys := make([]string, 0, len(orders))
	for k := range orders {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		so := &eventsv1.SupplierOrder{SupplierOrderId: k}
		for line, q := range orders[k] {
			so.Lines = append(so.Lines, &eventsv1.LineQuantity{LineItemId: line, Quantity: q})
		}
		ev.Orders = append(ev.Orders, so)
	}
	return &eventsv1.Envelope{
		EventId: envelope.ID("test", "placed", orderID(wooID)),
		OrderId: orderID(wooID),
		Source:  &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_ALIEXPRESS, StoreId: "acme", Service: "aliexpress"},
		Event:   &eventsv1.Envelope_SupplierOrderPlaced{SupplierOrderPlaced: ev},
	}
}
