package app_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"runtime"
	"sync"
	"testing"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/services/orders/internal/app"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

// memStore is an event store in memory, for measuring the service's own
// memory (an embedded NATS server would count its caches too). It keeps
// only what the orders service's memory test needs: appends and stream
// reads; nothing is retained once handed to the read model.
type memStore struct {
	mu      sync.Mutex
	streams map[string]int // events per stream: revisions only, no data
	applied func(eventstore.RecordedEvent)
	pos     uint64
}

func (s *memStore) Append(_ context.Context, stream string, _ eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rev := s.streams[stream]
	for _, e := range events {
		s.pos++
		s.applied(eventstore.RecordedEvent{Stream: stream, Revision: uint64(rev), Type: e.Type, Data: e.Data, Position: eventstore.Position{Commit: s.pos, Prepare: s.pos}})
		rev++
	}
	s.streams[stream] = rev
	return eventstore.AppendResult{NextExpected: uint64(rev - 1), Position: eventstore.Position{Commit: s.pos, Prepare: s.pos}}, nil
}

// ReadStream finds nothing: the measured orders are all cached.
func (s *memStore) ReadStream(context.Context, string, uint64) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		yield(eventstore.RecordedEvent{}, eventstore.ErrStreamNotFound)
	}
}

func (s *memStore) ReadAll(context.Context, eventstore.Position, eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(func(eventstore.RecordedEvent, error) bool) {}
}

func (s *memStore) Subscribe(ctx context.Context, p eventstore.Position, f eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	return s.ReadAll(ctx, p, f)
}

func (s *memStore) Close() error { return nil }

// memoryPerOrder is the documented budget of the orders service's memory
// per active order: the folded order in the cache, the read model's
// summary and indexes, the cache's own bookkeeping (measured 1.7-1.8 KB at
// 10k-100k orders on the test's order, created and paid, one line).
const memoryPerOrder = 4 << 10

// heapPerActiveOrder takes in n orders (created, then paid) with a cache
// that holds them all, the read model following the store, and returns
// the live heap they add, per order.
func heapPerActiveOrder(tb testing.TB, n int) float64 {
	view := readmodel.New()
	store := &memStore{streams: map[string]int{}, applied: func(rec eventstore.RecordedEvent) {
		if err := view.ApplyRecorded(rec); err != nil {
			tb.Fatal(err)
		}
	}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := app.New(store, view, app.Config{CacheSize: n, SnapshotEvery: -1}, log)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		id := fmt.Sprintf("shopify:mem:%d", 100000+i)
		if err := a.HandleFact(ctx, storeFact(id, "created", false)); err != nil {
			tb.Fatal(err)
		}
		if err := a.HandleFact(ctx, storeFact(id, "paid", true)); err != nil {
			tb.Fatal(err)
		}
	}
	store.streams = nil // the fake's bookkeeping is not the service's
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(a)
	runtime.KeepAlive(view)
	if view.Len() != n {
		tb.Fatalf("read model has %d orders, want %d", view.Len(), n)
	}
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// TestMemoryPerActiveOrder keeps the service's memory per active order
// (cache and read model) within memoryPerOrder.
func TestMemoryPerActiveOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: folds 20,000 orders")
	}
	per := heapPerActiveOrder(t, 20_000)
	t.Logf("%.0f bytes per active order (budget %d)", per, memoryPerOrder)
	if per > memoryPerOrder {
		t.Fatalf("%.0f bytes per active order, budget %d", per, memoryPerOrder)
	}
}

// BenchmarkMemoryPerActiveOrder reports the live heap per active order at
// 10k and 100k orders.
func BenchmarkMemoryPerActiveOrder(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint("orders=", n), func(b *testing.B) {
			var per float64
			for b.Loop() {
				per = heapPerActiveOrder(b, n)
			}
			b.ReportMetric(per, "B/order")
		})
	}
}
