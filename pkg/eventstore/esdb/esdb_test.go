package esdb_test

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb/esdbtest"
	"github.com/dropsync/dropsync/pkg/eventstore/eventstoretest"
)

// TestConformance runs the port's conformance suite against the adapter,
// over real gRPC, on the esdbtest test double of EventStoreDB.
func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		return newConformanceStore(t, esdbtest.Start(t))
	})
}

// TestConformanceEventStoreDB runs the suite against a real EventStoreDB
// (or KurrentDB) at ESDB_URL, e.g. "esdb://localhost:2113?tls=false".
func TestConformanceEventStoreDB(t *testing.T) {
	url := os.Getenv("ESDB_URL")
	if url == "" {
		t.Skip("ESDB_URL not set: no EventStoreDB server on this machine")
	}
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		return newConformanceStore(t, url)
	})
}

// newConformanceStore returns a store the suite closes itself.
func newConformanceStore(t *testing.T, url string) eventstore.Store {
	t.Helper()
	s, err := esdb.New(esdb.Config{ConnectionString: url})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// The tests below are the adapter's own; the port's behaviour is the suite's.

func TestErrorTranslation(t *testing.T) {
	url := esdbtest.Start(t)
	s := openStore(t, url)
	name := stream("order-")
	mustAppend(t, s, name, eventstore.NoStream(), events("A", 1)...)

	tests := []struct {
		name     string
		err      func() error
		sentinel error
		code     esdbclient.ErrorCode
	}{
		{
			name: "wrong expected version",
			err: func() error {
				_, err := s.Append(ctx(t), name, eventstore.NoStream(), events("A", 1)...)
				return err
			},
			sentinel: eventstore.ErrConcurrency,
			code:     esdbclient.ErrorCodeWrongExpectedVersion,
		},
		{
			name: "stream not found",
			err: func() error {
				_, err := collect(s.ReadStream(ctx(t), stream("order-"), 0))
				return err
			},
			sentinel: eventstore.ErrStreamNotFound,
			code:     esdbclient.ErrorCodeResourceNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("error %v, want %v", err, tt.sentinel)
			}
			esErr, ok := errors.AsType[*esdbclient.Error](err)
			if !ok || esErr.Code() != tt.code {
				t.Fatalf("error %v: want the client's *esdb.Error with code %d in the chain", err, tt.code)
			}
		})
	}

	t.Run("server gone", func(t *testing.T) {
		srv, err := esdbtest.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := openStore(t, srv.URL())
		mustAppend(t, s, name, eventstore.NoStream(), events("A", 1)...)
		srv.Stop()
		_, err = s.Append(ctx(t), name, eventstore.Any(), events("A", 1)...)
		if err == nil {
			t.Fatal("append to a stopped server succeeded")
		}
		for _, sentinel := range []error{eventstore.ErrConcurrency, eventstore.ErrStreamNotFound, eventstore.ErrInvalidEvent, context.Canceled} {
			if errors.Is(err, sentinel) {
				t.Errorf("error %v is %v", err, sentinel)
			}
		}
		if !strings.HasPrefix(err.Error(), "append "+name) {
			t.Errorf("error %q does not say what failed", err)
		}
	})
}

func TestSkipsSystemEvents(t *testing.T) {
	url := esdbtest.Start(t) // its log starts with system events, as a real node's does
	s := openStore(t, url)
	user := stream("order-")
	mustAppend(t, s, "$"+user, eventstore.NoStream(), events("OrderPlaced", 1)...) // a system stream
	mustAppend(t, s, user, eventstore.NoStream(), events("$metadata", 1)...)       // a system event type
	want := mustAppend(t, s, user, eventstore.Exact(0), events("OrderPlaced", 1)...)

	raw, err := collectRaw(t, url)
	if err != nil {
		t.Fatalf("raw read of $all: %v", err)
	}
	if raw < 5 {
		t.Fatalf("$all holds %d events, want the system ones too", raw)
	}
	for _, filter := range []eventstore.Filter{{}, {StreamPrefix: "$"}} {
		got, err := collect(s.ReadAll(ctx(t), eventstore.Start, filter))
		if err != nil {
			t.Fatalf("ReadAll %+v: %v", filter, err)
		}
		if filter.StreamPrefix == "" && (len(got) != 1 || got[0].Position != want.Position) {
			t.Errorf("ReadAll %+v = %+v, want only the user event at %v", filter, got, want.Position)
		}
		if filter.StreamPrefix == "$" && len(got) != 0 {
			t.Errorf("ReadAll %+v = %+v, want nothing", filter, got)
		}
	}

	c, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	var got []eventstore.RecordedEvent
	for e, err := range s.Subscribe(c, eventstore.Start, eventstore.Filter{}) {
		if err != nil {
			break
		}
		got = append(got, e)
	}
	if len(got) != 1 || got[0].Position != want.Position {
		t.Errorf("Subscribe = %+v, want only the user event at %v", got, want.Position)
	}
}

