// Package service wires the WooCommerce connector: configuration, the NATS
// connection, one REST client per store, the webhook endpoint (the shared
// pkg/connector/webhook handler), one reconciliation pass per store (the
// shared pkg/connector/reconcile) and the command consumer, started
// together and stopped together.
package service

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

// Config is the connector's configuration, from DROPSYNC_* variables.
type Config struct {
	config.NATS
	config.Telemetry
	config.GRPCClient
	// WooCommerce configures the connector itself (DROPSYNC_WOOCOMMERCE_*).
	WooCommerce WooCommerce
	// Stores are read by Load from WooCommerce.Stores and the credentials
	// each names; a caller (tests, the dev stack) may set them directly.
	Stores []stores.Store `ignored:"true"`
}

// Load reads the configuration from the environment: the variables, then
// each store's credentials (environment variables or files), and
// validates it.
func Load(cfg *Config) error {
	if err := config.Read(cfg); err != nil {
		return err
	}
	list, err := ParseStores(cfg.WooCommerce.Stores, os.LookupEnv, os.ReadFile)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cfg.Stores = list
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// ParseStores reads a DROPSYNC_WOOCOMMERCE_STORES list and each store's
// credentials through lookup (environment variables) and readFile (files
// of a mounted Secret).
func ParseStores(spec string, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) ([]stores.Store, error) {
	specs, err := stores.ParseSpecs(spec)
	if err != nil {
		return nil, err
	}
	return stores.Resolve(specs, lookup, readFile)
}

// WooCommerce configures the stores, the webhook endpoint, reconciliation
// and the commands.
type WooCommerce struct {
	// Stores registers the stores, a JSON list of stores.Spec.
	Stores string `envconfig:"STORES" desc:"JSON list of stores: [{\"slug\":\"acme\",\"site_url\":\"https://acme.example\",\"credentials_ref\":\"env:WOO_ACME\"}], optional \"auth\" (basic, query, oauth1; default basic for https, oauth1 for http) and \"webhook_source\"; credentials_ref env:PREFIX reads PREFIX_CONSUMER_KEY, PREFIX_CONSUMER_SECRET, PREFIX_WEBHOOK_SECRET (file:/folder reads files of those names, lower case); credentials are never logged"`
	// WebhookAddr is the webhook endpoint's listen address.
	WebhookAddr string `envconfig:"WEBHOOK_ADDR" default:"127.0.0.1:8092" desc:"Listen address of the webhook endpoint"`
	// WebhookPath is the path webhooks are posted to.
	WebhookPath string `envconfig:"WEBHOOK_PATH" default:"/webhooks/woocommerce" desc:"Path of the webhook endpoint (the delivery URL of every store's order.created, order.updated, order.deleted and order.restored webhooks)"`
	// DedupeTTL is how long a webhook delivery is remembered.
	DedupeTTL time.Duration `envconfig:"DEDUPE_TTL" default:"72h" desc:"How long a webhook delivery id is remembered for deduplication"`
	// OrdersAddr is the orders service, for store settings.
	OrdersAddr string `envconfig:"ORDERS_ADDR" desc:"gRPC address of the orders service (store settings: carrier mapping); empty uses the default settings"`
	// NotifierAddr is the notifier, for shipping confirmation decisions.
	NotifierAddr string `envconfig:"NOTIFIER_ADDR" desc:"gRPC address of the notifier (shipping confirmation decisions); empty decides from the store setting alone, unrecorded"`
	// ReconcileInterval is the time between reconciliation passes.
	ReconcileInterval time.Duration `envconfig:"RECONCILE_INTERVAL" default:"1m" desc:"Time between reconciliation passes per store (WooCommerce never retries a webhook: this is the safety net)"`
	// ReconcileOverlap is read again before the checkpoint.
	ReconcileOverlap time.Duration `envconfig:"RECONCILE_OVERLAP" default:"2m" desc:"How far before its checkpoint each pass reads again (clock skew, orders changed in the same second)"`
	// ReconcileLookback is how far back the first pass reads.
	ReconcileLookback time.Duration `envconfig:"RECONCILE_LOOKBACK" default:"48h" desc:"How far back the first reconciliation pass of a store reads"`
	// CallTimeout bounds one HTTP attempt.
	CallTimeout time.Duration `envconfig:"CALL_TIMEOUT" default:"15s" desc:"Timeout of one WooCommerce HTTP attempt"`
	// MaxAttempts bounds the attempts at one call.
	MaxAttempts int `envconfig:"MAX_ATTEMPTS" default:"4" desc:"Attempts at one WooCommerce call (5xx, timeouts and 429 are retried with backoff and jitter; adding tracking or notes only when the store certainly did not act)"`
	// MaxPause caps every wait a store asks for.
	MaxPause time.Duration `envconfig:"MAX_PAUSE" default:"5m" desc:"Longest wait a store may impose on its calls (429 Retry-After); a longer ask is cut to this, with a warning"`
	// RateLimit bounds calls a second per store.
	RateLimit float64 `envconfig:"RATE_LIMIT" default:"0" desc:"WooCommerce calls a second per store (0: none; WooCommerce has no limit of its own, 429 with Retry-After is always honoured)"`
	// TrackingURLTemplate makes tracking links for unknown carriers.
	TrackingURLTemplate string `envconfig:"TRACKING_URL_TEMPLATE" default:"https://t.17track.net/en#nums={number}" desc:"Tracking page of carriers the Shipment Tracking extension does not know ({number} is replaced)"`
	// Concurrency is how many commands run at once.
	Concurrency int `envconfig:"CONCURRENCY" default:"4" desc:"Commands carried out at once (one at a time per order)"`
	// MaxDeliver bounds deliveries of one command.
	// With CommandBackoff the default reaches about a day (bus.CommandMaxDeliver).
	MaxDeliver int `envconfig:"MAX_DELIVER" default:"30" desc:"Deliveries of one command (with the default backoff, about 24 h); on the last, a transient failure (the store's 5xx, timeouts, 429 past its budget, the orders service or the notifier unreachable) is published as FulfillmentFailed (retryable), which RetryFulfillment can retry"`
	// AckWait is how long JetStream waits for a command's ack.
	AckWait time.Duration `envconfig:"ACK_WAIT" default:"1m" desc:"How long JetStream waits for a command's ack before redelivering it"`
	// CommandBackoff are the delays before redelivering a failed command.
	CommandBackoff []time.Duration `envconfig:"COMMAND_BACKOFF" default:"5s,30s,2m,10m,30m,1h" desc:"Delays before each redelivery of a failed command (the last repeats): a store outage of hours ends fulfilled, not failed"`
	// ShutdownGrace bounds in-flight webhooks and commands at shutdown.
	ShutdownGrace time.Duration `envconfig:"SHUTDOWN_GRACE" default:"10s" desc:"Time in-flight webhook deliveries and commands get to finish on shutdown"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	w := c.WooCommerce
	var errs []error
	specs, err := stores.ParseSpecs(w.Stores)
	if err != nil {
		errs = append(errs, fmt.Errorf("DROPSYNC_WOOCOMMERCE_STORES: %w", err))
	}
	seen := map[string]bool{}
	for i, s := range specs {
		if s.Slug == "" || s.SiteURL == "" || s.CredentialsRef == "" {
			errs = append(errs, fmt.Errorf("DROPSYNC_WOOCOMMERCE_STORES[%d]: slug, site_url and credentials_ref are required", i))
		}
		if seen[s.Slug] {
			errs = append(errs, fmt.Errorf("DROPSYNC_WOOCOMMERCE_STORES[%d]: slug %q twice", i, s.Slug))
		}
		seen[s.Slug] = true
	}
	if _, err := stores.New(c.Stores); err != nil {
		errs = append(errs, fmt.Errorf("DROPSYNC_WOOCOMMERCE_STORES: %w", err))
	}
	for _, s := range c.Stores {
		if s.ConsumerKey.Empty() || s.ConsumerSecret.Empty() || s.WebhookSecret.Empty() {
			errs = append(errs, fmt.Errorf("store %q: credentials missing in %s", s.Slug, s.CredentialsRef))
		}
	}
	if w.WebhookAddr == "" {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_WEBHOOK_ADDR: required"))
	}
	if !strings.HasPrefix(w.WebhookPath, "/") {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_WEBHOOK_PATH: must start with /"))
	}
	if w.ReconcileInterval < time.Second {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_RECONCILE_INTERVAL: must be at least 1s"))
	}
	if w.ReconcileOverlap < 0 || w.ReconcileLookback <= 0 || w.DedupeTTL <= 0 {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_RECONCILE_OVERLAP must not be negative, _RECONCILE_LOOKBACK and _DEDUPE_TTL must be positive"))
	}
	if w.MaxPause < 0 {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_MAX_PAUSE: must not be negative"))
	}
	if w.CallTimeout <= 0 || w.MaxAttempts < 1 || w.Concurrency < 1 || w.MaxDeliver < 1 || w.AckWait < time.Second || w.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_CALL_TIMEOUT, _MAX_ATTEMPTS, _CONCURRENCY, _MAX_DELIVER and _SHUTDOWN_GRACE must be positive and _ACK_WAIT at least 1s"))
	}
	if w.RateLimit < 0 {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_RATE_LIMIT: must not be negative"))
	}
	if !strings.Contains(w.TrackingURLTemplate, "{number}") {
		errs = append(errs, errors.New("DROPSYNC_WOOCOMMERCE_TRACKING_URL_TEMPLATE: must contain {number}"))
	}
	return errors.Join(c.NATS.Validate(), c.Telemetry.Validate(), c.GRPCClient.Validate(), errors.Join(errs...))
}
