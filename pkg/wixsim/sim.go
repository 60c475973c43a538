package wixsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
)

// Defaults of Config.
const (
	// DefaultRateLimit is Wix's limit: 200 requests a minute per app
	// instance.
	DefaultRateLimit = 200
	// DefaultRateWindow is the window DefaultRateLimit counts over.
	DefaultRateWindow = time.Minute
	// DefaultDeliveryTimeout is how long Wix waits for a webhook's 200.
	DefaultDeliveryTimeout = 1250 * time.Millisecond
	// DefaultKeyID is the kid of the webhook JWTs.
	DefaultKeyID = "wixsim-1"
)

// DefaultRetries are the delays before each retry of a failed webhook: 12
// retries over about two days, as Wix documents. Scale them with
// WebhookConfig.TimeScale.
var DefaultRetries = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 9 * time.Hour, 12 * time.Hour, 14 * time.Hour,
}

// Errors of the merchant-side actions.
var (
	// ErrUnknownSite: no site with that id or instance was added.
	ErrUnknownSite = errors.New("wixsim: unknown site")
	// ErrUnknownOrder: no order with that id.
	ErrUnknownOrder = errors.New("wixsim: unknown order")
	// ErrInvalid: the action is not allowed in the order's state, or its
	// input is wrong.
	ErrInvalid = errors.New("wixsim: not allowed")
)

// Faults are the failures the simulator injects, each a share of calls in
// [0, 1]. They can be changed at any time with SetFaults.
type Faults struct {
	// TooManyRequests answers this share of API calls 429, doing nothing
	// (on top of the genuine rate limit).
	TooManyRequests float64
	// ServerErrors answers this share of API calls 500 or 503, doing
	// nothing.
	ServerErrors float64
	// LostResponses carries out this share of API calls and then answers
	// 504: the effect happened, the client does not know it.
	LostResponses float64

	// DropWebhooks never delivers this share of webhooks (reconciliation
	// has to find what they said).
	DropWebhooks float64
	// DuplicateWebhooks delivers this share of webhooks twice, the same
	// JWT both times.
	DuplicateWebhooks float64
	// ReorderWebhooks delays this share of webhooks by up to
	// MaxReorderDelay, so later ones overtake them.
	ReorderWebhooks float64
	// MaxReorderDelay bounds the delay of a reordered webhook; default
	// 200ms.
	MaxReorderDelay time.Duration
}

// WebhookConfig tunes webhook delivery.
type WebhookConfig struct {
	// URL receives every event of every site; empty sends none (events
	// are still recorded, see Events).
	URL string
	// Timeout is how long the simulator waits for a 200: Wix's 1250 ms.
	Timeout time.Duration
	// Retries are the delays before each retry of a failed delivery;
	// default DefaultRetries (12 over about two days).
	Retries []time.Duration
	// TimeScale multiplies every retry delay, so a test sees Wix's whole
	// two-day schedule in a second or two (e.g. 1e-5); default 1.
	TimeScale float64
	// TTL is the JWT's lifetime (exp - iat); default 300,000 s, as in
	// Wix's sample token.
	TTL time.Duration
}

// Config configures a Sim.
type Config struct {
	// Seed makes fault injection and ids repeatable; 0 picks one.
	Seed uint64
	// Now is the clock of order dates and JWT iat/exp; default time.Now.
	Now func() time.Time
	// PrivateKey is the app's webhook signing key; default a fresh
	// 2048-bit key. The connector is given PublicKeyPEM.
	PrivateKey *rsa.PrivateKey
	// KeyID is the kid of the JWTs; default DefaultKeyID.
	KeyID string
	// RateLimit is how many requests one app instance may make per
	// RateWindow (a sliding window); default DefaultRateLimit.
	RateLimit int
	// RateWindow is the rate limit's window; default DefaultRateWindow.
	// Tests shrink it (with the connector's limit) to run in milliseconds.
	RateWindow time.Duration
	// Faults to inject from the start.
	Faults Faults
	// Webhooks tunes delivery.
	Webhooks WebhookConfig
	// HTTPClient delivers webhooks; default a plain client (Webhooks.Timeout
	// bounds each attempt).
	HTTPClient *http.Client
	// Logger receives delivery failures; default discards.
	Logger *slog.Logger
}

// Site registers a Wix site with the app installed: an app instance.
type Site struct {
	// SiteID is the site's id (the wix-site-id header).
	SiteID string
	// InstanceID is the app instance on the site: webhooks carry it and
	// the rate limit counts by it.
	InstanceID string
	// AccessToken is the app instance's OAuth access token, sent as
	// "Authorization: <token>"; empty: none.
	AccessToken string
	// APIKey may act on the site when the request also names it in
	// wix-site-id; empty: none. One key may be given to several sites.
	APIKey string
	// Currency of the site's orders; default "USD".
	Currency string
	// ShippingEmailOff turns off the site's "Shipping confirmation" e-mail
	// (eCommerce settings > Emails & Notifications): fulfilments with
	// tracking then e-mail nobody.
	ShippingEmailOff bool
}

