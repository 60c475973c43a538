package eventstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// DefaultContentType is what an event appended without a content type reads
// back with.
const DefaultContentType = "application/x-protobuf"

// testTimeout bounds every subtest, so a hung adapter fails instead of
// stalling the whole run.
const testTimeout = 60 * time.Second

// Run runs the conformance suite against the store newStore returns. It
// calls newStore once per subtest; the store may be fresh or shared, and is
// closed by the suite when the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s eventstore.Store)
	}{
		{"AppendReadRoundTrip", testAppendReadRoundTrip},
		{"ExpectedRevision", testExpectedRevision},
		{"ConcurrentWritersOneWins", testConcurrentWritersOneWins},
		{"ConcurrentNoStreamOneWins", testConcurrentNoStreamOneWins},
		{"ConcurrentAnyAllLand", testConcurrentAnyAllLand},
		{"IdempotentRetry", testIdempotentRetry},
		{"AtomicMultiEventAppend", testAtomicMultiEventAppend},
		{"ConcurrentBatchesNotInterleaved", testConcurrentBatchesNotInterleaved},
		{"Ordering", testOrdering},
		{"ReadStreamFromRevision", testReadStreamFromRevision},
		{"ReadStreamNotFound", testReadStreamNotFound},
		{"ReadAllAcrossStreams", testReadAllAcrossStreams},
		{"ReadAllFromPosition", testReadAllFromPosition},
		{"ReadAllPrefixFilter", testReadAllPrefixFilter},
		{"SubscribeFromPosition", testSubscribeFromPosition},
		{"SubscribeReceivesNewEvents", testSubscribeReceivesNewEvents},
		{"InvalidInput", testInvalidInput},
		{"StreamNames", testStreamNames},
		{"LargeStream", testLargeStream},
		{"ContextCancellation", testContextCancellation},
		{"Metadata", testMetadata},
		{"Snapshots", testSnapshots},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// Events returns n events of type typ with distinct random ids and a
// payload of size bytes each, the i-th payload starting with its index.
func Events(n int, typ string, size int) []eventstore.EventData {
	events := make([]eventstore.EventData, n)
	for i := range events {
		data := make([]byte, size)
		copy(data, fmt.Sprintf("%d:", i))
		for j := len(fmt.Sprintf("%d:", i)); j < size; j++ {
			data[j] = byte('a' + j%26)
		}
		events[i] = eventstore.EventData{ID: uuid.NewString(), Type: typ, Data: data}
	}
	return events
}

// Prefix returns a stream name prefix unique to this call, "<category>-",
// where category is "t" and random hex (no '-'), as EventStoreDB categories go.
func Prefix() string {
	return "t" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] + "-"
}

// Collect drains seq, returning the events yielded before the first error
// and that error.
func Collect(seq iter.Seq2[eventstore.RecordedEvent, error]) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for ev, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t *testing.T, ctx context.Context, s eventstore.Store, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctx, stream, expected, events...)
	if err != nil {
		t.Fatalf("append %d events to %s at %s: %v", len(events), stream, expected, err)
	}
	return res
}

func mustRead(t *testing.T, ctx context.Context, s eventstore.Store, stream string, from uint64) []eventstore.RecordedEvent {
	t.Helper()
	got, err := Collect(s.ReadStream(ctx, stream, from))
	if err != nil {
		t.Fatalf("read %s from %d: %v", stream, from, err)
	}
	return got
}

func mustReadAll(t *testing.T, ctx context.Context, s eventstore.Store, from eventstore.Position, filter eventstore.Filter) []eventstore.RecordedEvent {
	t.Helper()
	got, err := Collect(s.ReadAll(ctx, from, filter))
	if err != nil {
		t.Fatalf("read all from %s with %+v: %v", from, filter, err)
	}
	return got
}

// streamLen is the number of events in stream, 0 when it does not exist.
func streamLen(t *testing.T, ctx context.Context, s eventstore.Store, stream string) int {
	t.Helper()
	got, err := Collect(s.ReadStream(ctx, stream, 0))
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return len(got)
}

func ids(events []eventstore.RecordedEvent) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

func dataIDs(events []eventstore.EventData) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

