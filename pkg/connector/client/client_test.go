package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fast is a configuration with short timings for tests.
func fast() client.Config {
	return client.Config{
		MaxAttempts:    4,
		MaxElapsed:     5 * time.Second,
		AttemptTimeout: time.Second,
		BaseBackoff:    5 * time.Millisecond,
		MaxBackoff:     20 * time.Millisecond,
		Logger:         quiet,
	}
}

// server answers call n (from 1) with handle(n, w, r).
func server(t *testing.T, handle func(n int32, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(n.Add(1), w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func get(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504, 408} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
				if n < 3 {
					w.WriteHeader(status)
					return
				}
				fmt.Fprint(w, "ok")
			})
			resp, err := client.New(fast()).Do(context.Background(), get(t, s.URL))
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != "ok" || resp.Attempts != 3 || calls.Load() != 3 {
				t.Errorf("body %q after %d attempts (%d calls), want ok after 3", resp.Body, resp.Attempts, calls.Load())
			}
		})
	}
}

func TestRetriesTimeoutsThenSucceeds(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		fmt.Fprint(w, "ok")
	})
	cfg := fast()
	cfg.AttemptTimeout = 100 * time.Millisecond
	resp, err := client.New(cfg).Do(context.Background(), get(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || calls.Load() != 2 {
		t.Errorf("%d attempts, want 2", resp.Attempts)
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens: connection refused
	cfg := fast()
	cfg.MaxAttempts = 3
	_, err = client.New(cfg).Do(context.Background(), get(t, "http://"+addr+"/x"))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Attempts != 3 || !client.IsRetryable(err) || client.IsPermanent(err) {
		t.Fatalf("err = %v (%+v), want retryable after 3 attempts", err, ce)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	_, err := client.New(fast()).Do(context.Background(), get(t, s.URL))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Attempts != 4 || ce.StatusCode != 500 || !ce.Retryable {
		t.Fatalf("err = %v, want retryable 500 after 4 attempts", err)
	}
	if calls.Load() != 4 {
		t.Errorf("%d calls, want 4", calls.Load())
	}
	if !errors.Is(client.HandlerError(err), err) || bus.IsPermanent(client.HandlerError(err)) {
		t.Error("a retryable error must reach the bus unmarked, to be retried")
	}
}

func TestGivesUpAtMaxElapsed(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	cfg := fast()
	cfg.MaxAttempts = 1000
	cfg.BaseBackoff, cfg.MaxBackoff = 50*time.Millisecond, 50*time.Millisecond
	cfg.MaxElapsed = 300 * time.Millisecond
	t0 := time.Now()
	_, err := client.New(cfg).Do(context.Background(), get(t, s.URL))
	if !client.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if d := time.Since(t0); d > 1500*time.Millisecond {
		t.Errorf("took %s, want about MaxElapsed (300ms)", d)
	}
}

func TestClientErrorsArePermanent(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(422)
		fmt.Fprint(w, `{"errors":"bad","access_token":"shpat_secret"}`)
	})
	_, err := client.New(fast()).Do(context.Background(), get(t, s.URL))
	if !client.IsPermanent(err) || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls, want permanent after 1", err, calls.Load())
	}
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != 422 {
		t.Errorf("cause = %v, want *StatusError 422", err)
	}
	if strings.Contains(err.Error(), "shpat_secret") {
		t.Errorf("error text leaks a token: %s", err)
	}
	if !bus.IsPermanent(client.HandlerError(err)) {
		t.Error("HandlerError(permanent) is not bus.Permanent")
	}
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "0.3")
			w.WriteHeader(429)
			return
		}
		fmt.Fprint(w, "ok")
	})
	c := client.New(fast())
	t0 := time.Now()
	resp, err := c.Do(context.Background(), get(t, s.URL), client.WithKey("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("retried after %s, want at least Retry-After 300ms", d)
	}
	if resp.Attempts != 2 || resp.Key != "acme" {
		t.Errorf("attempts %d, key %q", resp.Attempts, resp.Key)
	}
}

