package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/aliexpress/service"
)

const (
	appKey    = "500123"
	appSecret = "s3cr3t-app"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// harness runs the connector on an embedded JetStream server against the
// simulator on loopback HTTP, both on one settable clock, and talks to it
// over gRPC.
type harness struct {
	t      *testing.T
	js     jetstream.JetStream
	pub    *bus.Publisher
	sim    *aliexpresssim.Sim
	clock  *aliexpresssim.Clock
	gw     *httptest.Server
	tok    aliexpresssim.Token
	pki    *grpcauthtest.PKI
	client aliexpressv1.SupplierSyncServiceClient
	stop   func()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	clock := aliexpresssim.NewClock(t0)
	sim := aliexpresssim.New(aliexpresssim.Config{Now: clock.Now, TokenTTL: 90 * 24 * time.Hour})
	sim.AddApp(appKey, appSecret)
	tok, err := sim.IssueToken(appKey, "buyer-1")
	if err != nil {
		t.Fatal(err)
	}
	sim.AddProduct(aliexpresssim.Product{ID: "1005001", SellerID: "9001", StoreName: "Mug World", Title: "Mug",
		SKUs:            []aliexpresssim.SKU{{ID: "12000037255569170", Attr: "14:200013901#White", Stock: 100, PriceCents: 350}},
		ShippingMethods: []string{"CAINIAO_STANDARD"}})
	sim.AddProduct(aliexpresssim.Product{ID: "1005002", SellerID: "9002", StoreName: "Tee Land", Title: "Tee",
		SKUs:            []aliexpresssim.SKU{{ID: "12000040000000001", Attr: "5:361386", Stock: 100, PriceCents: 800}},
		ShippingMethods: []string{"CAINIAO_STANDARD"}})
	sim.AddProduct(aliexpresssim.Product{ID: "1005003", SellerID: "9001", StoreName: "Mug World", Title: "Coaster",
		SKUs:            []aliexpresssim.SKU{{ID: "12000050000000001", Attr: "", Stock: 1, PriceCents: 100}},
		ShippingMethods: []string{"CAINIAO_STANDARD"}})
	gw := httptest.NewServer(sim)
	t.Cleanup(gw.Close)
	h := &harness{t: t, js: js, pub: bus.NewPublisher(js, bus.PublisherConfig{}), sim: sim, clock: clock, gw: gw, tok: tok, pki: grpcauthtest.New(t)}
	h.start()
	return h
}

func (h *harness) config() service.Config {
	t := h.t
	t.Setenv("DROPSYNC_ALIEXPRESS_APP_KEY", appKey)
	t.Setenv("DROPSYNC_ALIEXPRESS_APP_SECRET", appSecret)
	t.Setenv("DROPSYNC_ALIEXPRESS_ACCESS_TOKEN", h.tok.AccessToken)
	t.Setenv("DROPSYNC_ALIEXPRESS_REFRESH_TOKEN", h.tok.RefreshToken)
	h.pki.Setenv(t, "aliexpress")
	var cfg service.Config
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	a := &cfg.AliExpress
	a.GatewayURL = h.gw.URL
	a.PollInterval = 0 // tests poll through SyncNow
	a.SyncTimes = nil
	a.RateLimit = 1000
	a.CallTimeout = 300 * time.Millisecond
	a.MaxDeliver = 3
	a.AckWait = 5 * time.Second
	return cfg
}

// start runs the connector; stop (also at cleanup) stops it and waits.
func (h *harness) start() {
	t := h.t
	t.Helper()
	cfg := h.config()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- service.RunOn(ctx, cfg, h.js, lis, log, service.WithClock(h.clock.Now)) }()
	conn, err := grpc.NewClient(lis.Addr().String(), h.pki.DialOptions(grpcauthtest.AllRoles)...)
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
	h.client = aliexpressv1.NewSupplierSyncServiceClient(conn)
	h.eventually("grpc serving", func() error {
		_, err := h.client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{})
		return err
	})
	h.eventually("placement consumer", func() error {
		_, err := h.js.Consumer(context.Background(), bus.StreamOrder, "aliexpress-placements")
		return err
	})
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

