package service_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/wixsim"
)

// BenchmarkWebhookToJetStream measures one Wix webhook through the running
// connector, over loopback HTTP: RS256 verification of the JWT, both JSON
// layers decoded, the dedupe lookup, the event stored on JetStream
// (file storage, fsync always), the dedupe record written, and the 200.
// It reports the latency's p50 and p99 and the deliveries a second of one
// sequential sender.
//
//	go test -run '^$' -bench WebhookToJetStream -benchtime 2000x ./services/wix/service/
func BenchmarkWebhookToJetStream(b *testing.B) {
	h := newHarness(b, options{})
	h.start()
	o := h.placeOrder(2, 1)
	var approved wixsim.Event
	for _, e := range h.sim.Events() {
		if e.Type == wixsim.EventOrderApproved && e.OrderID == o.ID {
			approved = e
		}
	}
	var ev map[string]any
	if err := json.Unmarshal(approved.Payload, &ev); err != nil {
		b.Fatal(err)
	}
	// One distinct Wix event per delivery, signed before the clock starts.
	tokens := make([]string, b.N)
	for i := range tokens {
		ev["id"] = fmt.Sprintf("bench-%08d-0000-4000-8000-%012d", i, time.Now().UnixNano()%1e12)
		payload, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		claims, err := wixsim.EncodeClaims(wixsim.EventOrderApproved, instance, payload, time.Now(), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if tokens[i], err = wixsim.SignRS256(key(), "bench", claims); err != nil {
			b.Fatal(err)
		}
	}
	url := h.hookURL + "/webhooks/wix"
	client := &http.Client{}
	lat := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(tokens[0])))
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t0 := time.Now()
		req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, url, strings.NewReader(tokens[i]))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", wixsim.WebhookContentType)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte("accepted")) {
			b.Fatalf("delivery %d: %d %s", i, resp.StatusCode, body)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
}
