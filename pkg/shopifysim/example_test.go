package shopifysim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/dropsync/dropsync/pkg/shopifysim"
)

// A shop with one order; the app reads its fulfillment orders over GraphQL
// and receives the signed orders/create webhook.
func Example() {
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ok := r.Header.Get(shopifysim.HeaderHmac) == shopifysim.Sign("app-secret", body)
		fmt.Println("webhook", r.Header.Get(shopifysim.HeaderTopic), "signed:", ok)
	}))
	defer hooks.Close()

	sim := shopifysim.New(shopifysim.Config{Seed: 1})
	defer sim.Close()
	_ = sim.AddShop(shopifysim.ShopConfig{Domain: "demo.myshopify.com", AccessToken: "shpat_x", AppSecret: "app-secret", WebhookURL: hooks.URL})
	api := httptest.NewServer(sim)
	defer api.Close()

	o, _ := sim.CreateOrder("demo.myshopify.com", shopifysim.NewOrder{Lines: []shopifysim.NewLine{{Title: "Mug", Quantity: 2, Price: "9.95"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = sim.WaitWebhooks(ctx)

	q, _ := json.Marshal(map[string]any{
		"query":     `query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes { status lineItems(first: 10) { nodes { remainingQuantity } } } } } }`,
		"variables": map[string]any{"id": fmt.Sprintf("gid://shopify/Order/%d", o.ID)},
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api.URL+"/demo.myshopify.com/admin/api/2025-10/graphql.json", bytes.NewReader(q))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", "shpat_x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	fmt.Println(string(out.Data))
	// Output:
	// webhook orders/create signed: true
	// {"order":{"fulfillmentOrders":{"nodes":[{"status":"OPEN","lineItems":{"nodes":[{"remainingQuantity":2}]}}]}}}
}