// checkStream asserts got is stream's events want, at revisions first, first+1, ...
// with strictly increasing positions.
func checkStream(t *testing.T, stream string, got []eventstore.RecordedEvent, first uint64, want []eventstore.EventData) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: read %d events, want %d", stream, len(got), len(want))
	}
	for i, ev := range got {
		w := want[i]
		if ev.Stream != stream {
			t.Errorf("event %d: stream %q, want %q", i, ev.Stream, stream)
		}
		if ev.Revision != first+uint64(i) {
			t.Errorf("event %d: revision %d, want %d", i, ev.Revision, first+uint64(i))
		}
		if ev.ID != w.ID {
			t.Errorf("event %d: id %s, want %s", i, ev.ID, w.ID)
		}
		if ev.Type != w.Type {
			t.Errorf("event %d: type %q, want %q", i, ev.Type, w.Type)
		}
		if !bytes.Equal(ev.Data, w.Data) {
			t.Errorf("event %d: data %q, want %q", i, ev.Data, w.Data)
		}
		wantCT := w.ContentType
		if wantCT == "" {
			wantCT = DefaultContentType
		}
		if ev.ContentType != wantCT {
			t.Errorf("event %d: content type %q, want %q", i, ev.ContentType, wantCT)
		}
		if !maps.Equal(ev.Metadata, w.Metadata) {
			t.Errorf("event %d: metadata %v, want %v", i, ev.Metadata, w.Metadata)
		}
		if i > 0 && !got[i-1].Position.Less(ev.Position) {
			t.Errorf("event %d: position %s not after %s", i, ev.Position, got[i-1].Position)
		}
	}
}

func testAppendReadRoundTrip(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "shopify:acme:1001"
	before := time.Now()
	events := []eventstore.EventData{
		{ID: uuid.NewString(), Type: "StoreOrderCreated", Data: []byte("\x0a\x04acme\x12\x041001")},
		{ID: uuid.NewString(), Type: "PaymentCaptured", Data: []byte(`{"amount":1999}`), ContentType: "application/json"},
		{ID: uuid.NewString(), Type: "Empty"},
	}
	res := mustAppend(t, ctx, s, stream, eventstore.NoStream(), events...)
	if res.NextExpected != 2 {
		t.Errorf("NextExpected = %d, want 2", res.NextExpected)
	}

	got := mustRead(t, ctx, s, stream, 0)
	checkStream(t, stream, got, 0, events)
	if last := got[len(got)-1]; last.Position != res.Position {
		t.Errorf("last event position %s, append result position %s", last.Position, res.Position)
	}
	if got[0].Position == eventstore.Start {
		t.Errorf("first event at the Start position")
	}
	for i, ev := range got {
		if ev.Created.Before(before.Add(-time.Minute)) || ev.Created.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d: created %v, want about %v", i, ev.Created, before)
		}
	}

	// A second append continues the revisions and the positions.
	more := Events(2, "SupplierOrderPlaced", 32)
	res2 := mustAppend(t, ctx, s, stream, eventstore.Exact(2), more...)
	if res2.NextExpected != 4 {
		t.Errorf("second append NextExpected = %d, want 4", res2.NextExpected)
	}
	if !res.Position.Less(res2.Position) {
		t.Errorf("second append position %s not after %s", res2.Position, res.Position)
	}
	checkStream(t, stream, mustRead(t, ctx, s, stream, 0), 0, append(slices.Clone(events), more...))
}

// traceMetadata is metadata as the orders service writes it: a W3C trace
// context, n distinguishing the events.
func traceMetadata(n int) map[string]string {
	return map[string]string{
		"traceparent": fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04x-00f067aa0ba902b7-01", n),
		"tracestate":  "dropsync=t61rcWkgMzE",
	}
}

// testMetadata: each event's metadata (the trace context of the fact that
// caused it) comes back on ReadStream, ReadAll and Subscribe, for single
// and multi-event appends, events with and without it mixed.
func testMetadata(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "shopify:acme:2001"
	single := Events(1, "StoreOrderCreated", 16)
	single[0].Metadata = traceMetadata(1)
	batch := Events(3, "OrderStatusChanged", 16)
	batch[0].Metadata = traceMetadata(2)
	batch[2].Metadata = map[string]string{"traceparent": traceMetadata(3)["traceparent"]}
	plain := Events(2, "Plain", 16)
	mustAppend(t, ctx, s, stream, eventstore.NoStream(), single...)
	mustAppend(t, ctx, s, stream, eventstore.Exact(0), batch...)
	mustAppend(t, ctx, s, stream, eventstore.Exact(3), plain...)
	want := slices.Concat(single, batch, plain)

	checkStream(t, stream, mustRead(t, ctx, s, stream, 0), 0, want)
	var all []eventstore.RecordedEvent
	for _, ev := range mustReadAll(t, ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: stream}) {
		if ev.Stream == stream {
			all = append(all, ev)
		}
	}
	checkStream(t, stream, all, 0, want)
	sub := subscribe(ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: stream})
	checkStream(t, stream, sub.waitFor(t, len(want)), 0, want)
	sub.stop(t)

	t.Run("invalid key", func(t *testing.T) {
		ev := Events(1, "Bad", 1)
		ev[0].Metadata = map[string]string{"bad key": "x"}
		_, err := s.Append(ctx, Prefix()+"bad-meta", eventstore.Any(), ev...)
		if !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("append with key %q: %v, want ErrInvalidEvent", "bad key", err)
		}
	})
}

