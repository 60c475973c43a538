package jetstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// Headers the store writes on every event message, besides Nats-Msg-Id
// (the event id).
const (
	// HeaderRevision holds the event's revision in its stream, in decimal.
	HeaderRevision = "Dropsync-Revision"
	// HeaderType holds the event's type.
	HeaderType = "Dropsync-Type"
	// HeaderContentType holds the event's content type, when it is not
	// DefaultContentType.
	HeaderContentType = "Dropsync-Content-Type"
)

// DefaultContentType is the content type of events appended without one.
const DefaultContentType = "application/x-protobuf"

// Atomic batch publish headers (nats-server 2.12+, ADR-50).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// JetStream API error codes the store translates. nats.go names only the
// first two; the others are nats-server's (server/errors.json).
const (
	codeWrongLastSequence         jetstream.ErrorCode = jetstream.JSErrCodeStreamWrongLastSequence         // 10071
	codeWrongLastSequenceConstant jetstream.ErrorCode = jetstream.JSErrCodeStreamWrongLastSequenceConstant // 10164, R>1 and in-batch
	codeDuplicateInProcess        jetstream.ErrorCode = 10158                                              // duplicate message id is in process
	codeBatchIncomplete           jetstream.ErrorCode = 10176                                              // atomic publish batch is incomplete
	codeBatchDuplicate            jetstream.ErrorCode = 10201                                              // atomic publish batch contains duplicate message id
	codeBatchTooManyInflight      jetstream.ErrorCode = 10210                                              // atomic publish too many inflight
)

var (
	// errWrongLast: the subject's last sequence is not the expected one.
	errWrongLast = errors.New("wrong last subject sequence")
	// errDuplicate: an event id is within the duplicate window already.
	errDuplicate = errors.New("duplicate event id")
	// errConflict: the stream's tip is not the expected revision.
	errConflict = errors.New("conflict")
	// errClosed: the store was closed.
	errClosed = errors.New("store closed")
)

// Store is the JetStream event store. It is safe for concurrent use.
type Store struct {
	js        jetstream.JetStream
	nc        *nats.Conn
	stream    jetstream.Stream
	cfg       Config
	directGet string // subject of direct get requests on the stream
	tips      *tipCache
	batches   chan struct{} // semaphore on atomic batches in flight
	closed    atomic.Bool
	snaps     snapshotStream // see snapshot.go
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on js, creating or updating its stream: file storage
// unless cfg says otherwise, subjects "<prefix>.>", direct get and atomic
// batch publish allowed, deletes and purges denied (revisions must stay
// contiguous). It needs nats-server 2.12 or later, for atomic batches.
// The store does not own js's connection: close that after the store.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("eventstore/jetstream: config: %w", err)
	}
	cfg = cfg.withDefaults()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:               cfg.Stream,
		Description:        "dropsync event store",
		Subjects:           []string{cfg.SubjectPrefix + ".>"},
		Retention:          jetstream.LimitsPolicy,
		Storage:            cfg.Storage,
		Replicas:           cfg.Replicas,
		Duplicates:         cfg.DuplicateWindow,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		DenyDelete:         true,
		DenyPurge:          true,
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore/jetstream: create stream %s: %w", cfg.Stream, err)
	}
	if info := st.CachedInfo(); info == nil || !info.Config.AllowAtomicPublish || !info.Config.AllowDirect {
		return nil, fmt.Errorf("eventstore/jetstream: stream %s lacks atomic publish or direct get: nats-server 2.12 or later is required", cfg.Stream)
	}
	return &Store{
		js:        js,
		nc:        js.Conn(),
		stream:    st,
		cfg:       cfg,
		directGet: apiPrefix(js) + "DIRECT.GET." + cfg.Stream,
		tips:      newTipCache(cfg.TipCacheSize),
		batches:   make(chan struct{}, cfg.MaxConcurrentBatches),
	}, nil
}

// apiPrefix is the JetStream API prefix js sends requests under.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	default:
		return jetstream.DefaultAPIPrefix
	}
}

