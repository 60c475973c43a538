package bus_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Benchmarks run against the embedded server with its default
// `sync_interval: always`. Each one measures the raw JetStream baseline and
// the bus in the same run, interleaved in chunks so that neither profits
// from going second, and reports both rates and their ratio:
//
//	go test -run '^$' -bench . -benchtime 20000x ./pkg/bus/

// benchEnvelope is a store event of about 512 bytes.
func benchEnvelope(i int) *eventsv1.Envelope {
	return &eventsv1.Envelope{
		EventId:       fmt.Sprintf("bench-%08d", i),
		OrderId:       fmt.Sprintf("shopify:acme:%d", i%1000),
		CausationId:   "cause",
		CorrelationId: "corr",
		Event: &eventsv1.Envelope_StoreOrderCanceled{StoreOrderCanceled: &eventsv1.StoreOrderCanceled{
			Reason: strings.Repeat("x", 420),
		}},
	}
}

// rawMsg is what a hand-written publisher would send: the encoded envelope
// with its id.
func rawMsg(b *testing.B, env *eventsv1.Envelope, prefix string) *nats.Msg {
	data, err := envelope.Marshal(env)
	if err != nil {
		b.Fatal(err)
	}
	m := nats.NewMsg(prefix + bus.StoreSubject(env.GetOrderId())[len("store"):])
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, prefix+env.GetEventId())
	return m
}

// report prints both rates and the ratio.
func report(b *testing.B, raw, bus time.Duration, n int) {
	rawRate := float64(n) / raw.Seconds()
	busRate := float64(n) / bus.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rawRate, "raw-msgs/s")
	b.ReportMetric(busRate, "bus-msgs/s")
	b.ReportMetric(busRate/rawRate, "bus/raw")
}

func BenchmarkPublishSync(b *testing.B) {
	js := setup(b)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	const chunk = 256
	var rawT, busT time.Duration
	b.ResetTimer()
	for start := 0; start < b.N; start += chunk {
		end := min(start+chunk, b.N)
		t0 := time.Now()
		for i := start; i < end; i++ {
			if _, err := js.PublishMsg(ctx, rawMsg(b, benchEnvelope(i), "store")); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for i := start; i < end; i++ {
			env := benchEnvelope(b.N + i)
			if err := p.Publish(ctx, bus.StoreSubject(env.GetOrderId()), env); err != nil {
				b.Fatal(err)
			}
		}
		rawT += t1.Sub(t0)
		busT += time.Since(t1)
	}
	report(b, rawT, busT, b.N)
}

func BenchmarkPublishAsync(b *testing.B) {
	js := setup(b)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	const chunk = 1024
	var rawT, busT time.Duration
	futures := make([]*bus.PubFuture, 0, chunk)
	b.ResetTimer()
	for start := 0; start < b.N; start += chunk {
		end := min(start+chunk, b.N)
		t0 := time.Now()
		for i := start; i < end; i++ {
			if _, err := js.PublishMsgAsync(rawMsg(b, benchEnvelope(i), "store")); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			b.Fatal("raw async publish did not complete")
		}
		t1 := time.Now()
		futures = futures[:0]
		for i := start; i < end; i++ {
			env := benchEnvelope(b.N + i)
			f, err := p.PublishAsync(ctx, bus.StoreSubject(env.GetOrderId()), env)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			if err := f.Err(); err != nil {
				b.Fatal(err)
			}
		}
		rawT += t1.Sub(t0)
		busT += time.Since(t1)
	}
	report(b, rawT, busT, b.N)
}

func BenchmarkConsume(b *testing.B) {
	js := setup(b)
	ctx := context.Background()
	p := bus.NewPublisher(js, bus.PublisherConfig{})
	batch := make([]bus.Outgoing, 0, 1024)
	for i := 0; i < b.N; i++ {
		env := benchEnvelope(i)
		batch = append(batch, bus.Outgoing{Subject: bus.StoreSubject(env.GetOrderId()), Envelope: env})
		if len(batch) == cap(batch) || i == b.N-1 {
			if err := p.PublishBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()

	// Raw: a durable pull consumer, decode, ack. It runs before and after
	// the bus, on fresh durables, and the faster run is the baseline.
	raw := func(durable string) time.Duration {
		t0 := time.Now()
		cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamStore, jetstream.ConsumerConfig{
			Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		iter, err := cons.Messages()
		if err != nil {
			b.Fatal(err)
		}
		for range b.N {
			msg, err := iter.Next()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := envelope.Unmarshal(msg.Data()); err != nil {
				b.Fatal(err)
			}
			if err := msg.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		iter.Stop()
		return time.Since(t0)
	}
	rawT := raw("bench-raw-before")

	// Bus: Consume with its middleware.
	t1 := time.Now()
	cctx, cancel := context.WithCancel(ctx)
	var n atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(cctx, js, bus.ConsumerConfig{Stream: bus.StreamStore, Durable: "bench-bus", Logger: quiet},
			func(ctx context.Context, m *bus.Message) error {
				if n.Add(1) == int64(b.N) {
					cancel()
				}
				return nil
			})
	}()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	busT := time.Since(t1)
	rawT = min(rawT, raw("bench-raw-after"))
	report(b, rawT, busT, b.N)
}
