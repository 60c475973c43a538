package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/pkg/telemetry/telemetrytest"
	"github.com/dropsync/dropsync/services/orders/service"
)

// tracingRounds is the order of the interleaved sub-runs: off and on
// alternate in an ABBA pattern, so a drift of the machine or of the server
// (its streams grow) weighs on both alike.
var tracingRounds = []bool{false, true, true, false, false, true, true, false, false, true, true, false}

// BenchmarkIngestTracing is the cost of tracing the orders service's
// ingest: one service on one warmed server takes in rounds of b.N store
// events (decided, appended, relayed), with tracing at full sampling
// (every span exported over OTLP/HTTP) and off, alternately. It reports
// the median facts/s of each and their ratio, on/off (target >= 0.9), and
// the ratio of the process's CPU time (the service and the embedded NATS
// server) per fact, off/on, which other work on a shared machine disturbs
// less.
func BenchmarkIngestTracing(b *testing.B) {
	_, nc := natstest.Connect(b)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		b.Fatal(err)
	}
	sw := telemetrytest.NewSwitch(b)
	var cfg service.Config
	pki := grpcauthtest.New(b)
	pki.Setenv(b, "orders")
	if err := config.Load(&cfg); err != nil {
		b.Fatal(err)
	}
	cfg.OpsAddr = ""
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- service.RunOn(telemetry.WithProviders(ctx, sw.Providers()), cfg, js, lis, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), pki.DialOptions(grpcauth.RoleOperator)...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	for {
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		time.Sleep(time.Millisecond)
	}
	orders, err := js.Stream(ctx, bus.StreamOrder)
	if err != nil {
		b.Fatal(err)
	}
	published := func() uint64 {
		info, err := orders.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return info.State.Msgs
	}
	pub := bus.NewPublisher(js, bus.PublisherConfig{})
	next := 1_000_000
	// round takes n new orders' first facts in and waits for want order
	// events more than there were.
	round := func(on bool, n int, want uint64) time.Duration {
		sw.Set(on)
		msgs := make([]bus.Outgoing, n)
		for i := range msgs {
			id := fmt.Sprintf("shopify:trace:%d", next)
			msgs[i] = bus.Outgoing{Subject: bus.StoreSubject(id), Envelope: created(id, fmt.Sprint(next))}
			next++
		}
		before := published()
		start := time.Now()
		if err := pub.PublishBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		for published() < before+want {
			time.Sleep(200 * time.Microsecond)
		}
		return time.Since(start)
	}

	// Warm up, and learn how many order events a fact makes.
	warm := max(b.N, 200)
	before := published()
	round(false, warm, 1)
	var perFact uint64
	for last := uint64(0); ; {
		time.Sleep(300 * time.Millisecond)
		now := published() - before
		if now == last {
			perFact = now / uint64(warm)
			break
		}
		last = now
	}
	if perFact == 0 {
		b.Fatalf("%d order events from %d facts", published()-before, warm)
	}

	b.ResetTimer()
	rates := map[bool][]float64{}
	cpu := map[bool]time.Duration{}
	for _, on := range tracingRounds {
		cpu0 := telemetrytest.CPUTime()
		d := round(on, b.N, uint64(b.N)*perFact)
		cpu[on] += telemetrytest.CPUTime() - cpu0
		rates[on] = append(rates[on], float64(b.N)/d.Seconds())
	}
	b.StopTimer()
	if err := sw.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if sw.Received() == 0 {
		b.Fatal("tracing on, but no span reached the OTLP sink")
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	off, on := median(rates[false]), median(rates[true])
	b.ReportMetric(off, "facts/s-off")
	b.ReportMetric(on, "facts/s-on")
	b.ReportMetric(on/off, "on/off")
	if cpu[true] > 0 {
		b.ReportMetric(float64(cpu[false])/float64(cpu[true]), "cpu-off/on")
	}
}

func median(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
