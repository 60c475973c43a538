package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/services/wix/internal/app"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/ports"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

// Config is the connector's configuration, from DROPSYNC_* variables.
type Config struct {
	config.NATS
	config.Telemetry
	config.GRPCClient
	Wix Wix
	// LookupEnv reads the variables that hold the stores' credentials;
	// default os.LookupEnv.
	LookupEnv func(string) (string, bool) `ignored:"true"`
	// ReadFile reads credential files; default os.ReadFile.
	ReadFile func(string) ([]byte, error) `ignored:"true"`
}

// Wix configures the connector (DROPSYNC_WIX_*).
type Wix struct {
	// WebhookAddr is where Wix delivers webhooks.
	WebhookAddr string `envconfig:"WEBHOOK_ADDR" default:"127.0.0.1:8084" desc:"Listen address of the webhook endpoint (behind the ingress that terminates TLS)"`
	// WebhookPath is the endpoint's path.
	WebhookPath string `envconfig:"WEBHOOK_PATH" default:"/webhooks/wix" desc:"Path of the webhook endpoint, registered as the callback URL of every event in the Wix app"`
	// PublicKey verifies webhooks.
	PublicKey string `envconfig:"PUBLIC_KEY" desc:"The app's webhook public key, PEM (-----BEGIN PUBLIC KEY-----), from the Wix app dashboard; webhooks are JWTs signed RS256 with the matching private key"`
	// JWTLeeway tolerates clock skew.
	JWTLeeway time.Duration `envconfig:"JWT_LEEWAY" default:"30s" desc:"Clock skew tolerated on a webhook JWT's exp, nbf and iat"`
	// JWTMaxAge is the replay window on a webhook JWT's iat.
	JWTMaxAge time.Duration `envconfig:"JWT_MAX_AGE" default:"72h" desc:"Replay window: a webhook JWT issued (iat) longer ago is refused (401) whatever its exp; at least 48h (Wix retries the same token for about two days), at most DEDUPE_TTL; 0 leaves only exp"`
	// Stores registers the stores.
	Stores Stores `envconfig:"STORES" desc:"JSON list of stores: [{\"slug\", \"site_id\", \"instance_id\", \"credentials_env\" or \"credentials_file\", \"auth\": oauth|api_key, \"tracking_url\"}]; credentials_env names the variable, credentials_file the mounted Kubernetes Secret file, holding the store's Wix credential (never the credential itself, never logged)"`
	// BaseURL is Wix's API host.
	BaseURL string `envconfig:"BASE_URL" default:"https://www.wixapis.com" desc:"Wix API host (a simulator's URL in tests)"`
	// RateLimit is the connector's request budget per app instance.
	RateLimit int `envconfig:"RATE_LIMIT" default:"170" desc:"Requests per RATE_WINDOW per app instance (token bucket, burst RATE_LIMIT/20); Wix allows 200 a minute per app instance, so with several replicas divide it among them"`
	// RateWindow is the window of RateLimit.
	RateWindow time.Duration `envconfig:"RATE_WINDOW" default:"1m" desc:"Window of DROPSYNC_WIX_RATE_LIMIT"`
	// CallTimeout bounds one HTTP attempt.
	CallTimeout time.Duration `envconfig:"CALL_TIMEOUT" default:"10s" desc:"Timeout of one Wix HTTP attempt"`
	// MaxAttempts bounds the attempts at one call.
	MaxAttempts int `envconfig:"MAX_ATTEMPTS" default:"4" desc:"Attempts at one Wix call (5xx, timeouts and 429 are retried with backoff and jitter)"`
	// MaxPause caps every wait Wix asks for.
	MaxPause time.Duration `envconfig:"MAX_PAUSE" default:"5m" desc:"Longest wait Wix may impose on an app instance's calls (429 Retry-After, the rate limit's refill); a longer ask is cut to this, with a warning"`
	// CallBackoff is the first retry's backoff ceiling.
	CallBackoff time.Duration `envconfig:"CALL_BACKOFF" default:"200ms" desc:"Backoff ceiling before the first retry of a Wix call; it doubles each retry, up to 10s"`
	// NotifierAddr is the notifier's gRPC address.
	NotifierAddr string `envconfig:"NOTIFIER_ADDR" default:"127.0.0.1:8082" desc:"gRPC address of the notifier (ShippingConfirmationService)"`
	// NotifierTimeout bounds one IssueConfirmation.
	NotifierTimeout time.Duration `envconfig:"NOTIFIER_TIMEOUT" default:"5s" desc:"Time one IssueConfirmation call may take"`
	// ReconcileInterval paces reconciliation.
	ReconcileInterval time.Duration `envconfig:"RECONCILE_INTERVAL" default:"5m" desc:"Time between reconciliation passes per store (Search Orders by updatedDate); 0 turns reconciliation off"`
	// ReconcileLookback is how far back the first pass reads.
	ReconcileLookback time.Duration `envconfig:"RECONCILE_LOOKBACK" default:"72h" desc:"How far back the first reconciliation pass of a store reads (Wix retries webhooks for about two days)"`
	// DedupeTTL is how long a webhook event id is remembered.
	DedupeTTL time.Duration `envconfig:"DEDUPE_TTL" default:"72h" desc:"How long a webhook event id is remembered in the dedupe bucket; above Wix's two days of retries"`
	// WebhookTimeout bounds the work on one delivery.
	WebhookTimeout time.Duration `envconfig:"WEBHOOK_TIMEOUT" default:"1s" desc:"Time the work on one webhook (decode, dedupe, store on JetStream) may take before the answer is 503; below Wix's 1250 ms delivery timeout"`
	// Concurrency is how many commands run at once.
	Concurrency int `envconfig:"CONCURRENCY" default:"4" desc:"Commands carried out at once (one at a time per order)"`
	// MaxDeliver bounds deliveries of one command.
	// With RetryBackoff the default reaches about a day (bus.CommandMaxDeliver).
	MaxDeliver int `envconfig:"MAX_DELIVER" default:"30" desc:"Deliveries of one command (with the default backoff, about 24 h); on the last, a transient failure (Wix's 5xx, timeouts, 429 past its budget, a peer unreachable) is published as FulfillmentFailed (retryable), which RetryFulfillment can retry"`
	// RetryBackoff are the delays before redelivering a failed command.
	RetryBackoff []time.Duration `envconfig:"RETRY_BACKOFF" default:"5s,30s,2m,10m,30m,1h" desc:"Delays before each redelivery of a failed command (the last repeats): a store outage of hours ends fulfilled, not failed"`
	// AckWait is how long JetStream waits for a command's ack.
	AckWait time.Duration `envconfig:"ACK_WAIT" default:"1m" desc:"How long JetStream waits for a command's ack before redelivering it"`
	// ShutdownGrace bounds a graceful stop.
	ShutdownGrace time.Duration `envconfig:"SHUTDOWN_GRACE" default:"10s" desc:"Time in-flight webhooks and commands get to finish on shutdown"`
}

