package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/grpcauth/grpcauthtest"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/service"
)

// BenchmarkIngest measures the orders service end to end: store events in
// (already on STORE_EVENTS), each decided by the aggregate, appended to the
// JetStream event store (durable: the embedded server fsyncs every write)
// and its order event published by the relay, until the order events are
// on ORDER_EVENTS. The unit is the fact (one store event in), not the
// events appended (a new order's fact appends two).
//
// The baselines are raw durable appends to JetStream with an expected
// last-subject sequence, one at a time and pipelined (SPEC "How fast":
// ingest >= 0.5 x raw durable append). Every side runs on the same server,
// after a warm-up of each, and the sides take turns round by round, so the
// machine's noise falls on them alike; `make bench-table` divides each
// side's ns/op by its round's baseline. The service runs with 1, 16 and 64
// facts handled at once, and reports durable-writes/fact: the messages the
// server stored per fact in the event store, its snapshots and
// ORDER_EVENTS, each an fsync.
func BenchmarkIngest(b *testing.B) {
	e := newIngestEnv(b)
	// Warm-up: each side once, not reported.
	e.rawAppend(b, 200, false)
	e.rawAppend(b, 200, true)
	e.ingest(b, 200, 16)
	for round := range 3 {
		r := fmt.Sprintf("round=%d/", round)
		b.Run(r+"baseline=raw-append-sync", func(b *testing.B) {
			b.ReportMetric(float64(b.N)/e.rawAppend(b, b.N, false).Seconds(), "appends/s")
		})
		b.Run(r+"baseline=raw-append-pipelined", func(b *testing.B) {
			b.ReportMetric(float64(b.N)/e.rawAppend(b, b.N, true).Seconds(), "appends/s")
		})
		for _, c := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%sorders-service-concurrency=%d", r, c), func(b *testing.B) {
				elapsed, writes := e.ingestTimed(b, b.N, c)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "facts/s")
				b.ReportMetric(writes, "durable-writes/fact")
			})
		}
	}
}

// ingestEnv is one JetStream server for every side of BenchmarkIngest.
type ingestEnv struct {
	js   jetstream.JetStream
	pub  *bus.Publisher
	pki  *grpcauthtest.PKI
	next int // numbers orders and raw subjects, never reused
}

func newIngestEnv(b *testing.B) *ingestEnv {
	_, nc := natstest.Connect(b)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	pki := grpcauthtest.New(b)
	pki.Setenv(b, "orders")
	return &ingestEnv{js: js, pub: bus.NewPublisher(js, bus.PublisherConfig{}), pki: pki, next: 1_000_000}
}

func payload() []byte {
	p := make([]byte, 512)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// rawAppend appends n messages, each on a new subject with expected
// last-subject sequence 0 (as the first event of a new order stream), one
// at a time or pipelined, and returns the time it took.
func (e *ingestEnv) rawAppend(tb testing.TB, n int, pipelined bool) time.Duration {
	ctx := context.Background()
	data := payload()
	msg := func() *nats.Msg {
		e.next++
		m := nats.NewMsg(fmt.Sprintf("raw.%d", e.next))
		m.Data = data
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		return m
	}
	if b, ok := tb.(*testing.B); ok {
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
	}
	start := time.Now()
	if !pipelined {
		for range n {
			if _, err := e.js.PublishMsg(ctx, msg()); err != nil {
				tb.Fatal(err)
			}
		}
		return time.Since(start)
	}
	futures := make([]jetstream.PubAckFuture, 0, n)
	for range n {
		f, err := e.js.PublishMsgAsync(msg())
		if err != nil {
			tb.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// ingest is ingestTimed for the warm-up.
func (e *ingestEnv) ingest(tb testing.TB, n, concurrency int) { e.ingestTimed(tb, n, concurrency) }

// ingestTimed puts n new orders' facts on STORE_EVENTS, starts the
// service with concurrency facts at once, and returns the time from
// SERVING until every fact's order event is on ORDER_EVENTS, and the
// messages stored per fact; then it stops the service.
func (e *ingestEnv) ingestTimed(tb testing.TB, n, concurrency int) (time.Duration, float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs := make([]bus.Outgoing, n)
	for i := range msgs {
		e.next++
		id := fmt.Sprintf("shopify:bench:%d", e.next)
		msgs[i] = bus.Outgoing{Subject: bus.StoreSubject(id), Envelope: created(id, fmt.Sprint(e.next))}
	}
	if err := e.pub.PublishBatch(ctx, msgs); err != nil {
		tb.Fatal(err)
	}
	var cfg service.Config
	if err := config.Load(&cfg); err != nil {
		tb.Fatal(err)
	}
	cfg.Orders.Concurrency = concurrency
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	before := e.stored(tb)
	done := make(chan error, 1)
	go func() { done <- service.RunOn(ctx, cfg, e.js, lis, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	conn, err := grpc.NewClient(lis.Addr().String(), e.pki.DialOptions(grpcauth.RoleOperator)...)
	if err != nil {
		tb.Fatal(err)
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
	if b, ok := tb.(*testing.B); ok {
		b.ResetTimer()
	}
	start := time.Now()
	for e.stored(tb)[bus.StreamOrder] < before[bus.StreamOrder]+uint64(n) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	if b, ok := tb.(*testing.B); ok {
		b.StopTimer()
	}
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	after := e.stored(tb)
	var writes uint64
	for name, m := range after {
		writes += m - before[name]
	}
	return elapsed, float64(writes) / float64(n)
}

// stored returns the messages stored in the streams the service writes:
// the event store, its snapshots and ORDER_EVENTS.
func (e *ingestEnv) stored(tb testing.TB) map[string]uint64 {
	ctx := context.Background()
	out := map[string]uint64{}
	for _, name := range []string{jsstore.DefaultStream, jsstore.SnapshotStream(jsstore.Config{}), bus.StreamOrder} {
		s, err := e.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = info.State.Msgs
	}
	return out
}
