package woocommercesim_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/woocommercesim"
)

const (
	key    = "ck_test"
	secret = "cs_secret"
)

// start serves a simulator on loopback.
func start(t *testing.T, cfg woocommercesim.Config) (*woocommercesim.Sim, *httptest.Server) {
	t.Helper()
	cfg.ConsumerKey, cfg.ConsumerSecret = key, secret
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	sim := woocommercesim.New(cfg)
	srv := httptest.NewServer(sim)
	sim.SetSiteURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return sim, srv
}

var nonce atomic.Int64

// signed returns a request signed with OAuth 1.0a (HMAC-SHA256) in the
// query, as the simulator's own base string builds it.
func signed(t *testing.T, method, rawURL string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	q := req.URL.Query()
	q.Set("oauth_consumer_key", key)
	q.Set("oauth_nonce", "n"+strconv.FormatInt(nonce.Add(1), 10))
	q.Set("oauth_signature_method", "HMAC-SHA256")
	q.Set("oauth_timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	base := woocommercesim.OAuthBaseString(method, req.URL.Scheme+"://"+req.URL.Host+req.URL.EscapedPath(), q)
	m := hmac.New(sha256.New, []byte(secret+"&"))
	m.Write([]byte(base))
	q.Set("oauth_signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	req.URL.RawQuery = q.Encode()
	return req
}

func do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func errCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Code string `json:"code"`
		Data struct {
			Status int `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Code
}

func newOrder(t *testing.T, sim *woocommercesim.Sim, status string) int64 {
	t.Helper()
	id, err := sim.CreateOrder(woocommercesim.OrderSpec{
		Status: status,
		Lines: []woocommercesim.LineSpec{
			{ProductID: 11, Name: "Mug", SKU: "MUG-1", Quantity: 2, PriceCents: 1495},
			{ProductID: 12, VariationID: 13, Name: "Tee", SKU: "TEE-M", Quantity: 1, PriceCents: 1900},
		},
		Shipping: woocommercesim.Address{FirstName: "Ada", LastName: "L", Address1: "1 Main St", City: "Springfield", State: "IL", Postcode: "62701", Country: "US"},
		Billing:  woocommercesim.Address{FirstName: "Ada", LastName: "L", Email: "ada@example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOAuthBaseStringVector checks the base string and the signature
// against a vector computed by hand (openssl dgst -sha256 -hmac
// 'cs_secret&' over the base string below).
func TestOAuthBaseStringVector(t *testing.T) {
	params := url.Values{
		"oauth_consumer_key":     {"ck_test"},
		"oauth_nonce":            {"n0nce+1"},
		"oauth_signature_method": {"HMAC-SHA256"},
		"oauth_timestamp":        {"1700000000"},
		"oauth_signature":        {"ignored"},
		"per_page":               {"100"},
		"status":                 {"processing"},
	}
	const want = "GET&http%3A%2F%2F127.0.0.1%3A8080%2Fwp-json%2Fwc%2Fv3%2Forders&" +
		"oauth_consumer_key%3Dck_test%26oauth_nonce%3Dn0nce%252B1%26oauth_signature_method%3DHMAC-SHA256%26" +
		"oauth_timestamp%3D1700000000%26per_page%3D100%26status%3Dprocessing"
	got := woocommercesim.OAuthBaseString("GET", "http://127.0.0.1:8080/wp-json/wc/v3/orders", params)
	if got != want {
		t.Fatalf("base string\n got %s\nwant %s", got, want)
	}
	m := hmac.New(sha256.New, []byte("cs_secret&"))
	m.Write([]byte(got))
	if sig := base64.StdEncoding.EncodeToString(m.Sum(nil)); sig != "NFZeGI0K7VxHlZsb1rCbY7uxMgV0V+UaQqj59XoW9/k=" {
		t.Fatalf("signature %s", sig)
	}
}

func TestOAuthOverHTTP(t *testing.T) {
	sim, srv := start(t, woocommercesim.Config{})
	newOrder(t, sim, "processing")
	u := srv.URL + "/wp-json/wc/v3/orders?per_page=5"

	req := signed(t, http.MethodGet, u, nil)
	if status, _, body := do(t, req); status != http.StatusOK {
		t.Fatalf("signed: %d %s", status, body)
	}
	// The same request again reuses its nonce.
	again, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, req.URL.String(), nil)
	if status, _, body := do(t, again); status != http.StatusUnauthorized || !strings.Contains(string(body), "nonce has already been used") {
		t.Fatalf("replay: %d %s", status, body)
	}
	if sim.Stats().NonceReused != 1 {
		t.Fatalf("nonce reuse not counted: %+v", sim.Stats())
	}
	// A wrong secret does not sign.
	bad := signed(t, http.MethodGet, u, nil)
	q := bad.URL.Query()
	q.Set("oauth_signature", "AAAA"+q.Get("oauth_signature")[4:])
	bad.URL.RawQuery = q.Encode()
	if status, _, body := do(t, bad); status != http.StatusUnauthorized || errCode(t, body) != "woocommerce_rest_authentication_error" {
		t.Fatalf("bad signature: %d %s", status, body)
	}
	// Basic credentials are ignored over plain HTTP.
	basic, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	basic.SetBasicAuth(key, secret)
	if status, _, body := do(t, basic); status != http.StatusUnauthorized || errCode(t, body) != "woocommerce_rest_cannot_view" {
		t.Fatalf("basic over http: %d %s", status, body)
	}
}

func TestBasicAndQueryOverHTTPS(t *testing.T) {
	sim, srv := start(t, woocommercesim.Config{HTTPS: true})
	id := newOrder(t, sim, "processing")
	u := srv.URL + "/wp-json/wc/v3/orders/" + strconv.FormatInt(id, 10)

	basic, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	basic.SetBasicAuth(key, secret)
	if status, _, body := do(t, basic); status != http.StatusOK {
		t.Fatalf("basic: %d %s", status, body)
	}
	query, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u+"?consumer_key="+key+"&consumer_secret="+secret, nil)
	if status, _, body := do(t, query); status != http.StatusOK {
		t.Fatalf("query: %d %s", status, body)
	}
	wrong, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	wrong.SetBasicAuth(key, "cs_wrong")
	if status, _, body := do(t, wrong); status != http.StatusUnauthorized || errCode(t, body) != "woocommerce_rest_authentication_error" {
		t.Fatalf("wrong secret: %d %s", status, body)
	}
	none, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if status, _, body := do(t, none); status != http.StatusUnauthorized || errCode(t, body) != "woocommerce_rest_cannot_view" {
		t.Fatalf("no credentials: %d %s", status, body)
	}
}

func TestListPaginationAndFilters(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sim, srv := start(t, woocommercesim.Config{HTTPS: true, Now: clock})
	for range 250 {
		newOrder(t, sim, "processing")
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
	}
	get := func(query string) (int, http.Header, []map[string]any) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/wp-json/wc/v3/orders?"+query, nil)
		req.SetBasicAuth(key, secret)
		status, h, body := do(t, req)
		var out []map[string]any
		_ = json.Unmarshal(body, &out)
		return status, h, out
	}
	status, h, page := get("per_page=100&page=1&orderby=modified&order=asc")
	if status != 200 || h.Get("X-WP-Total") != "250" || h.Get("X-WP-TotalPages") != "3" || len(page) != 100 {
		t.Fatalf("page 1: %d total=%s pages=%s n=%d", status, h.Get("X-WP-Total"), h.Get("X-WP-TotalPages"), len(page))
	}
	if !strings.Contains(h.Get("Link"), `rel="next"`) || !strings.Contains(h.Get("Link"), "page=2") {
		t.Fatalf("link: %s", h.Get("Link"))
	}
	if _, _, last := get("per_page=100&page=3"); len(last) != 50 {
		t.Fatalf("page 3 has %d", len(last))
	}
	if status, _, _ := get("per_page=101"); status != http.StatusBadRequest {
		t.Fatalf("per_page=101: %d", status)
	}
	// 200 orders were modified after 10:00:49 UTC; read as site-local
	// (UTC+2) the same string is two hours earlier and matches all 250.
	if _, h, _ := get("per_page=10&modified_after=2025-03-01T10:00:49&dates_are_gmt=true"); h.Get("X-WP-Total") != "200" {
		t.Fatalf("gmt window: %s", h.Get("X-WP-Total"))
	}
	if _, h, _ := get("per_page=10&modified_after=2025-03-01T10:00:49"); h.Get("X-WP-Total") != "250" {
		t.Fatalf("site-local window: %s", h.Get("X-WP-Total"))
	}
	if status, _, _ := get("status=shipped"); status != http.StatusBadRequest {
		t.Fatalf("bad status: %d", status)
	}
}

func TestCompletedEmailOncePerTransition(t *testing.T) {
	sim, srv := start(t, woocommercesim.Config{HTTPS: true, ShipmentTracking: true})
	id := newOrder(t, sim, "processing")
	base := srv.URL + "/wp-json/"
	post := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequestWithContext(context.Background(), method, base+path, strings.NewReader(body))
		req.SetBasicAuth(key, secret)
		req.Header.Set("Content-Type", "application/json")
		status, _, b := do(t, req)
		return status, b
	}
	ids := strconv.FormatInt(id, 10)
	if status, body := post(http.MethodPost, "wc-shipment-tracking/v3/orders/"+ids+"/shipment-trackings",
		`{"tracking_provider":"Cainiao","tracking_number":"LP1"}`); status != http.StatusBadRequest {
		t.Fatalf("unknown provider: %d %s", status, body)
	}
	if status, body := post(http.MethodPost, "wc-shipment-tracking/v3/orders/"+ids+"/shipment-trackings",
		`{"custom_tracking_provider":"Cainiao","tracking_number":"LP1"}`); status != http.StatusBadRequest {
		t.Fatalf("custom without link: %d %s", status, body)
	}
	if status, body := post(http.MethodPost, "wc-shipment-tracking/v3/orders/"+ids+"/shipment-trackings",
		`{"custom_tracking_provider":"Cainiao","custom_tracking_link":"https://t.17track.net/en#nums=LP1","tracking_number":"LP1","date_shipped":"2025-03-01"}`); status != http.StatusCreated {
		t.Fatalf("custom: %d %s", status, body)
	}
	if status, body := post(http.MethodPost, "wc-shipment-tracking/v3/orders/"+ids+"/shipment-trackings",
		`{"tracking_provider":"usps","tracking_number":"9400"}`); status != http.StatusCreated {
		t.Fatalf("usps: %d %s", status, body)
	}
	for range 2 {
		if status, body := post(http.MethodPut, "wc/v3/orders/"+ids, `{"status":"completed"}`); status != http.StatusOK {
			t.Fatalf("complete: %d %s", status, body)
		}
	}
	emails := sim.Emails(id)
	var completed []woocommercesim.Email
	for _, e := range emails {
		if e.Kind == woocommercesim.EmailCompleted {
			completed = append(completed, e)
		}
	}
	if len(completed) != 1 || strings.Join(completed[0].Tracking, ",") != "LP1,9400" {
		t.Fatalf("completed e-mails: %+v", completed)
	}
	if status, body := post(http.MethodPost, "wc/v3/orders/"+ids+"/notes", `{"note":"Shipped","customer_note":true}`); status != http.StatusCreated {
		t.Fatalf("note: %d %s", status, body)
	}
	if n := sim.ShippingEmails(id); n != 2 {
		t.Fatalf("shipping e-mails = %d, want 2 (completed + customer note)", n)
	}
	var order struct {
		MetaData []struct {
			Key   string `json:"key"`
			Value []struct {
				TrackingNumber string `json:"tracking_number"`
			} `json:"value"`
		} `json:"meta_data"`
	}
	b, _ := sim.OrderJSON(id)
	if err := json.Unmarshal(b, &order); err != nil || len(order.MetaData) != 1 || len(order.MetaData[0].Value) != 2 {
		t.Fatalf("tracking meta: %s", b)
	}
}

func TestNoExtensionNoRoute(t *testing.T) {
	sim, srv := start(t, woocommercesim.Config{HTTPS: true})
	id := newOrder(t, sim, "processing")
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, fmt.Sprintf("%s/wp-json/wc-shipment-tracking/v3/orders/%d/shipment-trackings/providers", srv.URL, id), nil)
	req.SetBasicAuth(key, secret)
	if status, _, body := do(t, req); status != http.StatusNotFound || errCode(t, body) != "rest_no_route" {
		t.Fatalf("providers without extension: %d %s", status, body)
	}
}

// receiver records webhook deliveries and answers with status().
type receiver struct {
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
	status func(r *http.Request) int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, b)
	rc.mu.Unlock()
	w.WriteHeader(rc.status(r))
}

func TestWebhookPingSignatureAndDeliveryID(t *testing.T) {
	rc := &receiver{status: func(*http.Request) int { return 200 }}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	fixed := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	sim, _ := start(t, woocommercesim.Config{HTTPS: true, Now: func() time.Time { return fixed }})
	wid, err := sim.AddWebhook(woocommercesim.WebhookConfig{Topic: "order.updated", DeliveryURL: hook.URL, Secret: "whsec"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newOrder(t, sim, "pending"), newOrder(t, sim, "pending")
	if err := sim.Pay(a); err != nil {
		t.Fatal(err)
	}
	if err := sim.Pay(b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 3 {
		t.Fatalf("got %d requests, want ping + 2", len(rc.got))
	}
	ping := rc.got[0]
	if string(rc.bodies[0]) != "webhook_id="+strconv.FormatInt(wid, 10) || ping.Header.Get(woocommercesim.HeaderSignature) != "" {
		t.Fatalf("ping: %q %v", rc.bodies[0], ping.Header)
	}
	ids := map[string]bool{}
	for i, r := range rc.got[1:] {
		body := rc.bodies[i+1]
		if r.Header.Get(woocommercesim.HeaderSignature) != woocommercesim.Sign("whsec", body) {
			t.Fatalf("signature of delivery %d", i)
		}
		if r.Header.Get(woocommercesim.HeaderTopic) != "order.updated" || r.Header.Get(woocommercesim.HeaderResource) != "order" ||
			r.Header.Get(woocommercesim.HeaderEvent) != "updated" || r.Header.Get(woocommercesim.HeaderSource) != sim.SiteURL()+"/" {
			t.Fatalf("headers: %v", r.Header)
		}
		ids[r.Header.Get(woocommercesim.HeaderDeliveryID)] = true
	}
	// Two deliveries of one webhook in the same second share a delivery id,
	// as with WooCommerce's wp_hash(id . time()).
	if len(ids) != 1 {
		t.Fatalf("delivery ids: %v", ids)
	}
}

func TestWebhookDisabledAfterConsecutiveFailures(t *testing.T) {
	var calls atomic.Int64
	rc := &receiver{status: func(r *http.Request) int {
		if r.Header.Get(woocommercesim.HeaderTopic) == "" {
			return 200 // the ping
		}
		calls.Add(1)
		return 500
	}}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	sim, _ := start(t, woocommercesim.Config{HTTPS: true})
	if _, err := sim.AddWebhook(woocommercesim.WebhookConfig{Topic: "order.updated", DeliveryURL: hook.URL, Secret: "whsec"}); err != nil {
		t.Fatal(err)
	}
	id := newOrder(t, sim, "pending")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	statuses := []string{"on-hold", "processing", "on-hold", "processing", "on-hold", "processing", "on-hold", "processing", "on-hold"}
	for i, st := range statuses {
		if err := sim.SetStatus(id, st); err != nil {
			t.Fatal(err)
		}
		if err := sim.WaitWebhooks(ctx); err != nil {
			t.Fatal(err)
		}
		h := sim.Webhooks()[0]
		// WooCommerce counts six failures and disables on the seventh.
		if want := i < 6; (h.Status == woocommercesim.WebhookActive) != want {
			t.Fatalf("after %d failures: %+v", i+1, h)
		}
	}
	if calls.Load() != 7 {
		t.Fatalf("%d deliveries attempted, want 7 (no retries, none once disabled)", calls.Load())
	}
	skipped := 0
	for _, d := range sim.Deliveries() {
		if d.Skipped {
			skipped++
		}
	}
	if skipped != 0 {
		// Nothing is queued for a disabled webhook at all.
		t.Fatalf("%d skipped deliveries", skipped)
	}
}

func TestFaultsTooManyRequests(t *testing.T) {
	sim, srv := start(t, woocommercesim.Config{HTTPS: true, Faults: woocommercesim.Faults{TooManyRequests: 1, RetryAfter: 2 * time.Second}})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/wp-json/wc/v3/orders", nil)
	req.SetBasicAuth(key, secret)
	status, h, _ := do(t, req)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "2" {
		t.Fatalf("429: %d %v", status, h)
	}
	if sim.Stats().TooManyRequests != 1 {
		t.Fatal("not counted")
	}
}

// TestBodyReadOnlyAsJSON: a status sent form-encoded, or as JSON without
// the JSON content type, changes nothing (WordPress ignores the body).
func TestBodyReadOnlyAsJSON(t *testing.T) {
	sim, srv := start(t, woocommercesim.Config{HTTPS: true})
	id := newOrder(t, sim, "processing")
	u := fmt.Sprintf("%s/wp-json/wc/v3/orders/%d", srv.URL, id)
	for ct, body := range map[string]string{"text/plain": `{"status":"completed"}`, "application/x-www-form-urlencoded": `{"status":"completed"}`} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, u, strings.NewReader(body))
		req.SetBasicAuth(key, secret)
		req.Header.Set("Content-Type", ct)
		if status, _, b := do(t, req); status != http.StatusOK {
			t.Fatalf("%s: %d %s", ct, status, b)
		}
		if st, _ := sim.Status(id); st != "processing" {
			t.Fatalf("%s: status changed to %s", ct, st)
		}
	}
}
