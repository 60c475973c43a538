package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/eventstoretest"
	"github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
)

// newStore starts an embedded server (sync always) and returns a store on it.
func newStore(t testing.TB) (*jetstream.Store, natsjs.JetStream) {
	t.Helper()
	return newStoreWith(t, jetstream.Config{})
}

func newStoreWith(t testing.TB, cfg jetstream.Config) (*jetstream.Store, natsjs.JetStream) {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	s, err := jetstream.New(context.Background(), js, cfg)
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, js
}

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		s, _ := newStore(t)
		return s
	})
}

// TestConformanceAtomicBatches runs the suite with multi-event appends
// written as atomic batches, as appends too large for one message are.
func TestConformanceAtomicBatches(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		s, _ := newStoreWith(t, jetstream.Config{MaxPackedBytes: -1})
		return s
	})
}

// TestConformanceNoTipCache runs the suite with every append looking the
// stream's tip up.
func TestConformanceNoTipCache(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		s, _ := newStoreWith(t, jetstream.Config{TipCacheSize: -1})
		return s
	})
}

// TestMultiEventAppendIsOneMessage checks the packing: one message per
// append, whatever its events, and an oversized append as an atomic batch.
func TestMultiEventAppendIsOneMessage(t *testing.T) {
	s, js := newStoreWith(t, jetstream.Config{MaxPackedBytes: 4096})
	ctx := t.Context()
	stream := eventstoretest.Prefix() + "packed"
	msgs := func() uint64 {
		t.Helper()
		st, err := js.Stream(ctx, jetstream.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Msgs
	}
	small := eventstoretest.Events(5, "Small", 100)
	small[2].ContentType = "application/json"
	small[3].Data = nil
	res, err := s.Append(ctx, stream, eventstore.NoStream(), small...)
	if err != nil {
		t.Fatal(err)
	}
	if n := msgs(); n != 1 {
		t.Errorf("5 small events took %d messages, want 1", n)
	}
	if res.Position.Commit != 1 || res.Position.Prepare != 5 {
		t.Errorf("last position %s, want 1/5", res.Position)
	}
	large := eventstoretest.Events(5, "Large", 1000)
	if _, err := s.Append(ctx, stream, eventstore.Exact(4), large...); err != nil {
		t.Fatal(err)
	}
	if n := msgs(); n != 6 {
		t.Errorf("5 large events took %d messages, want 5 (an atomic batch)", n-1)
	}
	got, err := eventstoretest.Collect(s.ReadStream(ctx, stream, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := append(small[3:], large...)
	if len(got) != len(want) {
		t.Fatalf("read %d events from 3, want %d", len(got), len(want))
	}
	for i, ev := range got {
		if ev.ID != want[i].ID || ev.Revision != uint64(3+i) || string(ev.Data) != string(want[i].Data) {
			t.Errorf("event %d: %s@%d, want %s@%d", i, ev.ID, ev.Revision, want[i].ID, 3+i)
		}
	}
	// ReadAll from inside the packed message resumes after that event.
	all, err := eventstoretest.Collect(s.ReadAll(ctx, got[0].Position, eventstore.Filter{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[0].ID != small[4].ID {
		t.Errorf("read all after %s: %d events starting %v, want 6 starting %s", got[0].Position, len(all), all[0].ID, small[4].ID)
	}
}

func TestTipCacheMissAfterRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() (*natsserver.Server, *nats.Conn, *jetstream.Store) {
		t.Helper()
		srv, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: dir})
		if err != nil {
			t.Fatalf("start server: %v", err)
		}
		nc, err := nats.Connect(srv.URL())
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		js, err := natsjs.New(nc)
		if err != nil {
			t.Fatalf("jetstream: %v", err)
		}
		s, err := jetstream.New(t.Context(), js, jetstream.Config{})
		if err != nil {
			t.Fatalf("new store: %v", err)
		}
		return srv, nc, s
	}
	ctx := t.Context()
	stream := eventstoretest.Prefix() + "shopify:acme:1001"

	srv, nc, s := start()
	first := eventstoretest.Events(3, "Created", 32)
	if _, err := s.Append(ctx, stream, eventstore.NoStream(), first...); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Stop()

	srv, nc, s = start()
	t.Cleanup(srv.Stop)
	t.Cleanup(nc.Close)
	// A fresh store knows no tips: the append looks the stream's up.
	ev := eventstoretest.Events(1, "Updated", 32)
	res, err := s.Append(ctx, stream, eventstore.Exact(2), ev...)
	if err != nil {
		t.Fatalf("append after restart: %v", err)
	}
	if res.NextExpected != 3 {
		t.Errorf("NextExpected = %d, want 3", res.NextExpected)
	}
	if _, err := s.Append(ctx, stream, eventstore.Exact(2), eventstoretest.Events(1, "Stale", 8)...); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Errorf("append at a stale revision after restart: %v, want ErrConcurrency", err)
	}
	// The retry of the first append, before the restart, is still a no-op:
	// idempotence does not depend on the server's duplicate window.
	if res, err := s.Append(ctx, stream, eventstore.NoStream(), first...); err != nil || res.NextExpected != 2 {
		t.Errorf("retry after restart: %+v, %v; want NextExpected 2", res, err)
	}
	got, err := eventstoretest.Collect(s.ReadStream(ctx, stream, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[3].ID != ev[0].ID || got[3].Revision != 3 {
		t.Fatalf("read %d events after restart, want 4 ending with %s at 3", len(got), ev[0].ID)
	}
}

func TestTwoStoresStaleTips(t *testing.T) {
	a, js := newStore(t)
	b, err := jetstream.New(t.Context(), js, jetstream.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	stream := eventstoretest.Prefix() + "two"
	if _, err := a.Append(ctx, stream, eventstore.NoStream(), eventstoretest.Events(2, "A", 8)...); err != nil {
		t.Fatal(err)
	}
	// b has never seen the stream: a cache miss.
	if _, err := b.Append(ctx, stream, eventstore.Exact(1), eventstoretest.Events(1, "B", 8)...); err != nil {
		t.Fatalf("b at 1: %v", err)
	}
	// a's tip (1) is stale now: the server refuses, a reports a conflict.
	if _, err := a.Append(ctx, stream, eventstore.Exact(1), eventstoretest.Events(1, "A", 8)...); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("a at stale 1: %v, want ErrConcurrency", err)
	}
	// At the real revision, a looks the tip up and goes through, single and batch.
	if _, err := a.Append(ctx, stream, eventstore.Exact(2), eventstoretest.Events(1, "A", 8)...); err != nil {
		t.Fatalf("a at 2: %v", err)
	}
	if _, err := b.Append(ctx, stream, eventstore.Exact(3), eventstoretest.Events(3, "B", 8)...); err != nil {
		t.Fatalf("b at 3: %v", err)
	}
	// Any works from a stale tip too.
	res, err := a.Append(ctx, stream, eventstore.Any(), eventstoretest.Events(2, "A", 8)...)
	if err != nil || res.NextExpected != 8 {
		t.Fatalf("a at any: %+v, %v; want NextExpected 8", res, err)
	}
}

func TestRetryAtAnyWithinDuplicateWindow(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	stream := eventstoretest.Prefix() + "any"
	single := eventstoretest.Events(1, "One", 8)
	batch := eventstoretest.Events(3, "Three", 8)
	r1, err := s.Append(ctx, stream, eventstore.Any(), single...)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Append(ctx, stream, eventstore.Any(), batch...)
	if err != nil {
		t.Fatal(err)
	}
	// Retries at Any rely on the server's duplicate window.
	if again, err := s.Append(ctx, stream, eventstore.Any(), single...); err != nil || again != r1 {
		t.Errorf("single retry at any: %+v, %v; want %+v", again, err, r1)
	}
	if again, err := s.Append(ctx, stream, eventstore.Any(), batch...); err != nil || again != r2 {
		t.Errorf("batch retry at any: %+v, %v; want %+v", again, err, r2)
	}
	got, err := eventstoretest.Collect(s.ReadStream(ctx, stream, 0))
	if err != nil || len(got) != 4 {
		t.Fatalf("read %d events (%v), want 4", len(got), err)
	}
}

func TestEventIDReusedInAnotherStream(t *testing.T) {
	for name, cfg := range map[string]jetstream.Config{"packed": {}, "atomic batches": {MaxPackedBytes: -1}} {
		t.Run(name, func(t *testing.T) {
			s, _ := newStoreWith(t, cfg)
			ctx := t.Context()
			prefix := eventstoretest.Prefix()
			ev := eventstoretest.Events(2, "Reused", 8)
			if _, err := s.Append(ctx, prefix+"a", eventstore.NoStream(), ev...); err != nil {
				t.Fatal(err)
			}
			for _, events := range [][]eventstore.EventData{ev[:1], ev} {
				if _, err := s.Append(ctx, prefix+"b", eventstore.NoStream(), events...); !errors.Is(err, eventstore.ErrInvalidEvent) {
					t.Errorf("append of %d ids used in another stream: %v, want ErrInvalidEvent", len(events), err)
				}
			}
			// At a revision that does not hold, it is a conflict first.
			if _, err := s.Append(ctx, prefix+"a", eventstore.Exact(5), ev...); !errors.Is(err, eventstore.ErrConcurrency) {
				t.Errorf("append at a wrong revision: %v, want ErrConcurrency", err)
			}
		})
	}
}

func TestAppendLimits(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	prefix := eventstoretest.Prefix()
	dup := eventstoretest.Events(2, "Dup", 8)
	dup[1].ID = dup[0].ID
	long := make([]byte, jetstream.MaxStreamNameLen+1)
	for i := range long {
		long[i] = 'x'
	}
	tests := []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"no events", prefix + "a", nil},
		{"too many events", prefix + "b", eventstoretest.Events(jetstream.MaxAppendEvents+1, "Many", 1)},
		{"id twice", prefix + "c", dup},
		{"type with newline", prefix + "d", []eventstore.EventData{{ID: dup[0].ID, Type: "A\r\nB"}}},
		{"type with spaces around", prefix + "e", []eventstore.EventData{{ID: dup[0].ID, Type: " A"}}},
		{"stream name too long", string(long), eventstoretest.Events(1, "Long", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Append(ctx, tt.stream, eventstore.Any(), tt.events...); !errors.Is(err, eventstore.ErrInvalidEvent) {
				t.Errorf("append: %v, want ErrInvalidEvent", err)
			}
		})
	}
	// The largest batch goes through.
	res, err := s.Append(ctx, prefix+"max", eventstore.NoStream(), eventstoretest.Events(jetstream.MaxAppendEvents, "Max", 16)...)
	if err != nil || res.NextExpected != jetstream.MaxAppendEvents-1 {
		t.Fatalf("append of %d events: %+v, %v", jetstream.MaxAppendEvents, res, err)
	}
}

func TestStreamConfig(t *testing.T) {
	_, js := newStore(t)
	st, err := js.Stream(t.Context(), jetstream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if cfg.Storage != natsjs.FileStorage || !cfg.AllowDirect || !cfg.AllowAtomicPublish || !cfg.DenyDelete || !cfg.DenyPurge ||
		cfg.Duplicates != jetstream.DefaultDuplicateWindow || len(cfg.Subjects) != 1 || cfg.Subjects[0] != "es.>" {
		t.Errorf("stream config %+v", cfg)
	}
	// New on an existing stream is fine (an update).
	if _, err := jetstream.New(t.Context(), js, jetstream.Config{}); err != nil {
		t.Errorf("second New: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  jetstream.Config
		ok   bool
	}{
		{"zero", jetstream.Config{}, true},
		{"custom", jetstream.Config{Stream: "EVENTS", SubjectPrefix: "dropsync.es", Replicas: 3, DuplicateWindow: time.Hour}, true},
		{"dotted stream", jetstream.Config{Stream: "A.B"}, false},
		{"wildcard prefix", jetstream.Config{SubjectPrefix: "es.*"}, false},
		{"empty token in prefix", jetstream.Config{SubjectPrefix: "es..x"}, false},
		{"replicas", jetstream.Config{Replicas: 7}, false},
		{"negative window", jetstream.Config{DuplicateWindow: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	s, _ := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), "order-1", eventstore.Any(), eventstoretest.Events(1, "X", 1)...); err == nil {
		t.Errorf("append on a closed store succeeded")
	}
	if _, err := eventstoretest.Collect(s.ReadStream(t.Context(), "order-1", 0)); err == nil {
		t.Errorf("read on a closed store succeeded")
	}
}

// TestReadAllServerFilter: a prefix filter whose category holds few of the
// messages is a server-side subject filter; the results are the same.
func TestReadAllServerFilter(t *testing.T) {
	s, js := newStore(t)
	ctx := t.Context()
	for i := range 9 {
		if _, err := s.Append(ctx, fmt.Sprintf("other-%d", i), eventstore.NoStream(), eventstoretest.Events(3, "Other", 8)...); err != nil {
			t.Fatal(err)
		}
	}
	want := eventstoretest.Events(3, "Order", 8)
	for i, ev := range want {
		if _, err := s.Append(ctx, "order-1", eventstore.Any(), ev); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	got, err := eventstoretest.Collect(s.ReadAll(ctx, eventstore.Start, eventstore.Filter{StreamPrefix: "order-"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != want[0].ID || got[2].ID != want[2].ID {
		t.Fatalf("read all order-: %d events, want the 3 of order-1", len(got))
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan eventstore.RecordedEvent, 10)
	go func() {
		for ev, err := range s.Subscribe(sctx, eventstore.Start, eventstore.Filter{StreamPrefix: "order-"}) {
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	for i := range 3 {
		select {
		case ev := <-events:
			if ev.ID != want[i].ID {
				t.Fatalf("subscription event %d: %s, want %s", i, ev.ID, want[i].ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription got %d events, want 3", i)
		}
	}
	// The subscription's consumer filters on the category subject.
	deadline := time.Now().Add(10 * time.Second)
	for filtered := false; !filtered; {
		if time.Now().After(deadline) {
			t.Fatal("no consumer filtered on es.order.>")
		}
		st, err := js.Stream(ctx, jetstream.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		for info := range st.ListConsumers(ctx).Info() {
			filtered = filtered || info.Config.FilterSubject == "es.order.>" || slices.Contains(info.Config.FilterSubjects, "es.order.>")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.Append(ctx, "other-0", eventstore.Exact(2), eventstoretest.Events(1, "Other", 8)...); err != nil {
		t.Fatal(err)
	}
	live := eventstoretest.Events(1, "Order", 8)
	if _, err := s.Append(ctx, "order-1", eventstore.Exact(2), live...); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.ID != live[0].ID || ev.Stream != "order-1" || ev.Revision != 3 {
			t.Errorf("subscription got %s %s@%d, want %s order-1@3", ev.ID, ev.Stream, ev.Revision, live[0].ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription got nothing")
	}
}
