package esdb_test

import (
	"context"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb/esdbtest"
)

// newStore returns a store on a fresh test server, closed when t ends.
func newStore(t testing.TB) *esdb.Store {
	t.Helper()
	return openStore(t, esdbtest.Start(t))
}

// openStore returns a store on url, closed when t ends.
func openStore(t testing.TB, url string) *esdb.Store {
	t.Helper()
	s, err := esdb.New(esdb.Config{ConnectionString: url})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// stream returns a stream name no other test uses.
func stream(prefix string) string { return prefix + uuid.NewString()[:8] }

// events returns n events of type typ with fresh ids and data "<typ>-<i>".
func events(typ string, n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = eventstore.EventData{ID: uuid.NewString(), Type: typ, Data: fmt.Appendf(nil, "%s-%d", typ, i)}
	}
	return out
}

// collect drains seq; it stops at the first error.
func collect(seq iter.Seq2[eventstore.RecordedEvent, error]) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ctx returns a context that ends with the test, or after 20 s.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// mustAppend appends or fails the test.
func mustAppend(t testing.TB, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctx(t), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %s: %v", stream, err)
	}
	return res
}

// ids returns the events' ids.
func ids(evs []eventstore.RecordedEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
