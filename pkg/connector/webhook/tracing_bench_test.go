package webhook_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/pkg/telemetry/telemetrytest"
)

// tracingRounds is the order of the interleaved sub-runs: off and on
// alternate in an ABBA pattern, so a drift of the machine or of the server
// weighs on both alike.
var tracingRounds = []bool{false, true, true, false, false, true, true, false, false, true, true, false}

// BenchmarkWebhookTracing is the cost of tracing webhook intake: one
// endpoint, served as connectors serve it (webhook.Serve: otelhttp, the
// handler's span, the publish span with its trace context in the message
// headers), on one warmed server, takes rounds of b.N sequential webhooks
// with tracing at full sampling (every span exported over OTLP/HTTP) and
// off, alternately. It reports the median rate and p50 of each and the
// ratio of the rates, on/off (target >= 0.9), and the ratio of the
// process's CPU time per webhook, off/on, which the other work on a shared
// machine disturbs less.
func BenchmarkWebhookTracing(b *testing.B) {
	sw := telemetrytest.NewSwitch(b)
	e := newTracedBenchEnv(b, sw.Providers())
	n := max(b.N, 200)
	for range n { // warm up: connections, the dedupe bucket, the stream
		e.deliver(b, int(benchSeq.Add(1)))
	}
	rates := map[bool][]float64{}
	p50s := map[bool][]float64{}
	cpu := map[bool]time.Duration{}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for _, on := range tracingRounds {
		sw.Set(on)
		start, cpu0 := time.Now(), telemetrytest.CPUTime()
		for i := range b.N {
			t0 := time.Now()
			e.deliver(b, int(benchSeq.Add(1)))
			lat[i] = time.Since(t0)
		}
		rates[on] = append(rates[on], float64(b.N)/time.Since(start).Seconds())
		cpu[on] += telemetrytest.CPUTime() - cpu0
		p50s[on] = append(p50s[on], float64(percentile(lat, 0.50).Microseconds())/1000)
	}
	b.StopTimer()
	if err := sw.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if sw.Received() == 0 {
		b.Fatal("tracing on, but no span reached the OTLP sink")
	}
	off, on := medianOf(rates[false]), medianOf(rates[true])
	b.ReportMetric(off, "webhooks/s-off")
	b.ReportMetric(on, "webhooks/s-on")
	b.ReportMetric(medianOf(p50s[false]), "p50_ms-off")
	b.ReportMetric(medianOf(p50s[true]), "p50_ms-on")
	b.ReportMetric(on/off, "on/off")
	if cpu[true] > 0 {
		b.ReportMetric(float64(cpu[false])/float64(cpu[true]), "cpu-off/on")
	}
}

func medianOf(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// newTracedBenchEnv is newBenchEnv with the endpoint served by
// webhook.Serve and every span made by tel.
func newTracedBenchEnv(b *testing.B, tel *telemetry.Providers) *benchEnv {
	b.Helper()
	s := natstest.Server(b)
	nc, err := nats.Connect(s.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(telemetry.WithProviders(context.Background(), tel))
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		b.Fatal(err)
	}
	dedupe, err := webhook.NewKVDedupe(ctx, js, webhook.KVDedupeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := webhook.New(webhook.Config{
		Platform: "bench", Verifier: verifier(), Decoder: benchDecoder, Dedupe: dedupe,
		Publisher: bus.NewPublisher(js, bus.PublisherConfig{Telemetry: tel}), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- webhook.Serve(ctx, lis, h, 5*time.Second) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	return &benchEnv{js: js, url: "http://" + lis.Addr().String() + "/", client: &http.Client{Transport: tr}}
}
