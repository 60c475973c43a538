package wixsim_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/wixsim"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// key is one RSA key for every test (generating one takes a while).
func key(t testing.TB) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

const (
	siteID   = "5b1d7e0a-0000-4000-8000-000000000001"
	instance = "a0b1c2d3-0000-4000-8000-0000000000aa"
	token    = "OAUTH-TOKEN-1"
	apiKey   = "IST.api-key-1"
)

// newSim starts a simulator with one site behind an httptest server.
func newSim(t *testing.T, cfg wixsim.Config) (*wixsim.Sim, *httptest.Server) {
	t.Helper()
	cfg.PrivateKey = key(t)
	s, err := wixsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.AddSite(wixsim.Site{SiteID: siteID, InstanceID: instance, AccessToken: token, APIKey: apiKey}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func call(t *testing.T, srv *httptest.Server, method, path string, body any, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+wixsim.BasePath+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

var auth = map[string]string{"Authorization": token}

func order(t *testing.T, s *wixsim.Sim, lines ...int) wixsim.Order {
	t.Helper()
	var nl []wixsim.NewLine
	for i, q := range lines {
		nl = append(nl, wixsim.NewLine{Name: fmt.Sprint("item ", i), SKU: fmt.Sprint("SKU-", i), VariantID: fmt.Sprint("v", i), Quantity: q, Price: "9.90"})
	}
	o, err := s.CreateOrder(siteID, wixsim.NewOrder{Lines: nl, Email: "buyer@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestAuthentication(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{})
	o := order(t, s, 1)
	cases := []struct {
		name string
		hdr  map[string]string
		want int
		code string
	}{
		{"no header", nil, 401, wixsim.CodeUnauthenticated},
		{"unknown token", map[string]string{"Authorization": "nope"}, 401, wixsim.CodeUnauthenticated},
		{"bearer scheme", map[string]string{"Authorization": "Bearer " + token}, 401, wixsim.CodeUnauthenticated},
		{"api key without site", map[string]string{"Authorization": apiKey}, 403, wixsim.CodePermissionDenied},
		{"api key other site", map[string]string{"Authorization": apiKey, "wix-site-id": "other"}, 403, wixsim.CodePermissionDenied},
		{"token other site", map[string]string{"Authorization": token, "wix-site-id": "other"}, 403, wixsim.CodePermissionDenied},
		{"token", auth, 200, ""},
		{"api key with site", map[string]string{"Authorization": apiKey, "wix-site-id": siteID}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := call(t, srv, "GET", "/orders/"+o.ID, nil, tc.hdr)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if tc.code == "" {
				return
			}
			var eb wixsim.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil || eb.Message == "" || eb.Details.ApplicationError == nil || eb.Details.ApplicationError.Code != tc.code {
				t.Errorf("error body %s, want Wix's shape with code %s", body, tc.code)
			}
		})
	}
}

func TestRateLimitPerInstance(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{RateLimit: 5, RateWindow: 300 * time.Millisecond})
	o := order(t, s, 1)
	for i := range 5 {
		if st, _, b := call(t, srv, "GET", "/orders/"+o.ID, nil, auth); st != 200 {
			t.Fatalf("call %d: %d %s", i, st, b)
		}
	}
	st, h, _ := call(t, srv, "GET", "/orders/"+o.ID, nil, auth)
	if st != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("6th call: %d (Retry-After %q), want 429 with Retry-After", st, h.Get("Retry-After"))
	}
	time.Sleep(350 * time.Millisecond)
	if st, _, _ := call(t, srv, "GET", "/orders/"+o.ID, nil, auth); st != 200 {
		t.Fatalf("after the window: %d", st)
	}
	if got := s.Stats().RateLimited; got != 1 {
		t.Errorf("RateLimited = %d, want 1", got)
	}
}

func TestCreateFulfillment(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{})
	o := order(t, s, 2, 1)
	l0, l1 := o.LineItems[0].ID, o.LineItems[1].ID
	create := func(body any) (int, []byte) {
		st, _, b := call(t, srv, "POST", "/fulfillments/orders/"+o.ID+"/create-fulfillment", body, auth)
		return st, b
	}
	f := func(lines []map[string]any, tracking map[string]string) map[string]any {
		m := map[string]any{"lineItems": lines}
		if tracking != nil {
			m["trackingInfo"] = tracking
		}
		return map[string]any{"fulfillment": m}
	}
	line := func(id string, q int) []map[string]any { return []map[string]any{{"id": id, "quantity": q}} }
	steps := []struct {
		name string
		body any
		want int
		code string
	}{
		{"unknown line", f(line("nope", 1), nil), 400, wixsim.CodeLineItemNotFound},
		{"over-fulfilment", f(line(l0, 3), nil), 400, wixsim.CodeQuantityExceeded},
		{"custom provider without link", f(line(l0, 1), map[string]string{"trackingNumber": "T1", "shippingProvider": "Cainiao"}), 400, wixsim.CodeTrackingLinkNeeded},
		{"unknown field", map[string]any{"fulfillment": map[string]any{"lineItems": line(l0, 1), "notify": true}}, 400, ""},
		{"first unit, predefined provider", f(line(l0, 1), map[string]string{"trackingNumber": "T1", "shippingProvider": "fedex"}), 200, ""},
		{"same tracking again", f(line(l0, 1), map[string]string{"trackingNumber": "T1", "shippingProvider": "fedex"}), 409, wixsim.CodeAlreadyExists},
		{"second unit, custom provider", f(line(l0, 1), map[string]string{"trackingNumber": "T2", "shippingProvider": "Cainiao", "trackingLink": "https://t.example/T2"}), 200, ""},
		{"line done, other tracking", f(line(l0, 1), map[string]string{"trackingNumber": "T3", "shippingProvider": "ups"}), 409, wixsim.CodeAlreadyExists},
		{"no tracking", f(line(l1, 1), nil), 200, ""},
	}
	for _, step := range steps {
		st, b := create(step.body)
		if st != step.want {
			t.Fatalf("%s: status %d, want %d: %s", step.name, st, step.want, b)
		}
		if step.code != "" && !strings.Contains(string(b), `"code":"`+step.code+`"`) {
			t.Errorf("%s: body %s, want code %s", step.name, b, step.code)
		}
	}
	fs, _ := s.Fulfillments(o.ID)
	if len(fs) != 3 || fs[0].TrackingInfo.TrackingLink == "" || !strings.Contains(fs[0].TrackingInfo.TrackingLink, "T1") {
		t.Fatalf("fulfillments %+v, want 3 with fedex's link generated", fs)
	}
	got, _ := s.Order(o.ID)
	if got.FulfillmentStatus != wixsim.FulfillmentFulfilled {
		t.Errorf("fulfillmentStatus %s, want FULFILLED", got.FulfillmentStatus)
	}
	if e := s.Emails(); len(e) != 2 || e[0].TrackingNumber != "T1" || e[1].TrackingNumber != "T2" {
		t.Errorf("emails %+v, want one per fulfilment with tracking (T1, T2)", e)
	}

	// A site with the shipping e-mail off sends none.
	if err := s.SetShippingEmail(siteID, false); err != nil {
		t.Fatal(err)
	}
	o2 := order(t, s, 1)
	if _, err := s.Fulfill(o2.ID, []wixsim.FulfillmentLineItem{{ID: o2.LineItems[0].ID, Quantity: 1}}, &wixsim.TrackingInfo{TrackingNumber: "T9", ShippingProvider: "usps"}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Emails()); n != 2 {
		t.Errorf("%d emails after fulfilling with the e-mail off, want still 2", n)
	}
}

func TestCreateFulfillmentNeedsApprovedOrder(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{})
	o, err := s.CreateOrder(siteID, wixsim.NewOrder{Status: wixsim.StatusInitialized, PaymentStatus: wixsim.PaymentPending,
		Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1.00"}}})
	if err != nil {
		t.Fatal(err)
	}
	st, _, b := call(t, srv, "POST", "/fulfillments/orders/"+o.ID+"/create-fulfillment",
		map[string]any{"fulfillment": map[string]any{"lineItems": []map[string]any{{"id": o.LineItems[0].ID, "quantity": 1}}}}, auth)
	if st != 400 || !strings.Contains(string(b), wixsim.CodeOrderNotApproved) {
		t.Fatalf("%d %s, want 400 ORDER_NOT_APPROVED", st, b)
	}
}

func TestBulkCreateFulfillments(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{})
	a, b := order(t, s, 1), order(t, s, 1)
	items := []map[string]any{
		{"orderId": a.ID, "fulfillments": []map[string]any{{"lineItems": []map[string]any{{"id": a.LineItems[0].ID, "quantity": 1}}}}},
		{"orderId": b.ID, "fulfillments": []map[string]any{{"lineItems": []map[string]any{{"id": "missing", "quantity": 1}}}}},
	}
	st, _, body := call(t, srv, "POST", "/fulfillments/orders/bulk/create-fulfillments", map[string]any{"ordersWithFulfillments": items}, auth)
	if st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	var out struct {
		Results []struct {
			ItemMetadata struct {
				Success bool `json:"success"`
			} `json:"itemMetadata"`
		} `json:"results"`
		BulkActionMetadata struct {
			TotalSuccesses, TotalFailures int
		} `json:"bulkActionMetadata"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 2 || !out.Results[0].ItemMetadata.Success || out.Results[1].ItemMetadata.Success ||
		out.BulkActionMetadata.TotalSuccesses != 1 || out.BulkActionMetadata.TotalFailures != 1 {
		t.Errorf("results %s, want the first to succeed and the second to fail", body)
	}
	for _, n := range []int{0, wixsim.MaxBulkOrders + 1} {
		list := make([]map[string]any, n)
		for i := range list {
			list[i] = items[0]
		}
		if st, _, _ := call(t, srv, "POST", "/fulfillments/orders/bulk/create-fulfillments", map[string]any{"ordersWithFulfillments": list}, auth); st != 400 {
			t.Errorf("%d orders: status %d, want 400", n, st)
		}
	}
}

func TestSearchOrdersPagesByUpdatedDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	s, srv := newSim(t, wixsim.Config{Now: clock})
	var ids []string
	for range 5 {
		ids = append(ids, order(t, s, 1).ID)
	}
	if _, err := s.CreateOrder(siteID, wixsim.NewOrder{Status: wixsim.StatusInitialized, Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPaymentStatus(ids[0], wixsim.PaymentFullyRefunded); err != nil { // ids[0] now changed last
		t.Fatal(err)
	}
	since := time.Date(2026, 3, 1, 10, 0, 2, 0, time.UTC).Format(time.RFC3339)
	req := map[string]any{"search": map[string]any{
		"filter":       map[string]any{"updatedDate": map[string]any{"$gte": since}},
		"sort":         []map[string]string{{"fieldName": "updatedDate", "order": "ASC"}},
		"cursorPaging": map[string]any{"limit": 2},
	}}
	var got []string
	for page := 0; ; page++ {
		st, _, body := call(t, srv, "POST", "/orders/search", req, auth)
		if st != 200 {
			t.Fatalf("page %d: %d %s", page, st, body)
		}
		var out struct {
			Orders   []wixsim.Order `json:"orders"`
			Metadata struct {
				HasNext bool `json:"hasNext"`
				Cursors struct {
					Next string `json:"next"`
				} `json:"cursors"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Orders {
			got = append(got, o.ID)
		}
		if !out.Metadata.HasNext {
			break
		}
		req = map[string]any{"search": map[string]any{"cursorPaging": map[string]any{"limit": 2, "cursor": out.Metadata.Cursors.Next}}}
	}
	want := []string{ids[1], ids[2], ids[3], ids[4], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v (no INITIALIZED order, oldest change first)", got, want)
	}
	if st, _, _ := call(t, srv, "POST", "/orders/search", map[string]any{"search": map[string]any{"cursorPaging": map[string]any{"limit": 101}}}, auth); st != 400 {
		t.Errorf("limit 101: %d, want 400", st)
	}
	if st, _, _ := call(t, srv, "POST", "/orders/search", map[string]any{"search": map[string]any{"filter": map[string]any{"buyerInfo.email": "x"}}}, auth); st != 400 {
		t.Errorf("filter on an unsupported field: %d, want 400", st)
	}
}

// receiver is a webhook endpoint that fails the first failures deliveries.
type receiver struct {
	mu       sync.Mutex
	failures int
	bodies   []string
	ctype    string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctype = req.Header.Get("Content-Type")
	if r.failures > 0 {
		r.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.bodies = append(r.bodies, string(b))
}

func TestWebhooksAreSignedDoubleEncodedAndRetried(t *testing.T) {
	rcv := &receiver{failures: 3}
	hooks := httptest.NewServer(rcv)
	t.Cleanup(hooks.Close)
	s, _ := newSim(t, wixsim.Config{Webhooks: wixsim.WebhookConfig{URL: hooks.URL, TimeScale: 1e-5}})
	o := order(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	bodies, ctype := rcv.bodies, rcv.ctype
	rcv.mu.Unlock()
	if len(bodies) != 2 || ctype != wixsim.WebhookContentType {
		t.Fatalf("%d bodies with Content-Type %q, want order_created and order_approved as %s", len(bodies), ctype, wixsim.WebhookContentType)
	}
	d := s.Deliveries()
	if len(d) != 2 || !d[0].Delivered || !d[1].Delivered || d[0].Attempts+d[1].Attempts != 5 {
		t.Errorf("deliveries %+v, want both delivered after 3 failed attempts between them", d)
	}
	v := webhook.JWTVerifier{Key: &key(t).PublicKey}
	for i, b := range bodies {
		claims, err := v.Verify(nil, []byte(b))
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		var c struct{ Data string }
		var outer struct{ EventType, InstanceID, Data string }
		var inner struct {
			ID, EntityID, EntityFqdn, Slug string
			ActionEvent                    *struct {
				Body struct{ Order wixsim.Order }
			}
			CreatedEvent *struct{ Entity wixsim.Order }
		}
		if json.Unmarshal(claims, &c) != nil || json.Unmarshal([]byte(c.Data), &outer) != nil || json.Unmarshal([]byte(outer.Data), &inner) != nil {
			t.Fatalf("body %d does not decode in three layers: %s", i, claims)
		}
		if outer.InstanceID != instance || inner.EntityID != o.ID || inner.ID == "" || inner.EntityFqdn != wixsim.FqdnOrder {
			t.Errorf("body %d: %+v / %+v", i, outer, inner)
		}
		switch outer.EventType {
		case wixsim.EventOrderCreated:
			if inner.CreatedEvent == nil || inner.CreatedEvent.Entity.ID != o.ID {
				t.Errorf("order_created without createdEvent.entity")
			}
		case wixsim.EventOrderApproved:
			if inner.ActionEvent == nil || inner.ActionEvent.Body.Order.ID != o.ID {
				t.Errorf("order_approved without actionEvent.body.order")
			}
		default:
			t.Errorf("event type %s", outer.EventType)
		}
	}
}

func TestWebhookGivesUpAfterTwelveRetries(t *testing.T) {
	var n atomic.Int32
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNoContent) // not 200: a failure for Wix
	}))
	t.Cleanup(hooks.Close)
	s, _ := newSim(t, wixsim.Config{Webhooks: wixsim.WebhookConfig{URL: hooks.URL, TimeScale: 1e-6}})
	if _, err := s.CreateOrder(siteID, wixsim.NewOrder{Status: wixsim.StatusInitialized, Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1"}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	if d := s.Deliveries()[0]; !d.GaveUp || d.Attempts != 13 || n.Load() != 13 {
		t.Errorf("delivery %+v after %d calls, want given up after 1 + 12 attempts", d, n.Load())
	}
}

