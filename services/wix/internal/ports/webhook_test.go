package ports_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/services/wix/internal/app"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/ports"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	instanceID = "b2f0c1d4-7a8e-4c55-9d61-3f2a7c9e0a11"
	siteID     = "9a4d2f10-5b6c-4e7f-8a90-1b2c3d4e5f60"
	wixOrderID = "58c9a790-27b7-463f-a865-c7cb494f7c29"
)

var (
	keysOnce       sync.Once
	appKey, other  *rsa.PrivateKey
	quiet          = slog.New(slog.DiscardHandler)
	fixedNow       = time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	registeredStor = []app.StoreConfig{{
		Store: domain.Store{Slug: "berlin", SiteID: siteID, InstanceID: instanceID},
		Site:  wixapi.Site{Credential: config.NewSecret("token")},
	}}
)

// keys returns the app's key and an unrelated one.
func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return appKey, other
}

func stores(t testing.TB) *app.Stores {
	s, err := app.NewStores(registeredStor)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is a testdata payload: the decoded outer layer with the event
// as an object.
type fixture struct {
	EventType  string          `json:"eventType"`
	InstanceID string          `json:"instanceId"`
	Data       json.RawMessage `json:"data"`
}

// token signs a fixture as Wix would: the event and the outer layer each
// a JSON string, iat now.
func token(t testing.TB, key *rsa.PrivateKey, f fixture, iat time.Time) string {
	t.Helper()
	claims, err := wixsim.EncodeClaims(f.EventType, f.InstanceID, f.Data, iat, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := wixsim.SignRS256(key, "test", claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func loadFixture(t testing.TB, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// env is a webhook endpoint over a real JetStream.
type env struct {
	js      jetstream.JetStream
	handler *webhook.Handler
	srv     *httptest.Server
}

func newEnv(t *testing.T, dupWindow time.Duration) *env {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{DuplicateWindow: dupWindow}); err != nil {
		t.Fatal(err)
	}
	dedupe, err := webhook.NewKVDedupe(ctx, js, webhook.KVDedupeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys(t)
	h, err := webhook.New(webhook.Config{
		Platform:  order.WordWix,
		Verifier:  ports.NewVerifier(&k.PublicKey, 0, nil),
		Decoder:   ports.Decoder{Stores: stores(t)},
		Publisher: bus.NewPublisher(js, bus.PublisherConfig{}),
		Dedupe:    dedupe,
		Logger:    quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{js: js, handler: h, srv: srv}
}

func (e *env) post(t *testing.T, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", wixsim.WebhookContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// stored reads every envelope in STORE_EVENTS.
func (e *env) stored(t *testing.T) []*eventsv1.Envelope {
	t.Helper()
	return readStream(t, e.js, bus.StreamStore)
}

func readStream(t *testing.T, js jetstream.JetStream, name string) []*eventsv1.Envelope {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*eventsv1.Envelope
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		env, err := envelope.Unmarshal(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
	}
	return out
}

// jwtParts builds a token from a header and claims, signed by sign.
func jwtParts(hdr, claims string, sign func(signing []byte) []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString([]byte(claims))
	return signing + "." + enc.EncodeToString(sign([]byte(signing)))
}

func TestJWTVerification(t *testing.T) {
	e := newEnv(t, 0)
	k, wrong := keys(t)
	f := loadFixture(t, "order_approved_paid")
	now := time.Now()
	good := token(t, k, f, now)
	claims, err := wixsim.EncodeClaims(f.EventType, f.InstanceID, f.Data, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := wixsim.PublicKeyPEM(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := wixsim.EncodeClaims(f.EventType, f.InstanceID, f.Data, now.Add(-3*time.Hour), time.Hour)
	expiredTok, _ := wixsim.SignRS256(k, "test", expired)
	future, _ := wixsim.EncodeClaims(f.EventType, f.InstanceID, f.Data, now.Add(time.Hour), time.Hour)
	futureTok, _ := wixsim.SignRS256(k, "test", future)
	flipped := []byte(good)
	flipped[len(flipped)-5] ^= 0x01
	if flipped[len(flipped)-5] == '-' || flipped[len(flipped)-5] == '_' {
		flipped[len(flipped)-5] = 'A'
	}
	tamperedClaims := func() string {
		parts := strings.Split(good, ".")
		c := strings.Replace(string(claims), "PAID", "FREE", 1)
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(c))
		return strings.Join(parts, ".")
	}()
	hmacWith := func(secret []byte) func([]byte) []byte {
		return func(s []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(s); return m.Sum(nil) }
	}

	cases := []struct {
		name   string
		body   string
		status int
	}{
		{"bad signature", string(flipped), 401},
		{"claims tampered with", tamperedClaims, 401},
		{"signed with another key", token(t, wrong, f, now), 401},
		{"expired", expiredTok, 401},
		{"issued in the future", futureTok, 401},
		{"alg none", jwtParts(`{"alg":"none"}`, string(claims), func([]byte) []byte { return nil }), 401},
		{"alg none, no signature part", strings.Join(strings.Split(jwtParts(`{"alg":"none"}`, string(claims), func([]byte) []byte { return nil }), ".")[:2], ".") + ".", 401},
		{"HS256 keyed with the public key PEM", jwtParts(`{"alg":"HS256","typ":"JWT"}`, string(claims), hmacWith([]byte(pubPEM))), 401},
		{"RS256 header, HMAC signature", jwtParts(`{"alg":"RS256"}`, string(claims), hmacWith([]byte(pubPEM))), 401},
		{"RS512", jwtParts(`{"alg":"RS512"}`, string(claims), hmacWith([]byte("x"))), 401},
		{"malformed token", "not-a-jwt", 401},
		{"two parts", "eyJhbGciOiJSUzI1NiJ9.e30", 401},
		{"header not base64", "%%%." + strings.SplitN(good, ".", 2)[1], 401},
		{"empty body", "", 401},
		{"JSON body instead of a JWT", string(f.Data), 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.post(t, tc.body); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
		})
	}
	if n := len(e.stored(t)); n != 0 {
		t.Fatalf("%d events published by refused webhooks, want none", n)
	}
	if st := e.handler.Stats(); st.BadSignature != uint64(len(cases)) {
		t.Errorf("bad_signature = %d, want %d", st.BadSignature, len(cases))
	}
	t.Run("good", func(t *testing.T) {
		if got := e.post(t, good); got != 200 {
			t.Fatalf("status %d, want 200", got)
		}
		evs := e.stored(t)
		if len(evs) != 1 || evs[0].GetStorePaymentCaptured() == nil || evs[0].GetOrderId() != "wix:berlin:"+wixOrderID {
			t.Fatalf("stored %v, want one StorePaymentCaptured of wix:berlin:%s", evs, wixOrderID)
		}
	})
}

func TestMalformedPayloadIs400(t *testing.T) {
	e := newEnv(t, 0)
	k, _ := keys(t)
	sign := func(claims string) string {
		tok, err := wixsim.SignRS256(k, "test", []byte(claims))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	outer := func(data string) string {
		b, _ := json.Marshal(map[string]string{"eventType": domain.EventOrderCreated, "instanceId": instanceID, "data": data})
		c, _ := json.Marshal(map[string]any{"data": string(b), "exp": time.Now().Add(time.Hour).Unix()})
		return string(c)
	}
	exp := fmt.Sprint(time.Now().Add(time.Hour).Unix())
	cases := map[string]string{
		"claims without data":      `{"iat":1,"exp":` + exp + `}`,
		"data is not JSON":         `{"data":"{not json","exp":` + exp + `}`,
		"data is a number":         `{"data":7,"exp":` + exp + `}`,
		"inner data is not JSON":   outer("{oops"),
		"inner event has no id":    outer(`{"slug":"created","createdEvent":{"entity":{}}}`),
		"order without id":         outer(`{"id":"e1","createdEvent":{"entity":{"updatedDate":"2026-01-01T00:00:00Z","status":"APPROVED"}}}`),
		"order with a bad date":    outer(`{"id":"e2","createdEvent":{"entity":{"id":"` + wixOrderID + `","updatedDate":"yesterday","status":"APPROVED"}}}`),
		"created event, no entity": outer(`{"id":"e3","createdEvent":{}}`),
	}
	for name, claims := range cases {
		t.Run(name, func(t *testing.T) {
			if got := e.post(t, sign(claims)); got != 400 {
				t.Fatalf("status %d, want 400", got)
			}
		})
	}
	if n := len(e.stored(t)); n != 0 {
		t.Errorf("%d events published, want none", n)
	}
}

// TestShapesWeDoNotUse delivers correctly signed tokens in shapes the
// connector does not map as such: unused and older event types (with or
// without the fields a mapped event has), layers as objects instead of
// JSON strings, null where an object is expected, numbers as strings, big
// numbers. Each gets 200 (mapped or ignored), never a 4xx, unless a mapped
// event carries no order at all.
func TestShapesWeDoNotUse(t *testing.T) {
	k, _ := keys(t)
	exp := time.Now().Add(time.Hour).Unix()
	sign := func(claims map[string]any) string {
		claims["exp"] = exp
		b, _ := json.Marshal(claims)
		tok, err := wixsim.SignRS256(k, "test", b)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	str := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	f := loadFixture(t, "order_approved_paid")
	var inner map[string]any
	if err := json.Unmarshal(f.Data, &inner); err != nil {
		t.Fatal(err)
	}
	order := inner["actionEvent"].(map[string]any)["body"].(map[string]any)["order"]
	noID := map[string]any{"slug": "approved", "actionEvent": map[string]any{"body": map[string]any{"order": order}}}
	cases := []struct {
		name   string
		claims map[string]any
		status int
		events int
	}{
		{"unused type without id or instance", map[string]any{"data": str(map[string]any{"eventType": "wix.ecom.v1.order_transactions_updated", "data": "{}"})}, 200, 0},
		{"older Wix Stores event", map[string]any{"data": str(map[string]any{"eventType": "OrderPaid", "instanceId": instanceID, "data": str(map[string]any{"orderId": wixOrderID, "number": 10042})})}, 200, 0},
		{"unused type, data not JSON", map[string]any{"data": str(map[string]any{"eventType": "wix.stores.v1.product_changed", "data": "{oops"})}, 200, 0},
		{"unused type, data null", map[string]any{"data": str(map[string]any{"eventType": "wix.ecom.v1.order_deleted", "instanceId": instanceID, "data": nil})}, 200, 0},
		{"layers as objects", map[string]any{"data": map[string]any{"eventType": domain.EventOrderApproved, "instanceId": instanceID, "data": inner}}, 200, 1},
		{"mapped event without id", map[string]any{"data": str(map[string]any{"eventType": domain.EventOrderApproved, "instanceId": instanceID, "data": str(noID)})}, 200, 1},
		{"SDK shape (data + metadata)", map[string]any{"data": str(map[string]any{"eventType": domain.EventOrderApproved, "instanceId": instanceID, "data": str(map[string]any{"data": map[string]any{"order": order}, "metadata": map[string]any{"id": "sdk-1", "entityId": wixOrderID}})})}, 200, 1},
		{"unknown instance", map[string]any{"data": str(map[string]any{"eventType": domain.EventOrderApproved, "instanceId": "other", "data": str(inner)})}, 200, 0},
		{"bad eventTime", map[string]any{"data": str(map[string]any{"eventType": domain.EventOrderApproved, "instanceId": instanceID, "data": str(map[string]any{"id": "t-1", "eventTime": 17, "actionEvent": map[string]any{"body": map[string]any{"order": order}}})})}, 200, 1},
		{"mapped event, body null: unusable", map[string]any{"data": str(map[string]any{"eventType": domain.EventOrderApproved, "instanceId": instanceID, "data": str(map[string]any{"id": "n-1", "actionEvent": nil})})}, 400, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			if got := e.post(t, sign(tc.claims)); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			if n := len(e.stored(t)); n != tc.events {
				t.Fatalf("%d events, want %d", n, tc.events)
			}
		})
	}
}

// TestTokenWithoutExpIsRefused: a correctly signed token without exp
// would be valid for ever (issue 12): 401.
func TestTokenWithoutExpIsRefused(t *testing.T) {
	e := newEnv(t, 0)
	k, _ := keys(t)
	f := loadFixture(t, "order_approved_paid")
	claims, err := wixsim.EncodeClaims(f.EventType, f.InstanceID, f.Data, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = json.Unmarshal(claims, &c)
	delete(c, "exp")
	b, _ := json.Marshal(c)
	tok, err := wixsim.SignRS256(k, "test", b)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.post(t, tok); got != 401 {
		t.Fatalf("status %d, want 401", got)
	}
	if n := len(e.stored(t)); n != 0 {
		t.Fatalf("%d events published, want none", n)
	}
}

// TestIssuerAudience: when an issuer or audience is expected, a token
// without it, or with another, is refused.
func TestIssuerAudience(t *testing.T) {
	k, _ := keys(t)
	now := time.Now()
	v := ports.NewVerifier(&k.PublicKey, 0, nil)
	v.Issuer, v.Audience = "wix.com", "app-1"
	for _, tc := range []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"both right", map[string]any{"iss": "wix.com", "aud": "app-1"}, true},
		{"aud in a list", map[string]any{"iss": "wix.com", "aud": []string{"x", "app-1"}}, true},
		{"no iss", map[string]any{"aud": "app-1"}, false},
		{"other iss", map[string]any{"iss": "evil", "aud": "app-1"}, false},
		{"other aud", map[string]any{"iss": "wix.com", "aud": "app-2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.claims["data"] = "{}"
			tc.claims["exp"] = now.Add(time.Hour).Unix()
			b, _ := json.Marshal(tc.claims)
			tok, _ := wixsim.SignRS256(k, "test", b)
			_, err := v.Verify(nil, []byte(tok))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestReplayWindow: with MaxAge, a token signed longer ago than MaxAge
// (plus the leeway) is refused even though its exp is still ahead, and so
// is a token without iat; a token inside the window, or its edge within
// the leeway, is accepted.
func TestReplayWindow(t *testing.T) {
	k, _ := keys(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	v := ports.NewVerifier(&k.PublicKey, 30*time.Second, func() time.Time { return now })
	v.MaxAge = 72 * time.Hour
	for _, tc := range []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"fresh", map[string]any{"iat": now.Add(-time.Minute).Unix()}, true},
		{"a retry two days on", map[string]any{"iat": now.Add(-48 * time.Hour).Unix()}, true},
		{"at the window's edge, within the leeway", map[string]any{"iat": now.Add(-72*time.Hour - 20*time.Second).Unix()}, true},
		{"past the window", map[string]any{"iat": now.Add(-72*time.Hour - time.Minute).Unix()}, false},
		{"a replay four days on", map[string]any{"iat": now.Add(-96 * time.Hour).Unix()}, false},
		{"no iat", map[string]any{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.claims["data"] = "{}"
			tc.claims["exp"] = now.Add(300_000 * time.Second).Unix() // Wix's sample lifetime: exp alone would accept all
			b, _ := json.Marshal(tc.claims)
			tok, _ := wixsim.SignRS256(k, "test", b)
			_, err := v.Verify(nil, []byte(tok))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, webhook.ErrBadSignature) {
				t.Fatalf("err %v does not wrap webhook.ErrBadSignature (401)", err)
			}
		})
	}
	v.MaxAge = 0
	b, _ := json.Marshal(map[string]any{"data": "{}", "iat": now.Add(-96 * time.Hour).Unix(), "exp": now.Add(time.Hour).Unix()})
	tok, _ := wixsim.SignRS256(k, "test", b)
	if _, err := v.Verify(nil, []byte(tok)); err != nil {
		t.Fatalf("without MaxAge only exp bounds a token: %v", err)
	}
}

func TestDuplicateEventIDPublishedOnce(t *testing.T) {
	// A duplicate window of 100 ms: the second redelivery comes after it,
	// as Wix's retries do after JetStream's 2 h, so only the dedupe record
	// (the KV bucket) can drop it.
	e := newEnv(t, 100*time.Millisecond)
	k, _ := keys(t)
	f := loadFixture(t, "order_created_unpaid")
	tok := token(t, k, f, time.Now())
	retry := token(t, k, f, time.Now().Add(time.Second)) // Wix signs each attempt anew: other bytes, same event id
	for i, body := range []string{tok, tok, retry} {
		if got := e.post(t, body); got != 200 {
			t.Fatalf("delivery %d: %d", i, got)
		}
	}
	time.Sleep(250 * time.Millisecond)
	if got := e.post(t, tok); got != 200 {
		t.Fatalf("late delivery: %d", got)
	}
	if n := len(e.stored(t)); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
	if st := e.handler.Stats(); st.Accepted != 1 || st.Duplicate != 3 {
		t.Errorf("stats %+v, want 1 accepted and 3 duplicates", st)
	}
}

func TestOutOfOrderUpdatedBeforeCreated(t *testing.T) {
	e := newEnv(t, 0)
	k, _ := keys(t)
	now := time.Now()
	// order_updated (paid, partly fulfilled) arrives before order_created (unpaid).
	for _, name := range []string{"order_updated", "order_created_unpaid"} {
		if got := e.post(t, token(t, k, loadFixture(t, name), now)); got != 200 {
			t.Fatalf("%s: %d", name, got)
		}
	}
	evs := e.stored(t)
	if len(evs) != 2 || evs[0].GetStoreOrderUpdated() == nil || evs[1].GetStoreOrderCreated() == nil {
		t.Fatalf("stored %d events, want StoreOrderUpdated then StoreOrderCreated", len(evs))
	}
	// The order aggregate folds them in arrival order: the newer snapshot
	// wins, the older one changes nothing.
	var o order.Order
	for _, ev := range evs {
		out, err := o.Handle(ev, order.Context{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range out {
			o.Apply(x)
		}
	}
	if !o.PaymentCaptured() || o.Tab() != eventsv1.Tab_TAB_AWAITING_ORDER || o.ConflictFields() != nil {
		t.Errorf("captured %v, tab %v, conflict %v: want paid, Awaiting order, no conflict", o.PaymentCaptured(), o.Tab(), o.ConflictFields())
	}
}

func TestUnknownInstanceIsIgnored(t *testing.T) {
	e := newEnv(t, 0)
	k, _ := keys(t)
	f := loadFixture(t, "order_created_unpaid")
	f.InstanceID = "00000000-dead-4000-8000-000000000000"
	if got := e.post(t, token(t, k, f, time.Now())); got != 200 {
		t.Fatalf("status %d, want 200 (ignored)", got)
	}
	if st := e.handler.Stats(); st.Ignored != 1 || len(e.stored(t)) != 0 {
		t.Errorf("stats %+v, want ignored and nothing published", st)
	}
}

// recorder is a webhook.Publisher that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	envs []*eventsv1.Envelope
}

func (r *recorder) Publish(_ context.Context, _ string, env *eventsv1.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.envs = append(r.envs, env)
	return nil
}

// TestGolden runs each testdata/*.json payload, signed with the test key,
// through the webhook handler and compares the events with
// testdata/*.golden (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	k, _ := keys(t)
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			h, err := webhook.New(webhook.Config{
				Platform:  order.WordWix,
				Verifier:  ports.NewVerifier(&k.PublicKey, 0, nil),
				Decoder:   ports.Decoder{Stores: stores(t)},
				Publisher: rec,
				Now:       func() time.Time { return fixedNow },
				Logger:    quiet,
			})
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(token(t, k, loadFixture(t, name), time.Now()))))
			var out bytes.Buffer
			out.WriteString("status: " + http.StatusText(w.Code) + "\noutcome: " + strings.TrimSpace(w.Body.String()) + "\n")
			for _, env := range rec.envs {
				b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(env)
				if err != nil {
					t.Fatal(err)
				}
				out.WriteString("---\n")
				out.Write(normalize(b))
				out.WriteString("\n")
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("events differ from %s (run with -update to accept):\n%s", golden, out.String())
			}
		})
	}
}

// normalize makes protojson's output stable: it varies its spacing on
// purpose between runs, so the golden files hold it re-indented by
// encoding/json.
func normalize(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return b
	}
	return out
}

func TestParsePublicKey(t *testing.T) {
	k, _ := keys(t)
	p, err := wixsim.PublicKeyPEM(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ports.ParsePublicKey(p); err != nil || !got.Equal(&k.PublicKey) {
		t.Fatalf("ParsePublicKey: %v", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := wixsim.PublicKeyPEM(&small.PublicKey)
	for name, text := range map[string]string{"empty": "", "garbage": "not a key", "1024 bits": sp,
		"private key block": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := ports.ParsePublicKey(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkVerify is the cost of one webhook's RS256 verification (2048-bit
// key) and iat check, the part the Wix connector adds over an HMAC check.
func BenchmarkVerify(b *testing.B) {
	k, _ := keys(b)
	v := ports.NewVerifier(&k.PublicKey, 0, nil)
	body := []byte(token(b, k, loadFixture(b, "order_approved_paid"), time.Now()))
	for b.Loop() {
		if _, err := v.Verify(nil, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode is the cost of decoding a verified webhook's two JSON
// string layers and mapping it to its event.
func BenchmarkDecode(b *testing.B) {
	k, _ := keys(b)
	claims, err := ports.NewVerifier(&k.PublicKey, 0, nil).Verify(nil, []byte(token(b, k, loadFixture(b, "order_approved_paid"), time.Now())))
	if err != nil {
		b.Fatal(err)
	}
	d := ports.Decoder{Stores: stores(b)}
	for b.Loop() {
		if _, err := d.Decode(context.Background(), &webhook.Request{Payload: claims}); err != nil {
			b.Fatal(err)
		}
	}
}
