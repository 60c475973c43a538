package admin_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/internal/adapters/admin"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

const shop = "demo.myshopify.com"

func setup(t *testing.T, sc shopifysim.ShopConfig) (*shopifysim.Sim, *admin.Client, *stores.Store) {
	t.Helper()
	sim := shopifysim.New(shopifysim.Config{Seed: 1})
	t.Cleanup(sim.Close)
	sc.Domain, sc.AccessToken, sc.AppSecret, sc.Currency = shop, "shpat_x", "whsec", "EUR"
	if err := sim.AddShop(sc); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	st := &stores.Store{Slug: "demo", Domain: shop, AccessToken: config.NewSecret("shpat_x")}
	api := admin.New(admin.Config{BaseURL: srv.URL + "/{shop}", Version: "2025-10", HTTP: admin.NewHTTP(client.Config{BaseBackoff: 10 * time.Millisecond})})
	return sim, api, st
}

// TestSnapshotsAgree reads one order both ways, from its last webhook body
// (REST) and from the GraphQL API, after edits, a refund and a fulfilment:
// the events must be identical, or reconciliation would look like a change
// made by hand.
func TestSnapshotsAgree(t *testing.T) {
	sim, api, st := setup(t, shopifysim.ShopConfig{})
	o, err := sim.CreateOrder(shop, shopifysim.NewOrder{
		Email:    "customer@example.com",
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "Example", Address1: "1 Rua", City: "Lisboa", Zip: "1000-001", CountryCode: "PT", Country: "Portugal", Phone: "+351 1"},
		Lines: []shopifysim.NewLine{
			{Title: "Mug", SKU: "MUG", Quantity: 2, Price: "9.95"},
			{Title: "Tee", SKU: "TEE", Quantity: 1, Price: "19.90"},
			{Title: "Cap", Quantity: 3, Price: "5.00"},
		},
		Paid: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	mug, tee, capLine := o.Lines[0].ID, o.Lines[1].ID, o.Lines[2].ID
	if err := sim.EditQuantity(shop, o.ID, capLine, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Refund(shop, o.ID, map[int64]int{mug: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.FulfillByMerchant(shop, o.ID, map[int64]int{tee: 1}, []shopifysim.Tracking{{Company: "Cainiao", Number: "LP1"}}, false); err != nil {
		t.Fatal(err)
	}

	var body []byte
	for _, d := range sim.Deliveries() {
		if d.Topic == "orders/updated" {
			body = d.Body
		}
	}
	rest, err := domain.ParseOrder(body)
	if err != nil {
		t.Fatal(err)
	}
	graph, err := api.Order(context.Background(), st, itoa(o.ID))
	if err != nil {
		t.Fatal(err)
	}
	ref := st.Ref()
	a, err := ref.Reconciled(rest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ref.Reconciled(graph)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || len(a) != len(b) { // snapshot, fulfilment, refund
		t.Fatalf("%d events from REST, %d from GraphQL, want 3", len(a), len(b))
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			t.Errorf("event %d differs:\nREST    %v\nGraphQL %v", i, a[i], b[i])
		}
	}
	so := a[0].GetStoreOrderUpdated().GetOrder()
	want := map[string]int32{itoa(mug): 2, itoa(tee): 1, itoa(capLine): 2} // refunded stays in, the edit does not
	for _, l := range so.GetLineItems() {
		if want[l.GetId()] != l.GetQuantity() {
			t.Errorf("line %s quantity %d, want %d", l.GetId(), l.GetQuantity(), want[l.GetId()])
		}
	}
	if so.GetFulfillmentStatus() != "partial" || so.GetFinancialStatus() != "partially_refunded" || !so.GetPaymentCaptured() {
		t.Errorf("statuses %q %q %v", so.GetFulfillmentStatus(), so.GetFinancialStatus(), so.GetPaymentCaptured())
	}
}

func TestFulfilmentStateAndCreate(t *testing.T) {
	sim, api, st := setup(t, shopifysim.ShopConfig{})
	ctx := context.Background()
	o, err := sim.CreateOrder(shop, shopifysim.NewOrder{Lines: []shopifysim.NewLine{{Title: "Mug", Quantity: 2, Price: "9.95"}}, Paid: true})
	if err != nil {
		t.Fatal(err)
	}
	state, err := api.FulfilmentState(ctx, st, itoa(o.ID))
	if err != nil {
		t.Fatal(err)
	}
	alloc, short := domain.Allocate(state.FulfillmentOrders, []*eventsv1.LineQuantity{{LineItemId: itoa(o.Lines[0].ID), Quantity: 3}})
	if len(alloc) != 1 || alloc[0].Lines[0].Quantity != 2 || len(short) != 1 || short[0].Quantity != 1 {
		t.Fatalf("alloc %+v short %+v", alloc, short)
	}
	tracking := domain.TrackingInput{Company: "Cainiao", Numbers: []string{"LP1"}}
	fid, err := api.CreateFulfillment(ctx, st, alloc, tracking, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateFulfillment(ctx, st, alloc, tracking, true); err == nil || !isRefused(err) {
		t.Fatalf("second create: %v, want a refusal (userErrors)", err)
	}
	state, err = api.FulfilmentState(ctx, st, itoa(o.ID))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := domain.Existing(state.Fulfillments, []string{"LP1"}); !ok || f.ID != fid {
		t.Fatalf("existing fulfilment not found by tracking: %+v", state.Fulfillments)
	}
	if err := api.UpdateTracking(ctx, st, fid, domain.TrackingInput{Company: "4PX", Numbers: []string{"4PX1"}}, false); err != nil {
		t.Fatal(err)
	}
	if u := sim.TrackingUpdates(); len(u) != 1 || u[0].Tracking[0].Number != "4PX1" || u[0].NotifyCustomer {
		t.Fatalf("tracking updates %+v", u)
	}
	if _, err := api.Order(ctx, st, "1"); err == nil {
		t.Fatal("unknown order: no error")
	}
}

func TestChangedSince(t *testing.T) {
	sim, api, st := setup(t, shopifysim.ShopConfig{})
	start := time.Now().Add(-time.Minute)
	var ids []string
	for range 3 {
		o, err := sim.CreateOrder(shop, shopifysim.NewOrder{Lines: []shopifysim.NewLine{{Title: "Mug", Quantity: 1, Price: "1.00"}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, itoa(o.ID))
	}

	page, err := api.ChangedSince(context.Background(), st, start, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Orders) != 3 || page.Next != "" {
		t.Fatalf("page %+v", page)
	}
	for i, o := range page.Orders {
		if o.ID != ids[i] || o.UpdatedAt.IsZero() {
			t.Fatalf("page order %d is %+v, want %s", i, o, ids[i])
		}
	}
	page, err = api.ChangedSince(context.Background(), st, time.Now().Add(time.Hour), "")
	if err != nil || len(page.Orders) != 0 {
		t.Fatalf("future: %+v %v", page, err)
	}
}

func isRefused(err error) bool { return errors.Is(err, domain.ErrRefused) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
