package esdbtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/eventstore/esdb/esdbtest"
)

// The server is tested through the official client, as the adapter uses
// it, and through raw gRPC where the client hides the wire.

func newClient(t *testing.T, url string) *esdb.Client {
	t.Helper()
	conf, err := esdb.ParseConnectionString(url)
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newEvents(n int) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = esdb.EventData{EventID: uuid.New(), EventType: "Happened", Data: []byte{byte(i)}}
	}
	return out
}

func appendOK(t *testing.T, c *esdb.Client, stream string, exp esdb.ExpectedRevision, events ...esdb.EventData) *esdb.WriteResult {
	t.Helper()
	res, err := c.AppendToStream(testCtx(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, events...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

func isWrongExpectedVersion(err error) bool {
	var esErr *esdb.Error
	return errors.As(err, &esErr) && esErr.Code() == esdb.ErrorCodeWrongExpectedVersion
}

// readStream reads with the client, returning the events' revisions.
func readStream(t *testing.T, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) ([]uint64, error) {
	t.Helper()
	rs, err := c.ReadStream(testCtx(t), stream, opts, count)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var revs []uint64
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return revs, nil
		}
		if err != nil {
			return revs, err
		}
		revs = append(revs, ev.Event.EventNumber)
	}
}

func TestAppendExpectedRevision(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	appendOK(t, c, "existing", esdb.NoStream{}, newEvents(2)...)

	tests := []struct {
		name    string
		stream  string
		exp     esdb.ExpectedRevision
		wantErr string // "": success; else in the wrong-expected-version message
	}{
		{"no stream, new", "new-1", esdb.NoStream{}, ""},
		{"no stream, existing", "existing", esdb.NoStream{}, "expecting 'no_stream' but got '1'"},
		{"stream exists, new", "new-2", esdb.StreamExists{}, "expecting 'stream_exists' but got 'no_stream'"},
		{"stream exists, existing", "existing", esdb.StreamExists{}, ""},
		{"revision, new", "new-3", esdb.Revision(0), "expecting '0' but got 'no_stream'"},
		{"revision behind", "existing", esdb.Revision(1), "expecting '1' but got '2'"},
		{"revision at the end", "existing", esdb.Revision(2), ""},
		{"any", "existing", esdb.Any{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.AppendToStream(testCtx(t), tt.stream, esdb.AppendToStreamOptions{ExpectedRevision: tt.exp}, newEvents(1)...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("append: %v", err)
				}
				return
			}
			if !isWrongExpectedVersion(err) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("append: %v, want wrong expected version %q", err, tt.wantErr)
			}
		})
	}
}

func TestIdempotentAppend(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	first := newEvents(2)
	res := appendOK(t, c, "s", esdb.NoStream{}, first...)

	t.Run("same revision", func(t *testing.T) {
		again := appendOK(t, c, "s", esdb.NoStream{}, first...)
		if *again != *res {
			t.Errorf("retry = %+v, want %+v", again, res)
		}
	})
	t.Run("any", func(t *testing.T) {
		again := appendOK(t, c, "s", esdb.Any{}, first...)
		if *again != *res {
			t.Errorf("retry = %+v, want %+v", again, res)
		}
	})
	t.Run("after the stream moved on", func(t *testing.T) {
		appendOK(t, c, "s", esdb.Revision(1), newEvents(3)...)
		again := appendOK(t, c, "s", esdb.NoStream{}, first...)
		if *again != *res {
			t.Errorf("retry = %+v, want %+v", again, res)
		}
	})
	t.Run("part of a write is not a retry", func(t *testing.T) {
		mixed := []esdb.EventData{first[0], newEvents(1)[0]}
		for _, exp := range []esdb.ExpectedRevision{esdb.NoStream{}, esdb.Any{}} {
			if _, err := c.AppendToStream(testCtx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: exp}, mixed...); !isWrongExpectedVersion(err) {
				t.Errorf("append at %T: %v, want wrong expected version", exp, err)
			}
		}
	})
	revs, err := readStream(t, c, "s", esdb.ReadStreamOptions{}, 100)
	if err != nil || len(revs) != 5 {
		t.Errorf("stream has revisions %v (%v), want 0..4", revs, err)
	}
}

func TestEmptyAppend(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	appendOK(t, c, "s", esdb.NoStream{}) // nothing to write, and no stream: holds
	if _, err := readStream(t, c, "s", esdb.ReadStreamOptions{}, 10); err == nil {
		t.Error("an empty append created the stream")
	}
	appendOK(t, c, "s", esdb.NoStream{}, newEvents(1)...)
	if _, err := c.AppendToStream(testCtx(t), "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}); !isWrongExpectedVersion(err) {
		t.Errorf("empty append at no stream on a stream: %v, want wrong expected version", err)
	}
}

