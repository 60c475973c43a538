package eventstoretest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// Benchmark helpers, adapter-agnostic like [Run], so every adapter reports
// the same figures. Each reports events/s with b.ReportMetric.

// BenchAppend measures appends of one event of size bytes at a time, each
// waiting for the previous, at the exact expected revision, cycling over
// streams streams (as the order service writes to many orders).
func BenchAppend(b *testing.B, s eventstore.Store, streams, size int) {
	b.Helper()
	ctx := context.Background()
	names := streamNames(Prefix(), streams)
	next := make([]int, streams) // events in each stream
	data := payload(size)
	b.SetBytes(int64(size))
	i := 0
	for b.Loop() {
		k := i % streams
		i++
		ev := eventstore.EventData{ID: uuid.NewString(), Type: "BenchAppended", Data: data}
		if _, err := s.Append(ctx, names[k], expectedAfter(next[k]), ev); err != nil {
			b.Fatalf("append: %v", err)
		}
		next[k]++
	}
	reportRate(b, b.N)
}

// BenchAppendConcurrent measures appends of one event of size bytes from
// workers goroutines at once (b.SetParallelism rounds workers up to a
// multiple of GOMAXPROCS), each cycling over streamsPerWorker streams of
// its own, so the adapter can pipeline appends to different streams.
func BenchAppendConcurrent(b *testing.B, s eventstore.Store, workers, streamsPerWorker, size int) {
	b.Helper()
	ctx := context.Background()
	prefix := Prefix()
	data := payload(size)
	var worker atomic.Int64
	b.SetBytes(int64(size))
	b.SetParallelism(max(1, workers/max(1, runtimeProcs())))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		names := streamNames(fmt.Sprintf("%sw%d:", prefix, worker.Add(1)), streamsPerWorker)
		next := make([]int, streamsPerWorker)
		i := 0
		for pb.Next() {
			k := i % streamsPerWorker
			i++
			ev := eventstore.EventData{ID: uuid.NewString(), Type: "BenchAppended", Data: data}
			if _, err := s.Append(ctx, names[k], expectedAfter(next[k]), ev); err != nil {
				b.Errorf("append: %v", err)
				return
			}
			next[k]++
		}
	})
	reportRate(b, b.N)
}

// Populate appends perStream events of size bytes to each of streams
// streams named prefix+number, in batches of up to batch events, and
// returns how many it appended. It is set-up for [BenchReadAll].
func Populate(tb testing.TB, s eventstore.Store, prefix string, streams, perStream, batch, size int) int {
	tb.Helper()
	ctx := context.Background()
	data := payload(size)
	for _, name := range streamNames(prefix, streams) {
		for done := 0; done < perStream; {
			n := min(batch, perStream-done)
			events := make([]eventstore.EventData, n)
			for i := range events {
				events[i] = eventstore.EventData{ID: uuid.NewString(), Type: "BenchPopulated", Data: data}
			}
			if _, err := s.Append(ctx, name, expectedAfter(done), events...); err != nil {
				tb.Fatalf("populate %s: %v", name, err)
			}
			done += n
		}
	}
	return streams * perStream
}

// BenchReadAll measures full replays with ReadAll from the start, filtered
// on prefix, each expected to yield want events (see [Populate]).
func BenchReadAll(b *testing.B, s eventstore.Store, prefix string, want int) {
	b.Helper()
	ctx := context.Background()
	total := 0
	for b.Loop() {
		n := 0
		for ev, err := range s.ReadAll(ctx, eventstore.Start, eventstore.Filter{StreamPrefix: prefix}) {
			if err != nil {
				b.Fatalf("read all after %d events: %v", n, err)
			}
			if len(ev.Data) == 0 {
				b.Fatalf("event %d has no data", n)
			}
			n++
		}
		if n != want {
			b.Fatalf("replayed %d events, want %d", n, want)
		}
		total += n
	}
	reportRate(b, total)
}

// BenchReadStream measures reads of whole streams, as an aggregate load
// does, cycling over streams streams named prefix+number (see [Populate]),
// each expected to hold perStream events.
func BenchReadStream(b *testing.B, s eventstore.Store, prefix string, streams, perStream int) {
	b.Helper()
	ctx := context.Background()
	names := streamNames(prefix, streams)
	total, i := 0, 0
	for b.Loop() {
		n := 0
		for _, err := range s.ReadStream(ctx, names[i%streams], 0) {
			if err != nil {
				b.Fatalf("read stream: %v", err)
			}
			n++
		}
		if n != perStream {
			b.Fatalf("read %d events, want %d", n, perStream)
		}
		i++
		total += n
	}
	reportRate(b, total)
}

func reportRate(b *testing.B, events int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(events)/s, "events/s")
	}
}

// expectedAfter is the expected revision of a stream holding n events.
func expectedAfter(n int) eventstore.ExpectedRevision {
	if n == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(uint64(n - 1))
}

func streamNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%sbench:%d", prefix, i)
	}
	return names
}

func payload(size int) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	return data
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