// Close marks the store closed: later calls fail. It does not close the
// connection, which the caller owns.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Append writes events to the end of stream, atomically, if expected holds.
//
// The events are one message (several packed; an atomic batch if too
// large for one message) published with Nats-Expected-Last-Subject-Sequence.
// The expected
// revision becomes an expected subject sequence through the store's cache
// of stream tips, or a direct get of the subject's last message on a miss.
// When the server reports a conflict, Append checks whether the events at
// the expected revision are these very events (a retry) and then succeeds
// with their revisions; otherwise it fails with [eventstore.ErrConcurrency].
// At [eventstore.Any] it retries conflicts until ctx ends.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	res, err := s.append(ctx, stream, expected, events)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, err)
	}
	return res, nil
}

func (s *Store) append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if s.closed.Load() {
		return eventstore.AppendResult{}, errClosed
	}
	subj, err := Subject(s.cfg.SubjectPrefix, stream)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("%w: %w", eventstore.ErrInvalidEvent, err)
	}
	if err := validate(events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	for attempt := 0; ; attempt++ {
		t, err := s.expectedTip(ctx, stream, subj, expected, attempt > 0)
		if errors.Is(err, errConflict) {
			return s.retried(ctx, stream, subj, expected, events, errConflict)
		}
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		res, err := s.publish(ctx, stream, subj, t, events)
		switch {
		case err == nil:
			return res, nil
		case errors.Is(err, errWrongLast):
			s.tips.drop(stream, t)
			if !expected.IsAny() {
				return s.retried(ctx, stream, subj, expected, events, errWrongLast)
			}
			if err := backoff(ctx, attempt); err != nil {
				return eventstore.AppendResult{}, err
			}
		case errors.Is(err, errDuplicate):
			return s.retried(ctx, stream, subj, expected, events, errDuplicate)
		default:
			return eventstore.AppendResult{}, err
		}
	}
}

// backoff waits a little, more after each failed attempt, with jitter, so
// appenders at Any racing on one stream do not keep colliding.
func backoff(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return ctx.Err()
	}
	d := time.Duration(min(attempt, 20)) * 100 * time.Microsecond
	d += time.Duration(rand.IntN(16)) * 50 * time.Microsecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// validate checks the events of one append.
func validate(events []eventstore.EventData) error {
	if len(events) == 0 {
		return fmt.Errorf("%w: no events", eventstore.ErrInvalidEvent)
	}
	if len(events) > MaxAppendEvents {
		return fmt.Errorf("%w: %d events in one append, more than %d", eventstore.ErrInvalidEvent, len(events), MaxAppendEvents)
	}
	var seen map[string]bool
	if len(events) > 1 {
		seen = make(map[string]bool, len(events))
	}
	for i, ev := range events {
		switch {
		case ev.ID == "":
			return fmt.Errorf("%w: event %d: empty id", eventstore.ErrInvalidEvent, i)
		case ev.Type == "":
			return fmt.Errorf("%w: event %d: empty type", eventstore.ErrInvalidEvent, i)
		case !headerSafe(ev.Type):
			return fmt.Errorf("%w: event %d: type %q has control characters or surrounding spaces", eventstore.ErrInvalidEvent, i, ev.Type)
		case !headerSafe(ev.ContentType):
			return fmt.Errorf("%w: event %d: content type %q has control characters or surrounding spaces", eventstore.ErrInvalidEvent, i, ev.ContentType)
		case seen[ev.ID]:
			return fmt.Errorf("%w: event %d: id %s twice in one append", eventstore.ErrInvalidEvent, i, ev.ID)
		}
		if err := eventstore.ValidMetadata(ev.Metadata); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		if _, err := uuid.Parse(ev.ID); err != nil {
			return fmt.Errorf("%w: event %d: id %q is not a UUID", eventstore.ErrInvalidEvent, i, ev.ID)
		}
		if seen != nil {
			seen[ev.ID] = true
		}
	}
	return nil
}

