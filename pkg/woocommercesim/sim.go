package woocommercesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/internal/ring"
)

// Errors of the merchant-side actions.
var (
	// ErrUnknownOrder: the store has no order with that id.
	ErrUnknownOrder = errors.New("woocommercesim: unknown order")
	// ErrInvalid: the action or its arguments are not allowed.
	ErrInvalid = errors.New("woocommercesim: not allowed")
	// ErrPing: the activation ping of a new webhook did not get 200.
	ErrPing = errors.New("woocommercesim: webhook ping failed")
)

// Faults are the failures the simulator injects, each a share of calls in
// [0, 1]. They can be changed at any time with SetFaults.
type Faults struct {
	// TooManyRequests answers this share of API calls 429 with Retry-After
	// (WooCommerce has no rate limit of its own; hosts and security plugins
	// add one), doing nothing.
	TooManyRequests float64
	// RetryAfter is the Retry-After of a 429, sent in whole seconds
	// (rounded up); default 1s; negative sends no Retry-After.
	RetryAfter time.Duration
	// ServerErrors answers this share of API calls 500, 502 or 503, doing
	// nothing.
	ServerErrors float64
	// LostResponses carries out this share of API calls and then answers
	// 504, as a proxy that lost the upstream answer.
	LostResponses float64
	// SlowResponses carries out this share of API calls and answers only
	// after SlowDelay, so a client with a shorter timeout gives up on a call
	// whose effect happened.
	SlowResponses float64
	// SlowDelay is the delay of a slow answer; default 10s.
	SlowDelay time.Duration
	// DropWebhooks never sends this share of webhook deliveries (and does
	// not count them as failures): only reconciliation can find what they
	// said.
	DropWebhooks float64
}

// Config configures a Sim.
type Config struct {
	// SiteURL is the site's home URL ("https://shop.example"): the base of
	// the OAuth 1.0a signature, X-WC-Webhook-Source and Link headers.
	// SetSiteURL changes it once the listener's address is known.
	SiteURL string
	// HTTPS makes the site behave as if served over TLS: Basic and
	// query-parameter authentication are accepted, OAuth 1.0a is not.
	// Otherwise only OAuth 1.0a is.
	HTTPS bool
	// ConsumerKey and ConsumerSecret are the REST API key pair
	// ("ck_...", "cs_...").
	ConsumerKey, ConsumerSecret string
	// ShipmentTracking installs the Shipment Tracking extension.
	ShipmentTracking bool
	// Location is the site's time zone (Settings > General); default UTC+2,
	// so that site-local and GMT dates differ.
	Location *time.Location
	// Currency of new orders; default "USD".
	Currency string
	// Seed makes fault injection and ids repeatable; 0 picks one.
	Seed uint64
	// Now is the clock; default time.Now. Dates have second resolution.
	Now func() time.Time
	// Faults to inject from the start.
	Faults Faults
	// WebhookTimeout is how long a delivery waits for an answer;
	// WooCommerce waits 60 s; default 5s.
	WebhookTimeout time.Duration
	// WebhookDelay is how long a delivery waits in the queue (Action
	// Scheduler's latency); default none.
	WebhookDelay time.Duration
	// MaxDeliveryFailures is woocommerce_max_webhook_delivery_failures;
	// default 5.
	MaxDeliveryFailures int
	// HTTPClient sends webhooks; default one with WebhookTimeout.
	HTTPClient *http.Client
	// Logger receives delivery failures; default discards.
	Logger *slog.Logger
}

// Sim is one WooCommerce store in memory: its REST API as an http.Handler,
// merchant actions as methods, webhooks sent to the registered URLs. It is
// safe for concurrent use. Close stops webhook delivery.
type Sim struct {
	cfg Config

	mu        sync.Mutex
	rng       *rand.Rand
	faults    Faults
	siteURL   string
	orders    map[int64]*order
	list      []*order // creation order
	nextID    int64
	nonces    map[string]time.Time
	emails    ring.Log[Email] // bounded: the newest ring.DefaultMax
	completed bool            // the Completed order e-mail is enabled
	stats     Stats
	hooks     *deliverer
	ctl       *http.ServeMux
}

