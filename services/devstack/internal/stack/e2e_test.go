package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/devstack/internal/demo"
	"github.com/dropsync/dropsync/services/devstack/internal/stack"
)

// system is the whole of dropsync on one embedded JetStream server, with
// every platform simulated, driven over gRPC and through the simulators.
// The server has dropsync's NATS users and permissions (pkg/natsperm):
// every service logs in as itself, and any subject refused to a service
// fails the test (natstest.SecuredServer).
type system struct {
	t      testing.TB
	js     jetstream.JetStream // the test's own, as natstest.Superuser
	svcJS  map[string]jetstream.JetStream
	cfg    stack.Config
	st     *stack.Stack
	client ordersv1.OrderServiceClient
	stores map[string]demo.Store // by platform word
	tel    func(string) (*telemetry.Providers, error)
	stop   func()
}

func startSystem(t testing.TB, faults float64, tune ...func(*stack.Devstack)) *system {
	t.Helper()
	return startSystemWith(t, faults, nil, tune...)
}

// startSystemWith is startSystem with each service's telemetry from tel
// (nil: from the OTEL_* variables).
func startSystemWith(t testing.TB, faults float64, tel func(string) (*telemetry.Providers, error), tune ...func(*stack.Devstack)) *system {
	t.Helper()
	srv := natstest.SecuredServer(t)
	js, err := jetstream.New(srv.Connect(t, natstest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	svcJS := map[string]jetstream.JetStream{}
	for _, name := range []string{"orders", "notifier", "aliexpress", "shopify", "woocommerce", "wix"} {
		if svcJS[name], err = jetstream.New(srv.Connect(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	var cfg stack.Config
	if err := config.Read(&cfg); err != nil {
		t.Fatal(err)
	}
	d := &cfg.Devstack
	d.OrdersAddr, d.NotifierAddr, d.AliExpressAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	d.ShopifyAddr, d.WooCommerceAddr, d.WixAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	d.Faults = faults
	d.GRPCDir = t.TempDir() // the services call each other over mTLS with a dev CA issued there
	for _, f := range tune {
		f(d)
	}
	// The simulators live as long as the test: the services may restart.
	simsCtx, stopSims := context.WithCancel(context.Background())
	s := &system{t: t, js: js, svcJS: svcJS, cfg: cfg, tel: tel, stores: map[string]demo.Store{}}
	s.start(simsCtx, nil)
	t.Cleanup(func() {
		s.stop()
		stopSims()
		if err := s.st.Sims.Wait(); err != nil {
			t.Errorf("simulators stopped with %v", err)
		}
	})
	if err := s.st.Demo.MapSupplier(context.Background(), s.client); err != nil {
		t.Fatal(err)
	}
	for _, store := range s.st.Demo.Stores {
		platform, _, _ := strings.Cut(store.Key(), ":")
		s.stores[platform] = store
	}
	return s
}

// start starts the services (with new simulators, or sims again).
func (s *system) start(simsCtx context.Context, sims *stack.Sims) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := stack.Start(ctx, s.cfg, s.js, slog.New(slog.NewTextHandler(io.Discard, nil)), stack.Options{Sims: sims, SimsContext: simsCtx,
		JetStream: func(service string) jetstream.JetStream { return s.svcJS[service] }, Telemetry: s.tel})
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	opts, err := grpcauth.DialOptions(st.Operator)
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	conn, err := grpc.NewClient(st.OrdersAddr, opts...)
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	s.st, s.client = st, ordersv1.NewOrderServiceClient(conn)
	s.stop = func() {
		_ = conn.Close()
		cancel()
		if err := st.Wait(); err != nil {
			s.t.Errorf("stack stopped with %v", err)
		}
		s.stop = func() {}
	}
	s.eventually("orders service serving", func() error {
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("%v", r.GetStatus())
		}
		return nil
	})
}

// restart stops every service and starts them again on the same addresses,
// the same JetStream and the same simulators: a crash of everything.
func (s *system) restart() {
	s.t.Helper()
	old := s.st
	s.stop()
	d := &s.cfg.Devstack
	d.OrdersAddr, d.NotifierAddr, d.AliExpressAddr = old.OrdersAddr, old.NotifierAddr, old.AliExpressAddr
	d.ShopifyAddr, d.WooCommerceAddr, d.WixAddr = old.ShopifyAddr, old.WooCommerceAddr, old.WixAddr
	s.start(context.Background(), old.Sims) // the context bounds new simulators only: none are made
	for _, store := range s.st.Demo.Stores {
		platform, _, _ := strings.Cut(store.Key(), ":")
		s.stores[platform] = store
	}
}

func (s *system) eventually(what string, f func() error) {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: still %v after 90s", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *system) get(id string) *ordersv1.Order {
	s.t.Helper()
	r, err := s.client.GetOrder(context.Background(), &ordersv1.GetOrderRequest{OrderId: id})
	if err != nil {
		s.t.Fatalf("GetOrder %s: %v", id, err)
	}
	return r.GetOrder()
}

// waitTab waits until the order is in tab and then holds cond (if any).
func (s *system) waitTab(id string, tab eventsv1.Tab, cond ...func(*ordersv1.Order) error) *ordersv1.Order {
	s.t.Helper()
	var o *ordersv1.Order
	s.eventually(id+" in "+tab.String(), func() error {
		r, err := s.client.GetOrder(context.Background(), &ordersv1.GetOrderRequest{OrderId: id})
		if err != nil {
			return err
		}
		if o = r.GetOrder(); o.GetTab() != tab {
			return fmt.Errorf("tab %v", o.GetTab())
		}
		for _, c := range cond {
			if err := c(o); err != nil {
				return err
			}
		}
		return nil
	})
	return o
}

// order has a customer of the platform's simulated store order the given
// variants (one of each variant: mug x1, tee x2).
func (s *system) order(platform string, paid bool, variants ...string) (string, func() error) {
	s.t.Helper()
	id, capture, err := s.stores[platform].PlaceOrder(variants, paid)
	if err != nil {
		s.t.Fatal(err)
	}
	return id, capture
}

func (s *system) place(id, request string) *ordersv1.OrderResult {
	s.t.Helper()
	r, err := s.client.PlaceOrders(context.Background(), &ordersv1.PlaceOrdersRequest{RequestId: request, OrderIds: []string{id}})
	if err != nil {
		s.t.Fatal(err)
	}
	return r.GetResults()[0]
}

func (s *system) retry(id, request string) *ordersv1.OrderResult {
	s.t.Helper()
	r, err := s.client.RetryOrders(context.Background(), &ordersv1.RetryOrdersRequest{RequestId: request, OrderIds: []string{id}})
	if err != nil {
		s.t.Fatal(err)
	}
	return r.GetResults()[0]
}

// placed places a paid order and waits until AliExpress has its order numbers.
func (s *system) placed(id string) *ordersv1.Order {
	s.t.Helper()
	s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	if r := s.place(id, "place-"+id); !r.GetAccepted() {
		s.t.Fatalf("placement of %s refused: %v", id, r)
	}
	return s.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
}

// aeOrders returns the AliExpress orders of a dropsync order.
func (s *system) aeOrders(o *ordersv1.Order) []aliexpresssim.Order {
	s.t.Helper()
	var out []aliexpresssim.Order
	for _, so := range o.GetSupplierOrders() {
		if so.GetCanceled() {
			continue
		}
		id, err := strconv.ParseInt(so.GetSupplierOrderId(), 10, 64)
		if err != nil {
			s.t.Fatal(err)
		}
		ao, err := s.st.AliExpress.Order(id)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, ao)
	}
	return out
}

// payAll pays every AliExpress order of o and waits for Awaiting shipment.
func (s *system) payAll(o *ordersv1.Order) {
	s.t.Helper()
	for _, ao := range s.aeOrders(o) {
		if err := s.st.AliExpress.Pay(ao.ID); err != nil {
			s.t.Fatal(err)
		}
	}
	s.waitTab(o.GetOrderId(), eventsv1.Tab_TAB_AWAITING_SHIPMENT)
}

// ship has the seller of the AliExpress order holding product ship it.
func (s *system) ship(o *ordersv1.Order, productID, trackingNo string) {
	s.t.Helper()
	for _, ao := range s.aeOrders(o) {
		for _, c := range ao.Children {
			if c.ProductID == productID {
				if err := s.st.AliExpress.Ship(ao.ID, trackingNo, "CAINIAO_STANDARD", aliexpresssim.PackageItem{ProductID: productID, Count: c.Count}); err != nil {
					s.t.Fatal(err)
				}
				return
			}
		}
	}
	s.t.Fatalf("no AliExpress order of %s holds product %s", o.GetOrderId(), productID)
}

func (s *system) setConfirmation(store string, on bool) {
	s.t.Helper()
	_, err := s.client.UpdateStoreSettings(context.Background(), &ordersv1.UpdateStoreSettingsRequest{
		RequestId: fmt.Sprintf("confirm-%s-%v-%d", store, on, time.Now().UnixNano()), Store: store,
		Settings: &eventsv1.StoreSettings{FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART, ShippingConfirmation: on},
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

func shipmentsPushed(n int) func(*ordersv1.Order) error {
	return func(o *ordersv1.Order) error {
		pushed := 0
		for _, sh := range o.GetShipments() {
			if sh.GetState() == ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED {
				pushed++
			}
		}
		if pushed != n {
			return fmt.Errorf("%d shipments pushed, want %d", pushed, n)
		}
		return nil
	}
}

var (
	mugProduct = demo.SupplierCatalog()[0].ID
	teeProduct = demo.SupplierCatalog()[1].ID
)

func shopifyOrderID(id string) int64 {
	n, _ := strconv.ParseInt(id[strings.LastIndex(id, ":")+1:], 10, 64)
	return n
}

func TestWholeSystem(t *testing.T) {
	s := startSystem(t, 0)

	// The services serve mTLS only; each caller's role is checked.
	t.Run("grpc is mTLS with roles", func(t *testing.T) {
		ctx := context.Background()
		code := func(c config.GRPCClient, call func(*grpc.ClientConn) error) codes.Code {
			opts, err := grpcauth.DialOptions(c)
			if err != nil {
				t.Fatal(err)
			}
			return status.Code(dialed(t, s.st.OrdersAddr, opts, call))
		}
		history := func(cc *grpc.ClientConn) error {
			_, err := ordersv1.NewOrderServiceClient(cc).GetOrderHistory(ctx, &ordersv1.GetOrderHistoryRequest{OrderId: "shopify:demo:1"})
			return err
		}
		plain := status.Code(dialed(t, s.st.OrdersAddr, []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, history))
		if plain != codes.Unavailable {
			t.Errorf("plaintext client: %s, want Unavailable (TLS only)", plain)
		}
		if got := code(config.GRPCClient{TLSCAFile: s.st.Operator.TLSCAFile}, history); got != codes.Unavailable {
			t.Errorf("client without a certificate: %s, want Unavailable (mTLS)", got)
		}
		dir := s.cfg.Devstack.GRPCDir
		shopify := config.GRPCClient{TLSCAFile: s.st.Operator.TLSCAFile, TLSCertFile: filepath.Join(dir, "shopify.pem"), TLSKeyFile: filepath.Join(dir, "shopify-key.pem")}
		if got := code(shopify, history); got != codes.PermissionDenied {
			t.Errorf("the Shopify connector's certificate on GetOrderHistory: %s, want PermissionDenied", got)
		}
	})

	// The journey of the Shopify issue: unpaid -> paid -> placed -> paid on
	// AliExpress -> one of two items shipped (fulfilled at once: the shop
	// fulfils each part) -> both shipped -> fulfilled with both tracking
	// numbers and exactly one confirmation per shipment.
	t.Run("shopify journey, confirmations on", func(t *testing.T) {
		s.t = t
		id, capture := s.order("shopify", false, demo.ShopifyMug, demo.ShopifyTee)
		s.waitTab(id, eventsv1.Tab_TAB_PENDING)
		if err := capture(); err != nil {
			t.Fatal(err)
		}
		o := s.placed(id)
		if n := len(o.GetSupplierOrders()); n != 2 {
			t.Fatalf("%d AliExpress orders, want 2 (two sellers)", n)
		}
		s.requestedBy(id, "PlacementRequested", "spiffe://dropsync/operator")
		s.payAll(o)
		s.ship(o, mugProduct, "LP000000001CN")
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_SHIPMENT, shipmentsPushed(1))
		s.ship(o, teeProduct, "LP000000002CN")
		s.waitTab(id, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(2))

		so, err := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		if err != nil {
			t.Fatal(err)
		}
		if so.Fulfillment != "fulfilled" || len(so.Fulfillments) != 2 {
			t.Fatalf("shop order fulfilment %q with %d fulfilments, want fulfilled with 2", so.Fulfillment, len(so.Fulfillments))
		}
		numbers := map[string]bool{}
		for _, f := range so.Fulfillments {
			if !f.ByApp || !f.NotifyCustomer || len(f.Tracking) != 1 {
				t.Fatalf("fulfilment %+v: want one by dropsync, with tracking, customer notified", f)
			}
			numbers[f.Tracking[0].Number] = true
		}
		if !numbers["LP000000001CN"] || !numbers["LP000000002CN"] {
			t.Fatalf("tracking numbers on the shop: %v", numbers)
		}
		s.eventually("one confirmation per shipment", func() error {
			if n := s.notifications(so.ID); n != 2 {
				return fmt.Errorf("%d shipping confirmations", n)
			}
			return nil
		})
		confirmed := s.get(id)
		for _, sh := range confirmed.GetShipments() {
			if !sh.GetConfirmationIssued() {
				t.Errorf("shipment %s shows no confirmation", sh.GetShipmentId())
			}
		}
	})

	t.Run("shopify journey, confirmations off", func(t *testing.T) {
		s.t = t
		s.setConfirmation("shopify:demo", false)
		defer s.setConfirmation("shopify:demo", true)
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		o := s.placed(id)
		s.payAll(o)
		s.ship(o, mugProduct, "LP000000003CN")
		s.waitTab(id, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(1))
		so, err := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		if err != nil {
			t.Fatal(err)
		}
		if len(so.Fulfillments) != 1 || so.Fulfillments[0].NotifyCustomer {
			t.Fatalf("fulfilments %+v: want one, customer not notified", so.Fulfillments)
		}
		if n := s.notifications(so.ID); n != 0 {
			t.Fatalf("%d confirmations with the setting off", n)
		}
	})

	// WooCommerce waits in Awaiting fulfillment until every item has
	// tracking, then writes the numbers and completes the order once.
	t.Run("woocommerce journey", func(t *testing.T) {
		s.t = t
		id, _ := s.order("woocommerce", true, demo.WooMug, demo.WooTee)
		o := s.placed(id)
		s.payAll(o)
		wooID, _ := strconv.ParseInt(id[strings.LastIndex(id, ":")+1:], 10, 64)
		s.ship(o, mugProduct, "LP000000011CN")
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_FULFILLMENT)
		time.Sleep(time.Second) // nothing may reach the store yet
		if st, _ := s.st.WooCommerce.Status(wooID); st == "completed" || len(s.st.WooCommerce.Trackings(wooID)) != 0 {
			t.Fatalf("store order %s with %d trackings before every item shipped", st, len(s.st.WooCommerce.Trackings(wooID)))
		}
		s.ship(o, teeProduct, "LP000000012CN")
		s.waitTab(id, eventsv1.Tab_TAB_FULFILLED)
		if st, _ := s.st.WooCommerce.Status(wooID); st != "completed" {
			t.Fatalf("store order %s, want completed", st)
		}
		if n := len(s.st.WooCommerce.Trackings(wooID)); n != 2 {
			t.Fatalf("%d trackings on the store, want 2", n)
		}
		if n := s.st.WooCommerce.ShippingEmails(wooID); n != 1 {
			t.Fatalf("%d shipping e-mails, want exactly 1", n)
		}
	})

	// Wix fulfils line item by line item as each ships.
	t.Run("wix journey", func(t *testing.T) {
		s.t = t
		id, _ := s.order("wix", true, demo.WixMug, demo.WixTee)
		o := s.placed(id)
		s.payAll(o)
		wixID := id[strings.LastIndex(id, ":")+1:]
		s.ship(o, mugProduct, "LP000000021CN")
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_SHIPMENT, shipmentsPushed(1))
		s.ship(o, teeProduct, "LP000000022CN")
		s.waitTab(id, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(2))
		fs, err := s.st.Wix.Fulfillments(wixID)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 2 {
			t.Fatalf("%d Wix fulfilments, want 2 (one per line item)", len(fs))
		}
		emails := 0
		for _, e := range s.st.Wix.Emails() {
			if e.OrderID == wixID {
				emails++
			}
		}
		if emails != 2 {
			t.Fatalf("%d Wix shipping e-mails, want 2 (one per shipment)", emails)
		}
	})

	t.Run("rule 5: fulfilled by hand before placing", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		if _, err := s.client.FulfillManually(context.Background(), &ordersv1.FulfillManuallyRequest{RequestId: "hand-" + id, OrderId: id}); err != nil {
			t.Fatal(err)
		}
		o := s.waitTab(id, eventsv1.Tab_TAB_FULFILLED)
		if len(o.GetSupplierOrders()) != 0 || o.GetPlaceable() {
			t.Fatalf("order %v: want no supplier order and not placeable", o)
		}
		if r := s.place(id, "again-"+id); r.GetAccepted() || r.GetErrorCode() != "RULE_5_FULFILLED_MANUALLY" {
			t.Fatalf("placing it = %v, want refused by rule 5", r)
		}
		so, _ := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		if len(so.Fulfillments) != 0 {
			t.Fatal("the store was changed")
		}
	})

	t.Run("rule 6: fulfilled by hand after placing", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		o := s.placed(id)
		if _, err := s.client.FulfillManually(context.Background(), &ordersv1.FulfillManuallyRequest{RequestId: "hand-" + id, OrderId: id}); err != nil {
			t.Fatal(err)
		}
		s.payAll2(o)
		s.ship(o, mugProduct, "LP000000031CN")
		o = s.waitTab(id, eventsv1.Tab_TAB_FULFILLED, func(o *ordersv1.Order) error {
			if len(o.GetShipments()) != 1 {
				return errors.New("shipment not seen yet")
			}
			return nil
		})
		if len(o.GetSupplierOrders()) == 0 || o.GetShipments()[0].GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_NOT_SYNCED {
			t.Fatalf("order %v: want its supplier order kept and the shipment not synced", o)
		}
		time.Sleep(time.Second)
		so, _ := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		if len(so.Fulfillments) != 0 {
			t.Fatal("dropsync fulfilled a manually fulfilled order on the store")
		}
	})

	t.Run("rule 7: fulfilled on the store", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		so, _ := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		lines := map[int64]int{}
		for _, l := range so.Lines {
			lines[l.ID] = l.Quantity
		}
		if _, err := s.st.Shopify.FulfillByMerchant(stack.ShopifyDomain, so.ID, lines, nil, false); err != nil {
			t.Fatal(err)
		}
		o := s.waitTab(id, eventsv1.Tab_TAB_FULFILLED)
		if !o.GetFulfilledOnStore() {
			t.Fatalf("order %v: want fulfilled on the store", o)
		}
		if r := s.place(id, "again-"+id); r.GetAccepted() || r.GetErrorCode() != "RULE_7_FULFILLED_ON_STORE" {
			t.Fatalf("placing it = %v, want refused by rule 7", r)
		}
	})

	t.Run("rule 8: canceled on AliExpress, placed again", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		o := s.placed(id)
		first := o.GetSupplierOrders()[0].GetSupplierOrderId()
		for _, ao := range s.aeOrders(o) {
			if err := s.st.AliExpress.Cancel(ao.ID, "seller out of stock"); err != nil {
				t.Fatal(err)
			}
		}
		s.waitTab(id, eventsv1.Tab_TAB_CANCELED)
		if r := s.retry(id, "retry-"+id); !r.GetAccepted() {
			t.Fatalf("placing a supplier-canceled order again = %v", r)
		}
		o = s.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
		if again := s.aeOrders(o); len(again) != 1 || strconv.FormatInt(again[0].ID, 10) == first {
			t.Fatalf("placed again as %v, want one new AliExpress order", again)
		}
	})

	t.Run("rule 8: canceled on the store, never placed", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		if err := s.st.Shopify.Cancel(stack.ShopifyDomain, shopifyOrderID(id), "customer"); err != nil {
			t.Fatal(err)
		}
		s.waitTab(id, eventsv1.Tab_TAB_CANCELED)
		if r := s.place(id, "again-"+id); r.GetAccepted() || r.GetErrorCode() != "RULE_8_CANCELED_ON_STORE" {
			t.Fatalf("placing it = %v, want refused by rule 8", r)
		}
	})

	t.Run("rule 8: partial refund on the store", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyMug, demo.ShopifyTee)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		so, _ := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		var tee int64
		for _, l := range so.Lines {
			if strconv.FormatInt(l.VariantID, 10) == demo.ShopifyTee {
				tee = l.ID
			}
		}
		if _, err := s.st.Shopify.Refund(stack.ShopifyDomain, so.ID, map[int64]int{tee: 2}); err != nil {
			t.Fatal(err)
		}
		o := s.waitTab(id, eventsv1.Tab_TAB_CANCELED)
		for _, l := range o.GetLines() {
			want := int32(0)
			if l.GetLineItemId() == strconv.FormatInt(tee, 10) {
				want = 2
			}
			if l.GetCanceledQuantity() != want {
				t.Fatalf("line %s canceled %d, want %d", l.GetLineItemId(), l.GetCanceledQuantity(), want)
			}
		}
	})

	t.Run("rule 9: failed at AliExpress, retried once the cause is fixed", func(t *testing.T) {
		s.t = t
		if err := s.st.AliExpress.SetStock(mugProduct, demo.SupplierCatalog()[0].SKUs[0].Attr, 0); err != nil {
			t.Fatal(err)
		}
		id, _ := s.order("shopify", true, demo.ShopifyMug)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		s.place(id, "place-"+id)
		o := s.waitTab(id, eventsv1.Tab_TAB_FAILED)
		if f := o.GetFailure(); f.GetCode() != "OUT_OF_STOCK" || f.GetMessage() == "" {
			t.Fatalf("failure %v, want OUT_OF_STOCK with a text", f)
		}
		if err := s.st.AliExpress.SetStock(mugProduct, demo.SupplierCatalog()[0].SKUs[0].Attr, 1000); err != nil {
			t.Fatal(err)
		}
		if r := s.retry(id, "retry-"+id); !r.GetAccepted() {
			t.Fatalf("retry = %v", r)
		}
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
	})

	t.Run("rule 9: unmapped SKU", func(t *testing.T) {
		s.t = t
		so, err := s.st.Shopify.CreateOrder(stack.ShopifyDomain, shopifyNewOrder(44000000099))
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("shopify:demo:%d", so.ID)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		if r := s.place(id, "place-"+id); r.GetAccepted() || r.GetErrorCode() != "SKU_NOT_MAPPED" {
			t.Fatalf("placement = %v, want SKU_NOT_MAPPED", r)
		}
		s.waitTab(id, eventsv1.Tab_TAB_FAILED)
		_, err = s.client.UpdateSupplierMapping(context.Background(), &ordersv1.UpdateSupplierMappingRequest{
			RequestId: "map-99", Store: "shopify:demo",
			Mapping: &eventsv1.SupplierMapping{VariantId: "44000000099", ProductId: mugProduct, SkuAttr: demo.SupplierCatalog()[0].SKUs[0].Attr, ShippingMethod: "CAINIAO_STANDARD"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := s.retry(id, "retry-"+id); !r.GetAccepted() {
			t.Fatalf("retry once mapped = %v", r)
		}
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_PAYMENT)
	})

	t.Run("rule 11: edited on the store after sync", func(t *testing.T) {
		s.t = t
		id, _ := s.order("shopify", true, demo.ShopifyTee)
		s.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
		so, _ := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(id))
		if err := s.st.Shopify.EditQuantity(stack.ShopifyDomain, so.ID, so.Lines[0].ID, 1); err != nil {
			t.Fatal(err)
		}
		s.eventually("conflict shown", func() error {
			if f := s.get(id).GetConflictFields(); len(f) == 0 {
				return errors.New("no conflict")
			}
			return nil
		})
		if r := s.place(id, "place-"+id); r.GetAccepted() || r.GetErrorCode() != "RULE_11_CONFLICT" {
			t.Fatalf("placement = %v, want refused until the conflict is resolved", r)
		}
	})
}

