package eventstoretest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// testSnapshots checks eventstore.Snapshots, on a store that implements it:
// none until one is saved, the latest saved comes back whole, streams do
// not share snapshots, and snapshots never show up among events.
func testSnapshots(t *testing.T, s eventstore.Store) {
	ss, ok := s.(eventstore.Snapshots)
	if !ok {
		t.Skip("the store keeps no snapshots")
	}
	ctx := testContext(t)
	prefix := Prefix()
	a, b := prefix+"-a", prefix+"-b"
	mustAppend(t, ctx, s, a, eventstore.NoStream(), Events(3, "Happened", 16)...)

	if _, err := ss.LoadSnapshot(ctx, a); !errors.Is(err, eventstore.ErrNoSnapshot) {
		t.Fatalf("load before any save: %v, want ErrNoSnapshot", err)
	}
	first := eventstore.Snapshot{Revision: 1, Type: "state.v1", Data: []byte("state at 1")}
	if err := ss.SaveSnapshot(ctx, a, first); err != nil {
		t.Fatal(err)
	}
	latest := eventstore.Snapshot{Revision: 2, Type: "state.v1", Data: bytes.Repeat([]byte{0, 1, 2, 0xff}, 4096)}
	if err := ss.SaveSnapshot(ctx, a, latest); err != nil {
		t.Fatal(err)
	}
	got, err := ss.LoadSnapshot(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != latest.Revision || got.Type != latest.Type || !bytes.Equal(got.Data, latest.Data) {
		t.Fatalf("loaded revision %d type %q (%d bytes), want the latest saved: revision %d type %q (%d bytes)",
			got.Revision, got.Type, len(got.Data), latest.Revision, latest.Type, len(latest.Data))
	}
	// The events after a loaded snapshot read as ever (an adapter may start
	// the read where the snapshot's revision is).
	more := Events(2, "Happened", 16)
	mustAppend(t, ctx, s, a, eventstore.Exact(2), more...)
	checkStream(t, a, mustRead(t, ctx, s, a, latest.Revision+1), latest.Revision+1, more)
	if got := mustRead(t, ctx, s, a, 0); len(got) != 5 {
		t.Fatalf("read %d events from 0 after loading a snapshot, want 5", len(got))
	}
	if _, err := ss.LoadSnapshot(ctx, b); !errors.Is(err, eventstore.ErrNoSnapshot) {
		t.Fatalf("another stream's snapshot: %v, want ErrNoSnapshot", err)
	}
	if n := streamLen(t, ctx, s, a); n != 5 {
		t.Fatalf("stream has %d events after saving snapshots, want 5", n)
	}
	for _, ev := range mustReadAll(t, ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: prefix}) {
		if ev.Type != "Happened" {
			t.Fatalf("ReadAll yields a snapshot: %s@%d type %s", ev.Stream, ev.Revision, ev.Type)
		}
	}
	if err := ss.SaveSnapshot(ctx, a, eventstore.Snapshot{Revision: 3}); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("save without a type: %v, want ErrInvalidEvent", err)
	}
}