var address = &eventsv1.Address{FullName: "Ada Lovelace", Address1: "1 Rua Augusta", City: "Lisboa", Province: "Lisboa",
	Zip: "1100-048", CountryCode: "PT", Phone: "+351 912 345 678"}

// items: 2 mugs and a coaster (seller 9001), a tee (seller 9002).
var items = []*eventsv1.SupplierItem{
	{LineItemId: "li-1", ProductId: "1005001", SkuAttr: "14:200013901#White", ShippingMethod: "CAINIAO_STANDARD", Quantity: 2},
	{LineItemId: "li-2", ProductId: "1005002", SkuAttr: "5:361386", ShippingMethod: "CAINIAO_STANDARD", Quantity: 1},
	{LineItemId: "li-3", ProductId: "1005003", ShippingMethod: "CAINIAO_STANDARD", Quantity: 1},
}

// place publishes a PlacementRequested command (eventID distinguishes
// re-publications of the same request).
func (h *harness) place(orderID, requestID, eventID string, its []*eventsv1.SupplierItem) {
	h.t.Helper()
	h.placeKeyed(orderID, requestID, "", eventID, its)
}

// placeKeyed publishes a PlacementRequested with a placement key.
func (h *harness) placeKeyed(orderID, requestID, key, eventID string, its []*eventsv1.SupplierItem) {
	h.t.Helper()
	env := &eventsv1.Envelope{
		EventId: eventID, OrderId: orderID, CorrelationId: "corr-" + requestID,
		Event: &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{
			RequestId: requestID, PlacementKey: key, Items: its, ShippingAddress: address,
		}},
	}
	subject, err := bus.SubjectFor(env)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.pub.Publish(context.Background(), subject, env); err != nil {
		h.t.Fatal(err)
	}
}

// events returns every supplier event published so far.
func (h *harness) events() []*eventsv1.Envelope {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, bus.StreamSupplier)
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

// of returns the events of one type about one order.
func (h *harness) of(orderID, typ string) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range h.events() {
		if e.GetOrderId() == orderID && envelope.Type(e) == typ {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits for n events of a type about an order and returns them.
func (h *harness) waitFor(orderID, typ string, n int) []*eventsv1.Envelope {
	h.t.Helper()
	var got []*eventsv1.Envelope
	h.eventually(fmt.Sprintf("%d %s of %s", n, typ, orderID), func() error {
		if got = h.of(orderID, typ); len(got) < n {
			return fmt.Errorf("%d so far", len(got))
		}
		return nil
	})
	return got
}

// syncNow advances the clock past the manual sync interval and syncs.
func (h *harness) syncNow(req *aliexpressv1.SyncNowRequest) *aliexpressv1.SyncNowResponse {
	h.t.Helper()
	h.clock.Advance(10 * time.Minute)
	r, err := h.client.SyncNow(context.Background(), req)
	if err != nil {
		h.t.Fatalf("SyncNow: %v", err)
	}
	return r
}

// placed places the standard items for orderID and returns the AliExpress
// order ids: [mugs+coaster order, tee order].
func (h *harness) placed(orderID string) (string, string) {
	h.t.Helper()
	h.place(orderID, "req-"+orderID, "cmd-"+orderID, items)
	p := h.waitFor(orderID, "SupplierOrderPlaced", 1)[0].GetSupplierOrderPlaced()
	if len(p.GetOrders()) != 2 {
		h.t.Fatalf("placed %v, want 2 AliExpress orders", p)
	}
	return p.GetOrders()[0].GetSupplierOrderId(), p.GetOrders()[1].GetSupplierOrderId()
}

// aeID parses an AliExpress order id.
func aeID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("AliExpress order id %q: %v", s, err)
	}
	return id
}