func TestMaxAppendSize(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	big := newEvents(2)
	big[0].Data = make([]byte, 600*1024)
	big[1].Data = make([]byte, 600*1024)
	_, err := c.AppendToStream(testCtx(t), "s", esdb.AppendToStreamOptions{}, big...)
	if err == nil || !strings.Contains(err.Error(), "Maximum Append Size") {
		t.Fatalf("append of 1.2 MiB: %v, want the maximum append size error", err)
	}
	appendOK(t, c, "s", esdb.NoStream{}, big[0]) // nothing was written
}

func TestReadStream(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	appendOK(t, c, "s", esdb.NoStream{}, newEvents(5)...)

	tests := []struct {
		name  string
		opts  esdb.ReadStreamOptions
		count uint64
		want  []uint64
	}{
		{"forwards from start", esdb.ReadStreamOptions{}, 100, []uint64{0, 1, 2, 3, 4}},
		{"forwards count", esdb.ReadStreamOptions{}, 2, []uint64{0, 1}},
		{"forwards from revision", esdb.ReadStreamOptions{From: esdb.Revision(3)}, 100, []uint64{3, 4}},
		{"forwards past the end", esdb.ReadStreamOptions{From: esdb.Revision(9)}, 100, nil},
		{"forwards from end", esdb.ReadStreamOptions{From: esdb.End{}}, 100, nil},
		{"backwards from end", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 3, []uint64{4, 3, 2}},
		{"backwards from revision", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(1)}, 100, []uint64{1, 0}},
		{"backwards from start", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Start{}}, 100, []uint64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readStream(t, c, "s", tt.opts, tt.count)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("revisions %v, want %v", got, tt.want)
			}
		})
	}
	for _, opts := range []esdb.ReadStreamOptions{{}, {Direction: esdb.Backwards, From: esdb.End{}}} {
		_, err := readStream(t, c, "missing", opts, 10)
		var esErr *esdb.Error
		if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeResourceNotFound {
			t.Errorf("read missing stream %+v: %v, want not found", opts, err)
		}
	}
}

// readAll returns the positions and streams $all yields.
func readAll(t *testing.T, c *esdb.Client, opts esdb.ReadAllOptions, count uint64) ([]esdb.Position, []string) {
	t.Helper()
	rs, err := c.ReadAll(testCtx(t), opts, count)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var positions []esdb.Position
	var names []string
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return positions, names
		}
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, ev.Event.Position)
		names = append(names, ev.Event.StreamID)
	}
}

func TestReadAllAndPositions(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	a := appendOK(t, c, "a", esdb.NoStream{}, newEvents(3)...)
	b := appendOK(t, c, "b", esdb.NoStream{}, newEvents(1)...)

	positions, names := readAll(t, c, esdb.ReadAllOptions{}, 1000)
	if len(names) < 4 || !strings.HasPrefix(names[0], "$") {
		t.Fatalf("$all = %v, want system events first, then ours", names)
	}
	for i := 1; i < len(positions); i++ {
		p, q := positions[i-1], positions[i]
		if p.Commit >= q.Commit && (p.Commit != q.Commit || p.Prepare >= q.Prepare) {
			t.Errorf("position %v not after %v", q, p)
		}
		if q.Commit < q.Prepare {
			t.Errorf("position %v: commit before prepare", q)
		}
	}
	ours := positions[len(positions)-4:]
	for _, p := range ours[:3] {
		if p.Commit != a.CommitPosition {
			t.Errorf("event of the first append at %v, append committed at %d", p, a.CommitPosition)
		}
	}
	if last := ours[3]; last.Commit != b.CommitPosition || last.Prepare != b.PreparePosition {
		t.Errorf("last event at %v, append said %d/%d", last, b.CommitPosition, b.PreparePosition)
	}

	// Forwards from a position includes it; backwards excludes it.
	_, fwd := readAll(t, c, esdb.ReadAllOptions{From: ours[1]}, 100)
	if want := []string{"a", "a", "b"}; strings.Join(fwd, ",") != strings.Join(want, ",") {
		t.Errorf("forwards from %v: %v, want %v", ours[1], fwd, want)
	}
	_, bwd := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: ours[1]}, 1)
	if len(bwd) != 1 || bwd[0] != "a" {
		t.Errorf("backwards from %v: %v, want [a]", ours[1], bwd)
	}
	_, end := readAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 2)
	if strings.Join(end, ",") != "b,a" {
		t.Errorf("backwards from the end: %v, want [b a]", end)
	}
	if _, none := readAll(t, c, esdb.ReadAllOptions{From: esdb.End{}}, 10); len(none) != 0 {
		t.Errorf("forwards from the end: %v, want nothing", none)
	}
}

