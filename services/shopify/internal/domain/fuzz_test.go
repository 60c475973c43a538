package domain_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dropsync/dropsync/services/shopify/internal/domain"
)

// FuzzWebhook feeds arbitrary bodies to every webhook body decoder. None
// may panic; each is deterministic; an order it accepts is valid and maps
// to events (its facts included) without a panic, and every fact names
// the order's id. The seed corpus is the connector's webhook testdata.
func FuzzWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "ports", "testdata", "webhooks", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"9007199254740993","updated_at":"2026-11-20T04:00:00Z","line_items":[{"id":1,"quantity":"2"}]}`))
	f.Add([]byte(`{"admin_graphql_api_id":"gid://shopify/Order/1","updated_at":"2026-11-20T04:00:00Z","total_price":19.9,"currency":"EUR"}`))
	f.Add([]byte(`{"id":1,"order_id":2,"status":"cancelled","line_items":{"id":3,"quantity":1}}`))
	f.Add([]byte(`null`))
	store := domain.Store{Slug: "demo", Domain: "demo.myshopify.com"}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := domain.ParseOrder(body)
		o2, err2 := domain.ParseOrder(body)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(o, o2) {
			t.Fatal("ParseOrder is not deterministic")
		}
		if err == nil {
			if err := o.Validate(); err != nil {
				t.Fatalf("accepted an invalid order: %v", err)
			}
			if !domain.ValidID(o.ID) {
				t.Fatalf("accepted order id %q", o.ID)
			}
			for _, kind := range []string{domain.KindCreated, domain.KindPaid, domain.KindUpdated, domain.KindCanceled} {
				snap, err := store.OrderEvent(kind, "e", o)
				if err != nil {
					continue // an amount that is not a decimal of its currency
				}
				envs, err := store.Facts(nil, o)
				if err != nil {
					continue
				}
				for _, e := range append(envs, snap) {
					if e.GetOrderId() != "shopify:demo:"+o.ID || e.GetEventId() == "" {
						t.Fatalf("event %v for order %s", e, o.ID)
					}
				}
			}
		}
		if orderID, fl, err := domain.ParseFulfillment(body); err == nil {
			if orderID == "" || fl.ID == "" {
				t.Fatalf("fulfillment accepted without ids: %q %q", orderID, fl.ID)
			}
			_, _ = store.FulfillmentEvent(orderID, fl)
			_, _ = store.TrackingChangedEvent(orderID, fl)
		}
		if orderID, r, err := domain.ParseRefund(body); err == nil {
			if orderID == "" || r.ID == "" {
				t.Fatalf("refund accepted without ids: %q %q", orderID, r.ID)
			}
			_, _ = store.RefundedEvent(orderID, "EUR", r)
		}
		if orderID, err := domain.ParseOrderEdit(body); err == nil && orderID == "" {
			t.Fatal("order edit accepted without an order id")
		}
	})
}