func TestTooManyRequestsPausesTheKey(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		fmt.Fprint(w, "ok")
	})
	cfg := fast()
	cfg.MaxAttempts = 1
	c := client.New(cfg)
	_, err := c.Do(context.Background(), get(t, s.URL+"/limited"), client.WithKey("acme"))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.RetryAfter != time.Second || !ce.Retryable {
		t.Fatalf("err = %v, want retryable with RetryAfter 1s", err)
	}
	// Another call of the same key waits out the pause; another key does not.
	t0 := time.Now()
	if _, err := c.Do(context.Background(), get(t, s.URL+"/ok"), client.WithKey("other")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("other key waited %s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, get(t, s.URL+"/ok"), client.WithKey("acme")); err == nil {
		t.Error("paused key called at once")
	}
}

func TestNotIdempotentRetriedOnlyWhenSafe(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	_, err := client.New(fast()).Do(context.Background(), get(t, s.URL), client.NotIdempotent())
	if err == nil || calls.Load() != 1 {
		t.Errorf("500 on a non-idempotent call: %d calls, want 1", calls.Load())
	}
	s2, calls2 := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(503)
			return
		}
		fmt.Fprint(w, "ok")
	})
	if _, err := client.New(fast()).Do(context.Background(), get(t, s2.URL), client.NotIdempotent()); err != nil || calls2.Load() != 2 {
		t.Errorf("503 on a non-idempotent call: err %v after %d calls, want success after 2", err, calls2.Load())
	}
}

func TestContextCancelStops(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	cfg := fast()
	cfg.BaseBackoff, cfg.MaxBackoff = time.Second, time.Second
	cfg.Rand = func() float64 { return 0.99 }
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := client.New(cfg).Do(ctx, get(t, s.URL))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if client.IsPermanent(err) {
		t.Error("a canceled call is not permanent")
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("returned after %s, want at the context's end", d)
	}
}

func TestClassifierReadsErrorsInside200(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			fmt.Fprint(w, `{"error_response":{"code":"ApiCallLimit"}}`)
		case 2:
			fmt.Fprint(w, `{"ok":true}`)
		}
	})
	errLimited := errors.New("api call limit")
	cfg := fast()
	cfg.Classifier = func(resp *client.Response) error {
		if err := client.StatusClassifier(resp); err != nil {
			return err
		}
		if strings.Contains(string(resp.Body), "ApiCallLimit") {
			return client.Retryable(errLimited, 0)
		}
		if strings.Contains(string(resp.Body), "error_response") {
			return client.Permanent(errors.New("refused"))
		}
		return nil
	}
	resp, err := client.New(cfg).Do(context.Background(), get(t, s.URL))
	if err != nil || resp.Attempts != 2 || calls.Load() != 2 {
		t.Fatalf("err %v after %d calls, want success after 2", err, calls.Load())
	}
}

func TestErrorTextRedactsCredentials(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cfg := fast()
	cfg.MaxAttempts = 1
	req := get(t, "http://"+addr+"/sync?method=x&app_key=123&access_token=tok-SECRET&sign=ABCDEF0123&timestamp=1")
	req.Header.Set("Authorization", "Bearer hdr-SECRET")
	_, err = client.New(cfg).Do(context.Background(), req)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, secret := range []string{"tok-SECRET", "ABCDEF0123", "hdr-SECRET"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error text %q leaks %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "app_key=123") || !strings.Contains(msg, "access_token=REDACTED") {
		t.Errorf("error text %q: want the URL with credentials redacted", msg)
	}
}