// StoreSpec registers one store (an element of DROPSYNC_WIX_STORES).
type StoreSpec struct {
	// Slug is the store id in dropsync.
	Slug string `json:"slug"`
	// SiteID is the Wix site id.
	SiteID string `json:"site_id"`
	// InstanceID is the app instance id on the site (webhooks name it).
	InstanceID string `json:"instance_id"`
	// CredentialsEnv names the environment variable holding the
	// credential: the instance's access token, or an API key.
	CredentialsEnv string `json:"credentials_env,omitempty"`
	// CredentialsFile is the file holding it instead: a mounted
	// Kubernetes Secret.
	CredentialsFile string `json:"credentials_file,omitempty"`
	// Auth is "oauth" (default: Authorization: <token>) or "api_key"
	// (also wix-site-id).
	Auth string `json:"auth,omitempty"`
	// TrackingURL is the tracking page template of custom providers.
	TrackingURL string `json:"tracking_url,omitempty"`
}

// Stores is DROPSYNC_WIX_STORES: a JSON list of StoreSpec.
type Stores []StoreSpec

// Decode implements envconfig.Decoder.
func (s *Stores) Decode(value string) error {
	if strings.TrimSpace(value) == "" {
		*s = nil
		return nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(value)))
	d.DisallowUnknownFields()
	var list []StoreSpec
	if err := d.Decode(&list); err != nil {
		return fmt.Errorf("stores: %w", err)
	}
	*s = list
	return nil
}

func (c Config) lookup() func(string) (string, bool) {
	if c.LookupEnv != nil {
		return c.LookupEnv
	}
	return os.LookupEnv
}

