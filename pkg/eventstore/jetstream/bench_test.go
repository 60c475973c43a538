package jetstream_test

// The benchmarks compare the adapter with raw JetStream on the embedded
// server (file storage, sync always, 512-byte events). Machines here are
// small and shared, so each benchmark interleaves the raw and the adapter
// work in the same loop, timing each apart: both see the same noise, and
// the adapter/raw ratio is what to read (docs SPEC "How fast"):
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
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/eventstoretest"
	"github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver"
)

const (
	benchSize = 512 // bytes of payload per event
	// benchStreams is how many streams one-at-a-time appends cycle over.
	benchStreams = 1000
	// benchInflight is the concurrency of the pipelined runs: appends in
	// flight for raw JetStream, goroutines for the adapter, each over
	// benchStreamsPerWorker streams.
	benchInflight         = 256
	benchStreamsPerWorker = 4
	// benchChunk is how many appends a pipelined run does before the
	// other side has its turn.
	benchChunk = 2048
)

// benchServer starts a server and returns a JetStream client with the
// event store's stream created, and the store.
func benchServer(b *testing.B, relaxed bool) (natsjs.JetStream, *jetstream.Store) {
	b.Helper()
	srv, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: b.TempDir(), RelaxedSync: relaxed})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
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

var benchPayload = func() []byte {
	data := make([]byte, benchSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return data
}()

// pair accumulates the time raw JetStream and the adapter took for the
// same work, and reports both rates and their ratio.
type pair struct{ raw, adapter time.Duration }

func (p *pair) timeRaw(f func()) { start := time.Now(); f(); p.raw += time.Since(start) }

func (p *pair) timeAdapter(f func()) { start := time.Now(); f(); p.adapter += time.Since(start) }

func (p *pair) report(b *testing.B, eventsEach int) {
	raw := float64(eventsEach) / p.raw.Seconds()
	adapter := float64(eventsEach) / p.adapter.Seconds()
	b.ReportMetric(raw, "raw-events/s")
	b.ReportMetric(adapter, "adapter-events/s")
	b.ReportMetric(adapter/raw, "adapter/raw")
}

func rawAppend(b *testing.B, js natsjs.JetStream, subj string, last uint64) uint64 {
	m := &nats.Msg{Subject: subj, Data: benchPayload, Header: nats.Header{
		natsjs.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(last, 10)},
	}}
	ack, err := js.PublishMsg(context.Background(), m)
	if err != nil {
		b.Fatal(err)
	}
	return ack.Sequence
}

func adapterAppend(b *testing.B, s *jetstream.Store, stream string, n int) {
	ev := eventstore.EventData{ID: uuid.NewString(), Type: "BenchAppended", Data: benchPayload}
	if _, err := s.Append(context.Background(), stream, expectedAfter(n), ev); err != nil {
		b.Error(err)
	}
}

func expectedAfter(n int) eventstore.ExpectedRevision {
	if n == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(uint64(n - 1))
}

// BenchmarkAppendSync: one append at a time, waiting for each ack, cycling
// over 1000 streams: raw publish with Nats-Expected-Last-Subject-Sequence
// against Store.Append at the exact revision, alternately.
func BenchmarkAppendSync(b *testing.B) {
	js, s := benchServer(b, false)
	rawLast := make([]uint64, benchStreams)
	adapterNext := make([]int, benchStreams)
	var p pair
	i := 0
	for b.Loop() {
		k := i % benchStreams
		raw := func() { rawLast[k] = rawAppend(b, js, fmt.Sprintf("es.rawsync.%d", k), rawLast[k]) }
		adapter := func() { adapterAppend(b, s, fmt.Sprintf("order-sync:%d", k), adapterNext[k]); adapterNext[k]++ }
		if i%2 == 0 {
			p.timeRaw(raw)
			p.timeAdapter(adapter)
		} else {
			p.timeAdapter(adapter)
			p.timeRaw(raw)
		}
		i++
	}
	p.report(b, b.N)
}

