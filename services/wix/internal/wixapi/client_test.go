package wixapi_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

const (
	siteID   = "9a4d2f10-5b6c-4e7f-8a90-1b2c3d4e5f60"
	instance = "b2f0c1d4-7a8e-4c55-9d61-3f2a7c9e0a11"
	apiKey   = "IST.key"
)

func newSim(t *testing.T, cfg wixsim.Config) (*wixsim.Sim, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PrivateKey = k
	s, err := wixsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.AddSite(wixsim.Site{SiteID: siteID, InstanceID: instance, APIKey: apiKey}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

var site = wixapi.Site{SiteID: siteID, InstanceID: instance, Credential: config.NewSecret(apiKey), APIKey: true}

// TestBurstStaysUnderTheRateLimit sends 300 calls at once through the
// connector's client against Wix's 200 a minute per instance (a compressed
// minute: one second, and the client's budget with it). None gets a 429.
func TestBurstStaysUnderTheRateLimit(t *testing.T) {
	s, url := newSim(t, wixsim.Config{RateLimit: 200, RateWindow: time.Second})
	o, err := s.CreateOrder(siteID, wixsim.NewOrder{Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1.00"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := wixapi.New(wixapi.Config{BaseURL: url, Limit: wixapi.Limit(wixapi.DefaultRequestsPerMinute, time.Second), MaxElapsed: 20 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	start := time.Now()
	for range 300 {
		wg.Go(func() {
			if _, err := c.GetOrder(context.Background(), site, o.ID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("call failed: %v", err)
	}
	st := s.Stats()
	if st.RateLimited != 0 || st.Calls["getOrder"] != 300 {
		t.Errorf("stats %+v: want 300 calls and no 429", st)
	}
	t.Logf("300 calls in %v", time.Since(start).Round(time.Millisecond))
}

// TestHonoursRetryAfter: a client with a budget above Wix's limit is
// answered 429 and waits as told, and every call still succeeds.
func TestHonoursRetryAfter(t *testing.T) {
	s, url := newSim(t, wixsim.Config{RateLimit: 20, RateWindow: 500 * time.Millisecond})
	o, err := s.CreateOrder(siteID, wixsim.NewOrder{Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1.00"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := wixapi.New(wixapi.Config{BaseURL: url, Limit: client.Limit{Rate: 1000, Burst: 100}, MaxAttempts: 6, MaxElapsed: 20 * time.Second,
		BaseBackoff: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range 40 {
		wg.Go(func() {
			if _, err := c.GetOrder(context.Background(), site, o.ID); err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); st.RateLimited == 0 || failed != 0 {
		t.Errorf("%d calls failed, %d answered 429: want some 429s, all honoured", failed, st.RateLimited)
	}
}

func TestErrorsCarryWixCodes(t *testing.T) {
	s, url := newSim(t, wixsim.Config{})
	o, err := s.CreateOrder(siteID, wixsim.NewOrder{Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1.00"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := wixapi.New(wixapi.Config{BaseURL: url, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	in := domain.FulfillmentInput{Lines: []domain.LineQty{{LineItemID: o.LineItems[0].ID, Quantity: 1}}, Tracking: &domain.Tracking{Number: "T1", Provider: "fedex"}}
	id, err := c.CreateFulfillment(ctx, site, o.ID, in)
	if err != nil || id == "" {
		t.Fatalf("create: %q %v", id, err)
	}
	_, err = c.CreateFulfillment(ctx, site, o.ID, in)
	var ae *wixapi.APIError
	if !wixapi.IsStatus(err, http.StatusConflict) || !errors.As(err, &ae) || ae.Code != wixsim.CodeAlreadyExists || !client.IsPermanent(err) {
		t.Fatalf("second create: %v, want a permanent 409 ALREADY_EXISTS", err)
	}
	fs, err := c.ListFulfillments(ctx, site, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := domain.Ours(fs, in); !ok || f.ID != id || f.Tracking.Link == "" {
		t.Errorf("Ours = %+v %v, want the created fulfilment with fedex's link", f, ok)
	}
	if _, err := c.GetOrder(ctx, site, "00000000-0000-4000-8000-000000000000"); !wixapi.IsStatus(err, http.StatusNotFound) {
		t.Errorf("unknown order: %v, want 404", err)
	}
	bad := site
	bad.Credential = config.NewSecret("wrong")
	_, err = c.GetOrder(ctx, bad, o.ID)
	if !wixapi.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("wrong key: %v, want 401", err)
	}
	if err != nil && (strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), apiKey)) {
		t.Errorf("error %q shows a credential", err)
	}
}

func TestSearchChangedPages(t *testing.T) {
	s, url := newSim(t, wixsim.Config{})
	since := time.Now().Add(-time.Minute)
	for range 5 {
		if _, err := s.CreateOrder(siteID, wixsim.NewOrder{Lines: []wixsim.NewLine{{Name: "x", Quantity: 1, Price: "1.00"}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := wixapi.New(wixapi.Config{BaseURL: url, Logger: slog.New(slog.DiscardHandler)})
	var got []domain.Order
	cursor := ""
	for {
		p, err := c.SearchChanged(context.Background(), site, since, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Orders...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(got) != 5 {
		t.Fatalf("%d orders, want 5", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].UpdatedAt.Before(got[i-1].UpdatedAt) {
			t.Errorf("order %d changed before order %d: want oldest change first", i, i-1)
		}
	}
}
