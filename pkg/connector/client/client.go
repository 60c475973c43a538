package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Defaults of Config.
const (
	// DefaultMaxAttempts bounds the attempts at one call.
	DefaultMaxAttempts = 4
	// DefaultMaxElapsed bounds the time one call may take, waits included.
	DefaultMaxElapsed = 30 * time.Second
	// DefaultAttemptTimeout bounds one attempt.
	DefaultAttemptTimeout = 15 * time.Second
	// DefaultBaseBackoff is the backoff ceiling after the first failure; it
	// doubles after each one.
	DefaultBaseBackoff = 200 * time.Millisecond
	// DefaultMaxBackoff caps the backoff ceiling.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultMaxBodyBytes bounds a response body.
	DefaultMaxBodyBytes = 10 << 20
	// DefaultMaxPause caps every wait a platform asks for.
	DefaultMaxPause = 5 * time.Minute
)

// ErrBodyTooLarge: the response body exceeds Config.MaxBodyBytes.
var ErrBodyTooLarge = errors.New("response body too large")

// Response is a completed call: the status, headers and the whole body of
// the last attempt.
type Response struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Header is the response's header.
	Header http.Header
	// Body is the whole body.
	Body []byte
	// Attempts is how many attempts the call took.
	Attempts int
	// Key is the rate limiting key the call ran under.
	Key string
}

// Classifier decides whether a response is a success (nil) or a failure:
// an error marked with Retryable, or any other error, which is permanent.
// StatusClassifier is the default; a platform that reports errors inside a
// 200 (AliExpress) calls it first and then reads the body.
type Classifier func(resp *Response) error

// Observer reads a platform's rate limit signals from a response and
// updates the key's bucket (ShopifyGraphQL, ShopifyREST). It runs for
// every response, successful or not, before the Classifier.
type Observer func(resp *Response, b *Bucket)

// Config configures a Client. The zero value is usable: no rate limit,
// DefaultMaxAttempts attempts within DefaultMaxElapsed.
type Config struct {
	// HTTPClient sends the requests; default a client with no overall
	// timeout (AttemptTimeout bounds each attempt).
	HTTPClient *http.Client
	// Limit is every key's bucket until an Observer changes it; zero is no
	// limit.
	Limit Limit
	// Observer updates a key's bucket from each response.
	Observer Observer
	// Classifier decides success or failure; default StatusClassifier.
	Classifier Classifier
	// MaxAttempts bounds the attempts at one call (1: no retry).
	MaxAttempts int
	// MaxElapsed bounds one call, rate limit waits and backoff included; a
	// retry that would end after it is not made.
	MaxElapsed time.Duration
	// AttemptTimeout bounds one attempt: sending, waiting, reading.
	AttemptTimeout time.Duration
	// BaseBackoff and MaxBackoff shape the exponential backoff: before
	// retry n the client sleeps a random time in [0, min(MaxBackoff,
	// BaseBackoff*2^(n-1))) ("full jitter"), or longer if the platform
	// said Retry-After.
	BaseBackoff, MaxBackoff time.Duration
	// MaxBodyBytes bounds a response body.
	MaxBodyBytes int64
	// MaxPause caps every wait a platform asks for: a Retry-After, a
	// throttle's restore time, a rate limit's refill. A longer ask is cut
	// to MaxPause, with a warning, so one odd answer (Retry-After: 31536000)
	// cannot stop a store's calls for a year. Default DefaultMaxPause.
	MaxPause time.Duration
	// Rand returns a number in [0, 1) for the jitter; default math/rand/v2.
	Rand func() float64
	// Now is the clock of the rate limiter; default time.Now.
	Now func() time.Time
	// Logger receives retries at debug level (URLs redacted); default
	// slog.Default().
	Logger *slog.Logger
	// Platform names the platform in metrics (shopify, woocommerce, wix,
	// aliexpress); empty takes the part of the call's key before its
	// first colon ("shopify:acme" is shopify).
	Platform string
	// Health, when set, is told each store's connection health from the
	// answers to calls made WithStore (see HealthObserver).
	Health HealthObserver
}