// collectRaw counts the events of $all, system ones included, with the client.
func collectRaw(t *testing.T, url string) (int, error) {
	client := rawClient(t, url)
	rs, err := client.ReadAll(ctx(t), esdbclient.ReadAllOptions{}, 1000)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	n := 0
	for {
		_, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// rawClient returns a client of the esdb module itself, closed when t ends.
func rawClient(t *testing.T, url string) *esdbclient.Client {
	t.Helper()
	conf, err := esdbclient.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdbclient.NoopLogging()
	client, err := esdbclient.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestContentType(t *testing.T) {
	url := esdbtest.Start(t)
	s := openStore(t, url)
	client := rawClient(t, url)
	name := stream("order-")

	tests := []struct {
		contentType string
		wantRead    string // what the port reads back
		wantServer  string // what EventStoreDB keeps: JSON or not
	}{
		{"", "application/x-protobuf", "application/octet-stream"},
		{"application/x-protobuf", "application/x-protobuf", "application/octet-stream"},
		{"application/json", "application/json", "application/json"},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8", "application/octet-stream"},
	}
	for i, tt := range tests {
		e := events("A", 1)[0]
		e.ContentType = tt.contentType
		mustAppend(t, s, name, eventstore.Any(), e)

		got, err := collect(s.ReadStream(ctx(t), name, uint64(i)))
		if err != nil || len(got) != 1 || got[0].ContentType != tt.wantRead {
			t.Errorf("%q: read %+v (%v), want content type %q", tt.contentType, got, err, tt.wantRead)
		}
		rs, err := client.ReadStream(ctx(t), name, esdbclient.ReadStreamOptions{From: esdbclient.Revision(uint64(i))}, 1)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := rs.Recv()
		rs.Close()
		if err != nil || raw.Event.ContentType != tt.wantServer {
			t.Errorf("%q: server has %+v (%v), want content type %q", tt.contentType, raw, err, tt.wantServer)
		}
	}

	// Events other clients write, without the adapter's metadata, read back
	// with the server's content type.
	_, err := client.AppendToStream(ctx(t), name, esdbclient.AppendToStreamOptions{}, esdbclient.EventData{
		EventID: uuid.New(), EventType: "Foreign", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`), Metadata: []byte(`{"$correlationId":"x"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(s.ReadStream(ctx(t), name, uint64(len(tests))))
	if err != nil || len(got) != 1 || got[0].ContentType != "application/json" {
		t.Errorf("foreign event read %+v (%v), want content type application/json", got, err)
	}
}

func TestPositionsWithinABatch(t *testing.T) {
	s := newStore(t)
	name := stream("order-")
	res := mustAppend(t, s, name, eventstore.NoStream(), events("A", 4)...)
	got, err := collect(s.ReadStream(ctx(t), name, 0))
	if err != nil || len(got) != 4 {
		t.Fatalf("read %d events (%v), want 4", len(got), err)
	}
	// EventStoreDB: the events of one append share the commit position and
	// differ in the prepare position.
	for i, e := range got {
		if e.Position.Commit != res.Position.Commit {
			t.Errorf("event %d at %v, append committed at %v", i, e.Position, res.Position)
		}
	}
	after, err := collect(s.ReadAll(ctx(t), got[1].Position, eventstore.Filter{StreamPrefix: name}))
	if err != nil || !slices.Equal(ids(after), ids(got[2:])) {
		t.Errorf("ReadAll after %v = %v (%v), want %v", got[1].Position, ids(after), err, ids(got[2:]))
	}
}

func TestConfig(t *testing.T) {
	url := esdbtest.Start(t)
	hostPort := strings.TrimSuffix(strings.TrimPrefix(url, "esdb://"), "?tls=false")

	t.Run("valid", func(t *testing.T) {
		for _, cs := range []string{
			url,
			"esdb+discover://" + hostPort + "?tls=false", // gossip, then the node
			"esdb://" + hostPort + "?tls=false&keepAliveInterval=10000&defaultDeadline=5000",
		} {
			s := openStore(t, cs)
			if _, err := s.Append(ctx(t), stream("order-"), eventstore.NoStream(), events("A", 1)...); err != nil {
				t.Errorf("%s: append: %v", cs, err)
			}
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, cs := range []string{
			"",
			"http://localhost:2113",
			"esdb://",
			"esdb://localhost:notaport",
			"esdb://localhost:2113?tls=maybe",
			"esdb://admin:s3cret@local host:2113",
		} {
			cfg := esdb.Config{ConnectionString: cs}
			verr := cfg.Validate()
			_, nerr := esdb.New(cfg)
			if verr == nil || nerr == nil {
				t.Errorf("%q: Validate %v, New %v; want errors", cs, verr, nerr)
				continue
			}
			if strings.Contains(verr.Error(), "s3cret") || strings.Contains(nerr.Error(), "s3cret") {
				t.Errorf("%q: error gives the password away: %v", cs, nerr)
			}
		}
	})
}

func TestClosed(t *testing.T) {
	s, err := esdb.New(esdb.Config{ConnectionString: esdbtest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Append(ctx(t), stream("order-"), eventstore.Any(), events("A", 1)...); err == nil {
		t.Error("append after Close succeeded")
	}
	if _, err := collect(s.ReadAll(ctx(t), eventstore.Start, eventstore.Filter{})); err == nil {
		t.Error("read after Close succeeded")
	}
}

func TestRecoversWhenTheServerComesBack(t *testing.T) {
	srv, err := esdbtest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	// Two discovery attempts 10 ms apart: the client gives up fast.
	s := openStore(t, "esdb://"+addr+"?tls=false&maxDiscoverAttempts=2&discoveryInterval=10")
	mustAppend(t, s, stream("order-"), eventstore.NoStream(), events("A", 1)...)

	srv.Stop()
	for range 3 { // the client gives up, and stays given up
		if _, err := s.Append(ctx(t), stream("order-"), eventstore.Any(), events("A", 1)...); err == nil {
			t.Fatal("append to a stopped server succeeded")
		}
	}

	srv, err = esdbtest.Listen(addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	t.Cleanup(srv.Stop)
	mustAppend(t, s, stream("order-"), eventstore.NoStream(), events("A", 1)...)
}
