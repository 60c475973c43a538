package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/metrics"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// instrumentation names this package's tracer and meter.
const instrumentation = "github.com/dropsync/dropsync/pkg/connector/webhook"

// Defaults of Config.
const (
	// DefaultMaxBodyBytes bounds a webhook body: Shopify order payloads
	// with many lines stay well under it.
	DefaultMaxBodyBytes = 2 << 20
	// DefaultTimeout bounds the work on one delivery. It is below Shopify's
	// 5 s delivery timeout, so a slow JetStream or platform read answers
	// 503 before Shopify gives up and counts a failure anyway.
	DefaultTimeout = 4 * time.Second
)

// Outcomes of a delivery: the values of the "outcome" metric attribute and
// the fields of Stats.
const (
	OutcomeAccepted      = "accepted"
	OutcomeDuplicate     = "duplicate"
	OutcomeBadSignature  = "bad_signature"
	OutcomeBadBody       = "bad_body"
	OutcomeIgnored       = "ignored"
	OutcomePublishFailed = "publish_failed"
	OutcomeTooLarge      = "too_large"
	OutcomeUnavailable   = "unavailable"
)

// ErrIgnored: the delivery is valid but carries nothing the connector uses
// (a topic it does not map). A Decoder wraps it; the handler answers 200
// and counts the delivery as ignored.
var ErrIgnored = errors.New("webhook: ignored")

// ErrBadSignature: the signature is missing or does not match. Verifiers
// wrap it; the handler answers 401.
var ErrBadSignature = errors.New("webhook: bad signature")

// unavailableError marks a decoder error that a later delivery may not have.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// Unavailable marks a Decoder error as temporary (the decoder had to ask the
// platform and could not): the handler answers 503, so the platform
// delivers the webhook again. Unavailable(nil) is nil.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &unavailableError{err: err}
}

// Verifier checks a delivery's signature over the raw body, before anything
// parses it, and returns the payload the Decoder reads: the body itself for
// a detached signature, the verified claims for a body that is a JWT. An
// error means 401; it should wrap ErrBadSignature.
type Verifier interface {
	Verify(header http.Header, body []byte) (payload []byte, err error)
}

// Delivery is what a Decoder makes of one webhook.
type Delivery struct {
	// Key identifies the delivery for deduplication across the platform's
	// retries: the platform's own event or delivery id with the store it
	// belongs to, e.g. "shopify/acme.myshopify.com/<X-Shopify-Event-Id>".
	// Empty means no dedupe record (JetStream and the aggregate still drop
	// repeated event ids).
	Key string
	// Topic names the kind of delivery, for logs.
	Topic string
	// Envelopes are published in order. Each has a deterministic event id
	// derived from the platform's ids, so a redelivery is a duplicate.
	Envelopes []*eventsv1.Envelope
}

// Request is a verified delivery as a Decoder sees it.
type Request struct {
	// Header holds the HTTP headers.
	Header http.Header
	// Payload is what the Verifier returned: the raw body, or the verified
	// JWT claims.
	Payload []byte
	// Received is when the handler got the delivery.
	Received time.Time
}

// Decoder maps a verified delivery to events. It returns an error wrapping
// ErrIgnored for a delivery the connector does not use (200), one marked
// Unavailable when it could not complete for now (503), and any other error
// when the payload does not parse (400, logged: keep customer data out of
// the message).
type Decoder interface {
	Decode(ctx context.Context, req *Request) (Delivery, error)
}

// DecoderFunc adapts a function to Decoder.
type DecoderFunc func(ctx context.Context, req *Request) (Delivery, error)

// Decode implements Decoder.
func (f DecoderFunc) Decode(ctx context.Context, req *Request) (Delivery, error) { return f(ctx, req) }

// Config configures a Handler. Platform, Verifier, Decoder and Publisher
// are required.
type Config struct {
	// Platform names the platform in logs and metrics, e.g. "shopify".
	Platform string
	// Verifier checks signatures.
	Verifier Verifier
	// Decoder maps deliveries to events.
	Decoder Decoder
	// Publisher stores events durably.
	Publisher bus.EventPublisher
	// Dedupe remembers delivered keys beyond JetStream's duplicate window;
	// nil keeps no record.
	Dedupe Dedupe
	// MaxBodyBytes bounds the body; larger ones get 413. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Timeout bounds the work on one delivery (decode, dedupe, publish):
	// keep it below the platform's delivery timeout (Shopify 5 s, Wix
	// 1.25 s). Default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock of recorded_at; default time.Now.
	Now func() time.Time
	// Logger receives one line per refused or failed delivery; default
	// slog.Default().
	Logger *slog.Logger
	// Meter, when set, gets a delivery counter of its own as well (for
	// tests); the exported instruments are package metrics' (deliveries by
	// outcome, time to answer), on the global meter provider.
	Meter metric.Meter
}