// Sim is the Wix eCommerce platform in memory: the REST API as an
// http.Handler, merchant and customer actions as methods, RS256-signed
// webhooks sent to Webhooks.URL. It is safe for concurrent use. Close
// stops webhook delivery.
type Sim struct {
	cfg  Config
	key  *rsa.PrivateKey
	mux  *http.ServeMux
	mu   sync.Mutex
	rng  *mrand.Rand
	f    Faults
	st   Stats
	next int

	sites    map[string]*simSite // by site id
	byInst   map[string]*simSite
	byToken  map[string]*simSite
	byKey    map[string][]*simSite
	orders   map[string]*simOrder
	emails   ring.Log[Email]        // bounded: the newest ring.DefaultMax
	calls    map[string][]time.Time // by instance: requests in the window
	webhooks *deliverer
}

// New returns a simulator; call Close when done with it.
func New(cfg Config) (*Sim, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Seed == 0 {
		cfg.Seed = mrand.Uint64()
	}
	if cfg.KeyID == "" {
		cfg.KeyID = DefaultKeyID
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	if cfg.Webhooks.Timeout <= 0 {
		cfg.Webhooks.Timeout = DefaultDeliveryTimeout
	}
	if cfg.Webhooks.Retries == nil {
		cfg.Webhooks.Retries = DefaultRetries
	}
	if cfg.Webhooks.TimeScale <= 0 {
		cfg.Webhooks.TimeScale = 1
	}
	if cfg.Webhooks.TTL <= 0 {
		cfg.Webhooks.TTL = 300_000 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key := cfg.PrivateKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("wixsim: generate key: %w", err)
		}
	}
	s := &Sim{
		cfg:     cfg,
		key:     key,
		rng:     mrand.New(mrand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		f:       cfg.Faults,
		next:    10000,
		sites:   map[string]*simSite{},
		byInst:  map[string]*simSite{},
		byToken: map[string]*simSite{},
		byKey:   map[string][]*simSite{},
		orders:  map[string]*simOrder{},
		calls:   map[string][]time.Time{},
	}
	s.st.Calls = map[string]int{}
	s.routes()
	s.webhooks = newDeliverer(s)
	return s, nil
}

// Close stops webhook delivery; deliveries still queued are not sent.
func (s *Sim) Close() { s.webhooks.close() }

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
}

// SetWebhookURL changes where events are delivered.
func (s *Sim) SetWebhookURL(url string) {
	s.webhooks.mu.Lock()
	defer s.webhooks.mu.Unlock()
	s.webhooks.url = url
}

// AddSite registers a site (an app instance).
func (s *Sim) AddSite(site Site) error {
	if site.SiteID == "" || site.InstanceID == "" || site.AccessToken == "" && site.APIKey == "" {
		return fmt.Errorf("%w: a site needs a site id, an instance id and an access token or API key", ErrInvalid)
	}
	if site.Currency == "" {
		site.Currency = "USD"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sites[site.SiteID]; ok {
		return fmt.Errorf("%w: site %s exists", ErrInvalid, site.SiteID)
	}
	ss := &simSite{cfg: site}
	s.sites[site.SiteID] = ss
	s.byInst[site.InstanceID] = ss
	if site.AccessToken != "" {
		s.byToken[site.AccessToken] = ss
	}
	if site.APIKey != "" {
		s.byKey[site.APIKey] = append(s.byKey[site.APIKey], ss)
	}
	return nil
}

// SetShippingEmail turns a site's shipping confirmation e-mail on or off,
// as the merchant does in the site's eCommerce settings. Wix offers apps no
// API for it.
func (s *Sim) SetShippingEmail(siteID string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sites[siteID]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownSite, siteID)
	}
	ss.cfg.ShippingEmailOff = !on
	return nil
}

// Serve serves the simulator's API on lis until ctx ends.
func (s *Sim) Serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("wixsim: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("wixsim: serve: %w", err)
	}
	return nil
}

// Stats counts what the API was asked and what it injected.
type Stats struct {
	// Calls counts authenticated, admitted requests by endpoint:
	// "getOrder", "searchOrders", "createFulfillment", "listFulfillments",
	// "bulkCreateFulfillments".
	Calls map[string]int
	// Unauthenticated (401) and PermissionDenied (403) requests.
	Unauthenticated, PermissionDenied int
	// RateLimited requests went over the genuine 200-a-minute limit (429).
	RateLimited int
	// TooManyRequests, ServerErrors and LostResponses count injected
	// faults.
	TooManyRequests, ServerErrors, LostResponses int
	// BadRequests (400), Conflicts (409) and NotFound (404) answers.
	BadRequests, Conflicts, NotFound int
}

// Stats returns the API counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Calls = make(map[string]int, len(s.st.Calls))
	for k, v := range s.st.Calls {
		st.Calls[k] = v
	}
	return st
}

// Email is a shipping confirmation the site sent a customer.
type Email struct {
	SiteID, OrderID, FulfillmentID string
	// TrackingNumber the e-mail carried.
	TrackingNumber string
}

// Emails lists the shipping confirmations sent, oldest first (the newest
// 10,000: the log is bounded).
func (s *Sim) Emails() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emails.All()
}

// chance draws against a share; s.mu is held.
func (s *Sim) chance(p float64) bool {
	return p > 0 && s.rng.Float64() < p
}

// uuid returns a random UUID from the seeded generator; s.mu is held.
func (s *Sim) uuid() string {
	a, b := s.rng.Uint64(), s.rng.Uint64()
	a = a&^0xf000 | 0x4000
	b = b&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// simSite is one site's state; guarded by Sim.mu.
type simSite struct {
	cfg    Site
	orders []*simOrder // creation order
}
