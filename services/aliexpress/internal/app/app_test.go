package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
	"github.com/dropsync/dropsync/services/aliexpress/internal/app"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type rig struct {
	js     jetstream.JetStream
	sim    *aliexpresssim.Sim
	clock  *aliexpresssim.Clock
	store  *app.Store
	placer *app.Placer
	syncer *app.Syncer
	budget *app.Budget
}

// rigConfig adjusts newRig.
type rigConfig struct {
	budget  int
	sync    func(*app.SyncConfig)
	sim     aliexpresssim.Config
	relaxed bool // a server that does not fsync every write
}

func newRig(tb testing.TB, opts ...func(*rigConfig)) *rig {
	tb.Helper()
	rc := rigConfig{budget: 1000}
	for _, o := range opts {
		o(&rc)
	}
	connect := natstest.Connect
	if rc.relaxed {
		connect = natstest.ConnectRelaxed
	}
	_, nc := connect(tb)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		tb.Fatal(err)
	}
	store, err := app.OpenStore(ctx, js, 1)
	if err != nil {
		tb.Fatal(err)
	}
	clock := aliexpresssim.NewClock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	rc.sim.Now, rc.sim.TokenTTL = clock.Now, 365*24*time.Hour
	sim := aliexpresssim.New(rc.sim)
	sim.AddApp("app", "secret")
	tok, _ := sim.IssueToken("app", "buyer")
	for i := range 4 {
		sim.AddProduct(aliexpresssim.Product{ID: fmt.Sprint(1005000 + i), SellerID: fmt.Sprint(9000 + i), ShippingMethods: []string{"CAINIAO_STANDARD"},
			SKUs: []aliexpresssim.SKU{{ID: fmt.Sprint(120000 + i), Stock: 1 << 30, PriceCents: 100}}})
	}
	gw := httptest.NewServer(sim)
	tb.Cleanup(gw.Close)
	budget, err := app.OpenBudget(ctx, store, "default", rc.budget, clock.Now, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	api := aeapi.New(aeapi.Config{BaseURL: gw.URL, AppKey: "app", AppSecret: "secret", AccessToken: tok.AccessToken, Now: clock.Now,
		HTTP: client.New(client.Config{Logger: quiet, MaxAttempts: 1}), OnCalls: budget.Add})
	pub := bus.NewPublisher(js, bus.PublisherConfig{})
	cfg := app.SyncConfig{
		Schedule:   domain.DefaultSchedule(),
		SweepShare: 0.5,
		MaxBackoff: time.Hour,
		Quota:      domain.QuotaRule{Daily: 10, Interval: 10 * time.Minute},
	}
	if rc.sync != nil {
		rc.sync(&cfg)
	}
	return &rig{
		js: js, sim: sim, clock: clock, store: store, budget: budget,
		placer: app.NewPlacer(api, store, pub, clock.Now, 5, quiet),
		syncer: app.NewSyncer(api, store, pub, budget, clock.Now, cfg, quiet),
	}
}

// place places product n for order "shopify:acme:<name>" and returns the
// AliExpress order id.
func (r *rig) place(tb testing.TB, name string, n int) int64 {
	tb.Helper()
	return r.placeFor(tb, "shopify:acme", name, n)
}

// placeFor places product n for order "<store>:<name>".
func (r *rig) placeFor(tb testing.TB, store, name string, n int) int64 {
	tb.Helper()
	env := &eventsv1.Envelope{EventId: "cmd-" + name, OrderId: store + ":" + name,
		Event: &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{
			RequestId: "req-" + name,
			Items:     []*eventsv1.SupplierItem{{LineItemId: "li-" + name, ProductId: fmt.Sprint(1005000 + n), ShippingMethod: "CAINIAO_STANDARD", Quantity: 1}},
			ShippingAddress: &eventsv1.Address{FullName: "A B", Address1: "1 St", City: "Lisboa", Province: "Lisboa", Zip: "1100",
				CountryCode: "PT", Phone: "+351912345678"},
		}}}
	if err := r.placer.Handle(context.Background(), &bus.Message{Envelope: env, Deliveries: 1}); err != nil {
		tb.Fatal(err)
	}
	for _, t := range r.store.Open() {
		if t.OrderID == env.OrderId {
			id, _ := strconv.ParseInt(t.AEOrderID, 10, 64)
			return id
		}
	}
	tb.Fatalf("order %s not tracked", name)
	return 0
}

