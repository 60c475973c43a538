package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// benchBody is an order webhook of the usual size (two lines, an address).
func benchBody(i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": 5800000000 + i, "name": "#" + strconv.Itoa(1000+i), "email": "customer@example.com",
		"created_at": "2026-11-20T04:00:00-05:00", "updated_at": "2026-11-20T04:00:00-05:00",
		"financial_status": "paid", "currency": "EUR", "total_price": "39.80",
		"line_items": []any{
			map[string]any{"id": 13000000001, "variant_id": 44000000001, "product_id": 8000000001, "sku": "MUG-WHITE", "title": "Enamel mug", "quantity": 2, "price": "9.95"},
			map[string]any{"id": 13000000002, "variant_id": 44000000002, "product_id": 8000000002, "sku": "TEE-M", "title": "Linen tee", "quantity": 1, "price": "19.90"},
		},
		"shipping_address": map[string]any{"first_name": "Ada", "last_name": "Example", "address1": "1 Rua Exemplo", "city": "Lisboa", "zip": "1000-001", "country_code": "PT"},
	})
	return b
}

// benchDecoder parses the order and makes one StoreOrderCreated.
var benchDecoder = webhook.DecoderFunc(func(_ context.Context, req *webhook.Request) (webhook.Delivery, error) {
	var o struct {
		ID        json.Number `json:"id"`
		Name      string      `json:"name"`
		LineItems []struct {
			ID        json.Number `json:"id"`
			VariantID json.Number `json:"variant_id"`
			SKU       string      `json:"sku"`
			Quantity  int32       `json:"quantity"`
		} `json:"line_items"`
	}
	if err := json.Unmarshal(req.Payload, &o); err != nil {
		return webhook.Delivery{}, err
	}
	so := &eventsv1.StoreOrder{StoreOrderId: o.ID.String(), Name: o.Name, PaymentCaptured: true}
	for _, l := range o.LineItems {
		so.LineItems = append(so.LineItems, &eventsv1.StoreLineItem{Id: l.ID.String(), VariantId: l.VariantID.String(), Sku: l.SKU, Quantity: l.Quantity})
	}
	id := req.Header.Get("X-Event-Id")
	return webhook.Delivery{Key: "bench/" + id, Envelopes: []*eventsv1.Envelope{{
		EventId: envelope.ID("bench", id),
		OrderId: "shopify:demo:" + o.ID.String(),
		Event:   &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: so}},
	}}}, nil
})

