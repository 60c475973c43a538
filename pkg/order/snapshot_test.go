package order_test

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/order"
)

// TestSnapshotCoversEveryField fails when the order's state gains a field:
// add it to Order.Snapshot and FromSnapshot, and bump SnapshotVersion (old
// snapshots are then refused and rebuilt from events).
func TestSnapshotCoversEveryField(t *testing.T) {
	o := reflect.TypeFor[order.Order]()
	elem := func(name string) reflect.Type {
		f, ok := o.FieldByName(name)
		if !ok {
			t.Fatalf("Order has no field %s", name)
		}
		typ := f.Type
		for typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		return typ
	}
	for _, tt := range []struct {
		typ    reflect.Type
		fields int
	}{
		{o, 36},
		{elem("lines"), 3},
		{elem("conflict"), 2},
		{elem("storeFulfillments"), 5},
		{elem("suppliers"), 9},
		{elem("shipments"), 18},
		{elem("attention"), 3},
		{elem("requests"), 4},
		{elem("seen"), 2},
	} {
		if got := tt.typ.NumField(); got != tt.fields {
			t.Errorf("%s has %d fields, the snapshot encodes %d: update snapshot.go and SnapshotVersion", tt.typ.Name(), got, tt.fields)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	events := realisticStream(t)
	folded := order.Rebuild(events)
	snap, err := folded.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	o, err := order.FromSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(o.ToProto(), folded.ToProto()) || o.Revision() != folded.Revision() {
		t.Fatalf("restored %v\nfolded   %v", o.ToProto(), folded.ToProto())
	}
	for _, e := range events {
		if !o.Seen(e.GetEventId()) {
			t.Fatalf("restored order forgot event %s", e.GetEventId())
		}
	}
	t.Logf("%d events, snapshot %d bytes", len(events), len(snap))
}

func TestSnapshotOfAnotherVersionIsRefused(t *testing.T) {
	snap, err := order.Rebuild(realisticStream(t)).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	_, n := protowire.ConsumeVarint(snap)
	other := protowire.AppendVarint(nil, order.SnapshotVersion+1)
	for name, b := range map[string][]byte{
		"other version": append(other, snap[n:]...),
		"truncated":     snap[:len(snap)/2],
		"trailing":      append(append([]byte(nil), snap...), 0),
		"empty":         nil,
	} {
		if _, err := order.FromSnapshot(b); !errors.Is(err, order.ErrSnapshotVersion) {
			t.Errorf("%s: %v, want ErrSnapshotVersion", name, err)
		}
	}
}

// BenchmarkFromSnapshot restores a realistic order from its snapshot, to
// compare with BenchmarkRebuild folding its events.
func BenchmarkFromSnapshot(b *testing.B) {
	snap, err := order.Rebuild(realisticStream(b)).Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := order.FromSnapshot(snap); err != nil {
			b.Fatal(err)
		}
	}
}