// polled lists the AliExpress orders queried since the last reset.
func (r *rig) polled() []string {
	var out []string
	for _, c := range r.sim.Calls() {
		if c.API == aliexpresssim.MethodOrderGet {
			out = append(out, c.Params.Get("single_order_query"))
		}
	}
	return out
}

func TestAssignWithoutProductListSingleOrder(t *testing.T) {
	items := []*eventsv1.SupplierItem{{LineItemId: "a", ProductId: "1", Quantity: 1}, {LineItemId: "b", ProductId: "2", Quantity: 3}}
	orders, tracked, err := app.Assign(&aeapi.PlaceResult{Success: true, OrderIDs: []string{"81"}}, items)
	if err != nil || len(orders) != 1 || len(orders[0].GetLines()) != 2 || len(tracked[0].Lines) != 2 {
		t.Fatalf("%v %v %v", orders, tracked, err)
	}
	if _, _, err := app.Assign(&aeapi.PlaceResult{Success: true, OrderIDs: []string{"81", "82"}}, items); !errors.Is(err, app.ErrUnmapped) {
		t.Errorf("two orders without a product list: %v, want ErrUnmapped (read the orders back)", err)
	}
}

// TestAssignFromChildren: the children of the orders read back map the
// lines, with or without product ids; items are listed in the
// placement's order within each order, with the children's SKU ids.
func TestAssignFromChildren(t *testing.T) {
	items := []*eventsv1.SupplierItem{
		{LineItemId: "a", ProductId: "1", SkuAttr: "x", Quantity: 1},
		{LineItemId: "b", ProductId: "2", Quantity: 3},
		{LineItemId: "c", ProductId: "1", SkuAttr: "y", Quantity: 2},
	}
	for _, tc := range []struct {
		name  string
		prods []aeapi.PlacedProduct
		want  string
	}{
		{"product ids", []aeapi.PlacedProduct{{OrderID: "82", ProductID: "2", SkuID: "s2", Count: 3}, {OrderID: "81", ProductID: "1", SkuID: "s1", Count: 1}, {OrderID: "81", ProductID: "1", SkuID: "s3", Count: 2}},
			"81:[a/s1 c/s3] 82:[b/s2]"},
		{"no product ids: by quantity", []aeapi.PlacedProduct{{OrderID: "82", SkuID: "s2", Count: 3}, {OrderID: "81", SkuID: "s3", Count: 2}, {OrderID: "81", SkuID: "s1", Count: 1}},
			"81:[a/s1 c/s3] 82:[b/s2]"},
		{"sku attributes tell one product's items apart", []aeapi.PlacedProduct{{OrderID: "81", ProductID: "1", SkuAttr: "y", SkuID: "s3", Count: 2}, {OrderID: "82", ProductID: "2", Count: 3}, {OrderID: "81", ProductID: "1", SkuAttr: "x", SkuID: "s1", Count: 1}},
			"81:[a/s1 c/s3] 82:[b/]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tracked, err := app.Assign(&aeapi.PlaceResult{Success: true, OrderIDs: []string{"81", "82"}, Products: tc.prods}, items)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, tr := range tracked {
				var ls []string
				for _, l := range tr.Lines {
					ls = append(ls, l.LineItemID+"/"+l.SkuID)
				}
				parts = append(parts, fmt.Sprintf("%s:%v", tr.AEOrderID, ls))
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAddressSplitsThePhoneNumber(t *testing.T) {
	for _, tc := range []struct{ country, phone, code, mobile string }{
		{"PT", "+351 912 345 678", "+351", "912345678"},
		{"US", "(555) 123-4567", "+1", "5551234567"},
		{"BR", "0055 11 91234 5678", "+55", "11912345678"},
	} {
		a := app.Address(&eventsv1.Address{CountryCode: tc.country, Phone: tc.phone, TaxNumber: "123"})
		if a.PhoneCountry != tc.code || a.MobileNo != tc.mobile {
			t.Errorf("%s %q -> %q %q, want %q %q", tc.country, tc.phone, a.PhoneCountry, a.MobileNo, tc.code, tc.mobile)
		}
		if tc.country == "BR" && a.CPF != "123" {
			t.Error("Brazil without CPF")
		}
	}
}

// BenchmarkPlace measures the placement path: a PlacementRequested handled
// end to end (sign, HTTP to the simulator on loopback, parse, KV write,
// durable publish).
func BenchmarkPlace(b *testing.B) {
	r := newRig(b)
	b.ResetTimer()
	for i := range b.N {
		r.place(b, fmt.Sprint("b", i), i%4)
	}
}
