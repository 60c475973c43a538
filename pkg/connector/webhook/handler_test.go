package webhook_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

const secret = "s3cret"

// testDecoder reads {"id": "...", "order": "..."} bodies; the topic header
// "ignored" is ignored, "fetch" pretends the platform is down.
var testDecoder = webhook.DecoderFunc(func(_ context.Context, req *webhook.Request) (webhook.Delivery, error) {
	switch req.Header.Get("X-Topic") {
	case "ignored":
		return webhook.Delivery{}, fmt.Errorf("%w: topic ignored", webhook.ErrIgnored)
	case "fetch":
		return webhook.Delivery{}, webhook.Unavailable(errors.New("platform down"))
	}
	var b struct {
		ID    string `json:"id"`
		Order string `json:"order"`
	}
	if err := json.Unmarshal(req.Payload, &b); err != nil {
		return webhook.Delivery{}, fmt.Errorf("body: %w", err)
	}
	if b.ID == "" || b.Order == "" {
		return webhook.Delivery{}, errors.New("body: id and order are required")
	}
	key := "test/" + req.Header.Get("X-Event-Id")
	env := &eventsv1.Envelope{
		EventId:    envelope.ID("test", key),
		OrderId:    "shopify:demo:" + b.Order,
		OccurredAt: timestamppb.New(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)),
		Event:      &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: &eventsv1.StoreOrder{StoreOrderId: b.Order}}},
	}
	return webhook.Delivery{Key: key, Topic: "orders/create", Envelopes: []*eventsv1.Envelope{env}}, nil
})

func verifier() webhook.Verifier {
	return webhook.HMACVerifier{
		Header:  "X-Hmac",
		Secrets: func(http.Header) ([][]byte, error) { return [][]byte{[]byte(secret)}, nil },
	}
}

type env struct {
	t   *testing.T
	js  jetstream.JetStream
	h   *webhook.Handler
	srv *httptest.Server
}

func newEnv(t *testing.T, window time.Duration, dedupe bool, pub bus.EventPublisher) *env {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{DuplicateWindow: window}); err != nil {
		t.Fatal(err)
	}
	cfg := webhook.Config{
		Platform:     "test",
		Verifier:     verifier(),
		Decoder:      testDecoder,
		Publisher:    bus.NewPublisher(js, bus.PublisherConfig{}),
		MaxBodyBytes: 256,
		Logger:       slog.New(slog.DiscardHandler),
	}
	if pub != nil {
		cfg.Publisher = pub
	}
	if dedupe {
		d, err := webhook.NewKVDedupe(ctx, js, webhook.KVDedupeConfig{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Dedupe = d
	}
	h, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, js: js, h: h, srv: srv}
}

// post sends body; sig "" signs it correctly, "-" sends no signature.
func (e *env) post(method, topic, eventID, body, sig string) int {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, e.srv.URL, strings.NewReader(body))
	req.Header.Set("X-Topic", topic)
	req.Header.Set("X-Event-Id", eventID)
	switch sig {
	case "":
		req.Header.Set("X-Hmac", webhook.SignHMAC([]byte(secret), []byte(body)))
	case "-":
	default:
		req.Header.Set("X-Hmac", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (e *env) stored() uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), bus.StreamStore)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

func TestHandler(t *testing.T) {
	e := newEnv(t, time.Minute, true, nil)
	valid := `{"id":"1","order":"1001"}`
	cases := []struct {
		name, method, topic, event, body, sig string
		status                                int
		stored                                uint64
		stats                                 webhook.Stats
	}{
		{"accepted", http.MethodPost, "orders/create", "e1", valid, "", 200, 1, webhook.Stats{Accepted: 1, Events: 1}},
		{"duplicate", http.MethodPost, "orders/create", "e1", valid, "", 200, 0, webhook.Stats{Duplicate: 1}},
		{"missing signature", http.MethodPost, "orders/create", "e2", `{"id":"2","order":"1002"}`, "-", 401, 0, webhook.Stats{BadSignature: 1}},
		{"bad signature", http.MethodPost, "orders/create", "e2", `{"id":"2","order":"1002"}`, webhook.SignHMAC([]byte("other"), []byte(`{"id":"2","order":"1002"}`)), 401, 0, webhook.Stats{BadSignature: 1}},
		{"signature of other bytes", http.MethodPost, "orders/create", "e2", `{"id":"2","order":"1002"}`, webhook.SignHMAC([]byte(secret), []byte(`{"id":"2", "order":"1002"}`)), 401, 0, webhook.Stats{BadSignature: 1}},
		{"signature not base64", http.MethodPost, "orders/create", "e2", `{"id":"2","order":"1002"}`, "!!!", 401, 0, webhook.Stats{BadSignature: 1}},
		{"malformed json", http.MethodPost, "orders/create", "e3", `{"id":"3",`, "", 400, 0, webhook.Stats{BadBody: 1}},
		{"missing field", http.MethodPost, "orders/create", "e3", `{"id":"3"}`, "", 400, 0, webhook.Stats{BadBody: 1}},
		{"unknown topic", http.MethodPost, "ignored", "e4", valid, "", 200, 0, webhook.Stats{Ignored: 1}},
		{"platform unavailable", http.MethodPost, "fetch", "e5", valid, "", 503, 0, webhook.Stats{Unavailable: 1}},
		{"oversize", http.MethodPost, "orders/create", "e6", `{"id":"6","order":"` + strings.Repeat("9", 300) + `"}`, "", 413, 0, webhook.Stats{TooLarge: 1}},
		{"not a post", http.MethodGet, "orders/create", "e7", "", "", 405, 0, webhook.Stats{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, storedBefore := e.h.Stats(), e.stored()
			if got := e.post(c.method, c.topic, c.event, c.body, c.sig); got != c.status {
				t.Fatalf("status %d, want %d", got, c.status)
			}
			if got := e.stored() - storedBefore; got != c.stored {
				t.Fatalf("%d events stored, want %d", got, c.stored)
			}
			if got := diff(e.h.Stats(), before); got != c.stats {
				t.Fatalf("counters moved by %+v, want %+v", got, c.stats)
			}
		})
	}
}

