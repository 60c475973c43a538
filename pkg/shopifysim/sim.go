package shopifysim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
)

// DefaultAPIVersion is the Admin API version the simulator reports in
// webhook headers.
const DefaultAPIVersion = "2025-10"

// Errors of the merchant-side actions.
var (
	// ErrUnknownShop: no shop with that domain was added.
	ErrUnknownShop = errors.New("shopifysim: unknown shop")
	// ErrUnknownOrder: the shop has no order with that id.
	ErrUnknownOrder = errors.New("shopifysim: unknown order")
	// ErrInvalid: the action is not allowed in the order's state (Shopify
	// refuses it too), e.g. cancelling a fulfilled order.
	ErrInvalid = errors.New("shopifysim: not allowed")
)

// Faults are the failures the simulator injects, each a share of calls in
// [0, 1]. They can be changed at any time with SetFaults.
type Faults struct {
	// TooManyRequests answers this share of API calls 429 with a
	// Retry-After header (REST-style), doing nothing.
	TooManyRequests float64
	// RetryAfter is the Retry-After sent with a 429; default 1s. Shopify
	// sends fractional seconds ("2.0"); so does the simulator.
	RetryAfter time.Duration
	// ServerErrors answers this share of API calls 500, 502 or 503, doing
	// nothing.
	ServerErrors float64
	// LostResponses carries out this share of API calls and then answers
	// 504, as a gateway that lost the upstream answer: the effect happened,
	// the client does not know it.
	LostResponses float64
	// SlowResponses carries out this share of API calls and answers only
	// after SlowDelay, so a client with a shorter timeout gives up on a call
	// whose effect happened.
	SlowResponses float64
	// SlowDelay is the delay of a slow response; default 10s.
	SlowDelay time.Duration
	// Only restricts the API faults above to requests whose operation has
	// one of these root fields (e.g. "fulfillmentCreate"); empty: every
	// request.
	Only []string
	// RefuseFulfillments, when set, answers every fulfillmentCreate with
	// this userErrors message and creates nothing: a refusal that only the
	// merchant can fix (a location that cannot fulfil, say). Not limited
	// by Only.
	RefuseFulfillments string

	// DropWebhooks never delivers this share of webhooks (reconciliation
	// has to find what they said).
	DropWebhooks float64
	// DuplicateWebhooks delivers this share of webhooks twice, with the
	// same event id and body.
	DuplicateWebhooks float64
	// ReorderWebhooks delays this share of webhooks by up to MaxReorderDelay,
	// so later ones overtake them.
	ReorderWebhooks float64
	// MaxReorderDelay bounds the delay of a reordered webhook; default 200ms.
	MaxReorderDelay time.Duration
}

// WebhookConfig tunes webhook delivery.
type WebhookConfig struct {
	// Timeout is how long the simulator waits for a 2xx: Shopify's 5s.
	Timeout time.Duration
	// Retries are the delays before each retry of a failed delivery. Shopify
	// retries 8 times over 4 hours; the default keeps the count (8) and
	// shrinks the delays to 50ms..1.6s so tests see the whole sequence.
	Retries []time.Duration
}

// Config configures a Sim.
type Config struct {
	// APIVersion is reported in webhook headers; default DefaultAPIVersion.
	// The GraphQL endpoint accepts any released version ("2025-10") or
	// "unstable".
	APIVersion string
	// Seed makes fault injection and ids repeatable; 0 picks one.
	Seed uint64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Faults to inject from the start.
	Faults Faults
	// Webhooks tunes delivery.
	Webhooks WebhookConfig
	// HTTPClient delivers webhooks; default a client with Webhooks.Timeout.
	HTTPClient *http.Client
	// Logger receives delivery failures; default discards.
	Logger *slog.Logger
}

// ShopConfig registers a shop.
type ShopConfig struct {
	// Domain is the shop's myshopify domain, e.g. "demo.myshopify.com".
	Domain string
	// AccessToken is the Admin API token the connector must send.
	AccessToken string
	// AppSecret signs webhooks (the app's client secret).
	AppSecret string
	// WebhookURL receives every webhook topic; empty sends none.
	WebhookURL string
	// Currency of the shop; default "USD".
	Currency string
	// MaximumAvailable is the GraphQL cost bucket size; default 1000.
	MaximumAvailable float64
	// RestoreRate is the points restored per second; default 100
	// (Standard plan).
	RestoreRate float64
	// Location is the shop's time zone for REST timestamps; default UTC-5.
	Location *time.Location
}

// Sim is a Shopify store platform in memory: the Admin GraphQL API as an
// http.Handler, merchant actions as methods, signed webhooks sent to each
// shop's URL. It is safe for concurrent use. Close stops webhook delivery.
type Sim struct {
	cfg Config

	mu     sync.Mutex
	rng    *rand.Rand
	faults Faults
	shops  map[string]*simShop
	nextID int64
	stats  Stats
	notes  ring.Log[Notification]   // bounded: the newest ring.DefaultMax
	trkUps ring.Log[TrackingUpdate] // bounded: the newest ring.DefaultMax

	hooks *deliverer
	ctl   *http.ServeMux
}