func testExpectedRevision(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	tests := []struct {
		name     string
		existing int // events in the stream before the append
		expected eventstore.ExpectedRevision
		wantErr  error
		wantNext uint64
	}{
		{"no stream on new stream", 0, eventstore.NoStream(), nil, 0},
		{"no stream on existing stream", 2, eventstore.NoStream(), eventstore.ErrConcurrency, 0},
		{"exact right revision", 3, eventstore.Exact(2), nil, 3},
		{"exact revision behind", 3, eventstore.Exact(1), eventstore.ErrConcurrency, 0},
		{"exact revision ahead", 3, eventstore.Exact(3), eventstore.ErrConcurrency, 0},
		{"exact zero on new stream", 0, eventstore.Exact(0), eventstore.ErrConcurrency, 0},
		{"exact zero on one event", 1, eventstore.Exact(0), nil, 1},
		{"any on new stream", 0, eventstore.Any(), nil, 0},
		{"any on existing stream", 4, eventstore.Any(), nil, 4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := fmt.Sprintf("%sexpected:%d", prefix, i)
			if tt.existing > 0 {
				mustAppend(t, ctx, s, stream, eventstore.NoStream(), Events(tt.existing, "Existing", 16)...)
			}
			ev := Events(1, "Appended", 16)
			res, err := s.Append(ctx, stream, tt.expected, ev...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("append at %s: error %v, want %v", tt.expected, err, tt.wantErr)
				}
				if n := streamLen(t, ctx, s, stream); n != tt.existing {
					t.Errorf("failed append changed the stream: %d events, want %d", n, tt.existing)
				}
				return
			}
			if err != nil {
				t.Fatalf("append at %s: %v", tt.expected, err)
			}
			if res.NextExpected != tt.wantNext {
				t.Errorf("NextExpected = %d, want %d", res.NextExpected, tt.wantNext)
			}
			got := mustRead(t, ctx, s, stream, 0)
			if len(got) != tt.existing+1 {
				t.Fatalf("stream has %d events, want %d", len(got), tt.existing+1)
			}
			if last := got[len(got)-1]; last.ID != ev[0].ID || last.Revision != tt.wantNext {
				t.Errorf("last event %s at %d, want %s at %d", last.ID, last.Revision, ev[0].ID, tt.wantNext)
			}
		})
	}
}

// race runs n appends at once, after a common start signal, and returns their errors.
func race(n int, appendFn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = appendFn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// oneWinner asserts exactly one of errs is nil and every other is
// ErrConcurrency, and returns the winner's index.
func oneWinner(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both succeeded", winner, i)
			}
			winner = i
		case !errors.Is(err, eventstore.ErrConcurrency):
			t.Fatalf("writer %d: %v, want ErrConcurrency", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer succeeded")
	}
	return winner
}

func testConcurrentWritersOneWins(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "race"
	mustAppend(t, ctx, s, stream, eventstore.NoStream(), Events(1, "Created", 16)...)
	const writers, rounds = 16, 8
	rev := uint64(0)
	for round := range rounds {
		events := make([][]eventstore.EventData, writers)
		for i := range events {
			// Odd writers append batches, to race batches against single events.
			events[i] = Events(1+i%2*2, "Raced", 16)
		}
		winner := oneWinner(t, race(writers, func(i int) error {
			_, err := s.Append(ctx, stream, eventstore.Exact(rev), events[i]...)
			return err
		}))
		got := mustRead(t, ctx, s, stream, rev+1)
		if len(got) != len(events[winner]) {
			t.Fatalf("round %d: after revision %d read %v, want only the winner's %v", round, rev, ids(got), dataIDs(events[winner]))
		}
		checkStream(t, stream, got, rev+1, events[winner])
		rev += uint64(len(events[winner]))
	}
}

func testConcurrentNoStreamOneWins(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	const writers = 16
	for round := range 4 {
		stream := fmt.Sprintf("%snew:%d", prefix, round)
		events := Events(writers, "Created", 16)
		winner := oneWinner(t, race(writers, func(i int) error {
			_, err := s.Append(ctx, stream, eventstore.NoStream(), events[i])
			return err
		}))
		got := mustRead(t, ctx, s, stream, 0)
		if len(got) != 1 || got[0].ID != events[winner].ID {
			t.Fatalf("round %d: read %v, want only the winner's %s", round, ids(got), events[winner].ID)
		}
	}
}