// StoreConfigs resolves the stores with their credentials.
func (c Config) StoreConfigs() ([]app.StoreConfig, error) {
	var out []app.StoreConfig
	var errs []error
	for i, s := range c.Wix.Stores {
		name := s.Slug
		if name == "" {
			name = fmt.Sprint(i)
		}
		var cred string
		switch {
		case s.CredentialsEnv != "" && s.CredentialsFile != "":
			errs = append(errs, fmt.Errorf("DROPSYNC_WIX_STORES: store %s: give credentials_env or credentials_file, not both", name))
			continue
		case s.CredentialsEnv != "":
			v, ok := c.lookup()(s.CredentialsEnv)
			if !ok || v == "" {
				errs = append(errs, fmt.Errorf("DROPSYNC_WIX_STORES: store %s: variable %s is not set", name, s.CredentialsEnv))
				continue
			}
			cred = v
		case s.CredentialsFile != "":
			read := c.ReadFile
			if read == nil {
				read = os.ReadFile
			}
			b, err := read(s.CredentialsFile)
			if err != nil || strings.TrimSpace(string(b)) == "" {
				errs = append(errs, fmt.Errorf("DROPSYNC_WIX_STORES: store %s: credentials file %s is missing or empty", name, s.CredentialsFile))
				continue
			}
			cred = strings.TrimSpace(string(b))
		default:
			errs = append(errs, fmt.Errorf("DROPSYNC_WIX_STORES: store %s: credentials_env or credentials_file is required", name))
			continue
		}
		secret := config.NewSecret(cred)
		if s.CredentialsFile != "" && s.CredentialsEnv == "" {
			// Follows the file: a replaced Secret is taken without a restart.
			secret = config.NewFileSecret(s.CredentialsFile, cred)
		}
		apiKey := false
		switch s.Auth {
		case "", "oauth":
		case "api_key":
			apiKey = true
		default:
			errs = append(errs, fmt.Errorf("DROPSYNC_WIX_STORES: store %s: auth %q: want oauth or api_key", name, s.Auth))
		}
		out = append(out, app.StoreConfig{
			Store:       domain.Store{Slug: s.Slug, SiteID: s.SiteID, InstanceID: s.InstanceID},
			Site:        wixapi.Site{Credential: secret, APIKey: apiKey},
			TrackingURL: s.TrackingURL,
		})
	}
	return out, errors.Join(errs...)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	w := c.Wix
	var errs []error
	if w.WebhookAddr == "" {
		errs = append(errs, errors.New("DROPSYNC_WIX_WEBHOOK_ADDR: required"))
	}
	if !strings.HasPrefix(w.WebhookPath, "/") {
		errs = append(errs, errors.New("DROPSYNC_WIX_WEBHOOK_PATH: must start with /"))
	}
	if _, err := ports.ParsePublicKey(w.PublicKey); err != nil {
		errs = append(errs, fmt.Errorf("DROPSYNC_WIX_PUBLIC_KEY: %w", err))
	}
	if len(w.Stores) == 0 {
		errs = append(errs, errors.New("DROPSYNC_WIX_STORES: at least one store is required"))
	}
	if stores, err := c.StoreConfigs(); err != nil {
		errs = append(errs, err)
	} else if _, err := app.NewStores(stores); err != nil {
		errs = append(errs, fmt.Errorf("DROPSYNC_WIX_STORES: %w", err))
	}
	if u, err := url.Parse(w.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("DROPSYNC_WIX_BASE_URL: %q is not an absolute URL", w.BaseURL))
	}
	if w.RateLimit < 1 || w.RateWindow <= 0 {
		errs = append(errs, errors.New("DROPSYNC_WIX_RATE_LIMIT and _RATE_WINDOW must be positive"))
	}
	if w.CallTimeout <= 0 || w.MaxAttempts < 1 || w.CallBackoff <= 0 || w.NotifierTimeout <= 0 || w.WebhookTimeout <= 0 {
		errs = append(errs, errors.New("DROPSYNC_WIX_CALL_TIMEOUT, _MAX_ATTEMPTS, _CALL_BACKOFF, _NOTIFIER_TIMEOUT and _WEBHOOK_TIMEOUT must be positive"))
	}
	if w.MaxPause < 0 {
		errs = append(errs, errors.New("DROPSYNC_WIX_MAX_PAUSE: must not be negative"))
	}
	if w.NotifierAddr == "" {
		errs = append(errs, errors.New("DROPSYNC_WIX_NOTIFIER_ADDR: required"))
	}
	if w.ReconcileInterval < 0 || w.ReconcileLookback <= 0 {
		errs = append(errs, errors.New("DROPSYNC_WIX_RECONCILE_INTERVAL must not be negative and _RECONCILE_LOOKBACK must be positive"))
	}
	if w.DedupeTTL < 48*time.Hour {
		errs = append(errs, errors.New("DROPSYNC_WIX_DEDUPE_TTL: must be at least 48h (Wix retries for about two days)"))
	}
	if w.JWTMaxAge != 0 && (w.JWTMaxAge < 48*time.Hour || w.JWTMaxAge > w.DedupeTTL) {
		errs = append(errs, errors.New("DROPSYNC_WIX_JWT_MAX_AGE: 0, or from 48h (Wix retries the same token for about two days) to DROPSYNC_WIX_DEDUPE_TTL"))
	}
	if w.Concurrency < 1 || w.MaxDeliver < 1 || w.AckWait < time.Second || w.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("DROPSYNC_WIX_CONCURRENCY and _MAX_DELIVER must be at least 1, _ACK_WAIT at least 1s, _SHUTDOWN_GRACE positive"))
	}
	for _, d := range w.RetryBackoff {
		if d < 0 {
			errs = append(errs, errors.New("DROPSYNC_WIX_RETRY_BACKOFF: delays must not be negative"))
			break
		}
	}
	return errors.Join(c.NATS.Validate(), c.Telemetry.Validate(), c.GRPCClient.Validate(), errors.Join(errs...))
}
