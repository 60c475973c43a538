package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// Config is the Shopify connector's configuration, from DROPSYNC_*
// variables.
type Config struct {
	config.NATS
	config.Telemetry
	config.GRPCClient
	Shopify Shopify
	// Stores are read by Load from Shopify.Stores and the credentials it
	// names; tests may set them directly.
	Stores []stores.Store `ignored:"true"`
}

// Shopify tunes the connector.
type Shopify struct {
	// Addr is where webhooks are received.
	Addr string `envconfig:"ADDR" default:"127.0.0.1:8081" desc:"Listen address of the webhook endpoint (POST /webhooks/shopify), /livez, /readyz (also /healthz) and /statsz"`
	// Stores lists the stores served.
	Stores string `envconfig:"STORES" desc:"Stores served, slug=shop-domain pairs separated by commas (demo=demo.myshopify.com). Each store's credentials come from DROPSYNC_SHOPIFY_STORE_<SLUG>_ACCESS_TOKEN and _WEBHOOK_SECRET (and _WEBHOOK_SECRET_PREVIOUS during a rotation; <SLUG> upper case, '-' as '_'), or from SECRETS_DIR; never logged"`
	// SecretsDir is where Kubernetes Secrets are mounted.
	SecretsDir string `envconfig:"SECRETS_DIR" desc:"Folder of mounted Kubernetes Secrets, one sub-folder per store slug holding access_token, webhook_secret (and webhook_secret_previous); empty reads the environment variables"`
	// APIBaseURL is the Admin API's base URL.
	APIBaseURL string `envconfig:"API_BASE_URL" default:"https://{shop}" desc:"Admin API base URL; {shop} is replaced by the shop domain (the simulator: http://127.0.0.1:8090/{shop})"`
	// APIVersion is the Admin API version used.
	APIVersion string `envconfig:"API_VERSION" default:"2025-10" desc:"Shopify Admin API version"`
	// APIAttemptTimeout bounds one API call attempt.
	APIAttemptTimeout time.Duration `envconfig:"API_ATTEMPT_TIMEOUT" default:"10s" desc:"Time one Admin API attempt may take"`
	// APIMaxAttempts bounds the attempts at one API call.
	APIMaxAttempts int `envconfig:"API_MAX_ATTEMPTS" default:"4" desc:"Attempts at one Admin API call (429, THROTTLED, 5xx and timeouts are retried with backoff and jitter)"`
	// APIMaxPause caps every wait Shopify asks for.
	APIMaxPause time.Duration `envconfig:"API_MAX_PAUSE" default:"5m" desc:"Longest wait Shopify may impose on a store's calls (Retry-After, THROTTLED restore time); a longer ask is cut to this, with a warning"`
	// MaxBodyBytes bounds a webhook body.
	MaxBodyBytes int64 `envconfig:"WEBHOOK_MAX_BODY_BYTES" default:"2097152" desc:"Largest webhook body accepted (413 above)"`
	// DedupeTTL is how long a webhook delivery is remembered.
	DedupeTTL time.Duration `envconfig:"WEBHOOK_DEDUPE_TTL" default:"72h" desc:"How long a webhook's X-Shopify-Event-Id is remembered (must exceed Shopify's 4 h of retries and the 1 day a webhook may be late)"`
	// ReconcileInterval is the time between reconciliation passes.
	ReconcileInterval time.Duration `envconfig:"RECONCILE_INTERVAL" default:"5m" desc:"Time between reconciliation passes over orders changed on Shopify; 0 turns them off"`
	// ReconcileLookback is how far back the first pass reads.
	ReconcileLookback time.Duration `envconfig:"RECONCILE_LOOKBACK" default:"48h" desc:"How far back the first reconciliation pass of a store reads"`
	// ReconcileOverlap is read again before the checkpoint on each pass.
	ReconcileOverlap time.Duration `envconfig:"RECONCILE_OVERLAP" default:"2m" desc:"Time read again before the last checkpoint on each pass (clock skew, same-second changes)"`
	// CommandConcurrency is how many orders' commands run at once.
	CommandConcurrency int `envconfig:"COMMAND_CONCURRENCY" default:"8" desc:"Orders whose commands run at once (one order's commands always run in order)"`
	// CommandMaxDeliver bounds attempts at one command.
	// With CommandBackoff the default reaches about a day (bus.CommandMaxDeliver).
	CommandMaxDeliver int `envconfig:"COMMAND_MAX_DELIVER" default:"30" desc:"Deliveries of one command (with the default backoff, about 24 h); on the last, a transient failure (Shopify's 5xx, timeouts, 429 past its budget, the orders service or the notifier unreachable) is published as FulfillmentFailed (retryable), which RetryFulfillment can retry"`
	// CommandBackoff are the delays before redelivering a failed command
	// (bus.CommandBackoff).
	CommandBackoff []time.Duration `envconfig:"COMMAND_BACKOFF" default:"5s,30s,2m,10m,30m,1h" desc:"Delays before each redelivery of a failed command (the last repeats): a store outage of hours ends fulfilled, not failed"`
	// CommandRoundBackoff is the base wait between read-then-create rounds
	// of one delivery (ports.CommandsConfig.Backoff).
	CommandRoundBackoff time.Duration `envconfig:"COMMAND_ROUND_BACKOFF" default:"200ms" desc:"Base wait between the read-then-create rounds of one command delivery when Shopify fails transiently (full jitter, doubling); then the bus redelivers after COMMAND_BACKOFF"`
	// CommandAckWait is how long JetStream waits for a command's ack.
	CommandAckWait time.Duration `envconfig:"COMMAND_ACK_WAIT" default:"30s" desc:"How long JetStream waits for a command's ack before redelivering it"`
	// ShutdownGrace bounds shutdown.
	ShutdownGrace time.Duration `envconfig:"SHUTDOWN_GRACE" default:"10s" desc:"Time in-flight webhooks and commands get to finish on shutdown"`
	// OrdersAddr is the orders service's gRPC address.
	OrdersAddr string `envconfig:"ORDERS_ADDR" desc:"gRPC address of the orders service, for store settings (carrier mapping); empty uses the default settings"`
	// NotifierAddr is the notifier's gRPC address.
	NotifierAddr string `envconfig:"NOTIFIER_ADDR" desc:"gRPC address of the notifier (shipping confirmation decisions); empty decides from the store's setting alone"`
	// SettingsTTL is how long store settings are reused.
	SettingsTTL time.Duration `envconfig:"SETTINGS_TTL" default:"1m" desc:"How long a store's settings read from the orders service are reused"`
	// TrackingURLTemplate makes tracking links Shopify cannot.
	TrackingURLTemplate string `envconfig:"TRACKING_URL_TEMPLATE" default:"https://t.17track.net/en#nums={number}" desc:"Tracking page for carriers Shopify does not recognise; {number} is the tracking number"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	s := c.Shopify
	if s.Addr == "" {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_ADDR: required"))
	}
	if !strings.Contains(s.APIBaseURL, "://") {
		errs = append(errs, fmt.Errorf("DROPSYNC_SHOPIFY_API_BASE_URL: %q is not a URL", s.APIBaseURL))
	}
	if s.APIVersion == "" {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_API_VERSION: required"))
	}
	if s.APIAttemptTimeout <= 0 || s.APIMaxAttempts < 1 {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_API_ATTEMPT_TIMEOUT and _API_MAX_ATTEMPTS: must be positive"))
	}
	if s.APIMaxPause < 0 {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_API_MAX_PAUSE: must not be negative"))
	}
	if s.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_WEBHOOK_MAX_BODY_BYTES: at least 1024"))
	}
	if s.DedupeTTL < 5*time.Hour {
		errs = append(errs, fmt.Errorf("DROPSYNC_SHOPIFY_WEBHOOK_DEDUPE_TTL: %s is shorter than Shopify's retry window (4 h) with margin", s.DedupeTTL))
	}
	if s.ReconcileInterval < 0 || s.ReconcileLookback <= 0 || s.ReconcileOverlap < 0 {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_RECONCILE_*: interval and overlap not negative, lookback positive"))
	}
	if s.CommandConcurrency < 1 || s.CommandMaxDeliver < 1 || s.CommandAckWait < time.Second {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_COMMAND_*: concurrency and max deliver at least 1, ack wait at least 1s"))
	}
	for _, d := range append([]time.Duration{s.CommandRoundBackoff}, s.CommandBackoff...) {
		if d < 0 {
			errs = append(errs, errors.New("DROPSYNC_SHOPIFY_COMMAND_BACKOFF and _COMMAND_ROUND_BACKOFF: delays must not be negative"))
			break
		}
	}
	if s.ShutdownGrace <= 0 || s.SettingsTTL < 0 {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_SHUTDOWN_GRACE positive, _SETTINGS_TTL not negative"))
	}
	if !strings.Contains(s.TrackingURLTemplate, "{number}") {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_TRACKING_URL_TEMPLATE: must contain {number}"))
	}
	if len(c.Stores) == 0 {
		errs = append(errs, errors.New("DROPSYNC_SHOPIFY_STORES: at least one store"))
	}
	for _, st := range c.Stores {
		if _, _, err := order.ParseStoreKey(order.WordShopify + ":" + st.Slug); err != nil {
			errs = append(errs, fmt.Errorf("DROPSYNC_SHOPIFY_STORES: %w", err))
		}
		if st.Domain == "" || strings.ContainsAny(st.Domain, "/: ") {
			errs = append(errs, fmt.Errorf("DROPSYNC_SHOPIFY_STORES: store %q: %q is not a shop domain", st.Slug, st.Domain))
		}
		if st.AccessToken.Empty() {
			errs = append(errs, fmt.Errorf("store %q: no access token in %s", st.Slug, st.CredentialsRef))
		}
		if st.WebhookSecret.Empty() {
			errs = append(errs, fmt.Errorf("store %q: no webhook secret in %s", st.Slug, st.CredentialsRef))
		}
	}
	return errors.Join(c.NATS.Validate(), c.Telemetry.Validate(), c.GRPCClient.Validate(), errors.Join(errs...))
}

// Load reads the configuration from the environment: the variables, then
// each store's credentials.
func Load(cfg *Config) error {
	if err := config.Load(&loadOnly{cfg}); err != nil {
		return err
	}
	list, err := ParseStores(cfg.Shopify.Stores, cfg.Shopify.SecretsDir, os.LookupEnv, os.ReadFile)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cfg.Stores = list
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// loadOnly lets config.Load fill the variables without validating stores
// that are not read yet.
type loadOnly struct{ *Config }

func (*loadOnly) Validate() error { return nil }

// CredentialsPrefix is the environment variable prefix of a store's
// credentials: DROPSYNC_SHOPIFY_STORE_<SLUG>_.
func CredentialsPrefix(slug string) string {
	return config.Prefix + "_SHOPIFY_STORE_" + strings.ToUpper(strings.ReplaceAll(slug, "-", "_")) + "_"
}

// ParseStores reads "slug=domain,..." and each store's credentials, from
// files under secretsDir when it is set, else from lookup (the
// environment).
func ParseStores(spec, secretsDir string, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) ([]stores.Store, error) {
	var out []stores.Store
	var errs []error
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		slug, domain, ok := strings.Cut(part, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("store %q: want slug=shop-domain", part))
			continue
		}
		st := stores.Store{Slug: strings.TrimSpace(slug), Domain: strings.ToLower(strings.TrimSpace(domain))}
		read := func(name string) config.Secret {
			if secretsDir != "" {
				path := filepath.Join(secretsDir, st.Slug, name)
				b, err := readFile(path)
				if err != nil {
					return config.Secret{}
				}
				// Follows the file: a replaced Secret is taken without a restart.
				return config.NewFileSecret(path, strings.TrimSpace(string(b)))
			}
			v, _ := lookup(CredentialsPrefix(st.Slug) + strings.ToUpper(name))
			return config.NewSecret(v)
		}
		if secretsDir != "" {
			st.CredentialsRef = filepath.Join(secretsDir, st.Slug)
		} else {
			st.CredentialsRef = CredentialsPrefix(st.Slug) + "*"
		}
		st.AccessToken = read("access_token")
		st.WebhookSecret = read("webhook_secret")
		st.PreviousWebhookSecret = read("webhook_secret_previous")
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}
