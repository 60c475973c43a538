package jetstream_test

// The benchmarks compare the adapter with raw JetStream on the same kind of
// embedded server (file storage, sync always), in one run, so the ratios
// mean something on a noisy machine (docs SPEC "How fast"):
//
//	go test -run '^$' -bench . -benchtime 3s ./pkg/eventstore/jetstream/
//
// Targets: adapter append >= 0.7 x raw expected-sequence append; ReadAll
// replay >= 0.5 x raw pull-consume.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/eventstoretest"
	"github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
)

const (
	benchSize = 512 // bytes of payload per event
	// benchStreams is how many streams single appends cycle over.
	benchStreams = 1000
	// benchInflight is the concurrency of the pipelined runs: appends in
	// flight for raw JetStream, goroutines for the adapter, each over
	// benchStreamsPerWorker streams.
	benchInflight         = 256
	benchStreamsPerWorker = 4
)

// benchServer starts a server and returns a JetStream client with the
// event store's stream created, and the store.
func benchServer(b *testing.B) (natsjs.JetStream, *jetstream.Store) {
	b.Helper()
	_, nc := natstest.Connect(b)
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncMaxPending(4*benchInflight))
	if err != nil {
		b.Fatal(err)
	}
	s, err := jetstream.New(context.Background(), js, jetstream.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return js, s
}

func rate(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func benchPayload() []byte {
	data := make([]byte, benchSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return data
}

// BenchmarkAppend: raw expected-sequence appends against the adapter's, one
// at a time and pipelined.
func BenchmarkAppend(b *testing.B) {
	b.Run("raw-sync", func(b *testing.B) {
		js, _ := benchServer(b)
		ctx := context.Background()
		data := benchPayload()
		last := make([]uint64, benchStreams)
		b.SetBytes(benchSize)
		i := 0
		for b.Loop() {
			k := i % benchStreams
			i++
			m := &nats.Msg{Subject: fmt.Sprintf("es.rawsync.%d", k), Data: data, Header: nats.Header{
				natsjs.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(last[k], 10)},
			}}
			ack, err := js.PublishMsg(ctx, m)
			if err != nil {
				b.Fatal(err)
			}
			last[k] = ack.Sequence
		}
		rate(b, b.N)
	})
	b.Run("adapter-sync", func(b *testing.B) {
		_, s := benchServer(b)
		eventstoretest.BenchAppend(b, s, benchStreams, benchSize)
	})
	b.Run("raw-pipelined", func(b *testing.B) {
		js, _ := benchServer(b)
		data := benchPayload()
		streams := benchInflight * benchStreamsPerWorker
		last := make([]uint64, streams)
		type inflight struct {
			f natsjs.PubAckFuture
			k int
		}
		ring := make([]inflight, benchInflight)
		wait := func(in inflight) {
			if in.f == nil {
				return
			}
			select {
			case ack := <-in.f.Ok():
				last[in.k] = ack.Sequence
			case err := <-in.f.Err():
				b.Fatal(err)
			}
		}
		b.SetBytes(benchSize)
		i := 0
		for b.Loop() {
			// One append in flight per subject: the previous one on subject
			// k was benchStreamsPerWorker rounds of the ring ago, acked.
			slot, k := i%benchInflight, i%streams
			i++
			wait(ring[slot])
			m := &nats.Msg{Subject: fmt.Sprintf("es.rawpipe.%d", k), Data: data, Header: nats.Header{
				natsjs.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(last[k], 10)},
			}}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			ring[slot] = inflight{f, k}
		}
		for _, in := range ring {
			wait(in)
		}
		rate(b, b.N)
	})
	var (
		once  sync.Once
		store *jetstream.Store
	)
	parent := b
	b.Run("adapter-concurrent", func(b *testing.B) {
		// RunParallel calls this with growing b.N: one server for all,
		// stopped when the parent benchmark ends.
		once.Do(func() { _, store = benchServer(parent) })
		eventstoretest.BenchAppendConcurrent(b, store, benchInflight, benchStreamsPerWorker, benchSize)
	})
	b.Run("adapter-batch10", func(b *testing.B) {
		_, s := benchServer(b)
		ctx := context.Background()
		data := benchPayload()
		next := make([]int, benchStreams)
		b.SetBytes(10 * benchSize)
		i := 0
		for b.Loop() {
			k := i % benchStreams
			i++
			events := eventstoretest.Events(10, "BenchBatch", 0)
			for j := range events {
				events[j].Data = data
			}
			expected := eventstoreExpected(next[k])
			if _, err := s.Append(ctx, fmt.Sprintf("bench-batch:%d", k), expected, events...); err != nil {
				b.Fatal(err)
			}
			next[k] += 10
		}
		rate(b, 10*b.N)
	})
}

// BenchmarkReplay: a raw ordered pull consumer against the adapter's
// ReadAll over the same 100k events, and whole-stream reads.
func BenchmarkReplay(b *testing.B) {
	const streams, perStream = 1000, 100
	total := streams * perStream
	js, s := benchServer(b)
	prefix := eventstoretest.Prefix()
	eventstoretest.Populate(b, s, prefix, streams, perStream, perStream, benchSize)
	ctx := context.Background()

	b.Run("raw-consume", func(b *testing.B) {
		for b.Loop() {
			cons, err := js.OrderedConsumer(ctx, jetstream.DefaultStream, natsjs.OrderedConsumerConfig{
				FilterSubjects: []string{"es.>"},
			})
			if err != nil {
				b.Fatal(err)
			}
			msgs, err := cons.Messages(natsjs.PullMaxMessagesWithBytesLimit(1000, 8<<20))
			if err != nil {
				b.Fatal(err)
			}
			for n := 0; n < total; n++ {
				msg, err := msgs.Next()
				if err != nil {
					b.Fatal(err)
				}
				if len(msg.Data()) != benchSize {
					b.Fatalf("message of %d bytes", len(msg.Data()))
				}
			}
			msgs.Stop()
			_ = js.DeleteConsumer(ctx, jetstream.DefaultStream, cons.CachedInfo().Name)
		}
		rate(b, total*b.N)
	})
	b.Run("adapter-readall", func(b *testing.B) {
		eventstoretest.BenchReadAll(b, s, prefix, total)
	})
	b.Run("adapter-readstream", func(b *testing.B) {
		eventstoretest.BenchReadStream(b, s, prefix, streams, perStream)
	})
}

func eventstoreExpected(n int) eventstore.ExpectedRevision {
	if n == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(uint64(n - 1))
}