// headerSafe reports whether s survives a NATS header value unchanged.
func headerSafe(s string) bool {
	if s != strings.TrimSpace(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// expectedTip returns the tip stream must have for an append at expected,
// the zero tip for an empty stream; errConflict when it already does not.
// refresh skips the cache.
func (s *Store) expectedTip(ctx context.Context, stream, subj string, expected eventstore.ExpectedRevision, refresh bool) (tip, error) {
	if expected.IsNoStream() {
		return tip{}, nil
	}
	rev, exact := expected.Revision()
	if !refresh {
		if t, ok := s.tips.get(stream); ok && (!exact || t.rev == rev) {
			return t, nil
		}
	}
	t, found, err := s.lastTip(ctx, stream, subj)
	if err != nil {
		return tip{}, err
	}
	if exact && (!found || t.rev != rev) {
		return t, errConflict
	}
	return t, nil
}

// lastTip asks the server for stream's last event.
func (s *Store) lastTip(ctx context.Context, stream, subj string) (tip, bool, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return tip{}, false, nil
	}
	if err != nil {
		return tip{}, false, fmt.Errorf("get last message: %w", err)
	}
	rev, err := lastRevision(m.Header)
	if err != nil {
		return tip{}, false, fmt.Errorf("message %d: %w", m.Sequence, err)
	}
	t := tip{rev: rev, seq: m.Sequence}
	s.tips.put(stream, t)
	return t, true, nil
}

// firstRevision is the revision the next event after t gets.
func (t tip) firstRevision() uint64 {
	if t.seq == 0 {
		return 0
	}
	return t.rev + 1
}

// publish writes events after tip t of stream: a single event with a plain
// publish, several packed into one message, or, when too large for one
// message, in an atomic batch.
func (s *Store) publish(ctx context.Context, stream, subj string, t tip, events []eventstore.EventData) (eventstore.AppendResult, error) {
	first := t.firstRevision()
	var (
		ack *jetstream.PubAck
		err error
	)
	n := uint64(len(events))
	pos := func(seq uint64) eventstore.Position { return eventstore.Position{Commit: seq, Prepare: seq} }
	switch {
	case n == 1 || packedSize(events) <= s.maxPacked():
		m := message(subj, first, events[0])
		if n > 1 {
			m = packed(subj, first, events)
			pos = func(seq uint64) eventstore.Position { return eventstore.Position{Commit: seq, Prepare: seq + n - 1} }
		}
		m.Header[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(t.seq, 10)}
		ack, err = s.js.PublishMsg(ctx, m)
		if err == nil && ack.Duplicate {
			return s.duplicateAt(ctx, stream, subj, ack.Sequence, events)
		}
	default:
		ack, err = s.publishBatch(ctx, subj, first, t.seq, events)
	}
	if err != nil {
		return eventstore.AppendResult{}, classify(err)
	}
	last := tip{rev: first + n - 1, seq: ack.Sequence}
	s.tips.put(stream, last)
	return eventstore.AppendResult{NextExpected: last.rev, Position: pos(last.seq)}, nil
}

// maxPacked is the largest payload of packed events the store publishes as
// one message.
func (s *Store) maxPacked() int {
	if s.cfg.MaxPackedBytes != 0 {
		return s.cfg.MaxPackedBytes
	}
	// Leave room for the headers.
	return int(s.nc.MaxPayload()) - 4096
}

// publishBatch publishes events as one atomic batch: every message but the
// last without waiting (the connection keeps them in order), the last with
// the commit header as a request whose reply acknowledges the whole batch,
// or rejects it with nothing written. The expected subject sequence goes on
// the first message, as the server requires. A batch the server could not
// stage (too many in flight, or a message lost to a slow path) is retried
// under a new batch id: nothing of it was written.
func (s *Store) publishBatch(ctx context.Context, subj string, first, expectSeq uint64, events []eventstore.EventData) (*jetstream.PubAck, error) {
	select {
	case s.batches <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.batches }()
	for attempt := 0; ; attempt++ {
		id := nuid.Next()
		var (
			ack *jetstream.PubAck
			err error
		)
		for i, ev := range events {
			m := message(subj, first+uint64(i), ev)
			m.Header[headerBatchID] = []string{id}
			m.Header[headerBatchSeq] = []string{strconv.Itoa(i + 1)}
			if i == 0 {
				m.Header[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(expectSeq, 10)}
			}
			if i < len(events)-1 {
				if err = s.nc.PublishMsg(m); err != nil {
					return nil, fmt.Errorf("publish batch message %d: %w", i+1, err)
				}
				continue
			}
			m.Header[headerBatchCommit] = []string{"1"}
			ack, err = s.js.PublishMsg(ctx, m)
		}
		if err == nil {
			return ack, nil
		}
		if c := apiCode(err); (c != codeBatchIncomplete && c != codeBatchTooManyInflight) || attempt >= 8 {
			return nil, err
		}
		if err := backoff(ctx, attempt+2); err != nil {
			return nil, err
		}
	}
}

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// classify translates the publish errors the store acts on.
func classify(err error) error {
	switch apiCode(err) {
	case codeWrongLastSequence, codeWrongLastSequenceConstant:
		return fmt.Errorf("%w: %w", errWrongLast, err)
	case codeBatchDuplicate, codeDuplicateInProcess:
		return fmt.Errorf("%w: %w", errDuplicate, err)
	}
	return err
}

// duplicateAt handles a duplicate ack: the first event's id is already at
// sequence seq. If that message is in stream and holds these events, the
// append is a retry and succeeds with the original revisions.
func (s *Store) duplicateAt(ctx context.Context, stream, subj string, seq uint64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("get duplicate of %s at %d: %w", events[0].ID, seq, err)
	}
	var (
		res eventstore.AppendResult
		i   int
	)
	same := m.Subject == subj
	if same {
		_, err = decode(stream, m.Header, m.Data, seq, m.Time, func(ev eventstore.RecordedEvent) bool {
			if i >= len(events) || ev.ID != events[i].ID {
				same = false
				return false
			}
			i++
			res = eventstore.AppendResult{NextExpected: ev.Revision, Position: ev.Position}
			return true
		})
		if err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	if !same || i != len(events) {
		return eventstore.AppendResult{}, fmt.Errorf("%w: event id %s already used by another append", eventstore.ErrInvalidEvent, events[0].ID)
	}
	return res, nil
}

// retried decides an append the server refused (cause: errConflict,
// errWrongLast or errDuplicate): if the events are in the stream already,
// where expected puts them (anywhere for Any), the append is a retry and
// succeeds with their revisions, as EventStoreDB's idempotent appends do.
// Otherwise it is a conflict, or, for duplicate ids that are not a retry
// and not a conflict either, invalid input.
func (s *Store) retried(ctx context.Context, stream, subj string, expected eventstore.ExpectedRevision, events []eventstore.EventData, cause error) (eventstore.AppendResult, error) {
	var from uint64
	if rev, ok := expected.Revision(); ok {
		from = rev + 1
	}
	res, found, err := s.findAppended(ctx, stream, subj, from, expected.IsAny(), events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if found {
		return res, nil
	}
	if errors.Is(cause, errDuplicate) {
		// Not a retry. If expected holds, the server refused the ids: they
		// belong to another append.
		holds, err := s.holds(ctx, stream, subj, expected)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if holds {
			return eventstore.AppendResult{}, fmt.Errorf("%w: event ids already used by another append", eventstore.ErrInvalidEvent)
		}
	}
	return eventstore.AppendResult{}, fmt.Errorf("%w: expected %s", eventstore.ErrConcurrency, expected)
}

// holds reports whether stream is in the state expected requires.
func (s *Store) holds(ctx context.Context, stream, subj string, expected eventstore.ExpectedRevision) (bool, error) {
	t, found, err := s.lastTip(ctx, stream, subj)
	if err != nil {
		return false, err
	}
	if rev, exact := expected.Revision(); exact {
		return found && t.rev == rev, nil
	}
	return !expected.IsNoStream() || !found, nil
}

// findAppended looks for events in stream, in order, starting at revision
// from (or anywhere at or after it).
func (s *Store) findAppended(ctx context.Context, stream, subj string, from uint64, anywhere bool, events []eventstore.EventData) (eventstore.AppendResult, bool, error) {
	i := 0
	for ev, err := range s.readStream(ctx, stream, subj, from) {
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return eventstore.AppendResult{}, false, nil
		}
		if err != nil {
			return eventstore.AppendResult{}, false, err
		}
		if ev.ID != events[i].ID {
			if i == 0 && anywhere {
				continue
			}
			return eventstore.AppendResult{}, false, nil
		}
		if i++; i == len(events) {
			return eventstore.AppendResult{NextExpected: ev.Revision, Position: ev.Position}, true, nil
		}
	}
	return eventstore.AppendResult{}, false, nil
}