func testConcurrentAnyAllLand(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "any"
	const writers, each = 8, 5
	events := make([][]eventstore.EventData, writers)
	for i := range events {
		events[i] = Events(each, "Any", 16)
	}
	errs := race(writers, func(i int) error {
		for _, ev := range events[i] {
			if _, err := s.Append(ctx, stream, eventstore.Any(), ev); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got := mustRead(t, ctx, s, stream, 0)
	if len(got) != writers*each {
		t.Fatalf("read %d events, want %d", len(got), writers*each)
	}
	seen := map[string]int{}
	for i, ev := range got {
		if ev.Revision != uint64(i) {
			t.Errorf("event %d has revision %d", i, ev.Revision)
		}
		seen[ev.ID]++
	}
	for w, evs := range events {
		last := -1
		for _, ev := range evs {
			if seen[ev.ID] != 1 {
				t.Errorf("writer %d: event %s stored %d times", w, ev.ID, seen[ev.ID])
			}
			at := slices.Index(ids(got), ev.ID)
			if at <= last {
				t.Errorf("writer %d: its events out of order", w)
			}
			last = at
		}
	}
}

func testIdempotentRetry(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "retry"
	first := Events(2, "Created", 16)
	res := mustAppend(t, ctx, s, stream, eventstore.NoStream(), first...)

	t.Run("batch at no stream", func(t *testing.T) {
		again := mustAppend(t, ctx, s, stream, eventstore.NoStream(), first...)
		if again.NextExpected != res.NextExpected || again.Position != res.Position {
			t.Errorf("retry result %+v, want the original %+v", again, res)
		}
		if n := streamLen(t, ctx, s, stream); n != 2 {
			t.Fatalf("stream has %d events after retry, want 2", n)
		}
	})

	single := Events(1, "Updated", 16)
	res1 := mustAppend(t, ctx, s, stream, eventstore.Exact(1), single...)
	t.Run("single at exact", func(t *testing.T) {
		again := mustAppend(t, ctx, s, stream, eventstore.Exact(1), single...)
		if again.NextExpected != 2 || again.Position != res1.Position {
			t.Errorf("retry result %+v, want the original %+v", again, res1)
		}
		if n := streamLen(t, ctx, s, stream); n != 3 {
			t.Fatalf("stream has %d events after retry, want 3", n)
		}
	})

	batch := Events(3, "Shipped", 16)
	mustAppend(t, ctx, s, stream, eventstore.Exact(2), batch...)
	t.Run("batch at exact", func(t *testing.T) {
		again := mustAppend(t, ctx, s, stream, eventstore.Exact(2), batch...)
		if again.NextExpected != 5 {
			t.Errorf("retry NextExpected = %d, want 5", again.NextExpected)
		}
		if n := streamLen(t, ctx, s, stream); n != 6 {
			t.Fatalf("stream has %d events after retry, want 6", n)
		}
	})

	t.Run("after the stream moved on", func(t *testing.T) {
		mustAppend(t, ctx, s, stream, eventstore.Exact(5), Events(2, "Later", 16)...)
		if _, err := s.Append(ctx, stream, eventstore.Exact(1), single...); err != nil {
			t.Fatalf("retry of revision 2 after the stream moved on: %v", err)
		}
		if _, err := s.Append(ctx, stream, eventstore.Exact(2), batch...); err != nil {
			t.Fatalf("retry of revisions 3-5 after the stream moved on: %v", err)
		}
		if n := streamLen(t, ctx, s, stream); n != 8 {
			t.Fatalf("stream has %d events after retries, want 8", n)
		}
	})

	t.Run("same ids at another revision conflict", func(t *testing.T) {
		// Not a retry: the events are not at the expected revision.
		_, err := s.Append(ctx, stream, eventstore.Exact(3), single...)
		if !errors.Is(err, eventstore.ErrConcurrency) {
			t.Fatalf("append of revision 2's event at expected 3: %v, want ErrConcurrency", err)
		}
		if n := streamLen(t, ctx, s, stream); n != 8 {
			t.Fatalf("stream has %d events, want 8", n)
		}
	})

	all := mustRead(t, ctx, s, stream, 0)
	seen := map[string]bool{}
	for _, ev := range all {
		if seen[ev.ID] {
			t.Errorf("event %s stored twice", ev.ID)
		}
		seen[ev.ID] = true
	}
}

func testAtomicMultiEventAppend(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	stream := prefix + "atomic"
	first := Events(3, "Created", 64)
	res := mustAppend(t, ctx, s, stream, eventstore.NoStream(), first...)
	if res.NextExpected != 2 {
		t.Fatalf("NextExpected = %d, want 2", res.NextExpected)
	}

	failed := Events(5, "Conflicting", 64)
	if _, err := s.Append(ctx, stream, eventstore.Exact(1), failed...); !errors.Is(err, eventstore.ErrConcurrency) {
		t.Fatalf("conflicting batch: %v, want ErrConcurrency", err)
	}
	invalid := Events(4, "Valid", 64)
	invalid[2].Type = ""
	if _, err := s.Append(ctx, stream, eventstore.Exact(2), invalid...); !errors.Is(err, eventstore.ErrInvalidEvent) {
		t.Fatalf("batch with an invalid event: %v, want ErrInvalidEvent", err)
	}

	checkStream(t, stream, mustRead(t, ctx, s, stream, 0), 0, first)
	written := map[string]bool{}
	for _, ev := range mustReadAll(t, ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: prefix}) {
		written[ev.ID] = true
	}
	for _, ev := range slices.Concat(failed, invalid) {
		if written[ev.ID] {
			t.Errorf("event %s of a failed batch was written", ev.ID)
		}
	}

	// The stream is still appendable at its real revision.
	more := Events(4, "More", 64)
	mustAppend(t, ctx, s, stream, eventstore.Exact(2), more...)
	checkStream(t, stream, mustRead(t, ctx, s, stream, 0), 0, slices.Concat(first, more))
}

func testConcurrentBatchesNotInterleaved(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "batches"
	const writers, batchLen = 8, 4
	batches := make([][]eventstore.EventData, writers)
	for i := range batches {
		batches[i] = Events(batchLen, fmt.Sprintf("Batch%d", i), 16)
	}
	for i, err := range race(writers, func(i int) error {
		_, err := s.Append(ctx, stream, eventstore.Any(), batches[i]...)
		return err
	}) {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got := mustRead(t, ctx, s, stream, 0)
	if len(got) != writers*batchLen {
		t.Fatalf("read %d events, want %d", len(got), writers*batchLen)
	}
	for i := 0; i < len(got); i += batchLen {
		typ := got[i].Type
		for j := i; j < i+batchLen; j++ {
			if got[j].Type != typ {
				t.Fatalf("revisions %d..%d mix batches %q and %q", i, i+batchLen-1, typ, got[j].Type)
			}
		}
		w := slices.IndexFunc(batches, func(b []eventstore.EventData) bool { return b[0].Type == typ })
		checkStream(t, stream, got[i:i+batchLen], uint64(i), batches[w])
	}
}

func testOrdering(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "ordering"
	events := Events(60, "Step", 24)
	for i := 0; i < len(events); {
		// Mix single appends and small batches.
		n := 1 + i%3
		n = min(n, len(events)-i)
		expected := eventstore.NoStream()
		if i > 0 {
			expected = eventstore.Exact(uint64(i - 1))
		}
		res := mustAppend(t, ctx, s, stream, expected, events[i:i+n]...)
		if res.NextExpected != uint64(i+n-1) {
			t.Fatalf("NextExpected = %d, want %d", res.NextExpected, i+n-1)
		}
		i += n
	}
	checkStream(t, stream, mustRead(t, ctx, s, stream, 0), 0, events)
}

func testReadStreamFromRevision(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	stream := Prefix() + "from"
	events := Events(10, "Step", 16)
	mustAppend(t, ctx, s, stream, eventstore.NoStream(), events[:4]...)
	mustAppend(t, ctx, s, stream, eventstore.Exact(3), events[4:]...)
	for _, from := range []uint64{0, 1, 4, 5, 9} {
		t.Run(fmt.Sprint(from), func(t *testing.T) {
			checkStream(t, stream, mustRead(t, ctx, s, stream, from), from, events[from:])
		})
	}
	for _, from := range []uint64{10, 1000} {
		t.Run(fmt.Sprintf("%d past the end", from), func(t *testing.T) {
			if got := mustRead(t, ctx, s, stream, from); len(got) != 0 {
				t.Errorf("read %d events past the end, want none", len(got))
			}
		})
	}
	t.Run("stop early", func(t *testing.T) {
		var got []eventstore.RecordedEvent
		for ev, err := range s.ReadStream(ctx, stream, 2) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
			if len(got) == 3 {
				break
			}
		}
		checkStream(t, stream, got, 2, events[2:5])
	})
}

func testReadStreamNotFound(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	mustAppend(t, ctx, s, prefix+"exists", eventstore.NoStream(), Events(1, "Created", 8)...)
	for _, from := range []uint64{0, 3} {
		n := 0
		var gotErr error
		for _, err := range s.ReadStream(ctx, prefix+"missing", from) {
			n++
			gotErr = err
		}
		if n != 1 || !errors.Is(gotErr, eventstore.ErrStreamNotFound) {
			t.Errorf("read missing stream from %d: %d items, last error %v; want one ErrStreamNotFound", from, n, gotErr)
		}
	}
}

// appendRoundRobin appends perStream events to each stream, one at a time,
// cycling over the streams, and returns them in append order.
func appendRoundRobin(t *testing.T, ctx context.Context, s eventstore.Store, streams []string, perStream int) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	for i := range perStream {
		for _, stream := range streams {
			expected := eventstore.NoStream()
			if i > 0 {
				expected = eventstore.Exact(uint64(i - 1))
			}
			ev := Events(1, "RoundRobin", 16)[0]
			res := mustAppend(t, ctx, s, stream, expected, ev)
			out = append(out, eventstore.RecordedEvent{Stream: stream, Revision: uint64(i), ID: ev.ID, Position: res.Position})
		}
	}
	return out
}

// checkGlobal asserts got is want (stream, revision, id and position), in order.
func checkGlobal(t *testing.T, got, want []eventstore.RecordedEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d:\ngot  %v\nwant %v", len(got), len(want), ids(got), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Stream != w.Stream || g.Revision != w.Revision || g.ID != w.ID || g.Position != w.Position {
			t.Errorf("event %d: %s@%d %s at %s, want %s@%d %s at %s", i, g.Stream, g.Revision, g.ID, g.Position, w.Stream, w.Revision, w.ID, w.Position)
		}
		if i > 0 && !got[i-1].Position.Less(g.Position) {
			t.Errorf("event %d: position %s not after %s", i, g.Position, got[i-1].Position)
		}
	}
}

