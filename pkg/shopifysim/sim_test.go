package shopifysim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/shopifysim"
)

const (
	shop   = "demo.myshopify.com"
	token  = "shpat_test"
	secret = "app-secret"
)

type fixture struct {
	t   *testing.T
	sim *shopifysim.Sim
	srv *httptest.Server
}

func newFixture(t *testing.T, cfg shopifysim.Config, sc shopifysim.ShopConfig) *fixture {
	t.Helper()
	sim := shopifysim.New(cfg)
	t.Cleanup(sim.Close)
	sc.Domain, sc.AccessToken, sc.AppSecret = shop, token, secret
	if err := sim.AddShop(sc); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv}
}

type gqlResponse struct {
	status     int
	header     http.Header
	Data       map[string]any   `json:"data"`
	Errors     []map[string]any `json:"errors"`
	Extensions map[string]any   `json:"extensions"`
}

func (f *fixture) call(tok, query string, vars map[string]any) gqlResponse {
	f.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, f.srv.URL+"/"+shop+"/admin/api/2025-10/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("X-Shopify-Access-Token", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			f.t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return out
}

func (f *fixture) order(paid bool) shopifysim.Order {
	f.t.Helper()
	o, err := f.sim.CreateOrder(shop, shopifysim.NewOrder{
		Email:    "ada@example.com",
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "L", Address1: "1 Rua", City: "Lisbon", Zip: "1000-001", Country: "Portugal", CountryCode: "PT"},
		Lines: []shopifysim.NewLine{
			{Title: "Mug", SKU: "MUG-1", Quantity: 2, Price: "9.95"},
			{Title: "Tee", SKU: "TEE-1", Quantity: 1, Price: "19.90"},
		},
		Paid: paid,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

const foQuery = `query FO($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 10) { nodes { id remainingQuantity lineItem { id } } } } }
  }
}`

const createMutation = `mutation Create($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}`

func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestAuth(t *testing.T) {
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{})
	for name, tok := range map[string]string{"missing": "", "wrong": "shpat_other"} {
		t.Run(name, func(t *testing.T) {
			if r := f.call(tok, `{ shop { name } }`, nil); r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.status)
			}
		})
	}
	if r := f.call(token, `{ shop { myshopifyDomain } }`, nil); r.status != 200 || dig(r.Data, "shop", "myshopifyDomain") != shop {
		t.Fatalf("authorised call: %d %v %v", r.status, r.Data, r.Errors)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{})
	cases := []struct{ name, query, code string }{
		{"unknown field", `{ shop { nope } }`, "undefinedField"},
		{"no selection on object", `{ shop }`, "selectionMismatch"},
		{"selection on scalar", `{ shop { name { x } } }`, "selectionMismatch"},
		{"connection without first", `{ orders { nodes { id } } }`, "missingRequiredArguments"},
		{"unknown argument", `{ orders(first: 1, bogus: 2) { nodes { id } } }`, "argumentNotAccepted"},
		{"missing required argument", `{ order { id } }`, "missingRequiredArguments"},
		{"bad enum", `{ orders(first: 1, sortKey: NEWEST) { nodes { id } } }`, "argumentLiteralsIncompatible"},
		{"undeclared variable", `query { order(id: $id) { id } }`, "variableNotDefined"},
		{"undefined fragment", `{ shop { ...F } }`, "useAndDefineFragment"},
		{"fragment on the wrong type", `{ shop { ...F } } fragment F on Order { id }`, "cannotSpreadFragment"},
		{"unknown directive", `{ shop { name @nope } }`, "undefinedDirective"},
		{"unsupported directive", `{ shop { ... @defer { name } } }`, "directiveNotSupported"},
		{"unused variable", `query($id: ID!) { shop { name } }`, "variableNotUsed"},
		{"variable type mismatch", `query($id: String!) { order(id: $id) { id } }`, "variableMismatch"},
		{"field conflict", `{ shop { x: name x: id } }`, "fieldConflict"},
		{"subscription", `subscription { shop { name } }`, "missingSubscriptionConfiguration"},
		{"introspection", `{ __schema { queryType { name } } }`, "undefinedField"},
		{"syntax", `{ shop { name }`, "parseError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.call(token, c.query, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("no error; data %v", r.Data)
			}
			if got := dig(r.Errors[0], "extensions", "code"); got != c.code {
				t.Fatalf("code %v, want %s (%v)", got, c.code, r.Errors[0]["message"])
			}
		})
	}
	r := f.call(token, createMutation, map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": []any{map[string]any{"fulfillmentOrderId": "x", "bogus": 1}}}})
	if len(r.Errors) == 0 || dig(r.Errors[0], "extensions", "code") != "INVALID_VARIABLE" {
		t.Fatalf("unknown input field: %v", r.Errors)
	}
	r = f.call(token, `query($id: ID!) { order(id: $id) { id } }`, nil)
	if len(r.Errors) == 0 || dig(r.Errors[0], "extensions", "code") != "INVALID_VARIABLE" {
		t.Fatalf("missing required variable: %v", r.Errors)
	}
}