type benchEnv struct {
	js     jetstream.JetStream
	h      *webhook.Handler
	url    string
	client *http.Client
	sample []byte // an encoded envelope, for the raw baseline
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	s := natstest.Server(b) // fsync after every write, as dropsync runs
	nc, err := nats.Connect(s.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		b.Fatal(err)
	}
	dedupe, err := webhook.NewKVDedupe(ctx, js, webhook.KVDedupeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := webhook.New(webhook.Config{
		Platform: "bench", Verifier: verifier(), Decoder: benchDecoder, Dedupe: dedupe,
		Publisher: bus.NewPublisher(js, bus.PublisherConfig{}), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	del, err := benchDecoder(ctx, &webhook.Request{Header: http.Header{"X-Event-Id": {"x"}}, Payload: benchBody(0)})
	if err != nil {
		b.Fatal(err)
	}
	sample, err := envelope.Marshal(del.Envelopes[0])
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	return &benchEnv{js: js, h: h, url: srv.URL, client: &http.Client{Transport: tr}, sample: sample}
}

// hookWrites counts the messages stored for webhooks (each an fsync): the
// store events and the dedupe records.
func (e *benchEnv) hookWrites(b *testing.B) uint64 {
	var n uint64
	for _, name := range []string{bus.StreamStore, "KV_" + webhook.DefaultDedupeBucket} {
		s, err := e.js.Stream(context.Background(), name)
		if err != nil {
			b.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		n += info.State.Msgs
	}
	return n
}

// deliver posts one signed webhook and checks the 200.
func (e *benchEnv) deliver(tb testing.TB, i int) {
	body := benchBody(i)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("X-Hmac", webhook.SignHMAC([]byte(secret), body))
	req.Header.Set("X-Event-Id", strconv.Itoa(i))
	resp, err := e.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("status %d", resp.StatusCode)
	}
}

// raw is the baseline: a synchronous JetStream publish of the same
// envelope bytes with a fresh Nats-Msg-Id, on the same server.
func (e *benchEnv) raw(tb testing.TB, i int) {
	msg := &nats.Msg{Subject: "store.shopify.demo.raw" + strconv.Itoa(i%64), Data: e.sample, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "raw-"+strconv.Itoa(i))
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		tb.Fatal(err)
	}
}

var benchSeq atomic.Int64

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkWebhook measures one platform's webhook, sequentially: HTTP
// POST -> HMAC check -> decode -> dedupe lookup -> durable JetStream
// publish -> 200 (the dedupe record is written after it, in the
// background), against a raw synchronous JetStream publish of the same
// event on the same server, both warmed up and taking turns 20 at a time.
// It reports the webhook's p50 and p99 latency, its rate, the raw rate and
// the ratio. The decoder is a generic one on a Shopify-shaped body; the
// real connectors' decoders are measured end to end by
// BenchmarkWebhookToJetStream in services/devstack/internal/stack.
func BenchmarkWebhook(b *testing.B) {
	e := newBenchEnv(b)
	base := int(benchSeq.Add(1_000_000))
	// Warm-up of both sides, not measured.
	for i := range 100 {
		e.raw(b, base+i)
		e.deliver(b, base+i)
	}
	base += 100
	// The sides take turns, 20 at a time, so the machine's noise falls on
	// both alike.
	const turn = 20
	lat := make([]time.Duration, 0, b.N)
	var rawTime, hookTime time.Duration // each side's own time
	before := e.hookWrites(b)
	b.ResetTimer()
	for i := 0; i < b.N; i += turn {
		n := min(turn, b.N-i)
		t0 := time.Now()
		for j := range n {
			e.raw(b, base+i+j)
		}
		rawTime += time.Since(t0)
		for j := range n {
			t1 := time.Now()
			e.deliver(b, base+i+j)
			lat = append(lat, time.Since(t1))
		}
	}
	b.StopTimer()
	e.h.Wait() // the dedupe records written after the 200
	// Less the raw side's b.N publishes, which land on STORE_EVENTS too.
	b.ReportMetric(float64(e.hookWrites(b)-before-uint64(b.N))/float64(b.N), "durable-writes/webhook")
	for _, l := range lat {
		hookTime += l
	}
	rate := float64(b.N) / hookTime.Seconds()
	rawRate := float64(b.N) / rawTime.Seconds()
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(rate, "webhooks/s")
	b.ReportMetric(rawRate, "raw_publish/s")
	b.ReportMetric(rate/rawRate, "ratio")
}

// BenchmarkWebhookParallel is BenchmarkWebhook with 16 platform
// connections delivering at once (Shopify sends many webhooks in
// parallel), against 16 raw synchronous publishers.
func BenchmarkWebhookParallel(b *testing.B) {
	const workers = 16
	e := newBenchEnv(b)
	base := int(benchSeq.Add(1_000_000))
	run := func(n int, f func(int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					f(base + i)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	n := max(b.N, 500)
	rawRate := float64(n) / run(n, func(i int) { e.raw(b, i) }).Seconds()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	elapsed := run(b.N, func(i int) {
		t0 := time.Now()
		e.deliver(b, i)
		d := time.Since(t0)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	})
	b.StopTimer()
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(rate, "webhooks/s")
	b.ReportMetric(rawRate, "raw_publish/s")
	b.ReportMetric(rate/rawRate, "ratio")
}

// Example of a Shopify-style endpoint: HMAC over the raw body, a decoder,
// and the publisher (here one that prints instead of JetStream).
func ExampleHandler() {
	h, err := webhook.New(webhook.Config{
		Platform: "shopify",
		Verifier: webhook.HMACVerifier{
			Header:  "X-Shopify-Hmac-Sha256",
			Secrets: func(http.Header) ([][]byte, error) { return [][]byte{[]byte("app-secret")}, nil },
		},
		Decoder: webhook.DecoderFunc(func(_ context.Context, req *webhook.Request) (webhook.Delivery, error) {
			id := req.Header.Get("X-Shopify-Event-Id")
			return webhook.Delivery{Key: "shopify/" + id, Envelopes: []*eventsv1.Envelope{{
				EventId: envelope.ID("shopify", "demo.myshopify.com", "event", id),
				OrderId: "shopify:demo:1001",
				Event:   &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{}},
			}}}, nil
		}),
		Publisher: printPublisher{},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id":1001}`)
	for _, sig := range []string{webhook.SignHMAC([]byte("app-secret"), body), "forged"} {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/webhooks/shopify", bytes.NewReader(body))
		req.Header.Set("X-Shopify-Hmac-Sha256", sig)
		req.Header.Set("X-Shopify-Event-Id", "e-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	fmt.Printf("%+v\n", h.Stats())
	// Output:
	// stored store.shopify.demo.1001
	// 200
	// 401
	// {Accepted:1 Duplicate:0 BadSignature:1 BadBody:0 Ignored:0 PublishFailed:0 TooLarge:0 Unavailable:0 Events:1}
}

type printPublisher struct{}

func (printPublisher) Publish(_ context.Context, subject string, _ *eventsv1.Envelope) error {
	fmt.Println("stored", subject)
	return nil
}