func testReadAllAcrossStreams(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	streams := []string{prefix + "a", prefix + "b:1", prefix + "c:2", prefix + "d", prefix + "e"}
	want := appendRoundRobin(t, ctx, s, streams, 4)
	checkGlobal(t, mustReadAll(t, ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: prefix}), want)

	// Without a filter our events still come in order, among any others.
	var ours []eventstore.RecordedEvent
	from := eventstore.Position{}
	for ev, err := range s.ReadAll(ctx, from, eventstore.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ev.Stream, prefix) {
			ours = append(ours, ev)
		}
	}
	checkGlobal(t, ours, want)
}

func testReadAllFromPosition(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	streams := []string{prefix + "x", prefix + "y", prefix + "z"}
	want := appendRoundRobin(t, ctx, s, streams, 5)
	filter := eventstore.Filter{StreamPrefix: prefix}
	for _, i := range []int{0, 1, 7, len(want) - 2, len(want) - 1} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkGlobal(t, mustReadAll(t, ctx, s, want[i].Position, filter), want[i+1:])
		})
	}
	t.Run("stop early", func(t *testing.T) {
		var got []eventstore.RecordedEvent
		for ev, err := range s.ReadAll(ctx, want[2].Position, filter) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
			if len(got) == 4 {
				break
			}
		}
		checkGlobal(t, got, want[3:7])
	})
}