func TestRedactString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GET /x?access_token=abc&sign=DEF&v=2.0", "GET /x?access_token=REDACTED&sign=REDACTED&v=2.0"},
		{`{"access_token":"abc","refresh_token": "def","code":"IllegalAccessToken"}`, `{"access_token":"REDACTED","refresh_token": "REDACTED","code":"IllegalAccessToken"}`},
		{"Authorization: Bearer abc.def", "Authorization: REDACTED"},
		{"X-Shopify-Access-Token: shpat_1", "X-Shopify-Access-Token: REDACTED"},
		{"sign_method=sha256", "sign_method=sha256"},
	} {
		if got := client.RedactString(tc.in); got != tc.want {
			t.Errorf("RedactString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRateLimitPerKey(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	cfg := fast()
	cfg.Limit = client.PerSecond(10, 1)
	c := client.New(cfg)
	t0 := time.Now()
	for range 4 {
		if _, err := c.Do(context.Background(), get(t, s.URL), client.WithKey("a")); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d < 250*time.Millisecond {
		t.Errorf("4 calls at 10/s with burst 1 took %s, want at least 300ms", d)
	}
	t1 := time.Now()
	if _, err := c.Do(context.Background(), get(t, s.URL), client.WithKey("b")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t1); d > 50*time.Millisecond {
		t.Errorf("a fresh key waited %s", d)
	}
}

func TestPerMinute(t *testing.T) {
	l := client.PerMinute(200) // Wix
	if l.Rate < 3.33 || l.Rate > 3.34 || l.Burst != 20 {
		t.Errorf("PerMinute(200) = %+v", l)
	}
}

func TestShopifyRESTObserverFollowsCallLimit(t *testing.T) {
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Shopify-Shop-Api-Call-Limit", "40/40")
		fmt.Fprint(w, "{}")
	})
	cfg := fast()
	cfg.Observer = client.ShopifyREST(4)
	c := client.New(cfg)
	if _, err := c.Do(context.Background(), get(t, s.URL), client.WithKey("acme")); err != nil {
		t.Fatal(err)
	}
	avail, capacity, rate := c.Bucket("acme").State()
	if capacity != 40 || rate != 4 || avail > 0.2 {
		t.Fatalf("bucket = %.2f/%.0f at %.0f/s, want empty of 40 at 4/s", avail, capacity, rate)
	}
	t0 := time.Now()
	if _, err := c.Do(context.Background(), get(t, s.URL), client.WithKey("acme")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("call on a full Shopify bucket went after %s, want about 250ms", d)
	}
}

func TestShopifyGraphQLObserverAndThrottled(t *testing.T) {
	s, calls := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			fmt.Fprint(w, `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
				"extensions":{"cost":{"requestedQueryCost":60,"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":40,"restoreRate":100}}}}`)
			return
		}
		fmt.Fprint(w, `{"data":{},"extensions":{"cost":{"requestedQueryCost":60,"actualQueryCost":50,
			"throttleStatus":{"maximumAvailable":1000,"currentlyAvailable":890,"restoreRate":100}}}}`)
	})
	cfg := fast()
	cfg.Observer = client.ShopifyGraphQL
	cfg.Classifier = client.ShopifyGraphQLClassifier
	c := client.New(cfg)
	t0 := time.Now()
	resp, err := c.Do(context.Background(), get(t, s.URL), client.WithKey("acme"), client.WithCost(60))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || calls.Load() != 2 {
		t.Errorf("attempts %d, want 2", resp.Attempts)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("retried after %s, want about (60-40)/100 s = 200ms", d)
	}
	avail, capacity, rate := c.Bucket("acme").State()
	if capacity != 1000 || rate != 100 || avail < 890 {
		t.Errorf("bucket = %.0f/%.0f at %.0f/s, want 890/1000 at 100/s", avail, capacity, rate)
	}
}

func TestBodyIsReplayedOnRetry(t *testing.T) {
	var bodies []string
	s, _ := server(t, func(n int32, w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if n == 1 {
			w.WriteHeader(502)
			return
		}
		fmt.Fprint(w, "ok")
	})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL, strings.NewReader("a=1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(fast()).Do(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 || bodies[0] != "a=1" || bodies[1] != "a=1" {
		t.Errorf("bodies = %q, want the same body twice", bodies)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"2", 2 * time.Second}, {"2.0", 2 * time.Second}, {"0.5", 500 * time.Millisecond},
		{"Thu, 01 Jan 2026 00:00:30 GMT", 30 * time.Second}, {"junk", 0}, {"-1", 0},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		if got := client.RetryAfter(h, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