// BenchmarkAppendPipelined: appends to 1024 streams with 256 in flight:
// raw PublishMsgAsync with one append in flight per subject (the next
// append's expected sequence is the previous one's ack), against 256
// goroutines calling Store.Append on 4 streams each. Each iteration is a
// chunk of 2048 appends of each.
func BenchmarkAppendPipelined(b *testing.B) {
	js, s := benchServer(b, false)
	streams := benchInflight * benchStreamsPerWorker

	rawLast := make([]uint64, streams)
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
			rawLast[in.k] = ack.Sequence
		case err := <-in.f.Err():
			b.Fatal(err)
		}
	}
	rawI := 0
	rawChunk := func() {
		for range benchChunk {
			// The previous append on subject k was benchStreamsPerWorker
			// rounds of the ring ago: acked, its sequence known.
			slot, k := rawI%benchInflight, rawI%streams
			rawI++
			wait(ring[slot])
			ring[slot] = inflight{}
			m := &nats.Msg{Subject: fmt.Sprintf("es.rawpipe.%d", k), Data: benchPayload, Header: nats.Header{
				natsjs.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(rawLast[k], 10)},
			}}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			ring[slot] = inflight{f, k}
		}
		for i, in := range ring {
			wait(in)
			ring[i] = inflight{}
		}
	}

	adapterNext := make([][]int, benchInflight)
	for w := range adapterNext {
		adapterNext[w] = make([]int, benchStreamsPerWorker)
	}
	adapterChunk := func() {
		var wg sync.WaitGroup
		for w := range benchInflight {
			wg.Go(func() {
				for j := range benchChunk / benchInflight {
					k := j % benchStreamsPerWorker
					adapterAppend(b, s, fmt.Sprintf("order-pipe:%d:%d", w, k), adapterNext[w][k])
					adapterNext[w][k]++
				}
			})
		}
		wg.Wait()
	}

	var p pair
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			p.timeRaw(rawChunk)
			p.timeAdapter(adapterChunk)
		} else {
			p.timeAdapter(adapterChunk)
			p.timeRaw(rawChunk)
		}
		i++
	}
	p.report(b, b.N*benchChunk)
}

// BenchmarkAppendBatch10: Store.Append of 10 events at a time (a command
// deciding several events), packed into one message, one at a time.
func BenchmarkAppendBatch10(b *testing.B) {
	_, s := benchServer(b, false)
	ctx := context.Background()
	next := make([]int, benchStreams)
	i := 0
	for b.Loop() {
		k := i % benchStreams
		i++
		events := eventstoretest.Events(10, "BenchBatch", 0)
		for j := range events {
			events[j].Data = benchPayload
		}
		if _, err := s.Append(ctx, fmt.Sprintf("order-batch:%d", k), expectedAfter(next[k]), events...); err != nil {
			b.Fatal(err)
		}
		next[k] += 10
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "events/s")
}

// populate appends perStream single events to each of streams streams
// named prefix+number, from several goroutines, and returns the total.
func populate(b *testing.B, s *jetstream.Store, prefix string, streams, perStream int) int {
	b.Helper()
	const workers = 64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < streams; k += workers {
				for n := range perStream {
					adapterAppend(b, s, fmt.Sprintf("%s%d", prefix, k), n)
				}
			}
		})
	}
	wg.Wait()
	return streams * perStream
}

// BenchmarkReplay: a full replay of 100k single-event messages (1000
// streams of 100): a raw ordered pull consumer on "es.>" against
// Store.ReadAll, alternately, with the same pull batch (1000 messages).
func BenchmarkReplay(b *testing.B) {
	// Relaxed sync only speeds up populating; reads do not sync.
	js, s := benchServer(b, true)
	total := populate(b, s, "order-replay:", 1000, 100)
	ctx := context.Background()

	raw := func() {
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
		for range total {
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
	adapter := func() {
		n := 0
		for ev, err := range s.ReadAll(ctx, eventstore.Start, eventstore.Filter{StreamPrefix: "order-"}) {
			if err != nil {
				b.Fatal(err)
			}
			if len(ev.Data) != benchSize {
				b.Fatalf("event of %d bytes", len(ev.Data))
			}
			n++
		}
		if n != total {
			b.Fatalf("replayed %d events, want %d", n, total)
		}
	}
	// Warm up: load the message blocks into the server's cache.
	raw()
	adapter()
	var p pair
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			p.timeRaw(raw)
			p.timeAdapter(adapter)
		} else {
			p.timeAdapter(adapter)
			p.timeRaw(raw)
		}
		i++
	}
	p.report(b, b.N*total)
}

// BenchmarkReadStream: Store.ReadStream of whole 100-event streams, as an
// aggregate load does.
func BenchmarkReadStream(b *testing.B) {
	_, s := benchServer(b, true)
	const streams, perStream = 100, 100
	prefix := eventstoretest.Prefix()
	eventstoretest.Populate(b, s, prefix, streams, perStream, 1, benchSize)
	eventstoretest.BenchReadStream(b, s, prefix, streams, perStream)
}
