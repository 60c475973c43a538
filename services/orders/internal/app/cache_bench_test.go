package app_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/internal/app"
)

// countingStore counts the stream and snapshot reads, the events the
// stream reads return, and the snapshots saved.
type countingStore struct {
	eventstore.Store
	reads, events, saves atomic.Int64
}

func (s *countingStore) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.RecordedEvent, error] {
	s.reads.Add(1)
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		for rec, err := range s.Store.ReadStream(ctx, stream, from) {
			if err == nil {
				s.events.Add(1)
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}

func (s *countingStore) SaveSnapshot(ctx context.Context, stream string, snap eventstore.Snapshot) error {
	s.saves.Add(1)
	return s.Store.(eventstore.Snapshots).SaveSnapshot(ctx, stream, snap)
}

func (s *countingStore) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	s.reads.Add(1)
	return s.Store.(eventstore.Snapshots).LoadSnapshot(ctx, stream)
}

// updatedFact is a store update of order id, the n-th.
func updatedFact(orderID string, n int) *eventsv1.Envelope {
	at := t0.Add(time.Duration(n) * time.Second)
	return &eventsv1.Envelope{
		EventId: envelope.ID(orderID, fmt.Sprint("updated-", n)), OrderId: orderID, OccurredAt: timestamppb.New(at),
		Event: &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{Order: &eventsv1.StoreOrder{
			StoreOrderId: "1", Name: "#1",
			LineItems:       []*eventsv1.StoreLineItem{{Id: "li-1", VariantId: "v-1", Quantity: 1}},
			ShippingAddress: &eventsv1.Address{FullName: "Ada", CountryCode: "PT"},
			StoreCreatedAt:  timestamppb.New(t0),
			StoreUpdatedAt:  timestamppb.New(at),
		}}},
	}
}

// BenchmarkActiveOrdersBeyondCache takes in facts round-robin over 1,000
// active orders, with every order in the cache (the baseline) and with a
// cache of a tenth of them (every fact misses), on one JetStream server,
// the two sides interleaved round by round. It reports the stream reads and
// the events read per fact: with no snapshots a miss reads the order's
// whole stream, so events-read/fact grows with the orders' histories.
func BenchmarkActiveOrdersBeyondCache(b *testing.B) {
	const active = 1000
	_, nc := natstest.Connect(b)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	base, err := jsstore.New(context.Background(), js, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { base.Close() })
	store := &countingStore{Store: base}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := make([]string, active)
	seed := app.New(store, noRevisions{}, app.Config{}, log)
	for i := range ids {
		ids[i] = fmt.Sprintf("shopify:bench:%d", 1000+i)
		if err := seed.HandleFact(ctx, storeFact(ids[i], "created", false)); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	run := func(b *testing.B, cacheSize int) {
		a := app.New(store, noRevisions{}, app.Config{CacheSize: cacheSize}, log)
		for _, id := range ids { // warm: the cache holds what it can
			if _, err := a.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		reads, events := store.reads.Load(), store.events.Load()
		b.ResetTimer()
		for i := range b.N {
			n++
			if err := a.HandleFact(ctx, updatedFact(ids[i%active], n)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "facts/s")
		b.ReportMetric(float64(store.reads.Load()-reads)/float64(b.N), "reads/fact")
		b.ReportMetric(float64(store.events.Load()-events)/float64(b.N), "events-read/fact")
	}
	for round := range 3 {
		b.Run(fmt.Sprintf("round=%d/baseline=cache-holds-all", round), func(b *testing.B) { run(b, 2*active) })
		b.Run(fmt.Sprintf("round=%d/cache=tenth", round), func(b *testing.B) { run(b, active/10) })
	}
}

// BenchmarkLongOrdersBeyondCache is BenchmarkActiveOrdersBeyondCache for
// 100 orders of about 300 events each, with a cache of a tenth of them:
// with snapshots every 100 events a miss reads the snapshot and at most
// about 100 events; without, the whole stream. The server does not fsync
// (the subject is the reads), and the sides take turns round by round.
func BenchmarkLongOrdersBeyondCache(b *testing.B) {
	const active, history = 100, 300
	_, nc := natstest.ConnectRelaxed(b)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	base, err := jsstore.New(context.Background(), js, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { base.Close() })
	store := &countingStore{Store: base}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := make([]string, active)
	seed := app.New(store, noRevisions{}, app.Config{CacheSize: 2 * active}, log)
	n := 0
	for i := range ids {
		ids[i] = fmt.Sprintf("shopify:long:%d", 1000+i)
		if err := seed.HandleFact(ctx, storeFact(ids[i], "created", false)); err != nil {
			b.Fatal(err)
		}
		for range history {
			n++
			if err := seed.HandleFact(ctx, updatedFact(ids[i], n)); err != nil {
				b.Fatal(err)
			}
		}
	}
	seed.WaitSnapshots()
	run := func(b *testing.B, cacheSize, every int) {
		a := app.New(store, noRevisions{}, app.Config{CacheSize: cacheSize, SnapshotEvery: every}, log)
		for _, id := range ids {
			if _, err := a.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		reads, events := store.reads.Load(), store.events.Load()
		b.ResetTimer()
		for i := range b.N {
			n++
			if err := a.HandleFact(ctx, updatedFact(ids[i%active], n)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		a.WaitSnapshots()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "facts/s")
		b.ReportMetric(float64(store.reads.Load()-reads)/float64(b.N), "reads/fact")
		b.ReportMetric(float64(store.events.Load()-events)/float64(b.N), "events-read/fact")
	}
	for round := range 3 {
		r := fmt.Sprintf("round=%d/", round)
		b.Run(r+"baseline=cache-holds-all", func(b *testing.B) { run(b, 2*active, app.DefaultSnapshotEvery) })
		b.Run(r+"cache=tenth-snapshots=100", func(b *testing.B) { run(b, active/10, app.DefaultSnapshotEvery) })
		b.Run(r+"cache=tenth-no-snapshots", func(b *testing.B) { run(b, active/10, -1) })
	}
}
