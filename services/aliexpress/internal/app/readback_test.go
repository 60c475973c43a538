package app_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
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

// recorder keeps every envelope published, then passes it on.
type recorder struct {
	next bus.EventPublisher
	mu   sync.Mutex
	got  []*eventsv1.Envelope
}

func (r *recorder) Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error {
	r.mu.Lock()
	r.got = append(r.got, env)
	r.mu.Unlock()
	return r.next.Publish(ctx, subject, env)
}

func (r *recorder) events() []*eventsv1.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestPlacementWithOrderIDsOnlyReadsTheOrdersBack: ds.order.create answers
// as documented, with order ids and no order_product_list, for items of
// two sellers (two AliExpress orders). The placement is never
// dead-lettered: while the orders are not visible it comes again later
// without placing twice; once they are, each order's children say which
// line it holds, the lines are tracked with their SKU ids, and a partial
// cancellation by a seller names its line, whether the children carry
// product_id or not, in wrapped or bare lists.
func TestPlacementWithOrderIDsOnlyReadsTheOrdersBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		sim  aliexpresssim.Config
	}{
		{"children with product ids, wrapped lists", aliexpresssim.Config{OrderIDsOnly: true, Singletons: aliexpresssim.SingletonsObject}},
		{"children with product ids, bare lists", aliexpresssim.Config{OrderIDsOnly: true, BareLists: true}},
		{"children without product ids", aliexpresssim.Config{OrderIDsOnly: true, ChildrenWithoutProductID: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			_, nc := natstest.Connect(t)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
				t.Fatal(err)
			}
			store, err := app.OpenStore(ctx, js, 1)
			if err != nil {
				t.Fatal(err)
			}
			clock := aliexpresssim.NewClock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
			cfg := tc.sim
			cfg.Now, cfg.TokenTTL, cfg.VisibleAfter = clock.Now, 365*24*time.Hour, 10*time.Second
			sim := aliexpresssim.New(cfg)
			sim.AddApp("app", "secret")
			tok, _ := sim.IssueToken("app", "buyer")
			// Seller 9000 sells the mug; seller 9001 the tee and the cap.
			for _, p := range []aliexpresssim.Product{
				{ID: "1005001000000001", SellerID: "9000", SKUs: []aliexpresssim.SKU{{ID: "12000037255569170", Attr: "14:200013901#White", Stock: 100, PriceCents: 350}}},
				{ID: "1005001000000002", SellerID: "9001", SKUs: []aliexpresssim.SKU{{ID: "12000040000000001", Attr: "5:361386", Stock: 100, PriceCents: 800}}},
				{ID: "1005001000000003", SellerID: "9001", SKUs: []aliexpresssim.SKU{{ID: "12000040000000002", Stock: 100, PriceCents: 500}}},
			} {
				p.ShippingMethods = []string{"CAINIAO_STANDARD"}
				sim.AddProduct(p)
			}
			gw := httptest.NewServer(sim)
			t.Cleanup(gw.Close)
			api := aeapi.New(aeapi.Config{BaseURL: gw.URL, AppKey: "app", AppSecret: "secret", AccessToken: tok.AccessToken, Now: clock.Now,
				HTTP: client.New(client.Config{Logger: quiet, MaxAttempts: 1})})
			pub := &recorder{next: bus.NewPublisher(js, bus.PublisherConfig{})}
			placer := app.NewPlacer(api, store, pub, clock.Now, 5, quiet).ReadBackAfter(20 * time.Second)

			env := &eventsv1.Envelope{EventId: "cmd-1", OrderId: "shopify:acme:1001",
				Event: &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{
					RequestId: "req-1",
					Items: []*eventsv1.SupplierItem{
						{LineItemId: "li-tee", ProductId: "1005001000000002", SkuAttr: "5:361386", ShippingMethod: "CAINIAO_STANDARD", Quantity: 2},
						{LineItemId: "li-mug", ProductId: "1005001000000001", SkuAttr: "14:200013901#White", ShippingMethod: "CAINIAO_STANDARD", Quantity: 1},
						{LineItemId: "li-cap", ProductId: "1005001000000003", ShippingMethod: "CAINIAO_STANDARD", Quantity: 3},
					},
					ShippingAddress: &eventsv1.Address{FullName: "A B", Address1: "1 St", City: "Lisboa", Province: "Lisboa", Zip: "1100",
						CountryCode: "PT", Phone: "+351912345678"},
				}}}

			// The last delivery, orders not visible yet: later, not dead.
			err = placer.Handle(ctx, &bus.Message{Envelope: env, Deliveries: 5, Last: true})
			if d, later := bus.RetryLaterDelay(err); !later || d != 20*time.Second || bus.IsPermanent(err) {
				t.Fatalf("Handle before the orders are visible = %v, want RetryLater(20s)", err)
			}
			if n := len(sim.Orders()); n != 2 {
				t.Fatalf("%d AliExpress orders, want 2 (one per seller)", n)
			}
			if len(pub.events()) != 0 || len(store.Open()) != 0 {
				t.Fatalf("published %d, tracked %d before the lines were known", len(pub.events()), len(store.Open()))
			}

			clock.Advance(11 * time.Second)
			if err := placer.Handle(ctx, &bus.Message{Envelope: env, Deliveries: 6, Last: true}); err != nil {
				t.Fatalf("Handle once visible = %v", err)
			}
			if n := len(sim.Orders()); n != 2 {
				t.Fatalf("%d AliExpress orders after the redelivery, want still 2", n)
			}
			evs := pub.events()
			if len(evs) != 1 || evs[0].GetSupplierOrderPlaced() == nil {
				t.Fatalf("published %v, want one SupplierOrderPlaced", evs)
			}
			holds := map[string][]string{} // ae order -> lines
			for _, o := range evs[0].GetSupplierOrderPlaced().GetOrders() {
				for _, l := range o.GetLines() {
					holds[o.GetSupplierOrderId()] = append(holds[o.GetSupplierOrderId()], fmt.Sprintf("%s x%d", l.GetLineItemId(), l.GetQuantity()))
				}
			}
			var mugOrder, teeOrder int64
			for _, o := range sim.Orders() {
				for _, c := range o.Children {
					switch c.ProductID {
					case "1005001000000001":
						mugOrder = o.ID
					case "1005001000000002":
						teeOrder = o.ID
					}
				}
			}
			if got := holds[strconv.FormatInt(mugOrder, 10)]; fmt.Sprint(got) != "[li-mug x1]" {
				t.Errorf("mug order %d holds %v", mugOrder, got)
			}
			if got := holds[strconv.FormatInt(teeOrder, 10)]; fmt.Sprint(got) != "[li-tee x2 li-cap x3]" {
				t.Errorf("tee order %d holds %v", teeOrder, got)
			}
			tr, ok := store.Get(strconv.FormatInt(teeOrder, 10))
			if !ok || len(tr.Lines) != 2 || tr.Lines[0].SkuID != "12000040000000001" || tr.Lines[1].SkuID != "12000040000000002" {
				t.Fatalf("tracked tee order %+v, want both lines with their SKU ids", tr)
			}

			// Seller 9001 cannot supply the caps: the cancellation names li-cap.
			if err := sim.Pay(teeOrder); err != nil {
				t.Fatal(err)
			}
			if err := sim.CancelItem(teeOrder, "1005001000000003"); err != nil {
				t.Fatal(err)
			}
			budget, err := app.OpenBudget(ctx, store, "default", 1000, clock.Now, quiet)
			if err != nil {
				t.Fatal(err)
			}
			syncer := app.NewSyncer(api, store, pub, budget, clock.Now, app.SyncConfig{Schedule: domain.DefaultSchedule(), SweepShare: 0.5,
				MaxBackoff: time.Hour, Quota: domain.QuotaRule{Daily: 10, Interval: 10 * time.Minute}}, quiet)
			clock.Advance(time.Minute)
			if _, err := syncer.PollDue(ctx); err != nil {
				t.Fatal(err)
			}
			var canceled []string
			for _, e := range pub.events() {
				if c := e.GetSupplierOrderCanceled(); c != nil {
					if c.GetSupplierOrderId() != strconv.FormatInt(teeOrder, 10) {
						t.Errorf("cancellation of order %s", c.GetSupplierOrderId())
					}
					for _, l := range c.GetLines() {
						canceled = append(canceled, l.GetLineItemId())
					}
				}
			}
			if fmt.Sprint(canceled) != "[li-cap]" {
				t.Errorf("canceled lines %v, want [li-cap]", canceled)
			}
		})
	}
}