func lines(lq []*eventsv1.LineQuantity) string {
	var s []string
	for _, l := range lq {
		s = append(s, fmt.Sprintf("%s x%d", l.GetLineItemId(), l.GetQuantity()))
	}
	return strings.Join(s, ", ")
}

func TestPlacementSplitsBySellerAndMapsLines(t *testing.T) {
	h := newHarness(t)
	h.place("shopify:acme:1001", "req-1", "cmd-1", items)
	e := h.waitFor("shopify:acme:1001", "SupplierOrderPlaced", 1)[0]
	p := e.GetSupplierOrderPlaced()
	if p.GetRequestId() != "req-1" || len(p.GetOrders()) != 2 {
		t.Fatalf("placed %v, want 2 orders for req-1", p)
	}
	if got := lines(p.GetOrders()[0].GetLines()); got != "li-1 x2, li-3 x1" {
		t.Errorf("first AliExpress order holds %s, want li-1 x2, li-3 x1 (seller 9001)", got)
	}
	if got := lines(p.GetOrders()[1].GetLines()); got != "li-2 x1" {
		t.Errorf("second AliExpress order holds %s, want li-2 x1 (seller 9002)", got)
	}
	for _, so := range p.GetOrders() {
		id := aeID(t, so.GetSupplierOrderId())
		o, err := h.sim.Order(id)
		if err != nil {
			t.Fatalf("supplier order %s not in the simulator: %v", so.GetSupplierOrderId(), err)
		}
		if len(o.Children) != len(so.GetLines()) {
			t.Errorf("AliExpress order %d has %d children, event %d lines", id, len(o.Children), len(so.GetLines()))
		}
	}
	if e.GetCausationId() != "cmd-1" || e.GetCorrelationId() != "corr-req-1" || e.GetSource().GetPlatform() != eventsv1.Platform_PLATFORM_ALIEXPRESS || e.GetSource().GetStoreId() != "acme" {
		t.Errorf("envelope %v", e)
	}
	// The address reached AliExpress split the AliExpress way.
	create := h.sim.Calls()[0]
	param := create.Params.Get("param_place_order_request4_open_api_d_t_o")
	for _, want := range []string{`"phone_country":"+351"`, `"mobile_no":"912345678"`, `"country":"PT"`, `"out_order_id":"`} {
		if !strings.Contains(param, want) {
			t.Errorf("placement param lacks %s: %s", want, param)
		}
	}
}