// Stats counts deliveries by outcome since the handler was created.
type Stats struct {
	// Accepted deliveries were published (or held nothing to publish) and
	// answered 200.
	Accepted uint64 `json:"accepted"`
	// Duplicate deliveries had a key the Dedupe record holds: 200, nothing
	// published.
	Duplicate uint64 `json:"duplicate"`
	// BadSignature deliveries failed verification: 401.
	BadSignature uint64 `json:"bad_signature"`
	// BadBody deliveries did not parse: 400.
	BadBody uint64 `json:"bad_body"`
	// Ignored deliveries carried nothing the connector uses: 200.
	Ignored uint64 `json:"ignored"`
	// PublishFailed deliveries could not be stored: 503.
	PublishFailed uint64 `json:"publish_failed"`
	// TooLarge deliveries exceeded MaxBodyBytes: 413.
	TooLarge uint64 `json:"too_large"`
	// Unavailable deliveries needed the platform and could not reach it: 503.
	Unavailable uint64 `json:"unavailable"`
	// Events counts the envelopes published by accepted deliveries.
	Events uint64 `json:"events"`
}

// Handler is the webhook endpoint: see the package documentation for what
// it does with a delivery. It is safe for concurrent use.
type Handler struct {
	cfg    Config
	tracer trace.Tracer
	count  metric.Int64Counter

	accepted, duplicate, badSignature, badBody, ignored, publishFailed, tooLarge, unavailable, events atomic.Uint64

	remembering sync.WaitGroup // dedupe records being written
	rememberSem chan struct{}  // bounds them; when full, the write is inline
}

// maxRemembering bounds the dedupe records written in the background.
const maxRemembering = 256

// remember writes the dedupe record of a delivery whose events are stored
// (their publish was acked), in the background, so the platform has its
// 200 after one durable write, not two. Until the record lands a
// redelivery is published again with the same event ids: JetStream's
// duplicate window drops it, and after the window the order aggregate's
// seen ids do (nothing visible changes either way); the record only spares
// that work. When maxRemembering writes are in flight it writes inline.
func (h *Handler) remember(ctx context.Context, key string) {
	write := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.Timeout)
		defer cancel()
		if err := h.cfg.Dedupe.Remember(rctx, key); err != nil {
			h.cfg.Logger.WarnContext(ctx, "webhook dedupe record not written", "platform", h.cfg.Platform, "err", err)
		}
	}
	select {
	case h.rememberSem <- struct{}{}:
	default:
		write()
		return
	}
	h.remembering.Add(1)
	go func() {
		defer func() { <-h.rememberSem; h.remembering.Done() }()
		write()
	}()
}

// Wait waits for the dedupe records being written in the background; call
// it after the server stops taking deliveries.
func (h *Handler) Wait() { h.remembering.Wait() }

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Platform == "" {
		errs = append(errs, errors.New("webhook: platform is required"))
	}
	if cfg.Verifier == nil {
		errs = append(errs, errors.New("webhook: verifier is required"))
	}
	if cfg.Decoder == nil {
		errs = append(errs, errors.New("webhook: decoder is required"))
	}
	if cfg.Publisher == nil {
		errs = append(errs, errors.New("webhook: publisher is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, tracer: otel.Tracer(instrumentation), rememberSem: make(chan struct{}, maxRemembering)}
	if cfg.Meter != nil {
		count, err := cfg.Meter.Int64Counter(metrics.WebhookDeliveries,
			metric.WithDescription("Webhook deliveries by platform and outcome"),
			metric.WithUnit("{delivery}"))
		if err != nil {
			return nil, fmt.Errorf("webhook: counter: %w", err)
		}
		h.count = count
	}
	metrics.Init()
	return h, nil
}

// Stats returns the counters.
func (h *Handler) Stats() Stats {
	return Stats{
		Accepted:      h.accepted.Load(),
		Duplicate:     h.duplicate.Load(),
		BadSignature:  h.badSignature.Load(),
		BadBody:       h.badBody.Load(),
		Ignored:       h.ignored.Load(),
		PublishFailed: h.publishFailed.Load(),
		TooLarge:      h.tooLarge.Load(),
		Unavailable:   h.unavailable.Load(),
		Events:        h.events.Load(),
	}
}

// ServeHTTP handles one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Under Serve the request has otelhttp's server span: this one is its
	// child, made by the same service's provider.
	tracer := h.tracer
	if parent := trace.SpanFromContext(r.Context()); parent.SpanContext().IsValid() {
		tracer = parent.TracerProvider().Tracer(instrumentation)
	}
	ctx, span := tracer.Start(r.Context(), "webhook "+h.cfg.Platform)
	defer span.End()
	received := h.cfg.Now()
	status, outcome := h.serve(ctx, w, r, received)
	span.SetAttributes(attribute.String("webhook.outcome", outcome), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, outcome)
	}
	if h.count != nil {
		h.count.Add(ctx, 1, metric.WithAttributes(attribute.String("platform", h.cfg.Platform), attribute.String("outcome", outcome)))
	}
	metrics.RecordWebhook(ctx, h.cfg.Platform, outcome, h.cfg.Now().Sub(received))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, outcome+"\n")
}

