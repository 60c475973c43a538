package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/eventstore"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/service"
)

// BenchmarkIngest measures the orders service end to end: store events in
// (already on STORE_EVENTS), each decided by the aggregate, appended to the
// JetStream event store (durable: the embedded server fsyncs every write)
// and its order event published by the relay. The baselines, measured on
// the same server in the same run, are raw durable appends to JetStream
// with an expected last-subject sequence, one at a time and pipelined
// (SPEC "How fast": ingest >= 0.5 x raw durable append).
func BenchmarkIngest(b *testing.B) {
	b.Run("baseline=raw-append-sync", func(b *testing.B) { benchRawAppend(b, false) })
	b.Run("baseline=raw-append-pipelined", func(b *testing.B) { benchRawAppend(b, true) })
	b.Run("orders-service", benchIngest)
}

func payload() []byte {
	p := make([]byte, 512)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

func benchRawAppend(b *testing.B, pipelined bool) {
	_, nc := natstest.Connect(b)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	data := payload()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	start := time.Now()
	if !pipelined {
		for i := range b.N {
			// A new subject each time: expected last-subject sequence 0, as
			// the first event of a new order stream.
			m := nats.NewMsg(fmt.Sprintf("raw.%d", i))
			m.Data = data
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			if _, err := js.PublishMsg(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		futures := make([]jetstream.PubAckFuture, 0, b.N)
		for i := range b.N {
			m := nats.NewMsg(fmt.Sprintf("raw.%d", i))
			m.Data = data
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

func benchIngest(b *testing.B) {
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
	pub := bus.NewPublisher(js, bus.PublisherConfig{})
	msgs := make([]bus.Outgoing, b.N)
	for i := range b.N {
		id := fmt.Sprintf("shopify:bench:%d", 1_000_000+i)
		msgs[i] = bus.Outgoing{Subject: bus.StoreSubject(id), Envelope: created(id, fmt.Sprint(1_000_000+i))}
	}
	if err := pub.PublishBatch(ctx, msgs); err != nil {
		b.Fatal(err)
	}

	var cfg service.Config
	if err := config.Load(&cfg); err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- service.RunOn(ctx, cfg, js, lis, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)

	b.ResetTimer()
	start := time.Now()
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
	for {
		info, err := orders.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.State.Msgs >= uint64(b.N) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	// Every fact was appended with what the aggregate decided from it.
	store, err := jsstore.New(context.Background(), js, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	appended := 0
	for _, err := range store.ReadAll(context.Background(), eventstore.Start, eventstore.Filter{StreamPrefix: "order-"}) {
		if err != nil {
			b.Fatal(err)
		}
		appended++
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "facts/s")
	b.ReportMetric(float64(appended)/elapsed.Seconds(), "appended-events/s")
}