// New returns a simulator; call Close when done with it.
func New(cfg Config) *Sim {
	if cfg.Location == nil {
		cfg.Location = time.FixedZone("UTC+2", 2*3600)
	}
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = 5 * time.Second
	}
	if cfg.MaxDeliveryFailures <= 0 {
		cfg.MaxDeliveryFailures = 5
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: cfg.WebhookTimeout,
			// WooCommerce sends with redirection 0.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		faults:    cfg.Faults,
		siteURL:   strings.TrimRight(cfg.SiteURL, "/"),
		orders:    map[int64]*order{},
		nextID:    700,
		nonces:    map[string]time.Time{},
		completed: true,
	}
	s.hooks = newDeliverer(s)
	s.ctl = s.controlMux()
	return s
}

// Close stops webhook delivery; deliveries still queued are not sent.
func (s *Sim) Close() { s.hooks.close() }

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// SetSiteURL sets the site's home URL (e.g. an httptest server's URL).
func (s *Sim) SetSiteURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.siteURL = strings.TrimRight(u, "/")
}

// SiteURL returns the site's home URL, without a trailing slash.
func (s *Sim) SiteURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.siteURL
}

// SetCompletedEmail enables or disables the store's "Completed order"
// customer e-mail (WooCommerce > Settings > Emails); enabled by default.
func (s *Sim) SetCompletedEmail(enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completed = enabled
}

// Serve serves the simulator's API on lis until ctx ends (for `make run`).
func (s *Sim) Serve(ctx context.Context, lis net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("woocommercesim: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("woocommercesim: serve: %w", err)
	}
	return nil
}

// Stats counts what the API was asked and what it injected.
type Stats struct {
	// Calls counts requests to /wp-json.
	Calls int
	// Unauthorized calls were refused with 401 (a reused nonce included).
	Unauthorized int
	// NonceReused counts OAuth requests refused for a nonce already used.
	NonceReused int
	// TooManyRequests, ServerErrors, LostResponses and SlowResponses count
	// the injected faults.
	TooManyRequests, ServerErrors, LostResponses, SlowResponses int
	// BadRequests counts 400s.
	BadRequests int
	// Routes counts authenticated calls by route, e.g. "GET /orders",
	// "PUT /orders/{id}", "POST /shipment-trackings".
	Routes map[string]int
}

// Stats returns the API counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Routes = make(map[string]int, len(s.stats.Routes))
	for k, v := range s.stats.Routes {
		st.Routes[k] = v
	}
	return st
}

// Email is a customer e-mail WooCommerce would have sent.
type Email struct {
	// OrderID is the order it is about.
	OrderID int64
	// Kind is the WooCommerce e-mail id: customer_processing_order,
	// customer_on_hold_order, customer_completed_order,
	// customer_refunded_order or customer_note.
	Kind string
	// Tracking lists the tracking numbers shown in it (the Shipment
	// Tracking extension adds them to order e-mails; a customer note shows
	// the note's text, see Note).
	Tracking []string
	// Note is the text of a customer note.
	Note string
	// At is when it was sent.
	At time.Time
}

// E-mail kinds.
const (
	EmailProcessing = "customer_processing_order"
	EmailOnHold     = "customer_on_hold_order"
	EmailCompleted  = "customer_completed_order"
	EmailRefunded   = "customer_refunded_order"
	EmailNote       = "customer_note"
)

// Emails lists the customer e-mails sent about an order (every order when
// orderID is 0), oldest first: of the newest 10,000, as the log is bounded.
func (s *Sim) Emails(orderID int64) []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Email
	s.emails.Each(func(e Email) bool {
		if orderID == 0 || e.OrderID == orderID {
			e.Tracking = append([]string(nil), e.Tracking...)
			out = append(out, e)
		}
		return true
	})
	return out
}

// ShippingEmails counts the e-mails that tell the customer an order was
// shipped: Completed order e-mails and customer notes.
func (s *Sim) ShippingEmails(orderID int64) int {
	n := 0
	for _, e := range s.Emails(orderID) {
		if e.Kind == EmailCompleted || e.Kind == EmailNote {
			n++
		}
	}
	return n
}

// now is the clock, at WooCommerce's second resolution, in UTC.
func (s *Sim) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Second)
}

// chance draws against a share; s.mu is held.
func (s *Sim) chance(p float64) bool {
	return p > 0 && s.rng.Float64() < p
}

// newID returns a fresh post id; s.mu is held. WordPress shares one id
// sequence between orders, refunds, notes and everything else.
func (s *Sim) newID() int64 {
	s.nextID += 1 + int64(s.rng.IntN(3))
	return s.nextID
}