// payAll2 pays every AliExpress order without waiting for a tab (the order
// may already be Fulfilled by hand).
func (s *system) payAll2(o *ordersv1.Order) {
	s.t.Helper()
	for _, ao := range s.aeOrders(o) {
		if err := s.st.AliExpress.Pay(ao.ID); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *system) notifications(shopOrderID int64) int {
	n := 0
	for _, x := range s.st.Shopify.Notifications() {
		if x.OrderID == shopOrderID && x.Kind == "shipping_confirmation" {
			n++
		}
	}
	return n
}

func shopifyNewOrder(variant int64) shopifysim.NewOrder {
	return shopifysim.NewOrder{
		Email: "customer@example.com", Paid: true,
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "Example", Address1: "1 Demo Street", City: "Lisbon", Province: "Lisboa",
			Zip: "1000-001", Country: "Portugal", CountryCode: "PT", Phone: "+351 912 345 678"},
		Lines: []shopifysim.NewLine{{Title: "Unmapped thing", SKU: "THING", Quantity: 1, Price: "9.90", VariantID: variant, ProductID: variant / 10}},
	}
}

// TestWholeSystemUnderFaults runs orders of every store while the
// simulated platforms answer 20% of API calls with 429 or 5xx, deliver
// webhooks twice (Shopify, Wix) or drop them (WooCommerce: reconciliation
// finds them): every order ends fulfilled, and nothing a customer or a
// merchant sees is doubled.
func TestWholeSystemUnderFaults(t *testing.T) {
	s := startSystem(t, 0.2)
	type placed struct {
		platform, id string
		o            *ordersv1.Order
	}
	var all []placed
	for _, p := range []struct{ platform, mug, tee string }{
		{"shopify", demo.ShopifyMug, demo.ShopifyTee},
		{"woocommerce", demo.WooMug, demo.WooTee},
		{"wix", demo.WixMug, demo.WixTee},
	} {
		for range 2 {
			id, _ := s.order(p.platform, true, p.mug, p.tee)
			all = append(all, placed{platform: p.platform, id: id})
		}
	}
	for i := range all {
		all[i].o = s.placed(all[i].id)
	}
	for i, p := range all {
		s.payAll(p.o)
		s.ship(p.o, mugProduct, fmt.Sprintf("LF%09dCN", 2*i))
		s.ship(p.o, teeProduct, fmt.Sprintf("LF%09dCN", 2*i+1))
	}
	for _, p := range all {
		s.waitTab(p.id, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(2))
	}
	for _, p := range all {
		storeID := p.id[strings.LastIndex(p.id, ":")+1:]
		switch p.platform {
		case "shopify":
			so, err := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(p.id))
			if err != nil {
				t.Fatal(err)
			}
			if len(so.Fulfillments) != 2 {
				t.Errorf("%s: %d fulfilments on Shopify, want 2", p.id, len(so.Fulfillments))
			}
			s.eventually(p.id+" confirmations", func() error {
				if n := s.notifications(so.ID); n != 2 {
					return fmt.Errorf("%d confirmations", n)
				}
				return nil
			})
		case "woocommerce":
			n, _ := strconv.ParseInt(storeID, 10, 64)
			if got := len(s.st.WooCommerce.Trackings(n)); got != 2 {
				t.Errorf("%s: %d trackings, want 2", p.id, got)
			}
			if got := s.st.WooCommerce.ShippingEmails(n); got != 1 {
				t.Errorf("%s: %d shipping e-mails, want 1", p.id, got)
			}
		case "wix":
			fs, err := s.st.Wix.Fulfillments(storeID)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 2 {
				t.Errorf("%s: %d Wix fulfilments, want 2", p.id, len(fs))
			}
		}
		// Exactly one confirmation recorded per shipment on the order.
		for _, sh := range s.get(p.id).GetShipments() {
			if !sh.GetConfirmationIssued() {
				t.Errorf("%s: shipment %s without its confirmation", p.id, sh.GetShipmentId())
			}
		}
	}
}

