package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/orders/internal/app"
)

// TestSnapshotsBoundTheReads: with a cache of one order and two orders
// taking turns, every fact loads its order from the store; with snapshots
// every 10 events, each load is one snapshot read and one stream read of
// at most about 10 events however long the stream grows, and the order is
// the same as one folded from every event.
func TestSnapshotsBoundTheReads(t *testing.T) {
	const every = 10
	store := &countingStore{Store: newStore(t)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := app.New(store, noRevisions{}, app.Config{CacheSize: 1, SnapshotEvery: every}, log)
	ctx := context.Background()
	ids := []string{"shopify:s:1", "shopify:s:2"}
	for _, id := range ids {
		if err := a.HandleFact(ctx, storeFact(id, "created", false)); err != nil {
			t.Fatal(err)
		}
	}
	const facts = 60
	for i := range facts {
		a.WaitSnapshots() // so that each boundary's snapshot is there for the next load
		reads, events := store.reads.Load(), store.events.Load()
		if err := a.HandleFact(ctx, updatedFact(ids[i%2], i)); err != nil {
			t.Fatal(err)
		}
		if i < 2*every {
			continue // the first snapshots are not there yet
		}
		if r, e := store.reads.Load()-reads, store.events.Load()-events; r != 2 || e > 2*every {
			t.Fatalf("fact %d: %d reads and %d events read, want 2 reads (snapshot, events after it) of at most %d events", i, r, e, 2*every)
		}
	}
	a.WaitSnapshots()
	if store.saves.Load() == 0 {
		t.Fatal("no snapshot saved")
	}
	t.Logf("%d facts: %d snapshots saved, %d reads, %d events read", facts, store.saves.Load(), store.reads.Load(), store.events.Load())
	// The order as loaded from snapshots is the order folded from events.
	plain := app.New(store, noRevisions{}, app.Config{SnapshotEvery: -1}, log)
	for _, id := range ids {
		got, err := app.New(store, noRevisions{}, app.Config{SnapshotEvery: every}, log).Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plain.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%s from its snapshot:\n%v\nfolded from its events:\n%v", id, got, want)
		}
		if got.GetRevision() < facts/2 {
			t.Fatalf("%s at revision %d", id, got.GetRevision())
		}
	}
}

// TestSnapshotOfAnotherVersionIsRebuilt: a snapshot in a format the
// aggregate no longer writes is passed over; the order is folded from its
// events and snapshotted anew.
func TestSnapshotOfAnotherVersionIsRebuilt(t *testing.T) {
	base := newStore(t)
	store := &countingStore{Store: base}
	ss := base.(eventstore.Snapshots)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	const id = "shopify:s:9"
	a := app.New(store, noRevisions{}, app.Config{SnapshotEvery: 5}, log)
	if err := a.HandleFact(ctx, storeFact(id, "created", false)); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if err := a.HandleFact(ctx, updatedFact(id, i)); err != nil {
			t.Fatal(err)
		}
	}
	a.WaitSnapshots()
	stream := order.StreamName(id)
	old := eventstore.Snapshot{Revision: 3, Type: "order.v0", Data: []byte("a format of long ago")}
	if err := ss.SaveSnapshot(ctx, stream, old); err != nil {
		t.Fatal(err)
	}
	b := app.New(store, noRevisions{}, app.Config{SnapshotEvery: 5}, log)
	o, err := b.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b.WaitSnapshots()
	snap, err := ss.LoadSnapshot(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("order.v%d", order.SnapshotVersion); snap.Type != want || snap.Revision != o.GetRevision() {
		t.Fatalf("snapshot %s at %d after the load, want %s at %d", snap.Type, snap.Revision, want, o.GetRevision())
	}
}
