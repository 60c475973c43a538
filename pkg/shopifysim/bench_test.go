package shopifysim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/shopifysim"
)

// The Shopify connector's operations (services/shopify/internal/adapters/
// admin), as it sends them.
const (
	benchOrderQuery = `query Order($id: ID!) {
  order(id: $id) {
    id legacyResourceId name email createdAt updatedAt cancelledAt cancelReason
    displayFinancialStatus displayFulfillmentStatus currencyCode
    currentTotalPriceSet { shopMoney { amount currencyCode } }
    shippingAddress { firstName lastName address1 address2 city province zip countryCodeV2 phone }
    lineItems(first: 50) {
      pageInfo { hasNextPage }
      nodes { id sku title quantity currentQuantity variant { id } product { id } originalUnitPriceSet { shopMoney { amount } } }
    }
    fulfillments(first: 6) {
      legacyResourceId status createdAt
      trackingInfo(first: 3) { company number url }
      fulfillmentLineItems(first: 20) { pageInfo { hasNextPage } nodes { quantity lineItem { id } } }
    }
    refunds(first: 6) {
      legacyResourceId createdAt totalRefundedSet { shopMoney { amount currencyCode } }
      refundLineItems(first: 20) { pageInfo { hasNextPage } nodes { quantity lineItem { id } } }
    }
  }
}`
	benchStateQuery = `query FulfilmentState($id: ID!) {
  order(id: $id) {
    id
    cancelledAt
    fulfillments(first: 20) { legacyResourceId status trackingInfo(first: 5) { company number url } }
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } } }
    }
  }
}`
	benchChangedQuery = `query Changed($query: String!, $after: String) {
  orders(first: 100, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId updatedAt }
  }
}`
	benchCreateMutation = `mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id legacyResourceId status trackingInfo { company number url } }
    userErrors { field message }
  }
}`
	benchTrackingMutation = `mutation TrackingUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) {
    fulfillment { id }
    userErrors { field message }
  }
}`
)

// BenchmarkConnectorOperations parses, validates and executes the
// connector's five operations (one op is all five) against a shop with a
// partly fulfilled, refunded order: the whole request path in process,
// JSON in and out. "cached" is the connector's case, the same operation
// texts again and again; "uncached" parses and validates every request.
// The mutations are refused with userErrors (an unknown fulfillment order,
// an unknown fulfilment), so the shop does not change between iterations.
// Besides ns/op it reports cpu-ns/op, the process's CPU time per op,
// steadier than wall time on a machine shared with other work.
func BenchmarkConnectorOperations(b *testing.B) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { // a second a call: the bucket stays full
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	sim := shopifysim.New(shopifysim.Config{Now: clock})
	b.Cleanup(sim.Close)
	if err := sim.AddShop(shopifysim.ShopConfig{Domain: shop, AccessToken: token, AppSecret: secret, RestoreRate: 1000}); err != nil {
		b.Fatal(err)
	}
	o, err := sim.CreateOrder(shop, shopifysim.NewOrder{
		Email:    "ada@example.com",
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "L", Address1: "1 Rua", City: "Lisbon", Zip: "1000-001", Country: "Portugal", CountryCode: "PT"},
		Lines: []shopifysim.NewLine{
			{Title: "Mug", SKU: "MUG-1", Quantity: 2, Price: "9.95"},
			{Title: "Tee", SKU: "TEE-1", Quantity: 1, Price: "19.90"},
			{Title: "Cap", SKU: "CAP-1", Quantity: 3, Price: "12.00"},
		},
		Paid: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sim.FulfillByMerchant(shop, o.ID, map[int64]int{o.Lines[0].ID: 2}, []shopifysim.Tracking{{Company: "UPS", Number: "1Z1", URL: "https://ups.example/1Z1"}}, false); err != nil {
		b.Fatal(err)
	}
	if _, err := sim.Refund(shop, o.ID, map[int64]int{o.Lines[1].ID: 1}); err != nil {
		b.Fatal(err)
	}
	orderID := "gid://shopify/Order/" + strconv.FormatInt(o.ID, 10)
	ops := []struct {
		query string
		vars  map[string]any
	}{
		{benchOrderQuery, map[string]any{"id": orderID}},
		{benchStateQuery, map[string]any{"id": orderID}},
		{benchChangedQuery, map[string]any{"query": "updated_at:>='2026-01-01T00:00:00Z'"}},
		{benchCreateMutation, map[string]any{"fulfillment": map[string]any{
			"lineItemsByFulfillmentOrder": []any{map[string]any{
				"fulfillmentOrderId":        "gid://shopify/FulfillmentOrder/999999",
				"fulfillmentOrderLineItems": []any{map[string]any{"id": "gid://shopify/FulfillmentOrderLineItem/1", "quantity": 1}},
			}},
			"trackingInfo":   map[string]any{"company": "UPS", "number": "1Z2"},
			"notifyCustomer": true,
		}}},
		{benchTrackingMutation, map[string]any{
			"fulfillmentId":     "gid://shopify/Fulfillment/999999",
			"trackingInfoInput": map[string]any{"company": "UPS", "number": "1Z3", "url": "https://ups.example/1Z3"},
			"notifyCustomer":    false,
		}},
	}
	bodies := make([][]byte, len(ops))
	for i, op := range ops {
		bodies[i], _ = json.Marshal(map[string]any{"query": op.query, "variables": op.vars})
	}
	path := "/" + shop + "/admin/api/2025-10/graphql.json"
	call := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", token)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		return w
	}
	for i, body := range bodies { // each operation succeeds before timing
		w := call(body)
		var r struct {
			Errors []any `json:"errors"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || w.Code != http.StatusOK || len(r.Errors) > 0 {
			b.Fatalf("operation %d: %d %s", i, w.Code, w.Body)
		}
	}
	for _, bc := range []struct {
		name  string
		reset func()
	}{
		{"cached", func() {}},                  // the connector's case: the same few operations
		{"uncached", shopifysim.ResetDocCache}, // every request parsed and validated
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() { // one op: the five operations
				for _, body := range bodies {
					bc.reset()
					call(body)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
