package service_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/services/wix/service"
)

const (
	slug     = "berlin"
	siteID   = "9a4d2f10-5b6c-4e7f-8a90-1b2c3d4e5f60"
	instance = "b2f0c1d4-7a8e-4c55-9d61-3f2a7c9e0a11"
	apiToken = "OAUTH-ACCESS-TOKEN"
)

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

func key() *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		appKey = k
	})
	return appKey
}

// logger is quiet unless WIX_TEST_LOG is set.
func logger() *slog.Logger {
	if os.Getenv("WIX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fakeNotifier is the notifier's ShippingConfirmationService: the first
// call for a shipment records a decision (decide, NOTIFY by default),
// every later call returns it.
type fakeNotifier struct {
	notifierv1.UnimplementedShippingConfirmationServiceServer
	mu      sync.Mutex
	decide  func(req *notifierv1.IssueConfirmationRequest) notifierv1.Decision
	decided map[string]*notifierv1.Confirmation
	calls   int
}

func (f *fakeNotifier) IssueConfirmation(_ context.Context, req *notifierv1.IssueConfirmationRequest) (*notifierv1.IssueConfirmationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	k := req.GetOrderId() + "/" + req.GetShipmentId()
	if c, ok := f.decided[k]; ok {
		return &notifierv1.IssueConfirmationResponse{Confirmation: c, Existing: true}, nil
	}
	d := notifierv1.Decision_DECISION_NOTIFY
	if f.decide != nil {
		d = f.decide(req)
	}
	c := &notifierv1.Confirmation{OrderId: req.GetOrderId(), ShipmentId: req.GetShipmentId(), Store: req.GetStore(), Decision: d,
		Channel: req.GetChannel(), DecidedAt: timestamppb.Now(), RequestId: req.GetRequestId()}
	f.decided[k] = c
	return &notifierv1.IssueConfirmationResponse{Confirmation: c}, nil
}

// harness is the connector's world: JetStream, the Wix simulator, the
// notifier, and the connector itself (started and stopped at will).
type harness struct {
	t        testing.TB
	js       jetstream.JetStream
	nc       *nats.Conn
	sim      *wixsim.Sim
	api      *httptest.Server
	notifier *fakeNotifier
	notAddr  string
	hookURL  string
	cfg      service.Config
	stop     func()
}

type options struct {
	faults    wixsim.Faults
	reconcile time.Duration
	decide    func(*notifierv1.IssueConfirmationRequest) notifierv1.Decision
}

func newHarness(t testing.TB, o options) *harness {
	t.Helper()
	h := &harness{t: t}
	_, h.nc = natstest.Connect(t)
	js, err := jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	h.js = js
	if err := bus.EnsureStreams(context.Background(), js, bus.Config{}); err != nil {
		t.Fatal(err)
	}

	h.notifier = &fakeNotifier{decide: o.decide, decided: map[string]*notifierv1.Confirmation{}}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pki := grpcauthtest.New(t)
	gs := grpc.NewServer(pki.ServerOptions("notifier")...)
	notifierv1.RegisterShippingConfirmationServiceServer(gs, h.notifier)
	go func() { _ = gs.Serve(gl) }()
	t.Cleanup(gs.Stop)
	h.notAddr = gl.Addr().String()

	// The webhook listener's address is known before the connector runs,
	// so the simulator can be pointed at it.
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl.Close()
	h.hookURL = "http://" + hl.Addr().String()

	sim, err := wixsim.New(wixsim.Config{
		PrivateKey: key(),
		Seed:       42,
		RateLimit:  200,
		RateWindow: time.Second, // a compressed minute: the connector's budget shrinks with it
		Faults:     o.faults,
		Webhooks:   wixsim.WebhookConfig{URL: h.hookURL + "/webhooks/wix", TimeScale: 1e-5},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	if err := sim.AddSite(wixsim.Site{SiteID: siteID, InstanceID: instance, AccessToken: apiToken}); err != nil {
		t.Fatal(err)
	}
	h.sim = sim
	h.api = httptest.NewServer(sim)
	t.Cleanup(h.api.Close)

	stores := fmt.Sprintf(`[{"slug":%q,"site_id":%q,"instance_id":%q,"credentials_env":"WIX_BERLIN_TOKEN"}]`, slug, siteID, instance)
	cfg := service.Config{
		NATS:      config.NATS{Replicas: 1, DuplicateWindow: 2 * time.Hour, EmbeddedDir: "unused"},
		Telemetry: config.Telemetry{LogLevel: "info", LogFormat: "text", TraceExporter: "none"},
		LookupEnv: func(name string) (string, bool) {
			if name == "WIX_BERLIN_TOKEN" {
				return apiToken, true
			}
			return "", false
		},
	}
	pub, err := wixsim.PublicKeyPEM(&key().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Wix.Stores.Decode(stores); err != nil {
		t.Fatal(err)
	}
	cfg.Wix.WebhookAddr = hl.Addr().String()
	cfg.Wix.WebhookPath = "/webhooks/wix"
	cfg.Wix.PublicKey = pub
	cfg.Wix.JWTLeeway = 30 * time.Second
	cfg.Wix.BaseURL = h.api.URL
	cfg.Wix.RateLimit, cfg.Wix.RateWindow = 170, time.Second
	cfg.Wix.CallTimeout, cfg.Wix.MaxAttempts, cfg.Wix.CallBackoff = 2*time.Second, 4, 5*time.Millisecond
	cfg.Wix.NotifierAddr, cfg.Wix.NotifierTimeout = h.notAddr, 2*time.Second
	cfg.GRPCClient = pki.ClientConfig("wix")
	cfg.Wix.ReconcileInterval, cfg.Wix.ReconcileLookback = o.reconcile, time.Hour
	cfg.Wix.DedupeTTL = 72 * time.Hour
	cfg.Wix.WebhookTimeout = time.Second
	cfg.Wix.Concurrency, cfg.Wix.MaxDeliver = 4, 10
	cfg.Wix.RetryBackoff = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond}
	cfg.Wix.AckWait = 5 * time.Second
	cfg.Wix.ShutdownGrace = 2 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h.cfg = cfg
	return h
}

// start runs the connector until stop (or the test's end).
func (h *harness) start() {
	h.t.Helper()
	lis, err := net.Listen("tcp", h.cfg.Wix.WebhookAddr)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.RunOn(ctx, h.cfg, h.js, lis, logger()) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					h.t.Errorf("connector: %v", err)
				}
			case <-time.After(10 * time.Second):
				h.t.Error("connector did not stop")
			}
		})
	}
	h.t.Cleanup(h.stop)
	h.eventually("connector up", func() bool {
		req, err := http.NewRequestWithContext(h.t.Context(), http.MethodGet, h.hookURL+"/healthz", nil)
		if err != nil {
			h.t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// eventually polls cond for up to 20 s.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events reads every envelope of a stream.
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
		if err != nil {
			continue
		}
		env, err := envelope.Unmarshal(m.Data)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

// storeEvents returns the store events of one type (e.g.
// "FulfillmentPushed"), JetStream duplicates included.
func (h *harness) storeEvents(typ string) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range h.events(bus.StreamStore) {
		if envelope.Type(e) == typ {
			out = append(out, e)
		}
	}
	return out
}

// idle waits until the command consumer has nothing pending.
func (h *harness) idle() {
	h.t.Helper()
	h.eventually("commands handled", func() bool {
		c, err := h.js.Consumer(context.Background(), bus.StreamOrder, "wix-commands")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// command publishes an order event addressed to the connector. again
// publishes the same envelope under another Nats-Msg-Id: JetStream takes
// it, so the connector gets the command twice.
func (h *harness) command(env *eventsv1.Envelope, again bool) {
	h.t.Helper()
	subject, err := bus.SubjectFor(env)
	if err != nil {
		h.t.Fatal(err)
	}
	if !again {
		if err := bus.NewPublisher(h.js, bus.PublisherConfig{}).Publish(context.Background(), subject, env); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		h.t.Fatal(err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, env.GetEventId()+"/again/"+time.Now().String())
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		h.t.Fatal(err)
	}
}

func orderID(wixOrderID string) string { return "wix:" + slug + ":" + wixOrderID }

// fulfillmentRequested is the orders service's command for a shipment.
func fulfillmentRequested(wixOrderID, shipment string, lines map[string]int32, number, carrier string) *eventsv1.Envelope {
	fr := &eventsv1.FulfillmentRequested{ShipmentId: shipment, Policy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART}
	for id, q := range lines {
		fr.Lines = append(fr.Lines, &eventsv1.LineQuantity{LineItemId: id, Quantity: q})
	}
	if number != "" {
		fr.Tracking = []*eventsv1.Tracking{{Number: number, Carrier: carrier}}
	}
	oid := orderID(wixOrderID)
	return &eventsv1.Envelope{
		EventId:    envelope.ID("test", oid, shipment, "FulfillmentRequested"),
		OrderId:    oid,
		OccurredAt: timestamppb.Now(),
		RecordedAt: timestamppb.Now(),
		Source:     &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_DROPSYNC, StoreId: slug, Service: "orders"},
		Event:      &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: fr},
	}
}

// placeOrder creates a paid, approved order with lines of the given
// quantities.
func (h *harness) placeOrder(quantities ...int) wixsim.Order {
	h.t.Helper()
	var lines []wixsim.NewLine
	for i, q := range quantities {
		lines = append(lines, wixsim.NewLine{Name: fmt.Sprint("item ", i), SKU: fmt.Sprint("SKU-", i), VariantID: fmt.Sprint("variant-", i), Quantity: q, Price: "10.00"})
	}
	o, err := h.sim.CreateOrder(siteID, wixsim.NewOrder{Lines: lines, Email: "buyer@example.com",
		Recipient: &wixsim.AddressWithContact{Address: wixsim.Address{Country: "US", Subdivision: "US-NY", City: "New York", PostalCode: "10001", AddressLine1: "1 Main St"},
			ContactDetails: wixsim.ContactDetails{FirstName: "Ann", LastName: "Lee"}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}