func diff(a, b webhook.Stats) webhook.Stats {
	return webhook.Stats{
		Accepted: a.Accepted - b.Accepted, Duplicate: a.Duplicate - b.Duplicate, BadSignature: a.BadSignature - b.BadSignature,
		BadBody: a.BadBody - b.BadBody, Ignored: a.Ignored - b.Ignored, PublishFailed: a.PublishFailed - b.PublishFailed,
		TooLarge: a.TooLarge - b.TooLarge, Unavailable: a.Unavailable - b.Unavailable, Events: a.Events - b.Events,
	}
}

// flakyPublisher fails while down is set, then publishes to next.
type flakyPublisher struct {
	down atomic.Bool
	next bus.EventPublisher
}

func (p *flakyPublisher) Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error {
	if p.down.Load() {
		return errors.New("jetstream unavailable")
	}
	return p.next.Publish(ctx, subject, env)
}

func TestPublishFailureIs5xx(t *testing.T) {
	p := &flakyPublisher{}
	p.down.Store(true)
	e := newEnv(t, time.Minute, true, p)
	p.next = bus.NewPublisher(e.js, bus.PublisherConfig{})
	body := `{"id":"1","order":"1001"}`
	if got := e.post(http.MethodPost, "orders/create", "e1", body, ""); got != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got)
	}
	if st := e.h.Stats(); st.PublishFailed != 1 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The failed delivery left no dedupe record: the platform's retry is
	// stored, not taken for a duplicate.
	p.down.Store(false)
	if got := e.post(http.MethodPost, "orders/create", "e1", body, ""); got != http.StatusOK {
		t.Fatalf("retry: status %d, want 200", got)
	}
	if got := e.stored(); got != 1 {
		t.Fatalf("%d stored after the retry, want 1", got)
	}
}

// TestDedupeOutlivesDuplicateWindow delivers a webhook again after
// JetStream's duplicate window: the key-value record still drops it; with
// no record, JetStream stores it a second time.
func TestDedupeOutlivesDuplicateWindow(t *testing.T) {
	const window = 500 * time.Millisecond
	body := `{"id":"1","order":"1001"}`
	for _, c := range []struct {
		name   string
		dedupe bool
		want   uint64
	}{{"with record", true, 1}, {"without record", false, 2}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, window, c.dedupe, nil)
			if got := e.post(http.MethodPost, "orders/create", "late", body, ""); got != 200 {
				t.Fatalf("first delivery: %d", got)
			}
			time.Sleep(3 * window)
			if got := e.post(http.MethodPost, "orders/create", "late", body, ""); got != 200 {
				t.Fatalf("second delivery: %d", got)
			}
			if got := e.stored(); got != c.want {
				t.Fatalf("%d events stored, want %d", got, c.want)
			}
		})
	}
}

func TestHMACVerifierRotation(t *testing.T) {
	v := webhook.HMACVerifier{Header: "X-Hmac", Secrets: func(http.Header) ([][]byte, error) {
		return [][]byte{[]byte("new"), []byte("old")}, nil
	}}
	body := []byte(`{"a":1}`)
	for _, s := range []string{"new", "old"} {
		h := http.Header{"X-Hmac": {webhook.SignHMAC([]byte(s), body)}}
		if _, err := v.Verify(h, body); err != nil {
			t.Fatalf("secret %s: %v", s, err)
		}
	}
	h := http.Header{"X-Hmac": {webhook.SignHMAC([]byte("other"), body)}}
	if _, err := v.Verify(h, body); !errors.Is(err, webhook.ErrBadSignature) {
		t.Fatalf("other secret: %v", err)
	}
}

func jwt(t *testing.T, key *rsa.PrivateKey, header, claims string) []byte {
	t.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return []byte(signing + "." + enc.EncodeToString(sig))
}