func TestRedeliveredPlacementPlacesOnce(t *testing.T) {
	h := newHarness(t)
	h.place("shopify:acme:1002", "req-2", "cmd-2", items)
	h.waitFor("shopify:acme:1002", "SupplierOrderPlaced", 1)
	// The same command again (a replay under another message id).
	h.place("shopify:acme:1002", "req-2", "cmd-2-replayed", items)
	h.eventually("second placement call", func() error {
		if n := h.sim.CallCount(aliexpresssim.MethodOrderCreate); n != 2 {
			return fmt.Errorf("%d calls", n)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	if n := len(h.sim.Orders()); n != 2 {
		t.Errorf("the simulator holds %d orders, want 2 (one placement, two sellers)", n)
	}
	calls := h.sim.Calls()
	out := func(c aliexpresssim.Call) string {
		p := c.Params.Get("param_place_order_request4_open_api_d_t_o")
		i := strings.Index(p, `"out_order_id":"`)
		return p[i : i+50]
	}
	if out(calls[0]) != out(calls[1]) {
		t.Errorf("out_order_id differs on redelivery: %s vs %s", out(calls[0]), out(calls[1]))
	}
	if n := len(h.of("shopify:acme:1002", "SupplierOrderPlaced")); n != 1 {
		t.Errorf("%d SupplierOrderPlaced on the stream, want 1 (same event id)", n)
	}
}

// TestRetryAfterUncertainFailurePlacesOnce: the aggregate's retry after an
// uncertain failure is a new request with the first attempt's placement key;
// the out_order_id is the same, so AliExpress returns the order it already
// holds instead of placing a second one.
func TestRetryAfterUncertainFailurePlacesOnce(t *testing.T) {
	h := newHarness(t)
	h.placeKeyed("shopify:acme:1009", "req-a", "req-a", "cmd-a", items)
	h.waitFor("shopify:acme:1009", "SupplierOrderPlaced", 1)
	h.placeKeyed("shopify:acme:1009", "req-b", "req-a", "cmd-b", items)
	h.waitFor("shopify:acme:1009", "SupplierOrderPlaced", 2)
	if n := len(h.sim.Orders()); n != 2 {
		t.Fatalf("the simulator holds %d orders, want 2 (one placement, two sellers)", n)
	}
	placed := h.of("shopify:acme:1009", "SupplierOrderPlaced")
	a, b := placed[0].GetSupplierOrderPlaced(), placed[1].GetSupplierOrderPlaced()
	if b.GetRequestId() != "req-b" || a.GetOrders()[0].GetSupplierOrderId() != b.GetOrders()[0].GetSupplierOrderId() {
		t.Fatalf("retry answered %v, want req-b with the orders of %v", b, a)
	}
}

func TestPlacementFailuresAreMapped(t *testing.T) {
	h := newHarness(t)
	for i, tc := range []struct {
		name      string
		setup     func()
		items     []*eventsv1.SupplierItem
		code      string
		retryable bool
	}{
		{"out of stock", nil, []*eventsv1.SupplierItem{{LineItemId: "li-3", ProductId: "1005003", ShippingMethod: "CAINIAO_STANDARD", Quantity: 5}}, "OUT_OF_STOCK", false},
		{"sku missing", nil, []*eventsv1.SupplierItem{{LineItemId: "li-1", ProductId: "1005001", SkuAttr: "14:0#Pink", ShippingMethod: "CAINIAO_STANDARD", Quantity: 1}}, "SKU_UNAVAILABLE", false},
		{"product gone", nil, []*eventsv1.SupplierItem{{LineItemId: "li-1", ProductId: "999", Quantity: 1}}, "SKU_UNAVAILABLE", false},
		{"shipping method", nil, []*eventsv1.SupplierItem{{LineItemId: "li-1", ProductId: "1005001", SkuAttr: "14:200013901#White", ShippingMethod: "DHL", Quantity: 1}}, "SHIPPING_METHOD_UNAVAILABLE", false},
		{"address", func() {
			h.sim.FailPlacement(aliexpresssim.Failure{Code: aliexpresssim.CodeAddressInvalid, Msg: "Please enter a City"})
		}, items, "ADDRESS_REJECTED", false},
		{"risk control", func() {
			h.sim.FailPlacement(aliexpresssim.Failure{Code: aliexpresssim.CodeSuspiciousBuyer, Msg: "Suspicious buyer."})
		}, items, "RISK_CONTROL", false},
		{"system busy", func() {
			h.sim.FailPlacement(aliexpresssim.Failure{Code: aliexpresssim.CodeBuildPlaceOrder, Msg: "System error."})
		}, items, "SUPPLIER_UNAVAILABLE", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			id := fmt.Sprintf("shopify:acme:f%d", i)
			h.place(id, "req", "cmd-"+id, tc.items)
			r := h.waitFor(id, "SupplierPlacementFailed", 1)[0].GetSupplierPlacementFailed()
			if r.GetReason().GetCode() != tc.code || r.GetReason().GetRetryable() != tc.retryable || r.GetRequestId() != "req" {
				t.Errorf("failed %v, want %s retryable=%v", r, tc.code, tc.retryable)
			}
		})
	}
}

func TestTransientFailuresAreRetriedThenPlace(t *testing.T) {
	h := newHarness(t)
	h.sim.InjectFault(aliexpresssim.Fault{Method: aliexpresssim.MethodOrderCreate, Kind: aliexpresssim.FaultStatus, Status: 503, Times: 2})
	h.sim.InjectFault(aliexpresssim.Fault{Method: aliexpresssim.MethodOrderCreate, Kind: aliexpresssim.FaultTimeout, Delay: 2 * time.Second})
	h.sim.InjectFault(aliexpresssim.Fault{Method: aliexpresssim.MethodOrderCreate, Kind: aliexpresssim.FaultErrorResponse, Code: "ApiCallLimit", Msg: "The request has exceeded the limit of API calls.", SubCode: "isv.api-call-limit"})
	h.place("shopify:acme:1003", "req-3", "cmd-3", items)
	p := h.waitFor("shopify:acme:1003", "SupplierOrderPlaced", 1)[0].GetSupplierOrderPlaced()
	if len(p.GetOrders()) != 2 {
		t.Errorf("placed %v", p)
	}
	if n := h.sim.CallCount(aliexpresssim.MethodOrderCreate); n < 5 {
		t.Errorf("%d create calls, want 5 (503, 503, timeout, rate limit, success)", n)
	}
	if n := len(h.sim.Orders()); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
}

func TestSyncFollowsOrdersToTheEnd(t *testing.T) {
	h := newHarness(t)
	const id = "shopify:acme:2001"
	mugsOrder, teeOrder := h.placed(id)
	mugs, tee := aeID(t, mugsOrder), aeID(t, teeOrder)
	all := &aliexpressv1.SyncNowRequest{StoreIds: []string{"shopify:acme"}}

	if r := h.syncNow(all); r.GetOrdersPolled() != 2 || r.GetEventsPublished() != 0 {
		t.Errorf("unpaid: %v", r)
	}
	if err := h.sim.Pay(mugs); err != nil {
		t.Fatal(err)
	}
	h.syncNow(all)
	if paid := h.of(id, "SupplierOrderPaid"); len(paid) != 1 || paid[0].GetSupplierOrderPaid().GetSupplierOrderId() != mugsOrder {
		t.Fatalf("paid events %v", paid)
	}

	if err := h.sim.Ship(mugs, "LP0001", "CAINIAO_STANDARD", aliexpresssim.PackageItem{ProductID: "1005001", Count: 2}); err != nil {
		t.Fatal(err)
	}
	h.syncNow(all)
	sh := h.of(id, "SupplierShipmentCreated")
	if len(sh) != 1 {
		t.Fatalf("shipments %v", sh)
	}
	s := sh[0].GetSupplierShipmentCreated()
	if lines(s.GetLines()) != "li-1 x2" || s.GetTracking().GetNumber() != "LP0001" || s.GetShipmentId() != envelope.ID(mugsOrder, "LP0001") || s.GetSupplierOrderId() != mugsOrder {
		t.Errorf("partial shipment %v, want li-1 x2 on LP0001", s)
	}

	if err := h.sim.Ship(mugs, "LP0002", "CAINIAO_STANDARD"); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Cancel(tee, ""); err != nil {
		t.Fatal(err)
	}
	h.syncNow(all)
	sh = h.of(id, "SupplierShipmentCreated")
	if len(sh) != 2 || lines(sh[1].GetSupplierShipmentCreated().GetLines()) != "li-3 x1" {
		t.Errorf("second shipment %v, want li-3 x1", sh)
	}
	c := h.of(id, "SupplierOrderCanceled")
	if len(c) != 1 || c[0].GetSupplierOrderCanceled().GetSupplierOrderId() != teeOrder || len(c[0].GetSupplierOrderCanceled().GetLines()) != 0 {
		t.Errorf("canceled %v, want the tee order wholly", c)
	}

	if err := h.sim.ChangeTracking(mugs, "LP0002", "LP0002X"); err != nil {
		t.Fatal(err)
	}
	h.syncNow(all)
	ch := h.of(id, "SupplierTrackingChanged")
	if len(ch) != 1 || ch[0].GetSupplierTrackingChanged().GetShipmentId() != envelope.ID(mugsOrder, "LP0002") || ch[0].GetSupplierTrackingChanged().GetTracking().GetNumber() != "LP0002X" {
		t.Errorf("tracking changed %v", ch)
	}

	if err := h.sim.Finish(mugs); err != nil {
		t.Fatal(err)
	}
	r := h.syncNow(all)
	if f := h.of(id, "SupplierOrderFinished"); len(f) != 1 {
		t.Errorf("finished %v", f)
	}
	if r.GetOrdersPolled() != 1 {
		t.Errorf("polled %d, want 1 (the tee order closed)", r.GetOrdersPolled())
	}
	// Everything closed: nothing left to poll, nothing published twice.
	if r := h.syncNow(all); r.GetOrdersPolled() != 0 {
		t.Errorf("after the end: %v", r)
	}
	seen := map[string]bool{}
	for _, e := range h.events() {
		if seen[e.GetEventId()] {
			t.Errorf("event %s published twice", e.GetEventId())
		}
		seen[e.GetEventId()] = true
	}
}

func TestOrderNotQueriedBeforeItIsVisible(t *testing.T) {
	h := newHarness(t)
	h.placed("shopify:acme:2002")
	r, err := h.client.SyncNow(context.Background(), &aliexpressv1.SyncNowRequest{OrderIds: []string{"shopify:acme:2002"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetOrdersPolled() != 0 || h.sim.CallCount(aliexpresssim.MethodOrderGet) != 0 {
		t.Errorf("queried at once: %v", r)
	}
}

func TestManualSyncQuota(t *testing.T) {
	h := newHarness(t)
	req := &aliexpressv1.SyncNowRequest{StoreIds: []string{"shopify:acme"}}
	for range 10 {
		h.syncNow(req)
	}
	h.clock.Advance(10 * time.Minute)
	_, err := h.client.SyncNow(context.Background(), req)
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("11th manual sync: %v, want ResourceExhausted", err)
	}
	var info *errdetails.ErrorInfo
	var quota *errdetails.QuotaFailure
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.QuotaFailure:
			quota = d
		}
	}
	if info.GetReason() != "MANUAL_SYNC_QUOTA_EXHAUSTED" || info.GetMetadata()["store_id"] != "shopify:acme" || len(quota.GetViolations()) != 1 {
		t.Errorf("details %v %v", info, quota)
	}
	q, err := h.client.GetSyncQuota(context.Background(), &aliexpressv1.GetSyncQuotaRequest{StoreId: "shopify:acme"})
	if err != nil || q.GetQuota().GetUsedToday() != 10 || q.GetQuota().GetDailyLimit() != 10 {
		t.Errorf("quota %v, %v", q, err)
	}

	// Another store has its own quota, and wants 10 minutes between syncs.
	other := &aliexpressv1.SyncNowRequest{OrderIds: []string{"shopify:other:1"}}
	if _, err := h.client.SyncNow(context.Background(), other); err != nil {
		t.Fatalf("other store: %v", err)
	}
	h.clock.Advance(5 * time.Minute)
	_, err = h.client.SyncNow(context.Background(), other)
	st = status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "too soon") {
		t.Errorf("5 minutes later: %v, want refused as too soon", err)
	}
	if _, err := h.client.SyncNow(context.Background(), &aliexpressv1.SyncNowRequest{StoreIds: []string{"nope"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad store id: %v", err)
	}
}

func TestRestartKeepsOpenOrders(t *testing.T) {
	h := newHarness(t)
	const id = "shopify:acme:3001"
	mugsOrder, _ := h.placed(id)
	h.stop()
	h.start()
	mugs := aeID(t, mugsOrder)
	if err := h.sim.Pay(mugs); err != nil {
		t.Fatal(err)
	}
	r := h.syncNow(&aliexpressv1.SyncNowRequest{})
	if r.GetOrdersPolled() != 2 {
		t.Errorf("after a restart polled %d orders, want 2", r.GetOrdersPolled())
	}
	if len(h.of(id, "SupplierOrderPaid")) != 1 {
		t.Error("no SupplierOrderPaid after a restart")
	}
}

func TestTokenLapseIsRefreshedAndRevocationIsReported(t *testing.T) {
	h := newHarness(t)
	h.placed("shopify:acme:4001")
	if err := h.sim.ExpireToken(h.tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	r := h.syncNow(&aliexpressv1.SyncNowRequest{})
	if r.GetOrdersPolled() != 2 {
		t.Errorf("polled %d after the token lapsed, want 2 (refreshed)", r.GetOrdersPolled())
	}
	if h.sim.CallCount(aliexpresssim.PathTokenRefresh) != 1 {
		t.Errorf("%d refreshes, want 1", h.sim.CallCount(aliexpresssim.PathTokenRefresh))
	}
	hl, err := h.client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{})
	if err != nil || !hl.GetHealthy() {
		t.Errorf("health after a refresh: %v %v", hl, err)
	}

	// Revoke every token: the connection is reported, not silently dead.
	for _, c := range h.sim.Calls() {
		if tok := c.Params.Get("access_token"); tok != "" {
			_ = h.sim.RevokeToken(tok)
		}
	}
	h.clock.Advance(10 * time.Minute)
	if _, err := h.client.SyncNow(context.Background(), &aliexpressv1.SyncNowRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("sync with a revoked token: %v, want Unavailable", err)
	}
	hl, err = h.client.GetConnectionHealth(context.Background(), &aliexpressv1.GetConnectionHealthRequest{})
	if err != nil || hl.GetHealthy() || !strings.Contains(hl.GetReason(), "IllegalAccessToken") || hl.GetUnhealthyCount() != 1 {
		t.Errorf("health after revocation: %v %v", hl, err)
	}
	// The revocation is an event on the bus, for the orders service to keep.
	h.eventually("SupplierConnectionChanged (unhealthy) published", func() error {
		for _, e := range h.events() {
			if c := e.GetSupplierConnectionChanged(); c != nil && !c.GetHealthy() && strings.Contains(c.GetReason(), "IllegalAccessToken") {
				if !strings.HasPrefix(e.GetOrderId(), "aliexpress:") {
					return fmt.Errorf("order id %q", e.GetOrderId())
				}
				return nil
			}
		}
		return errors.New("not yet")
	})
	// A placement now fails visibly, retryable once reconnected.
	h.place("shopify:acme:4002", "req", "cmd-4002", items)
	f := h.waitFor("shopify:acme:4002", "SupplierPlacementFailed", 1)[0].GetSupplierPlacementFailed()
	if f.GetReason().GetCode() != "SUPPLIER_CONNECTION" || !f.GetReason().GetRetryable() {
		t.Errorf("placement with a revoked token: %v", f)
	}
	for _, c := range h.sim.Calls() {
		if slices.Contains([]string{"IllegalAccessToken"}, c.ErrorCode) {
			return
		}
	}
	t.Error("the simulator never refused a token")
}

func TestConfigDoesNotPrintSecrets(t *testing.T) {
	var cfg service.Config
	cfg.AliExpress.AppSecret = config.NewSecret("very-secret")
	cfg.AliExpress.AccessToken = config.NewSecret("very-secret-token")
	if out := fmt.Sprintf("%+v %#v", cfg, cfg); strings.Contains(out, "very-secret") {
		t.Errorf("printing the config shows a secret: %s", out)
	}
}