// Fragments, @skip and @include are GraphQL the simulator accepts (the
// connector does not send them): fields are collected and merged as the
// spec says, and cost what the same fields written out would.
func TestFragmentsAndDirectives(t *testing.T) {
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{})
	o := f.order(true)
	vars := map[string]any{"id": "gid://shopify/Order/" + itoa(o.ID), "withLines": true, "noName": true}
	plain := f.call(token, `query($id: ID!) { order(id: $id) { id email lineItems(first: 5) { nodes { id sku } } } }`, vars)
	frag := f.call(token, `query Q($id: ID!, $withLines: Boolean!, $noName: Boolean!) {
	  order(id: $id) {
	    ...Ids
	    ... on Order { email name @skip(if: $noName) }
	    lineItems(first: 5) @include(if: $withLines) { nodes { id } }
	    lineItems(first: 5) { nodes { ...Line } }
	    fulfillments(first: 1) @include(if: false) { id }
	  }
	}
	fragment Ids on Order { id }
	fragment Line on LineItem { sku }`, vars)
	for _, r := range []gqlResponse{plain, frag} {
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
	}
	a, _ := json.Marshal(plain.Data)
	b, _ := json.Marshal(frag.Data)
	if string(a) != string(b) {
		t.Fatalf("with fragments\n got %s\nwant %s", b, a)
	}
	if p, q := dig(plain.Extensions, "cost", "requestedQueryCost"), dig(frag.Extensions, "cost", "requestedQueryCost"); p != q {
		t.Fatalf("requested cost %v with fragments, %v without", q, p)
	}
}

// The connector's operations cost what Shopify charges for them (the
// connector's admin adapter budgets with these numbers).
func TestConnectorQueryCosts(t *testing.T) {
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{})
	o := f.order(true)
	id := map[string]any{"id": "gid://shopify/Order/" + itoa(o.ID)}
	for _, c := range []struct {
		name  string
		query string
		vars  map[string]any
		want  float64
	}{
		{"order", benchOrderQuery, id, 802},
		{"fulfilment state", benchStateQuery, id, 638}, // the connector budgets 640
		{"changed orders", benchChangedQuery, map[string]any{"query": "updated_at:>='2026-01-01T00:00:00Z'"}, 102},
		{"fulfillmentCreate", benchCreateMutation, map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": []any{}}}, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.call(token, c.query, c.vars)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if got := dig(r.Extensions, "cost", "requestedQueryCost"); got != c.want {
				t.Fatalf("requested cost %v, want %v", got, c.want)
			}
		})
	}
}