func TestJWTVerifier(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	v := webhook.JWTVerifier{Key: &key.PublicKey, Now: func() time.Time { return now }}
	claims := `{"data":"{\"eventType\":\"wix.ecom.v1.order_approved\"}","exp":1800000060}`
	rs256 := `{"alg":"RS256","typ":"JWT"}`

	got, err := v.Verify(nil, jwt(t, key, rs256, claims))
	if err != nil || string(got) != claims {
		t.Fatalf("valid token: %q, %v", got, err)
	}
	tampered := jwt(t, key, rs256, claims)
	tampered[len(tampered)/2] ^= 1
	hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".x"
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + "."
	for name, tok := range map[string][]byte{
		"other key": jwt(t, other, rs256, claims),
		"tampered":  tampered,
		"hs256":     []byte(hs),
		"none":      []byte(none),
		"expired":   jwt(t, key, rs256, `{"data":"{}","exp":1799999000}`),
		"not a jwt": []byte(`{"data":"{}"}`),
	} {
		if _, err := v.Verify(nil, tok); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("%s: err %v, want ErrBadSignature", name, err)
		}
	}
}

func TestNewRequiresParts(t *testing.T) {
	if _, err := webhook.New(webhook.Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
}

// The handler answers only once the event is stored: the stream holds it
// when the 200 arrives.
func TestStoredBeforeAnswer(t *testing.T) {
	e := newEnv(t, time.Minute, false, nil)
	for i := range 20 {
		body := fmt.Sprintf(`{"id":"%d","order":"%d"}`, i, 2000+i)
		if got := e.post(http.MethodPost, "orders/create", fmt.Sprint("s", i), body, ""); got != 200 {
			t.Fatalf("status %d", got)
		}
		if got := e.stored(); got != uint64(i+1) {
			t.Fatalf("after %d answers %d stored", i+1, got)
		}
	}
}

// countingMeter records the delivery counter's additions by outcome.
type countingMeter struct {
	noop.Meter
	mu  sync.Mutex
	got map[string]int64
}

func (m *countingMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	if name != "dropsync.webhook.deliveries" {
		return nil, fmt.Errorf("unexpected counter %q", name)
	}
	return countingCounter{m: m}, nil
}

type countingCounter struct {
	noop.Int64Counter
	m *countingMeter
}

func (c countingCounter) Add(_ context.Context, n int64, opts ...metric.AddOption) {
	set := metric.NewAddConfig(opts).Attributes()
	platform, _ := set.Value(attribute.Key("platform"))
	outcome, _ := set.Value(attribute.Key("outcome"))
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.got[platform.AsString()+"/"+outcome.AsString()] += n
}

// TestMetrics: every outcome is counted on the OpenTelemetry counter too.
func TestMetrics(t *testing.T) {
	m := &countingMeter{got: map[string]int64{}}
	h, err := webhook.New(webhook.Config{
		Platform: "test", Verifier: verifier(), Decoder: testDecoder, Publisher: printlessPublisher{},
		Meter: m, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(topic, body, sig string) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Topic", topic)
		req.Header.Set("X-Event-Id", "e")
		req.Header.Set("X-Hmac", sig)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	ok := `{"id":"1","order":"1001"}`
	post("orders/create", ok, webhook.SignHMAC([]byte(secret), []byte(ok)))
	post("orders/create", ok, "bad")
	post("ignored", ok, webhook.SignHMAC([]byte(secret), []byte(ok)))
	want := map[string]int64{"test/accepted": 1, "test/bad_signature": 1, "test/ignored": 1}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fmt.Sprint(m.got) != fmt.Sprint(want) {
		t.Fatalf("counted %v, want %v", m.got, want)
	}
}

type printlessPublisher struct{}

func (printlessPublisher) Publish(context.Context, string, *eventsv1.Envelope) error { return nil }

// TestRedeliveryAtAnyDelayStoresOnce: the dedupe record is written after
// the 200, in the background, so one delivery costs one durable write. A
// redelivery before the record lands is dropped by JetStream's duplicate
// window (same event ids), one after it by the record.
func TestRedeliveryAtAnyDelayStoresOnce(t *testing.T) {
	e := newEnv(t, time.Minute, true, nil)
	body := `{"id":"1","order":"1001"}`
	for i := range 3 {
		if got := e.post(http.MethodPost, "orders/create", "again", body, ""); got != 200 {
			t.Fatalf("delivery %d: %d", i, got)
		}
	}
	e.h.Wait()
	if got := e.post(http.MethodPost, "orders/create", "again", body, ""); got != 200 {
		t.Fatalf("late delivery: %d", got)
	}
	if got := e.stored(); got != 1 {
		t.Fatalf("%d events stored, want 1", got)
	}
	if st := e.h.Stats(); st.Duplicate < 1 {
		t.Fatalf("stats %+v: the delivery after the record was not a duplicate", st)
	}
}