func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if _, traced := c.HTTPClient.Transport.(*otelhttp.Transport); !traced {
		// A span per attempt, a child of the caller's span, with the
		// caller's providers (otelhttp takes the parent span's), and the
		// http.client metrics.
		hc := *c.HTTPClient
		hc.Transport = telemetry.FromContext(context.Background()).HTTPTransport(hc.Transport)
		c.HTTPClient = &hc
	}
	if c.Classifier == nil {
		c.Classifier = StatusClassifier
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxElapsed <= 0 {
		c.MaxElapsed = DefaultMaxElapsed
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPause <= 0 {
		c.MaxPause = DefaultMaxPause
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Client makes calls with per-key rate limiting, retries and
// classification. It is safe for concurrent use.
type Client struct {
	cfg     Config
	mu      sync.Mutex
	buckets map[string]*Bucket
}

// New returns a Client.
func New(cfg Config) *Client {
	return &Client{cfg: cfg.withDefaults(), buckets: map[string]*Bucket{}}
}

// Bucket returns the rate limiting bucket of key, creating it from
// Config.Limit.
func (c *Client) Bucket(key string) *Bucket {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.buckets[key]
	if !ok {
		b = newBucket(c.cfg.Limit, c.cfg.MaxPause, c.cfg.Now)
		c.buckets[key] = b
	}
	return b
}

// Option adjusts one call.
type Option func(*callOptions)

type callOptions struct {
	key           string
	store         string
	cost          float64
	notIdempotent bool
	classifier    Classifier
}

// WithKey sets the rate limiting key (a store, an app key); default the
// request's host.
func WithKey(key string) Option { return func(o *callOptions) { o.key = key } }

// WithStore names the store (its slug) the call is made for: the
// client then keeps the store's connection health (metrics.ConnectionHealthy,
// and Config.Health) from the answers, 0 after a 401 or 403, 1 after a
// success.
func WithStore(slug string) Option { return func(o *callOptions) { o.store = slug } }

// WithCost sets the tokens one attempt takes from the bucket (Shopify
// GraphQL: the query's requested cost); default 1.
func WithCost(cost float64) Option { return func(o *callOptions) { o.cost = cost } }

// NotIdempotent marks a call the platform would carry out twice if sent
// twice: it is retried only when the platform certainly did not act on it
// (HTTP 429 or 503, a refused connection).
func NotIdempotent() Option { return func(o *callOptions) { o.notIdempotent = true } }

// WithClassifier replaces the Client's Classifier for one call.
func WithClassifier(cl Classifier) Option { return func(o *callOptions) { o.classifier = cl } }

// Do sends req until it succeeds, fails permanently, or runs out of
// attempts or time, and returns the successful response with its whole
// body. ctx bounds the whole call (req's own context is replaced). The
// request body must be replayable (req.GetBody) when it has one. The error
// is an *Error.
func (c *Client) Do(ctx context.Context, req *http.Request, opts ...Option) (*Response, error) {
	o := callOptions{key: req.URL.Host, cost: 1, classifier: c.cfg.Classifier}
	for _, opt := range opts {
		opt(&o)
	}
	fail := func(attempts, status int, retryable bool, after time.Duration, err error) error {
		return &Error{Method: req.Method, URL: RedactURL(req.URL), Key: o.key, StatusCode: status,
			Attempts: attempts, Retryable: retryable, RetryAfter: after, Err: err}
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return nil, fail(0, 0, false, 0, errors.New("request body is not replayable (no GetBody)"))
	}
	start := time.Now()
	deadline := start.Add(c.cfg.MaxElapsed)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	bucket := c.Bucket(o.key)
	platform := c.platform(o.key)

	for attempt := 1; ; attempt++ {
		waitStart := time.Now()
		err := bucket.Wait(ctx, o.cost)
		if waited := time.Since(waitStart); waited >= time.Millisecond {
			// A bucket with tokens answers at once; only real waits count.
			metrics.RecordThrottleWait(ctx, platform, metrics.WaitRateLimit, waited)
		}
		if err != nil {
			return nil, fail(attempt-1, 0, ctx.Err() == context.DeadlineExceeded && time.Now().After(deadline), 0,
				fmt.Errorf("%w: rate limit wait: %w", errContext, err))
		}
		resp, err := c.attempt(ctx, req)
		c.record(ctx, platform, o.store, resp, err)
		status := 0
		var retryable, safe bool
		var after time.Duration
		if err != nil {
			if ctx.Err() != nil {
				// The caller's context (or MaxElapsed) ended the call.
				return nil, fail(attempt, 0, time.Now().After(deadline), 0, fmt.Errorf("%w: %w", errContext, err))
			}
			retryable, safe = true, refused(err)
		} else {
			resp.Attempts, resp.Key = attempt, o.key
			status = resp.StatusCode
			if c.cfg.Observer != nil {
				c.cfg.Observer(resp, bucket)
			}
			if err = o.classifier(resp); err == nil {
				return resp, nil
			}
			retryable, after = classification(err)
			after = c.capPause(ctx, req, o.key, after)
			safe = status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
			if status == http.StatusTooManyRequests && after > 0 {
				bucket.Pause(time.Now().Add(after))
			}
		}
		if !retryable || o.notIdempotent && !safe || attempt >= c.cfg.MaxAttempts {
			return nil, fail(attempt, status, retryable, after, err)
		}
		delay := c.backoff(attempt)
		if after > delay {
			delay = after
		}
		if time.Now().Add(delay).After(deadline) {
			return nil, fail(attempt, status, retryable, after, err)
		}
		c.cfg.Logger.DebugContext(ctx, "retrying call", "method", req.Method, "url", RedactURL(req.URL),
			"attempt", attempt, "status", status, "delay", delay, "err", RedactString(err.Error()))
		if status == http.StatusTooManyRequests {
			metrics.RecordThrottleWait(ctx, platform, metrics.WaitRetryAfter, delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fail(attempt, status, time.Now().After(deadline), after, fmt.Errorf("%w: %w (last error: %w)", errContext, ctx.Err(), err))
		case <-t.C:
		}
	}
}

// platform is the platform label of a call under key.
func (c *Client) platform(key string) string {
	if c.cfg.Platform != "" {
		return c.cfg.Platform
	}
	if p, _, ok := strings.Cut(key, ":"); ok && p != "" {
		return p
	}
	return "unknown"
}

// record counts one attempt by outcome and, for a call made for a store,
// keeps the store's connection health.
func (c *Client) record(ctx context.Context, platform, store string, resp *Response, err error) {
	outcome := metrics.CallNetwork
	if err == nil {
		switch s := resp.StatusCode; {
		case s == http.StatusTooManyRequests:
			outcome = metrics.CallThrottled
		case s >= 500:
			outcome = metrics.CallServerError
		case s >= 400:
			outcome = metrics.CallClientError
		default:
			outcome = metrics.CallOK
		}
	}
	metrics.RecordCall(ctx, platform, outcome)
	if store == "" || err != nil {
		return
	}
	switch s := resp.StatusCode; {
	case credentialStatus(s):
		metrics.SetHealth(platform, store, "", false)
		if c.cfg.Health != nil {
			c.cfg.Health.ObserveStore(store, false, credentialReason(platform, resp))
		}
	case s < 300:
		metrics.SetHealth(platform, store, "", true)
		if c.cfg.Health != nil {
			c.cfg.Health.ObserveStore(store, true, "")
		}
	}
}

// capPause cuts a wait the platform asked for to MaxPause, and says so.
func (c *Client) capPause(ctx context.Context, req *http.Request, key string, after time.Duration) time.Duration {
	if after <= c.cfg.MaxPause {
		return after
	}
	c.cfg.Logger.WarnContext(ctx, "platform asked for a longer wait than the cap: waiting the cap",
		"method", req.Method, "url", RedactURL(req.URL), "key", key, "asked", after, "cap", c.cfg.MaxPause)
	return c.cfg.MaxPause
}

// attempt sends one copy of req and reads the whole body.
func (c *Client) attempt(ctx context.Context, req *http.Request) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	r := req.Clone(actx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replay body: %w", err)
		}
		r.Body = body
	}
	resp, err := c.cfg.HTTPClient.Do(r)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return nil, Permanent(fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, c.cfg.MaxBodyBytes))
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// backoff is the full-jitter delay before retry n (after attempt n).
func (c *Client) backoff(n int) time.Duration {
	ceiling := c.cfg.BaseBackoff << min(n-1, 30)
	if ceiling <= 0 || ceiling > c.cfg.MaxBackoff {
		ceiling = c.cfg.MaxBackoff
	}
	return time.Duration(c.cfg.Rand() * float64(ceiling))
}

// unwrapURLError drops *url.Error's URL, which may carry credentials; the
// *Error names the URL redacted.
func unwrapURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Err == nil {
		return err
	}
	if ue.Timeout() && !errors.Is(ue.Err, context.DeadlineExceeded) {
		return fmt.Errorf("timeout: %w", ue.Err)
	}
	return ue.Err
}

// refused reports whether err shows the request never reached the server.
func refused(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// StatusClassifier is the default Classifier: 2xx succeed; 429 is retryable
// after its Retry-After; 408 and 5xx are retryable; anything else is
// permanent. The error is a *StatusError.
func StatusClassifier(resp *Response) error {
	s := resp.StatusCode
	if s >= 200 && s < 300 {
		return nil
	}
	err := &StatusError{StatusCode: s, Snippet: snippet(resp.Body)}
	switch {
	case s == http.StatusTooManyRequests:
		return Retryable(err, RetryAfter(resp.Header, time.Now()))
	case s == http.StatusRequestTimeout || s >= 500:
		return Retryable(err, RetryAfter(resp.Header, time.Now()))
	}
	return Permanent(err)
}

// snippet is the start of a body, one line, credentials redacted.
func snippet(body []byte) string {
	const n = 200
	s := string(body)
	if len(s) > n {
		s = s[:n] + "..."
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\n' || r == '\r' || r == '\t' {
			r = ' '
		}
		out = append(out, r)
	}
	return RedactString(string(out))
}

// RetryAfter reads a Retry-After header (seconds, possibly fractional as
// Shopify sends it, or an HTTP date) relative to now; 0 when absent.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