// TestWholeSystemRestartsMidFlow stops every service while orders are in
// flight at every stage, and starts them again: no order is lost, none
// goes backwards, nothing on a store is doubled.
func TestWholeSystemRestartsMidFlow(t *testing.T) {
	s := startSystem(t, 0)
	shipped, _ := s.order("shopify", true, demo.ShopifyMug, demo.ShopifyTee)
	o := s.placed(shipped)
	s.payAll(o)
	s.ship(o, mugProduct, "LR000000001CN")
	awaiting, _ := s.order("woocommerce", true, demo.WooMug)
	s.waitTab(awaiting, eventsv1.Tab_TAB_AWAITING_ORDER)
	late, _ := s.order("wix", true, demo.WixMug)

	s.restart()
	// Facts that happened while everything was down are taken in.
	s.ship(o, teeProduct, "LR000000002CN")
	s.waitTab(shipped, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(2))
	w := s.placed(awaiting)
	s.payAll(w)
	s.ship(w, mugProduct, "LR000000003CN")
	s.waitTab(awaiting, eventsv1.Tab_TAB_FULFILLED)
	x := s.placed(late)
	s.payAll(x)
	s.ship(x, mugProduct, "LR000000004CN")
	s.waitTab(late, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(1))

	so, err := s.st.Shopify.Order(stack.ShopifyDomain, shopifyOrderID(shipped))
	if err != nil {
		t.Fatal(err)
	}
	if len(so.Fulfillments) != 2 || s.notifications(so.ID) != 2 {
		t.Fatalf("Shopify: %d fulfilments, %d confirmations; want 2 and 2", len(so.Fulfillments), s.notifications(so.ID))
	}
	wooID, _ := strconv.ParseInt(awaiting[strings.LastIndex(awaiting, ":")+1:], 10, 64)
	if n := s.st.WooCommerce.ShippingEmails(wooID); n != 1 {
		t.Fatalf("WooCommerce: %d shipping e-mails, want 1", n)
	}
	fs, err := s.st.Wix.Fulfillments(late[strings.LastIndex(late, ":")+1:])
	if err != nil || len(fs) != 1 {
		t.Fatalf("Wix: %d fulfilments (%v), want 1", len(fs), err)
	}
}

// dialed calls call on a new connection to addr made with opts.
func dialed(t *testing.T, addr string, opts []grpc.DialOption, call func(*grpc.ClientConn) error) error {
	t.Helper()
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	return call(cc)
}

// requestedBy checks that the order's events of type kind name the caller
// who gave the command.
func (s *system) requestedBy(id, kind, who string) {
	s.t.Helper()
	r, err := s.client.GetOrderHistory(context.Background(), &ordersv1.GetOrderHistoryRequest{OrderId: id})
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, e := range r.GetEvents() {
		if e.GetType() != kind {
			continue
		}
		n++
		if by := e.GetEnvelope().GetRequestedBy(); by.GetName() != who || by.GetKind() != "certificate" {
			s.t.Errorf("%s requested_by %v, want %s (certificate)", kind, by, who)
		}
	}
	if n == 0 {
		s.t.Errorf("no %s in the history of %s", kind, id)
	}
}