func TestFulfillmentFlow(t *testing.T) {
	var mu sync.Mutex
	var topics []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if got := r.Header.Get(shopifysim.HeaderHmac); got != shopifysim.Sign(secret, body) {
			t.Errorf("bad hmac on %s", r.Header.Get(shopifysim.HeaderTopic))
		}
		for _, h := range []string{shopifysim.HeaderShopDomain, shopifysim.HeaderAPIVersion, shopifysim.HeaderWebhookID, shopifysim.HeaderEventID, shopifysim.HeaderTriggeredAt} {
			if r.Header.Get(h) == "" {
				t.Errorf("missing %s", h)
			}
		}
		mu.Lock()
		topics = append(topics, r.Header.Get(shopifysim.HeaderTopic))
		mu.Unlock()
	}))
	defer hook.Close()
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{WebhookURL: hook.URL})
	o := f.order(true)

	r := f.call(token, foQuery, map[string]any{"id": "gid://shopify/Order/" + itoa(o.ID)})
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	fo := dig(r.Data, "order", "fulfillmentOrders", "nodes", 0)
	if dig(fo, "status") != "OPEN" {
		t.Fatalf("fulfillment order %v", fo)
	}
	foID := dig(fo, "id").(string)
	mugFOLine := dig(fo, "lineItems", "nodes", 0, "id").(string)
	if dig(fo, "lineItems", "nodes", 0, "lineItem", "id") != "gid://shopify/LineItem/"+itoa(o.Lines[0].ID) {
		t.Fatalf("line item ref %v", dig(fo, "lineItems", "nodes", 0))
	}
	if c := dig(r.Extensions, "cost", "requestedQueryCost"); c == nil || c.(float64) <= 0 {
		t.Fatalf("no cost: %v", r.Extensions)
	}

	input := func(qty int) map[string]any {
		return map[string]any{"fulfillment": map[string]any{
			"lineItemsByFulfillmentOrder": []any{map[string]any{
				"fulfillmentOrderId":        foID,
				"fulfillmentOrderLineItems": []any{map[string]any{"id": mugFOLine, "quantity": qty}},
			}},
			"trackingInfo":   map[string]any{"company": "Cainiao", "number": "LP001"},
			"notifyCustomer": true,
		}}
	}
	over := f.call(token, createMutation, input(3))
	if msg := dig(over.Data, "fulfillmentCreate", "userErrors", 0, "message"); msg != "Invalid fulfillment order line item quantity requested." {
		t.Fatalf("over-fulfilment: %v", over.Data)
	}
	ok := f.call(token, createMutation, input(2))
	if errs := dig(ok.Data, "fulfillmentCreate", "userErrors").([]any); len(errs) > 0 {
		t.Fatalf("create: %v", errs)
	}
	if dig(ok.Data, "fulfillmentCreate", "fulfillment", "trackingInfo", 0, "number") != "LP001" {
		t.Fatalf("tracking: %v", ok.Data)
	}
	again := f.call(token, createMutation, input(1))
	if dig(again.Data, "fulfillmentCreate", "userErrors", 0, "message") == nil {
		t.Fatalf("fulfilling a fulfilled line was accepted: %v", again.Data)
	}
	unknown := f.call(token, createMutation, map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": []any{map[string]any{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1"}}}})
	if dig(unknown.Data, "fulfillmentCreate", "userErrors", 0, "message") != "Fulfillment order does not exist." {
		t.Fatalf("unknown fulfillment order: %v", unknown.Data)
	}
	// The rest of the order closes the fulfillment order.
	rest := f.call(token, createMutation, map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": []any{map[string]any{"fulfillmentOrderId": foID}}}})
	if errs := dig(rest.Data, "fulfillmentCreate", "userErrors").([]any); len(errs) > 0 {
		t.Fatalf("rest: %v", errs)
	}
	closed := f.call(token, createMutation, map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": []any{map[string]any{"fulfillmentOrderId": foID}}}})
	if msg, _ := dig(closed.Data, "fulfillmentCreate", "userErrors", 0, "message").(string); !strings.Contains(msg, "unfulfillable status= closed") {
		t.Fatalf("closed fulfillment order: %v", closed.Data)
	}

	fs, _ := f.sim.Fulfillments(shop)
	if len(fs) != 2 || !fs[0].NotifyCustomer || fs[0].Lines[o.Lines[0].ID] != 2 || !fs[0].ByApp {
		t.Fatalf("fulfillments %+v", fs)
	}
	if n := f.sim.Notifications(); len(n) != 1 || n[0].Kind != "shipping_confirmation" {
		t.Fatalf("notifications %+v", n)
	}
	got, _ := f.sim.Order(shop, o.ID)
	if got.Fulfillment != "fulfilled" {
		t.Fatalf("order fulfillment status %q", got.Fulfillment)
	}
	if err := f.sim.Cancel(shop, o.ID, "customer"); err == nil {
		t.Fatal("cancelling a fulfilled order was allowed")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"orders/create", "orders/paid", "fulfillments/create", "orders/partially_fulfilled", "orders/updated", "fulfillments/create", "orders/fulfilled", "orders/updated"}
	if strings.Join(topics, " ") != strings.Join(want, " ") {
		t.Fatalf("topics\n got %v\nwant %v", topics, want)
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{MaximumAvailable: 30, RestoreRate: 1})
	o := f.order(true)
	vars := map[string]any{"id": "gid://shopify/Order/" + itoa(o.ID)}
	q := `query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 2) { nodes { id lineItems(first: 5) { nodes { id } } } } } }`
	first := f.call(token, q, vars)
	if len(first.Errors) > 0 {
		t.Fatal(first.Errors)
	}
	var throttled gqlResponse
	for range 5 {
		throttled = f.call(token, q, vars)
		if len(throttled.Errors) > 0 {
			break
		}
	}
	if dig(throttled.Errors[0], "extensions", "code") != "THROTTLED" || throttled.Data != nil {
		t.Fatalf("want THROTTLED, got %v", throttled.Errors)
	}
	ts := dig(throttled.Extensions, "cost", "throttleStatus").(map[string]any)
	if ts["maximumAvailable"].(float64) != 30 || ts["restoreRate"].(float64) != 1 {
		t.Fatalf("throttle status %v", ts)
	}
	if f.sim.Stats().Throttled == 0 {
		t.Fatal("throttled call not counted")
	}
	big := f.call(token, `{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }`, nil)
	if dig(big.Errors[0], "extensions", "code") != "MAX_COST_EXCEEDED" {
		t.Fatalf("want MAX_COST_EXCEEDED, got %v", big.Errors)
	}
}

func TestOrdersQuery(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, shopifysim.Config{Now: clock}, shopifysim.ShopConfig{})
	var ids []int64
	for range 5 {
		ids = append(ids, f.order(false).ID)
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
	}
	if err := f.sim.MarkPaid(shop, ids[0]); err != nil { // now the newest change
		t.Fatal(err)
	}
	q := `query($q: String, $after: String) { orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
	  pageInfo { hasNextPage endCursor } nodes { legacyResourceId updatedAt displayFinancialStatus } } }`
	var got []string
	var after any
	for {
		r := f.call(token, q, map[string]any{"q": "updated_at:>'2026-11-20T09:01:30Z'", "after": after})
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		for _, n := range dig(r.Data, "orders", "nodes").([]any) {
			got = append(got, dig(n, "legacyResourceId").(string))
		}
		if dig(r.Data, "orders", "pageInfo", "hasNextPage") != true {
			break
		}
		after = dig(r.Data, "orders", "pageInfo", "endCursor")
	}
	want := []string{itoa(ids[2]), itoa(ids[3]), itoa(ids[4]), itoa(ids[0])}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, shopifysim.Config{Seed: 7, Faults: shopifysim.Faults{TooManyRequests: 1, RetryAfter: 250 * time.Millisecond}}, shopifysim.ShopConfig{})
	r := f.call(token, `{ shop { name } }`, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "0.25" {
		t.Fatalf("status %d retry-after %q", r.status, r.header.Get("Retry-After"))
	}
	f.sim.SetFaults(shopifysim.Faults{ServerErrors: 1})
	if r := f.call(token, `{ shop { name } }`, nil); r.status < 500 {
		t.Fatalf("status %d, want 5xx", r.status)
	}
	// A lost response: the fulfilment exists, the client saw a 504.
	o := f.order(true)
	f.sim.SetFaults(shopifysim.Faults{LostResponses: 1})
	fo := f.sim.FulfillmentOrderIDs(shop, o.ID)
	r = f.call(token, createMutation, map[string]any{"fulfillment": map[string]any{"lineItemsByFulfillmentOrder": []any{map[string]any{"fulfillmentOrderId": fo[0]}}}})
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", r.status)
	}
	if fs, _ := f.sim.Fulfillments(shop); len(fs) != 1 {
		t.Fatalf("lost response: %d fulfillments, want 1", len(fs))
	}
}

