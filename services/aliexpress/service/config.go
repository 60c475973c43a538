// Package service wires the AliExpress connector: configuration, the NATS
// connection, the AliExpress client, the placement consumer, the status
// and tracking sync and the gRPC SupplierSyncService, started together and
// stopped together.
package service

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

// DefaultAddr is the gRPC listen address when DROPSYNC_GRPC_ADDR is unset.
const DefaultAddr = "127.0.0.1:8083"

// Config is the connector's configuration, from DROPSYNC_* variables.
type Config struct {
	config.NATS
	config.GRPC
	config.Telemetry
	AliExpress AliExpress
}

// Secret is a credential: it prints as REDACTED, so it never reaches a log.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// AliExpress configures the connection to AliExpress and the sync.
type AliExpress struct {
	// AppKey identifies the app on the AliExpress Open Platform.
	AppKey string `envconfig:"APP_KEY" desc:"AliExpress Open Platform app key"`
	// AppSecret signs every call.
	AppSecret Secret `envconfig:"APP_SECRET" desc:"AliExpress app secret (from a Kubernetes Secret); never logged"`
	// AccessToken acts for the merchant's AliExpress buyer account.
	AccessToken Secret `envconfig:"ACCESS_TOKEN" desc:"AliExpress access token of the buyer account; never logged"`
	// RefreshToken renews the access token when it lapses.
	RefreshToken Secret `envconfig:"REFRESH_TOKEN" desc:"AliExpress refresh token, used when the access token lapses; never logged"`
	// GatewayURL is the API gateway.
	GatewayURL string `envconfig:"GATEWAY_URL" default:"https://api-sg.aliexpress.com" desc:"AliExpress API gateway (a simulator's URL in tests)"`
	// Simulate runs an in-process simulator.
	Simulate bool `envconfig:"SIMULATE" default:"false" desc:"Run an in-process AliExpress simulator with a demo catalog and talk to it (make run; never in production)"`
	// DailyBudget bounds the API calls a day.
	DailyBudget int `envconfig:"DAILY_BUDGET" default:"5000" desc:"AliExpress API calls the connector allows itself a day (UTC); the continuous poll spreads what is left over the day"`
	// ManualSyncsPerDay is the manual sync quota per store.
	ManualSyncsPerDay int `envconfig:"MANUAL_SYNCS_PER_DAY" default:"10" desc:"Manual syncs (SyncNow) a store may ask for a day"`
	// ManualSyncInterval is the minimum time between two manual syncs.
	ManualSyncInterval time.Duration `envconfig:"MANUAL_SYNC_INTERVAL" default:"10m" desc:"Minimum time between two manual syncs of a store"`
	// SyncTimes are the daily fixed-time syncs.
	SyncTimes []string `envconfig:"SYNC_TIMES" default:"02:00,14:00" desc:"Times of day (HH:MM UTC, comma-separated) at which every open order is synced; empty for none"`
	// PollInterval is the continuous poll's round.
	PollInterval time.Duration `envconfig:"POLL_INTERVAL" default:"1m" desc:"Round of the continuous poll of open orders within the budget; 0 turns it off"`
	// MinRepoll bounds how often one order is polled continuously.
	MinRepoll time.Duration `envconfig:"MIN_REPOLL" default:"15m" desc:"The continuous poll does not poll an order again sooner than this"`
	// VisibleAfter is how long after placing an order it is first queried.
	VisibleAfter time.Duration `envconfig:"VISIBLE_AFTER" default:"10s" desc:"Delay before a new AliExpress order is queried (AliExpress shows it after about 10 s)"`
	// RateLimit bounds calls a second per API.
	RateLimit float64 `envconfig:"RATE_LIMIT" default:"5" desc:"AliExpress calls a second per API (token bucket, burst of the same)"`
	// CallTimeout bounds one HTTP attempt.
	CallTimeout time.Duration `envconfig:"CALL_TIMEOUT" default:"15s" desc:"Timeout of one AliExpress HTTP attempt"`
	// MaxAttempts bounds the attempts at one call.
	MaxAttempts int `envconfig:"MAX_ATTEMPTS" default:"4" desc:"Attempts at one AliExpress call (5xx, timeouts and rate limits are retried with backoff and jitter)"`
	// Concurrency is how many placements run at once.
	Concurrency int `envconfig:"CONCURRENCY" default:"4" desc:"Placements carried out at once (one at a time per order)"`
	// MaxDeliver bounds deliveries of one placement command.
	MaxDeliver int `envconfig:"MAX_DELIVER" default:"5" desc:"Deliveries of one placement before a transient failure is published as SupplierPlacementFailed (retryable)"`
	// AckWait is how long JetStream waits for a placement's ack.
	AckWait time.Duration `envconfig:"ACK_WAIT" default:"2m" desc:"How long JetStream waits for a placement's ack before redelivering it"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	a := c.AliExpress
	var errs []error
	if !a.Simulate {
		if a.AppKey == "" {
			errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_APP_KEY: required"))
		}
		if a.AppSecret == "" {
			errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_APP_SECRET: required"))
		}
		if a.AccessToken == "" {
			errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_ACCESS_TOKEN: required"))
		}
		if u, err := url.Parse(a.GatewayURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("DROPSYNC_ALIEXPRESS_GATEWAY_URL: %q is not an absolute URL", a.GatewayURL))
		}
	}
	if a.DailyBudget < 1 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_DAILY_BUDGET: must be at least 1"))
	}
	if a.ManualSyncsPerDay < 0 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_MANUAL_SYNCS_PER_DAY: must not be negative"))
	}
	if a.ManualSyncInterval < 0 || a.PollInterval < 0 || a.MinRepoll < 0 || a.VisibleAfter < 0 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_*: durations must not be negative"))
	}
	if _, err := domain.ParseSyncTimes(a.SyncTimes); err != nil {
		errs = append(errs, fmt.Errorf("DROPSYNC_ALIEXPRESS_SYNC_TIMES: %w", err))
	}
	if a.RateLimit <= 0 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_RATE_LIMIT: must be positive"))
	}
	if a.CallTimeout <= 0 || a.MaxAttempts < 1 || a.Concurrency < 1 || a.MaxDeliver < 1 || a.AckWait < time.Second {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_CALL_TIMEOUT, _MAX_ATTEMPTS, _CONCURRENCY, _MAX_DELIVER must be positive and _ACK_WAIT at least 1s"))
	}
	return errors.Join(c.NATS.Validate(), c.GRPC.Validate(), c.Telemetry.Validate(), errors.Join(errs...))
}
