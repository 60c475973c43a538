package jetstream

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

func TestPackedRoundTrip(t *testing.T) {
	events := []eventstore.EventData{
		{ID: "a", Type: "A", Data: []byte("one")},
		{ID: "b", Type: "B", ContentType: "application/json", Data: []byte(`{"x":1}`)},
		{ID: "c", Type: "C", ContentType: DefaultContentType},
		{ID: "d", Type: "D", Data: bytes.Repeat([]byte{0, 0xff}, 300)},
	}
	m := packed("es.order.1", 7, events)
	if len(m.Data) != packedSize(events) {
		t.Errorf("payload of %d bytes, packedSize says %d", len(m.Data), packedSize(events))
	}
	if rev, err := lastRevision(m.Header); err != nil || rev != 10 {
		t.Errorf("lastRevision = %d, %v; want 10", rev, err)
	}
	now := time.Now()
	var got []eventstore.RecordedEvent
	ok, err := decode("order-1", m.Header, m.Data, 42, now, func(ev eventstore.RecordedEvent) bool {
		got = append(got, ev)
		return true
	})
	if !ok || err != nil {
		t.Fatalf("decode: %v, %v", ok, err)
	}
	if len(got) != len(events) {
		t.Fatalf("decoded %d events, want %d", len(got), len(events))
	}
	for i, ev := range got {
		w := events[i]
		ct := w.ContentType
		if ct == "" {
			ct = DefaultContentType
		}
		if ev.Stream != "order-1" || ev.Revision != uint64(7+i) || ev.ID != w.ID || ev.Type != w.Type ||
			ev.ContentType != ct || !bytes.Equal(ev.Data, w.Data) || !ev.Created.Equal(now) ||
			ev.Position != (eventstore.Position{Commit: 42, Prepare: 42 + uint64(i)}) {
			t.Errorf("event %d: %+v, want %+v", i, ev, w)
		}
	}
	// Stopping early stops.
	n := 0
	ok, err = decode("order-1", m.Header, m.Data, 42, now, func(eventstore.RecordedEvent) bool { n++; return n < 2 })
	if ok || err != nil || n != 2 {
		t.Errorf("stop after 2: ok %v, err %v, %d calls", ok, err, n)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := packed("es.order.1", 0, []eventstore.EventData{{ID: "a", Type: "A"}, {ID: "b", Type: "B", Data: []byte("xyz")}})
	tests := []struct {
		name string
		h    nats.Header
		data []byte
	}{
		{"no revision", nats.Header{HeaderType: {"A"}}, nil},
		{"bad count", nats.Header{HeaderRevision: {"0"}, HeaderCount: {"x"}}, good.Data},
		{"count of one", nats.Header{HeaderRevision: {"0"}, HeaderCount: {"1"}}, good.Data},
		{"truncated", good.Header, good.Data[:len(good.Data)-1]},
		{"trailing bytes", good.Header, append(bytes.Clone(good.Data), 0)},
		{"count too high", nats.Header{HeaderRevision: {"0"}, HeaderCount: {strconv.Itoa(3)}}, good.Data},
		{"huge length", good.Header, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decode("s", tt.h, tt.data, 1, time.Time{}, func(eventstore.RecordedEvent) bool { return true }); err == nil {
				t.Errorf("decode accepted it")
			}
		})
	}
}
