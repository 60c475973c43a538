package wcapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

// TestOAuthSignatureVector checks the signer against a vector computed by
// hand, outside Go:
//
//	base='GET&http%3A%2F%2F127.0.0.1%3A8080%2Fwp-json%2Fwc%2Fv3%2Forders&oauth_consumer_key%3Dck_test%26oauth_nonce%3Dn0nce%252B1%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26per_page%3D100%26status%3Dprocessing'
//	printf '%s' "$base" | openssl dgst -sha256 -hmac 'cs_secret&' -binary | base64
func TestOAuthSignatureVector(t *testing.T) {
	var got *http.Request
	s := &wcapi.Signer{
		Mode: wcapi.AuthOAuth, Key: "ck_test", Secret: "cs_secret",
		Now:   func() time.Time { return time.Unix(1700000000, 0) },
		Nonce: func() string { return "n0nce+1" },
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r
			return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
		}),
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1:8080/wp-json/wc/v3/orders?status=processing&per_page=100", nil)
	resp, err := s.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if req.URL.RawQuery != "status=processing&per_page=100" {
		t.Fatalf("the caller's request was changed: %s", req.URL.RawQuery)
	}
	q := got.URL.Query()
	if sig := q.Get("oauth_signature"); sig != "NFZeGI0K7VxHlZsb1rCbY7uxMgV0V+UaQqj59XoW9/k=" {
		t.Fatalf("signature %s", sig)
	}
	if q.Get("oauth_signature_method") != "HMAC-SHA256" || q.Get("oauth_consumer_key") != "ck_test" || q.Get("oauth_timestamp") != "1700000000" {
		t.Fatalf("oauth params %v", q)
	}
	const base = "GET&http%3A%2F%2F127.0.0.1%3A8080%2Fwp-json%2Fwc%2Fv3%2Forders&" +
		"oauth_consumer_key%3Dck_test%26oauth_nonce%3Dn0nce%252B1%26oauth_signature_method%3DHMAC-SHA256%26" +
		"oauth_timestamp%3D1700000000%26per_page%3D100%26status%3Dprocessing"
	q.Del("oauth_signature")
	if b := wcapi.OAuthBaseString("GET", "http://127.0.0.1:8080/wp-json/wc/v3/orders", q); b != base {
		t.Fatalf("base string\n got %s\nwant %s", b, base)
	}
	// Sorting is by name, then value: "a" before "a1" although "a1=" < "a=".
	b := wcapi.OAuthBaseString("GET", "http://x/", url.Values{"a1": {"2"}, "a": {"1"}})
	if !strings.HasSuffix(b, "a%3D1%26a1%3D2") {
		t.Fatalf("sort: %s", b)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newSim(t *testing.T, cfg woocommercesim.Config, tls bool) (*woocommercesim.Sim, *httptest.Server) {
	t.Helper()
	cfg.ConsumerKey, cfg.ConsumerSecret, cfg.Seed = "ck_live", "cs_live", 3
	sim := woocommercesim.New(cfg)
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(sim)
	} else {
		srv = httptest.NewServer(sim)
	}
	sim.SetSiteURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return sim, srv
}

func order(t *testing.T, sim *woocommercesim.Sim) int64 {
	t.Helper()
	id, err := sim.CreateOrder(woocommercesim.OrderSpec{Status: "processing", Lines: []woocommercesim.LineSpec{{ProductID: 5, Quantity: 1, PriceCents: 999}}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOAuthRetriesSignAfresh: every retried attempt carries a new nonce,
// so the store never refuses a retry as a replay.
func TestOAuthRetriesSignAfresh(t *testing.T) {
	sim, srv := newSim(t, woocommercesim.Config{Faults: woocommercesim.Faults{ServerErrors: 0.5}}, false)
	id := order(t, sim)
	c, err := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck_live", ConsumerSecret: "cs_live",
		Outbound: client.Config{MaxAttempts: 10, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := c.Order(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	st := sim.Stats()
	if st.ServerErrors == 0 || st.NonceReused != 0 || st.Unauthorized != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBasicOverTLSAndExtensionDetection(t *testing.T) {
	sim, srv := newSim(t, woocommercesim.Config{HTTPS: true}, true)
	id := order(t, sim)
	if _, err := wcapi.New(wcapi.Config{SiteURL: strings.Replace(srv.URL, "https", "http", 1), Auth: wcapi.AuthBasic}); err == nil {
		t.Fatal("basic over http must be refused")
	}
	for _, mode := range []wcapi.Auth{wcapi.AuthBasic, wcapi.AuthQuery} {
		c, err := wcapi.New(wcapi.Config{SiteURL: srv.URL, Auth: mode, ConsumerKey: "ck_live", ConsumerSecret: "cs_live",
			Outbound: client.Config{HTTPClient: srv.Client()}})
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.Order(context.Background(), id)
		if err != nil || o.ID != id || o.Status != domain.StatusProcessing {
			t.Fatalf("%s: %+v %v", mode, o, err)
		}
		if _, ok, err := c.Providers(context.Background(), id); ok || err != nil {
			t.Fatalf("%s: no extension: %v %v", mode, ok, err)
		}
		if _, err := c.Order(context.Background(), id+1000); !errors.Is(err, wcapi.ErrNotFound) {
			t.Fatalf("%s: unknown order: %v", mode, err)
		}
	}
	bad, _ := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck_live", ConsumerSecret: "wrong", Outbound: client.Config{HTTPClient: srv.Client()}})
	_, err := bad.Order(context.Background(), id)
	if !errors.Is(err, wcapi.ErrAuth) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong secret: %v", err)
	}
}