func testReadAllPrefixFilter(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	base := Prefix() // "t<hex>-"
	cat := strings.TrimSuffix(base, "-")
	orders := []string{base + "order:1", base + "order:2"}
	others := []string{cat + "x-order:1", cat + "other", base + "ship:1"}
	var wantOrders, wantCat []eventstore.RecordedEvent
	for i := range 3 {
		for _, stream := range slices.Concat(orders, others) {
			expected := eventstore.NoStream()
			if i > 0 {
				expected = eventstore.Exact(uint64(i - 1))
			}
			ev := Events(1, "Filtered", 8)[0]
			res := mustAppend(t, ctx, s, stream, expected, ev)
			rec := eventstore.RecordedEvent{Stream: stream, Revision: uint64(i), ID: ev.ID, Position: res.Position}
			if strings.HasPrefix(stream, base+"order") {
				wantOrders = append(wantOrders, rec)
			}
			wantCat = append(wantCat, rec)
		}
	}
	tests := []struct {
		prefix string
		want   []eventstore.RecordedEvent
	}{
		{base + "order", wantOrders},
		{cat, wantCat},
		{base + "nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			checkGlobal(t, mustReadAll(t, ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: tt.prefix}), tt.want)
		})
	}
}

// subscription collects what a Subscribe yields on a goroutine.
type subscription struct {
	mu     sync.Mutex
	events []eventstore.RecordedEvent
	err    error
	done   chan struct{}
	cancel context.CancelFunc
}

func subscribe(ctx context.Context, s eventstore.Store, from eventstore.Position, filter eventstore.Filter) *subscription {
	ctx, cancel := context.WithCancel(ctx)
	sub := &subscription{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(sub.done)
		for ev, err := range s.Subscribe(ctx, from, filter) {
			sub.mu.Lock()
			if err != nil {
				sub.err = err
				sub.mu.Unlock()
				return
			}
			sub.events = append(sub.events, ev)
			sub.mu.Unlock()
		}
	}()
	return sub
}

