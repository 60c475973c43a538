// Package eventstore is the event store port: append-only streams of events
// with optimistic concurrency, read per stream or across all streams.
//
// Two adapters implement it, [github.com/dropsync/dropsync/pkg/eventstore/jetstream]
// (the embedded default) and [github.com/dropsync/dropsync/pkg/eventstore/esdb]
// (EventStoreDB / KurrentDB). Both pass the one conformance suite in
// [github.com/dropsync/dropsync/pkg/eventstore/eventstoretest].
//
// Semantics (EventStoreDB's, which the JetStream adapter reproduces):
//   - a stream's events have contiguous revisions 0, 1, 2, ...;
//   - an append carries an [ExpectedRevision]; when it does not hold, the
//     append fails with [ErrConcurrency] and nothing is written;
//   - an append of several events is atomic;
//   - appending again events with the same ids at the same expected revision
//     is a no-op that succeeds (idempotent retry);
//   - every event has a global [Position], increasing in commit order, used
//     to read or subscribe across all streams.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

// Sentinel errors. Adapters translate their infrastructure errors into these
// at the edge; callers compare with errors.Is.
var (
	// ErrConcurrency: the stream's revision is not the expected one.
	ErrConcurrency = errors.New("eventstore: wrong expected revision")
	// ErrStreamNotFound: the stream has no events.
	ErrStreamNotFound = errors.New("eventstore: stream not found")
	// ErrInvalidEvent: an event lacks an id or type, or a stream name is invalid.
	ErrInvalidEvent = errors.New("eventstore: invalid event")
)

// EventData is an event to append.
type EventData struct {
	// ID is the event's UUID (string form). Deterministic ids make retried
	// appends no-ops.
	ID string
	// Type names the event, e.g. "StoreOrderCreated".
	Type string
	// Data is the serialised event (protobuf).
	Data []byte
	// ContentType of Data; "application/x-protobuf" when empty.
	ContentType string
	// Metadata travels with the event and comes back on every read: the
	// W3C trace context ("traceparent", "tracestate") of the fact that
	// caused it, so whoever delivers the event continues that trace. Keys
	// are tokens ([ValidMetadata]); nil or empty stores nothing.
	Metadata map[string]string
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	Stream      string
	Revision    uint64
	Position    Position
	ID          string
	Type        string
	Data        []byte
	ContentType string
	Created     time.Time
	// Metadata is the appended event's Metadata; nil when it had none.
	Metadata map[string]string
}

// ValidMetadata reports whether an event's metadata can be stored by every
// adapter: keys of letters, digits, '-', '_' and '.', values without
// control characters or surrounding spaces (they travel as message headers).
func ValidMetadata(md map[string]string) error {
	for k, v := range md {
		if k == "" {
			return fmt.Errorf("%w: empty metadata key", ErrInvalidEvent)
		}
		for i := 0; i < len(k); i++ {
			if !metadataKeyByte(k[i]) {
				return fmt.Errorf("%w: metadata key %q: want letters, digits, '-', '_', '.'", ErrInvalidEvent, k)
			}
		}
		if v != strings.TrimSpace(v) || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: metadata %s: value has control characters or surrounding spaces", ErrInvalidEvent, k)
		}
	}
	return nil
}

func metadataKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// Position is a place in the global order of all events. The zero Position
// is before the first event.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before every event.
var Start = Position{}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

// String formats the position as "commit/prepare".
func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Commit, p.Prepare) }

// ExpectedRevision is the state a stream must be in for an append to go through.
type ExpectedRevision struct {
	kind     expectKind
	revision uint64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectExact
)

// Any accepts the stream in any state.
func Any() ExpectedRevision { return ExpectedRevision{kind: expectAny} }

// NoStream requires the stream to have no events.
func NoStream() ExpectedRevision { return ExpectedRevision{kind: expectNoStream} }

// Exact requires the stream's last event to have revision rev.
func Exact(rev uint64) ExpectedRevision { return ExpectedRevision{kind: expectExact, revision: rev} }

// IsAny reports whether e accepts any state.
func (e ExpectedRevision) IsAny() bool { return e.kind == expectAny }

// IsNoStream reports whether e requires an empty stream.
func (e ExpectedRevision) IsNoStream() bool { return e.kind == expectNoStream }

// Revision returns the exact revision and true, or 0 and false.
func (e ExpectedRevision) Revision() (uint64, bool) { return e.revision, e.kind == expectExact }

// String formats e for errors and logs.
func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no-stream"
	case expectExact:
		return fmt.Sprintf("%d", e.revision)
	default:
		return "any"
	}
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// NextExpected is the revision of the stream's last event after the
	// append: the ExpectedRevision for the next append.
	NextExpected uint64
	// Position of the last event appended.
	Position Position
}

// Filter selects streams when reading across all of them.
type Filter struct {
	// StreamPrefix keeps streams whose name starts with it ("order-").
	// Empty keeps every non-system stream.
	StreamPrefix string
}

// Store is the event store port.
type Store interface {
	// Append writes events to the end of stream, atomically, if expected holds.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)
	// ReadStream yields a stream's events from revision from on, in order.
	// A stream with no events yields ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[RecordedEvent, error]
	// ReadAll yields the events of all streams matching filter, in global
	// order, strictly after position from, up to the current end.
	ReadAll(ctx context.Context, from Position, filter Filter) iter.Seq2[RecordedEvent, error]
	// Subscribe is ReadAll that does not end at the current end: it waits
	// for new events until ctx is done, then yields ctx.Err().
	Subscribe(ctx context.Context, from Position, filter Filter) iter.Seq2[RecordedEvent, error]
	// Close releases the store's resources.
	Close() error
}