func TestWebhookFaults(t *testing.T) {
	rcv := &receiver{}
	hooks := httptest.NewServer(rcv)
	t.Cleanup(hooks.Close)
	s, _ := newSim(t, wixsim.Config{Seed: 7, Webhooks: wixsim.WebhookConfig{URL: hooks.URL}, Faults: wixsim.Faults{DropWebhooks: 0.3, DuplicateWebhooks: 0.3}})
	for range 10 {
		order(t, s, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	dropped, dups := 0, 0
	for _, d := range s.Deliveries() {
		if d.Dropped {
			dropped++
		}
		if d.Duplicate {
			dups++
		}
	}
	rcv.mu.Lock()
	got := len(rcv.bodies)
	rcv.mu.Unlock()
	if dropped == 0 || dups == 0 || got != len(s.Events())-dropped+dups {
		t.Errorf("%d events, %d dropped, %d duplicated, %d received", len(s.Events()), dropped, dups, got)
	}
}

func TestInjectedAPIFaults(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{Seed: 3, Faults: wixsim.Faults{TooManyRequests: 0.2, ServerErrors: 0.2}})
	o := order(t, s, 1)
	statuses := map[int]int{}
	for range 50 {
		st, _, _ := call(t, srv, "GET", "/orders/"+o.ID, nil, auth)
		statuses[st]++
	}
	if statuses[200] == 0 || statuses[429] == 0 || statuses[500]+statuses[503] == 0 {
		t.Errorf("statuses %v, want a mix of 200, 429 and 5xx", statuses)
	}
	st := s.Stats()
	if st.RateLimited != 0 || st.TooManyRequests != statuses[429] {
		t.Errorf("stats %+v: injected 429s are not the rate limit", st)
	}
}

func ExampleSim() {
	s, err := wixsim.New(wixsim.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	_ = s.AddSite(wixsim.Site{SiteID: "site-1", InstanceID: "instance-1", AccessToken: "token"})
	o, _ := s.CreateOrder("site-1", wixsim.NewOrder{Lines: []wixsim.NewLine{{Name: "Mug", SKU: "MUG-1", Quantity: 2, Price: "9.50"}}})
	f, _ := s.Fulfill(o.ID, []wixsim.FulfillmentLineItem{{ID: o.LineItems[0].ID, Quantity: 2}},
		&wixsim.TrackingInfo{TrackingNumber: "1Z999", ShippingProvider: "ups"})
	got, _ := s.Order(o.ID)
	fmt.Println(got.Status, got.PaymentStatus, got.FulfillmentStatus)
	fmt.Println(f.TrackingInfo.TrackingLink)
	fmt.Println(len(s.Events()), "events,", len(s.Emails()), "email")
	// Output:
	// APPROVED PAID FULFILLED
	// https://www.ups.com/track?tracknum=1Z999
	// 4 events, 1 email
}
