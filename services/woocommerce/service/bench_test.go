package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

// BenchmarkWebhookToJetStream measures one WooCommerce webhook through the
// running connector, over loopback HTTP, one sender at a time: the
// HMAC-SHA256 check of X-WC-Webhook-Signature, the order decoded and
// mapped, the dedupe lookup, every event stored on JetStream (file
// storage, fsync always), the dedupe record written, and the 200. It
// reports the latency's p50 and p99, the deliveries a second, and a raw
// synchronous JetStream publish of the same events in the same run as the
// baseline.
//
// "paid" is an order.updated of a paid order (StorePaymentCaptured and
// StoreOrderUpdated: two events stored per delivery), "unpaid" one of an
// order awaiting payment (one event).
//
//	go test -run '^$' -bench WebhookToJetStream -benchtime 2000x ./services/woocommerce/service/
func BenchmarkWebhookToJetStream(b *testing.B) {
	for _, tc := range []struct {
		name   string
		status string
	}{{"paid", "processing"}, {"unpaid", "on-hold"}} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b, opts{noHooks: true})
			id := h.order(tc.status)
			base, err := h.sim.OrderJSON(id)
			if err != nil {
				b.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(base, &doc); err != nil {
				b.Fatal(err)
			}
			// One distinct order per delivery, signed before the clock starts.
			bodies := make([][]byte, b.N)
			for i := range bodies {
				doc["id"], doc["number"] = 100000+i, strconv.Itoa(100000+i)
				if bodies[i], err = json.Marshal(doc); err != nil {
					b.Fatal(err)
				}
			}
			// The baseline: the same events published raw, synchronously.
			n := max(b.N, 200)
			rawEnvs := make([][]*eventsv1.Envelope, n)
			for i := range rawEnvs {
				doc["id"] = 900000 + i
				raw, _ := json.Marshal(doc)
				rawEnvs[i] = mapped(b, h, raw)
			}
			pub := bus.NewPublisher(h.js, bus.PublisherConfig{})
			start := time.Now()
			for _, envs := range rawEnvs {
				for _, e := range envs {
					subject, _ := bus.SubjectFor(e)
					if err := pub.Publish(context.Background(), subject, e); err != nil {
						b.Fatal(err)
					}
				}
			}
			rawRate := float64(n) / time.Since(start).Seconds()

			client := &http.Client{}
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(int64(len(bodies[0])))
			b.ResetTimer()
			start = time.Now()
			for i := range b.N {
				hdr := h.signedHeaders("order.updated", bodies[i], "bench-"+strconv.Itoa(i))
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, h.hookURL, bytes.NewReader(bodies[i]))
				for k, v := range hdr {
					req.Header.Set(k, v)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(out, []byte("accepted")) {
					b.Fatalf("delivery %d: %d %s", i, resp.StatusCode, out)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
			b.ReportMetric(rate, "webhooks/s")
			b.ReportMetric(rawRate, "raw_publish_sets/s")
			b.ReportMetric(rate/rawRate, "ratio")
			b.ReportMetric(float64(len(rawEnvs[0])), "events/webhook")
		})
	}
}

// mapped is what the connector publishes for a body.
func mapped(b *testing.B, h *harness, body []byte) []*eventsv1.Envelope {
	b.Helper()
	st, err := h.deps.Stores.BySlug("acme")
	if err != nil {
		b.Fatal(err)
	}
	o, err := domain.ParseOrder(body)
	if err != nil {
		b.Fatal(err)
	}
	envs, err := st.Ref().Events(o, domain.KindUpdated, nil)
	if err != nil {
		b.Fatal(err)
	}
	return envs
}