func TestWebhookRetryAndFaults(t *testing.T) {
	var mu sync.Mutex
	fails := 2
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		got = append(got, r.Header.Get(shopifysim.HeaderEventID))
	}))
	defer hook.Close()
	f := newFixture(t, shopifysim.Config{Seed: 3}, shopifysim.ShopConfig{WebhookURL: hook.URL})
	f.order(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	d := f.sim.Deliveries()
	if len(d) != 1 || !d[0].Delivered || d[0].Attempts != 3 {
		t.Fatalf("deliveries %+v", d)
	}
	f.sim.SetFaults(shopifysim.Faults{DuplicateWebhooks: 1})
	f.order(false)
	f.sim.SetFaults(shopifysim.Faults{DropWebhooks: 1})
	f.order(false)
	if err := f.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[1] != got[2] {
		t.Fatalf("event ids %v: want the original, then a duplicate pair, and the dropped one missing", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The merchant cancels a fulfilment and changes another's tracking: the
// lines open again (the closed fulfillment order reopens, the order is no
// longer fulfilled), and each change sends fulfillments/update.
func TestMerchantFulfilmentChanges(t *testing.T) {
	f := newFixture(t, shopifysim.Config{}, shopifysim.ShopConfig{})
	o := f.order(true)
	all, err := f.sim.FulfillByMerchant(shop, o.ID, nil, []shopifysim.Tracking{{Company: "UPS", Number: "1Z1"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sim.UpdateTrackingByMerchant(shop, o.ID, all.ID, []shopifysim.Tracking{{Company: "UPS", Number: "1Z2"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.CancelFulfillment(shop, o.ID, all.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.CancelFulfillment(shop, o.ID, all.ID); err == nil {
		t.Fatal("cancelling a cancelled fulfilment was allowed")
	}
	if err := f.sim.UpdateTrackingByMerchant(shop, o.ID, all.ID, nil); err == nil {
		t.Fatal("tracking of a cancelled fulfilment was changed")
	}
	got, _ := f.sim.Order(shop, o.ID)
	if got.Fulfillment != "" || got.Lines[0].Fulfilled != 0 || got.Fulfillments[0].Status != "cancelled" || got.Fulfillments[0].Tracking[0].Number != "1Z2" {
		t.Fatalf("order after the cancel %+v", got)
	}
	r := f.call(token, foQuery, map[string]any{"id": "gid://shopify/Order/" + itoa(o.ID)})
	fo := dig(r.Data, "order", "fulfillmentOrders", "nodes", 0)
	if dig(fo, "status") == "CLOSED" || dig(fo, "lineItems", "nodes", 0, "remainingQuantity") != float64(2) {
		t.Fatalf("fulfillment order after the cancel %v", fo)
	}
	if _, err := f.sim.FulfillByMerchant(shop, o.ID, nil, nil, false); err != nil {
		t.Fatalf("fulfilling again after the cancel: %v", err)
	}
	var updates []string
	for _, d := range f.sim.Deliveries() {
		if d.Topic == "fulfillments/update" {
			var b struct {
				Status          string   `json:"status"`
				TrackingNumbers []string `json:"tracking_numbers"`
			}
			if err := json.Unmarshal(d.Body, &b); err != nil {
				t.Fatal(err)
			}
			updates = append(updates, b.Status+":"+strings.Join(b.TrackingNumbers, ","))
		}
	}
	if strings.Join(updates, " ") != "success:1Z2 cancelled:1Z2" {
		t.Fatalf("fulfillments/update bodies %v", updates)
	}
}
