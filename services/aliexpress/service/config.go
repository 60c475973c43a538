// Package service wires the AliExpress connector: configuration, the NATS
// connection, the AliExpress client, the placement consumer, the status
// and tracking sync and the gRPC SupplierSyncService, started together and
// stopped together.
package service

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
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
	config.Ops
	AliExpress AliExpress
}

// AliExpress configures the connection to AliExpress and the sync.
type AliExpress struct {
	// AppKey identifies the app on the AliExpress Open Platform.
	AppKey string `envconfig:"APP_KEY" desc:"AliExpress Open Platform app key"`
	// AppSecret signs every call.
	AppSecret config.Secret `envconfig:"APP_SECRET" desc:"AliExpress app secret (from a Kubernetes Secret); never logged"`
	// AccessToken acts for the merchant's AliExpress buyer account.
	AccessToken config.Secret `envconfig:"ACCESS_TOKEN" desc:"AliExpress access token of the buyer account; never logged"`
	// RefreshToken renews the access token when it lapses.
	RefreshToken config.Secret `envconfig:"REFRESH_TOKEN" desc:"AliExpress refresh token, used when the access token lapses; never logged"`
	// GatewayURL is the API gateway.
	GatewayURL string `envconfig:"GATEWAY_URL" default:"https://api-sg.aliexpress.com" desc:"AliExpress API gateway (a simulator's URL in tests)"`
	// Simulate runs an in-process simulator.
	Simulate bool `envconfig:"SIMULATE" default:"false" desc:"Run an in-process AliExpress simulator with a demo catalog and talk to it (make run; never in production)"`
	// Account names the AliExpress account in events, logs and the
	// connector's state.
	Account string `envconfig:"ACCOUNT" default:"default" desc:"Name of the AliExpress account (letters, digits, '-' and '_'): it keys the account's API budget and names it in connection health events"`
	// MoreAccounts are AliExpress accounts beyond the one above.
	MoreAccounts string `envconfig:"ACCOUNTS" desc:"JSON list of more AliExpress accounts: [{\"name\":\"eu\",\"app_key\":\"500123\",\"credentials_ref\":\"env:AE_EU\",\"stores\":[\"shopify:acme\"]}], optional \"daily_budget\" (default DAILY_BUDGET); credentials_ref env:PREFIX reads PREFIX_APP_SECRET, PREFIX_ACCESS_TOKEN, PREFIX_REFRESH_TOKEN (file:/folder reads files of those names, lower case). Each account has its own budget, token refresh and connection health and serves the stores it names; the account of the variables above (or else the first listed) serves every other store"`
	// DailyBudget bounds the API calls a day.
	DailyBudget int `envconfig:"DAILY_BUDGET" default:"5000" desc:"AliExpress API calls the account allows itself a day (UTC), whatever makes them: continuous polling, fixed-time and manual syncs, placements, retries. AliExpress does not publish its quota: set what your app key is granted. The day's use survives restarts"`
	// ManualSyncsPerDay is the manual sync quota per store.
	ManualSyncsPerDay int `envconfig:"MANUAL_SYNCS_PER_DAY" default:"10" desc:"Manual syncs (SyncNow) a store may ask for a day"`
	// ManualSyncInterval is the minimum time between two manual syncs.
	ManualSyncInterval time.Duration `envconfig:"MANUAL_SYNC_INTERVAL" default:"10m" desc:"Minimum time between two manual syncs of a store"`
	// SyncTimes are the daily fixed-time syncs.
	SyncTimes []string `envconfig:"SYNC_TIMES" default:"02:00,14:00" desc:"Times of day (HH:MM UTC, comma-separated) at which every open order of a store is synced, within the budget, unless the store's supplier_sync_times setting names its own; empty for none"`
	// OrdersAddr is the orders service, for each store's sync times.
	OrdersAddr string `envconfig:"ORDERS_ADDR" desc:"gRPC address of the orders service, for each store's supplier_sync_times setting; empty: every store uses SYNC_TIMES"`
	// PollInterval is the continuous poll's round.
	PollInterval time.Duration `envconfig:"POLL_INTERVAL" default:"10s" desc:"Round of the continuous poll: each round polls the orders due within the budget's pace; 0 turns it off"`
	// MinInterval bounds how often one order is polled.
	MinInterval time.Duration `envconfig:"MIN_INTERVAL" default:"10s" desc:"No order is polled again sooner than this, however much budget is left"`
	// AwaitingCeiling is the longest a paid order waits between polls.
	AwaitingCeiling time.Duration `envconfig:"AWAITING_CEILING" default:"12h" desc:"Longest a paid order waiting for tracking goes unpolled while the budget covers every order's ceiling (DSers' rhythm by default); stretched when it does not, see the README"`
	// ShippedCeiling is the longest a shipped order waits between polls.
	ShippedCeiling time.Duration `envconfig:"SHIPPED_CEILING" default:"120h" desc:"Longest a fully shipped order goes unpolled (for changed numbers, extra parcels, tracking progress) while the budget covers every ceiling"`
	// ShipFrom and ShipTo are when sellers usually ship after payment.
	ShipFrom time.Duration `envconfig:"SHIP_FROM" default:"12h" desc:"Start of the sellers' usual shipping window after payment: orders in the window get most of the budget"`
	ShipTo   time.Duration `envconfig:"SHIP_TO" default:"168h" desc:"End of the sellers' usual shipping window after payment; later orders are polled less"`
	// MaxBackoff caps the pause after AliExpress call-limit errors.
	MaxBackoff time.Duration `envconfig:"MAX_BACKOFF" default:"1h" desc:"Longest pause of polling after AliExpress refuses calls over its limits (throttles double from 1m; a spent daily quota waits for midnight UTC), so a probe finds out when calls work again"`
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

// accountName is what an account may be called: it is part of KV keys.
var accountName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Schedule is the poll schedule the configuration asks for.
func (a AliExpress) Schedule() domain.ScheduleConfig {
	s := domain.DefaultSchedule()
	s.VisibleAfter, s.MinInterval = a.VisibleAfter, a.MinInterval
	s.AwaitingCeiling, s.ShippedCeiling = a.AwaitingCeiling, a.ShippedCeiling
	s.ShippedMinInterval = min(s.ShippedMinInterval, a.ShippedCeiling)
	s.UnpaidCeiling = min(s.UnpaidCeiling, a.AwaitingCeiling)
	s.ShipFrom, s.ShipTo = a.ShipFrom, a.ShipTo
	return s
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	a := c.AliExpress
	var errs []error
	if !a.Simulate && a.MoreAccounts == "" {
		if a.AppKey == "" {
			errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_APP_KEY: required"))
		}
		if a.AppSecret.Empty() {
			errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_APP_SECRET: required"))
		}
		if a.AccessToken.Empty() {
			errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_ACCESS_TOKEN: required"))
		}
	}
	if !a.Simulate {
		if u, err := url.Parse(a.GatewayURL); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("DROPSYNC_ALIEXPRESS_GATEWAY_URL: %q is not an absolute URL", a.GatewayURL))
		}
		if a.MoreAccounts != "" {
			if _, err := a.osAccounts(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if a.DailyBudget < 1 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_DAILY_BUDGET: must be at least 1"))
	}
	if a.ManualSyncsPerDay < 0 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_MANUAL_SYNCS_PER_DAY: must not be negative"))
	}
	if a.ManualSyncInterval < 0 || a.PollInterval < 0 || a.VisibleAfter < 0 || a.MaxBackoff < 0 {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_*: durations must not be negative"))
	}
	if a.MinInterval <= 0 || a.AwaitingCeiling < a.MinInterval || a.ShippedCeiling < a.MinInterval {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_MIN_INTERVAL must be positive and no longer than _AWAITING_CEILING and _SHIPPED_CEILING"))
	}
	if a.ShipFrom < 0 || a.ShipTo < a.ShipFrom {
		errs = append(errs, errors.New("DROPSYNC_ALIEXPRESS_SHIP_FROM must not be negative nor after _SHIP_TO"))
	}
	if !accountName.MatchString(a.Account) {
		errs = append(errs, fmt.Errorf("DROPSYNC_ALIEXPRESS_ACCOUNT: %q: want letters, digits, '-' and '_'", a.Account))
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