// next returns the subscription's next event, checkpoint or caught-up, failing on a drop.
func next(t *testing.T, sub *esdb.Subscription) *esdb.SubscriptionEvent {
	t.Helper()
	got := make(chan *esdb.SubscriptionEvent, 1)
	go func() { got <- sub.Recv() }()
	select {
	case ev := <-got:
		if ev.SubscriptionDropped != nil {
			t.Fatalf("subscription dropped: %v", ev.SubscriptionDropped.Error)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("nothing from the subscription within 5s")
		return nil
	}
}

// nextEvent skips checkpoints and caught-up, and returns the next event's stream@revision.
func nextEvent(t *testing.T, sub *esdb.Subscription) string {
	t.Helper()
	for {
		ev := next(t, sub)
		if ev.EventAppeared != nil {
			e := ev.EventAppeared.Event
			return fmt.Sprintf("%s@%d", e.StreamID, e.EventNumber)
		}
	}
}

func TestSubscribeToStream(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	appendOK(t, c, "s", esdb.NoStream{}, newEvents(3)...)

	tests := []struct {
		name string
		from esdb.StreamPosition
		want []string // events before caught-up
	}{
		{"start", esdb.Start{}, []string{"s@0", "s@1", "s@2"}},
		{"after a revision", esdb.Revision(1), []string{"s@2"}},
		{"end", esdb.End{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := c.SubscribeToStream(testCtx(t), "s", esdb.SubscribeToStreamOptions{From: tt.from})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			var got []string
			for {
				ev := next(t, sub)
				if ev.CaughtUp != nil {
					break
				}
				if ev.EventAppeared != nil {
					e := ev.EventAppeared.Event
					got = append(got, fmt.Sprintf("%s@%d", e.StreamID, e.EventNumber))
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("before caught up: %v, want %v", got, tt.want)
			}
		})
	}

	sub, err := c.SubscribeToStream(testCtx(t), "s", esdb.SubscribeToStreamOptions{From: esdb.End{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if ev := next(t, sub); ev.CaughtUp == nil {
		t.Fatalf("first message %+v, want caught up", ev)
	}
	appendOK(t, c, "other", esdb.NoStream{}, newEvents(1)...)
	appendOK(t, c, "s", esdb.Revision(2), newEvents(1)...)
	if got := nextEvent(t, sub); got != "s@3" {
		t.Fatalf("live event %s, want s@3", got)
	}
}

func TestSubscribeToAllFiltered(t *testing.T) {
	c := newClient(t, esdbtest.Start(t))
	first := appendOK(t, c, "order-1", esdb.NoStream{}, newEvents(1)...)
	for i := range 6 {
		appendOK(t, c, "noise-"+string(rune('a'+i)), esdb.NoStream{}, newEvents(1)...)
	}
	appendOK(t, c, "order-2", esdb.NoStream{}, newEvents(1)...)

	sub, err := c.SubscribeToAll(testCtx(t), esdb.SubscribeToAllOptions{
		From:               esdb.Position{Commit: first.CommitPosition, Prepare: first.PreparePosition}, // after it
		Filter:             &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"order-"}},
		MaxSearchWindow:    2,
		CheckpointInterval: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var events []string
	checkpoints := 0
	for {
		ev := next(t, sub)
		if ev.CaughtUp != nil {
			break
		}
		if ev.CheckPointReached != nil {
			checkpoints++
		}
		if ev.EventAppeared != nil {
			events = append(events, ev.EventAppeared.Event.StreamID)
		}
	}
	if strings.Join(events, ",") != "order-2" {
		t.Errorf("events %v, want [order-2]", events)
	}
	if checkpoints != 3 { // 7 events scanned, one checkpoint every 2
		t.Errorf("%d checkpoints, want 3", checkpoints)
	}

	// Live, filtered by event type this time.
	live, err := c.SubscribeToAll(testCtx(t), esdb.SubscribeToAllOptions{From: esdb.End{}, Filter: esdb.ExcludeSystemEventsFilter()})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	appendOK(t, c, "order-3", esdb.NoStream{}, esdb.EventData{EventID: uuid.New(), EventType: "$system"})
	appendOK(t, c, "order-3", esdb.Revision(0), newEvents(1)...)
	if got := nextEvent(t, live); got != "order-3@1" {
		t.Errorf("live event %s, want order-3@1", got)
	}
}

func TestStopEndsSubscriptions(t *testing.T) {
	srv, err := esdbtest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.URL())
	sub, err := c.SubscribeToAll(testCtx(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for ev := next(t, sub); ev.CaughtUp == nil; ev = next(t, sub) {
		// the seeded system events
	}
	srv.Stop()
	srv.Stop()
	done := make(chan *esdb.SubscriptionEvent, 1)
	go func() { done <- sub.Recv() }()
	select {
	case ev := <-done:
		if ev.SubscriptionDropped == nil {
			t.Fatalf("after Stop: %+v, want dropped", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open 5s after Stop")
	}
}

func TestDiscovery(t *testing.T) {
	url := esdbtest.Start(t)
	c := newClient(t, strings.Replace(url, "esdb://", "esdb+discover://", 1))
	appendOK(t, c, "s", esdb.NoStream{}, newEvents(1)...)
}

// rawConn is a plain gRPC connection to the server, for what the client hides.
func rawConn(t *testing.T, srv *esdbtest.Server) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestServerFeatures(t *testing.T) {
	srv, err := esdbtest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	got, err := serverfeatures.NewServerFeaturesClient(rawConn(t, srv)).GetSupportedMethods(testCtx(t), &shared.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetEventStoreServerVersion() != esdbtest.Version || len(got.GetMethods()) == 0 {
		t.Errorf("features %v", got)
	}
	for _, m := range got.GetMethods() {
		if m.GetMethodName() == "batchappend" {
			t.Errorf("batchappend advertised but not implemented")
		}
	}
}

func TestInvalidAppends(t *testing.T) {
	srv, err := esdbtest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	client := streams.NewStreamsClient(rawConn(t, srv))
	options := func(stream string) *streams.AppendReq {
		return &streams.AppendReq{Content: &streams.AppendReq_Options_{Options: &streams.AppendReq_Options{
			StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte(stream)},
			ExpectedStreamRevision: &streams.AppendReq_Options_Any{Any: &shared.Empty{}},
		}}}
	}
	event := func(id *shared.UUID, metadata map[string]string) *streams.AppendReq {
		return &streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: &streams.AppendReq_ProposedMessage{
			Id: id, Metadata: metadata,
		}}}
	}
	id := &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}}
	ok := map[string]string{"type": "T", "content-type": "application/octet-stream"}
	tests := []struct {
		name string
		msgs []*streams.AppendReq
	}{
		{"no options", []*streams.AppendReq{event(id, ok)}},
		{"empty stream name", []*streams.AppendReq{options(""), event(id, ok)}},
		{"$all", []*streams.AppendReq{options("$all"), event(id, ok)}},
		{"no id", []*streams.AppendReq{options("s"), event(nil, ok)}},
		{"bad id", []*streams.AppendReq{options("s"), event(&shared.UUID{Value: &shared.UUID_String_{String_: "x"}}, ok)}},
		{"no type", []*streams.AppendReq{options("s"), event(id, map[string]string{"content-type": "application/json"})}},
		{"no content type", []*streams.AppendReq{options("s"), event(id, map[string]string{"type": "T"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, err := client.Append(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.msgs {
				if err := call.Send(m); err != nil {
					break // the server answered already
				}
			}
			_, err = call.CloseAndRecv()
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("append: %v, want InvalidArgument", err)
			}
		})
	}
}

func TestStringUUIDs(t *testing.T) {
	srv, err := esdbtest.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c := newClient(t, srv.URL())
	ev := newEvents(1)[0]
	appendOK(t, c, "s", esdb.NoStream{}, ev)

	read, err := streams.NewStreamsClient(rawConn(t, srv)).Read(testCtx(t), &streams.ReadReq{Options: &streams.ReadReq_Options{
		StreamOption: &streams.ReadReq_Options_Stream{Stream: &streams.ReadReq_Options_StreamOptions{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("s")},
			RevisionOption:   &streams.ReadReq_Options_StreamOptions_Start{Start: &shared.Empty{}},
		}},
		CountOption:  &streams.ReadReq_Options_Count{Count: 1},
		FilterOption: &streams.ReadReq_Options_NoFilter{NoFilter: &shared.Empty{}},
		UuidOption:   &streams.ReadReq_Options_UUIDOption{Content: &streams.ReadReq_Options_UUIDOption_String_{String_: &shared.Empty{}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := read.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetEvent().GetEvent().GetId().GetString_(); got != ev.EventID.String() {
		t.Errorf("id %q, want %q", got, ev.EventID)
	}
}