// waitFor waits until the subscription has n events and returns them.
func (sub *subscription) waitFor(t *testing.T, n int) []eventstore.RecordedEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sub.mu.Lock()
		got, err := slices.Clone(sub.events), sub.err
		sub.mu.Unlock()
		if err != nil {
			t.Fatalf("subscription ended after %d events: %v", len(got), err)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscription has %d events after 20s, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop cancels the subscription and asserts it ends promptly with the context's error.
func (sub *subscription) stop(t *testing.T) {
	t.Helper()
	sub.cancel()
	select {
	case <-sub.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("subscription still running 5s after its context was cancelled")
	}
	if !errors.Is(sub.err, context.Canceled) {
		t.Errorf("subscription ended with %v, want context.Canceled", sub.err)
	}
}

func testSubscribeFromPosition(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	streams := []string{prefix + "p", prefix + "q"}
	want := appendRoundRobin(t, ctx, s, streams, 3)
	filter := eventstore.Filter{StreamPrefix: prefix}

	all := subscribe(ctx, s, eventstore.Start, filter)
	checkGlobal(t, all.waitFor(t, len(want)), want)
	all.stop(t)

	from := subscribe(ctx, s, want[2].Position, filter)
	checkGlobal(t, from.waitFor(t, len(want)-3), want[3:])
	from.stop(t)
}

func testSubscribeReceivesNewEvents(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	filter := eventstore.Filter{StreamPrefix: prefix}
	before := appendRoundRobin(t, ctx, s, []string{prefix + "old"}, 2)

	sub := subscribe(ctx, s, eventstore.Start, filter)
	sub.waitFor(t, len(before))

	// Events appended after the subscription started, one of them a batch,
	// and one in a stream the filter drops.
	stream := prefix + "new"
	first := Events(1, "Live", 16)
	batch := Events(3, "LiveBatch", 16)
	r1 := mustAppend(t, ctx, s, stream, eventstore.NoStream(), first...)
	mustAppend(t, ctx, s, "u"+prefix+"ignored", eventstore.NoStream(), Events(1, "Ignored", 16)...)
	r2 := mustAppend(t, ctx, s, stream, eventstore.Exact(0), batch...)

	got := sub.waitFor(t, len(before)+4)
	checkGlobal(t, got[:len(before)], before)
	live := got[len(before):]
	checkStream(t, stream, live, 0, slices.Concat(first, batch))
	if live[0].Position != r1.Position || live[3].Position != r2.Position {
		t.Errorf("live positions %s, %s; append results %s, %s", live[0].Position, live[3].Position, r1.Position, r2.Position)
	}
	time.Sleep(50 * time.Millisecond)
	sub.mu.Lock()
	n := len(sub.events)
	sub.mu.Unlock()
	if n != len(before)+4 {
		t.Errorf("subscription yielded %d events, want %d", n, len(before)+4)
	}
	sub.stop(t)
}

func testInvalidInput(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	valid := func() eventstore.EventData { return Events(1, "Valid", 8)[0] }
	tests := []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"empty stream name", "", []eventstore.EventData{valid()}},
		{"empty id", prefix + "a", []eventstore.EventData{{Type: "T", Data: []byte("x")}}},
		{"id not a uuid", prefix + "b", []eventstore.EventData{{ID: "not-a-uuid", Type: "T"}}},
		{"empty type", prefix + "c", []eventstore.EventData{{ID: uuid.NewString(), Data: []byte("x")}}},
		{"empty type in a batch", prefix + "d", []eventstore.EventData{valid(), {ID: uuid.NewString()}, valid()}},
		{"empty id in a batch", prefix + "e", []eventstore.EventData{valid(), valid(), {Type: "T"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, expected := range []eventstore.ExpectedRevision{eventstore.NoStream(), eventstore.Any()} {
				if _, err := s.Append(ctx, tt.stream, expected, tt.events...); !errors.Is(err, eventstore.ErrInvalidEvent) {
					t.Errorf("append at %s: %v, want ErrInvalidEvent", expected, err)
				}
			}
			if tt.stream != "" {
				if n := streamLen(t, ctx, s, tt.stream); n != 0 {
					t.Errorf("invalid append wrote %d events", n)
				}
			}
		})
	}
	t.Run("read empty stream name", func(t *testing.T) {
		if _, err := Collect(s.ReadStream(ctx, "", 0)); !errors.Is(err, eventstore.ErrInvalidEvent) {
			t.Errorf("read: %v, want ErrInvalidEvent", err)
		}
	})
}

func testStreamNames(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	suffixes := []string{
		"shopify:acme:1001",
		"with.dots.in.it",
		"with spaces and\ttabs",
		"wild*card",
		"full>wild",
		">",
		"*",
		"",
		"-",
		"trailing-",
		"~tilde",
		"ünïcödé-名前",
		"slash/and\\backslash",
		"quote\"'`",
		"emoji-🚚",
		strings.Repeat("long", 50),
	}
	var want []eventstore.RecordedEvent
	for _, suffix := range suffixes {
		stream := prefix + suffix
		ev := Events(2, "Named", 8)
		res := mustAppend(t, ctx, s, stream, eventstore.NoStream(), ev...)
		checkStream(t, stream, mustRead(t, ctx, s, stream, 0), 0, ev)
		want = append(want,
			eventstore.RecordedEvent{Stream: stream, Revision: 0, ID: ev[0].ID},
			eventstore.RecordedEvent{Stream: stream, Revision: 1, ID: ev[1].ID, Position: res.Position})
	}
	got := mustReadAll(t, ctx, s, eventstore.Start, eventstore.Filter{StreamPrefix: prefix})
	if len(got) != len(want) {
		t.Fatalf("read all: %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Stream != want[i].Stream || got[i].ID != want[i].ID || got[i].Revision != want[i].Revision {
			t.Errorf("event %d: %q@%d %s, want %q@%d %s", i, got[i].Stream, got[i].Revision, got[i].ID, want[i].Stream, want[i].Revision, want[i].ID)
		}
	}
	// Names that differ only in the characters an adapter might escape stay distinct.
	if n := streamLen(t, ctx, s, prefix+"with_dots_in_it"); n != 0 {
		t.Errorf("%q has %d events, want none", prefix+"with_dots_in_it", n)
	}
}