// New returns a simulator; call Close when done with it.
func New(cfg Config) *Sim {
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Webhooks.Timeout <= 0 {
		cfg.Webhooks.Timeout = 5 * time.Second
	}
	if cfg.Webhooks.Retries == nil {
		cfg.Webhooks.Retries = []time.Duration{
			50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
			800 * time.Millisecond, 1600 * time.Millisecond, 1600 * time.Millisecond, 1600 * time.Millisecond,
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Webhooks.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		faults: cfg.Faults,
		shops:  map[string]*simShop{},
		nextID: 5_800_000_000,
	}
	s.hooks = newDeliverer(s)
	s.ctl = s.controlMux()
	return s
}

// Close stops webhook delivery; webhooks still queued are not sent.
func (s *Sim) Close() { s.hooks.close() }

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// AddShop registers a shop.
func (s *Sim) AddShop(c ShopConfig) error {
	if c.Domain == "" || c.AccessToken == "" || c.AppSecret == "" {
		return fmt.Errorf("%w: shop needs a domain, an access token and an app secret", ErrInvalid)
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if c.MaximumAvailable <= 0 {
		c.MaximumAvailable = 1000
	}
	if c.RestoreRate <= 0 {
		c.RestoreRate = 100
	}
	if c.Location == nil {
		c.Location = time.FixedZone("", -5*3600)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shops[c.Domain] = &simShop{
		cfg:       c,
		orders:    map[int64]*simOrder{},
		number:    1000,
		available: c.MaximumAvailable,
		refilled:  s.cfg.Now(),
	}
	return nil
}

// SetWebhookURL changes where a shop's webhooks go.
func (s *Sim) SetWebhookURL(domain, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.shops[domain]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownShop, domain)
	}
	sh.cfg.WebhookURL = url
	return nil
}

// SetAvailable sets a shop's GraphQL cost bucket, e.g. to 0 so the next
// query is THROTTLED.
func (s *Sim) SetAvailable(domain string, points float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.shop(domain)
	if err != nil {
		return err
	}
	sh.refill(s.cfg.Now())
	sh.available = min(points, sh.cfg.MaximumAvailable)
	return nil
}

// Serve serves the simulator's API on lis until ctx ends (for `make run`).
func (s *Sim) Serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("shopifysim: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shopifysim: serve: %w", err)
	}
	return nil
}

// Stats counts what the API was asked and what it injected.
type Stats struct {
	// Calls counts GraphQL requests that reached the endpoint.
	Calls int
	// Unauthorized calls had a missing or wrong access token.
	Unauthorized int
	// Throttled calls were refused for cost (THROTTLED).
	Throttled int
	// TooManyRequests, ServerErrors, LostResponses and SlowResponses count
	// the injected faults.
	TooManyRequests, ServerErrors, LostResponses, SlowResponses int
	// Operations counts executed root fields by name, e.g.
	// "fulfillmentCreate", "order", "orders".
	Operations map[string]int
	// BadRequests counts requests refused as invalid GraphQL.
	BadRequests int
}

// Stats returns the API counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Operations = make(map[string]int, len(s.stats.Operations))
	for k, v := range s.stats.Operations {
		st.Operations[k] = v
	}
	return st
}

// Notification is a customer e-mail the shop would have sent.
type Notification struct {
	Shop    string
	OrderID int64
	// FulfillmentID is the fulfilment it is about.
	FulfillmentID int64
	// Kind is "shipping_confirmation" (fulfilment created with
	// notifyCustomer) or "shipping_update" (tracking changed with
	// notifyCustomer).
	Kind string
}

// Notifications lists the customer e-mails sent, oldest first (the newest
// 10,000: the log is bounded).
func (s *Sim) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notes.All()
}

// TrackingUpdate records one fulfillmentTrackingInfoUpdate.
type TrackingUpdate struct {
	Shop           string
	OrderID        int64
	FulfillmentID  int64
	Tracking       []Tracking
	NotifyCustomer bool
}

// TrackingUpdates lists the tracking changes made through the API, oldest
// first (the newest 10,000: the log is bounded).
func (s *Sim) TrackingUpdates() []TrackingUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trkUps.All()
}

// chance draws against a share; s.mu is held.
func (s *Sim) chance(p float64) bool {
	return p > 0 && s.rng.Float64() < p
}

// newID returns a fresh numeric id; s.mu is held.
func (s *Sim) newID() int64 {
	s.nextID += 1 + int64(s.rng.IntN(97))
	return s.nextID
}

func (s *Sim) shop(domain string) (*simShop, error) {
	sh, ok := s.shops[domain]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownShop, domain)
	}
	return sh, nil
}

// simShop is one shop's state; guarded by Sim.mu.
type simShop struct {
	cfg       ShopConfig
	orders    map[int64]*simOrder
	list      []*simOrder // creation order
	number    int
	available float64
	refilled  time.Time
}

// refill restores the cost bucket up to now.
func (sh *simShop) refill(now time.Time) {
	if d := now.Sub(sh.refilled); d > 0 {
		sh.available = min(sh.cfg.MaximumAvailable, sh.available+d.Seconds()*sh.cfg.RestoreRate)
	}
	sh.refilled = now
}