// serve runs the steps and returns the status and outcome.
func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, received time.Time) (int, string) {
	log := h.cfg.Logger
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.tooLarge.Add(1)
			log.WarnContext(ctx, "webhook body too large", "platform", h.cfg.Platform, "limit", h.cfg.MaxBodyBytes)
			return http.StatusRequestEntityTooLarge, OutcomeTooLarge
		}
		h.badBody.Add(1)
		log.WarnContext(ctx, "webhook body unreadable", "platform", h.cfg.Platform, "err", err)
		return http.StatusBadRequest, OutcomeBadBody
	}

	payload, err := h.cfg.Verifier.Verify(r.Header, body)
	if err != nil {
		h.badSignature.Add(1)
		log.WarnContext(ctx, "webhook refused", "platform", h.cfg.Platform, "reason", err.Error(), "bytes", len(body))
		return http.StatusUnauthorized, OutcomeBadSignature
	}

	// The work goes on if the platform hangs up: a publish once started is
	// better stored than half done.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.Timeout)
	defer cancel()
	d, err := h.cfg.Decoder.Decode(wctx, &Request{Header: r.Header, Payload: payload, Received: received})
	var unavailable *unavailableError
	switch {
	case errors.Is(err, ErrIgnored):
		h.ignored.Add(1)
		log.DebugContext(ctx, "webhook ignored", "platform", h.cfg.Platform, "reason", err.Error())
		return http.StatusOK, OutcomeIgnored
	case errors.As(err, &unavailable):
		h.unavailable.Add(1)
		log.WarnContext(ctx, "webhook decoder unavailable", "platform", h.cfg.Platform, "err", err)
		return http.StatusServiceUnavailable, OutcomeUnavailable
	case err != nil:
		h.badBody.Add(1)
		log.WarnContext(ctx, "webhook payload refused", "platform", h.cfg.Platform, "reason", err.Error())
		return http.StatusBadRequest, OutcomeBadBody
	}

	if d.Key != "" && h.cfg.Dedupe != nil {
		seen, err := h.cfg.Dedupe.Seen(wctx, d.Key)
		if err != nil {
			// Fail open: JetStream's window and the aggregate still drop
			// a repeated event id; refusing would only make the platform retry.
			log.WarnContext(ctx, "webhook dedupe lookup", "platform", h.cfg.Platform, "err", err)
		}
		if seen {
			h.duplicate.Add(1)
			log.DebugContext(ctx, "webhook duplicate", "platform", h.cfg.Platform, "topic", d.Topic, "key", d.Key)
			return http.StatusOK, OutcomeDuplicate
		}
	}

	for _, env := range d.Envelopes {
		if env.GetRecordedAt() == nil {
			env.RecordedAt = timestamppb.New(received)
		}
		subject, err := bus.SubjectFor(env)
		if err == nil {
			err = h.cfg.Publisher.Publish(wctx, subject, env)
		}
		if err != nil {
			h.publishFailed.Add(1)
			log.ErrorContext(ctx, "webhook not stored, platform will retry", "platform", h.cfg.Platform,
				"topic", d.Topic, "event", envelope.Type(env), "event_id", env.GetEventId(), "err", err)
			return http.StatusServiceUnavailable, OutcomePublishFailed
		}
	}

	if d.Key != "" && h.cfg.Dedupe != nil {
		h.remember(ctx, d.Key)
	}
	h.accepted.Add(1)
	h.events.Add(uint64(len(d.Envelopes)))
	return http.StatusOK, OutcomeAccepted
}