func testLargeStream(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	stream := prefix + "large"
	const total, batch = 10_000, 100
	events := Events(total, "Large", 128)
	for i := 0; i < total; i += batch {
		expected := eventstore.NoStream()
		if i > 0 {
			expected = eventstore.Exact(uint64(i - 1))
		}
		mustAppend(t, ctx, s, stream, expected, events[i:i+batch]...)
	}
	n := 0
	var last eventstore.Position
	for ev, err := range s.ReadStream(ctx, stream, 0) {
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		if ev.Revision != uint64(n) || ev.ID != events[n].ID || !bytes.Equal(ev.Data, events[n].Data) {
			t.Fatalf("event %d: revision %d id %s, want revision %d id %s", n, ev.Revision, ev.ID, n, events[n].ID)
		}
		if n > 0 && !last.Less(ev.Position) {
			t.Fatalf("event %d: position %s not after %s", n, ev.Position, last)
		}
		last = ev.Position
		n++
	}
	if n != total {
		t.Fatalf("read %d events, want %d", n, total)
	}
	n = 0
	for ev, err := range s.ReadAll(ctx, eventstore.Start, eventstore.Filter{StreamPrefix: prefix}) {
		if err != nil {
			t.Fatalf("read all after %d events: %v", n, err)
		}
		if ev.ID != events[n].ID {
			t.Fatalf("read all event %d: id %s, want %s", n, ev.ID, events[n].ID)
		}
		n++
	}
	if n != total {
		t.Fatalf("read all: %d events, want %d", n, total)
	}
	checkStream(t, stream, mustRead(t, ctx, s, stream, total-3), total-3, events[total-3:])
}

// endsWith asserts seq yields at most maxEvents events, then err, within 5s.
func endsWith(t *testing.T, what string, seq iter.Seq2[eventstore.RecordedEvent, error], maxEvents int, want error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for _, err := range seq {
			if err != nil {
				r.err = err
				break
			}
			r.n++
		}
		done <- r
	}()
	select {
	case r := <-done:
		if !errors.Is(r.err, want) {
			t.Errorf("%s: ended with %v, want %v", what, r.err, want)
		}
		if r.n > maxEvents {
			t.Errorf("%s: yielded %d events, want at most %d", what, r.n, maxEvents)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("%s: still running 5s after its context ended", what)
	}
}

func testContextCancellation(t *testing.T, s eventstore.Store) {
	ctx := testContext(t)
	prefix := Prefix()
	stream := prefix + "cancel"
	const total = 600
	events := Events(total, "Cancel", 64)
	for i := 0; i < total; i += 100 {
		expected := eventstore.NoStream()
		if i > 0 {
			expected = eventstore.Exact(uint64(i - 1))
		}
		mustAppend(t, ctx, s, stream, expected, events[i:i+100]...)
	}
	filter := eventstore.Filter{StreamPrefix: prefix}

	t.Run("already cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		endsWith(t, "read stream", s.ReadStream(cctx, stream, 0), 0, context.Canceled)
		endsWith(t, "read all", s.ReadAll(cctx, eventstore.Start, filter), 0, context.Canceled)
		endsWith(t, "subscribe", s.Subscribe(cctx, eventstore.Start, filter), 0, context.Canceled)
		if _, err := s.Append(cctx, stream, eventstore.Exact(total-1), Events(1, "Late", 8)...); err == nil {
			t.Errorf("append with a cancelled context succeeded")
		}
	})

	// Cancel mid-read: the reader stops with the context's error before the end.
	midRead := func(name string, read func(context.Context) iter.Seq2[eventstore.RecordedEvent, error]) {
		t.Run(name, func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			n := 0
			var gotErr error
			for _, err := range read(cctx) {
				if err != nil {
					gotErr = err
					break
				}
				n++
				if n == 10 {
					cancel()
				}
			}
			if !errors.Is(gotErr, context.Canceled) {
				t.Errorf("ended after %d events with %v, want context.Canceled", n, gotErr)
			}
			if n >= total {
				t.Errorf("read all %d events despite the cancellation", n)
			}
		})
	}
	midRead("read stream", func(c context.Context) iter.Seq2[eventstore.RecordedEvent, error] {
		return s.ReadStream(c, stream, 0)
	})
	midRead("read all", func(c context.Context) iter.Seq2[eventstore.RecordedEvent, error] {
		return s.ReadAll(c, eventstore.Start, filter)
	})

	t.Run("subscribe deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		n := 0
		var gotErr error
		for _, err := range s.Subscribe(dctx, eventstore.Start, filter) {
			if err != nil {
				gotErr = err
				break
			}
			n++
		}
		if !errors.Is(gotErr, context.DeadlineExceeded) {
			t.Errorf("subscribe ended with %v, want context.DeadlineExceeded", gotErr)
		}
		if n != total {
			t.Errorf("subscribe yielded %d events before its deadline, want %d", n, total)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("subscribe ended %v after a 1s deadline", d)
		}
	})
}
