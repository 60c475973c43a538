package jetstream_test

import (
	"context"
	"errors"
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
	_, nc := natstest.Connect(t)
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	s, err := jetstream.New(context.Background(), js, jetstream.Config{})
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
	s, _ := newStore(t)
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
