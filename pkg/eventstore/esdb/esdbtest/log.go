package esdbtest

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// pos is a position in the pretend transaction log.
type pos struct{ commit, prepare uint64 }

func (p pos) less(q pos) bool {
	if p.commit != q.commit {
		return p.commit < q.commit
	}
	return p.prepare < q.prepare
}

// record is an event as written.
type record struct {
	stream    string
	revision  uint64
	pos       pos
	id        uuid.UUID
	eventType string
	json      bool   // EventStoreDB keeps only "is JSON" of the content type.
	created   int64  // .NET ticks (100 ns) since the Unix epoch.
	metadata  []byte // the custom (user) metadata.
	data      []byte
}

// proposed is an event to write.
type proposed struct {
	id        uuid.UUID
	eventType string
	json      bool
	metadata  []byte
	data      []byte
}

// size is what the event takes in the log, roughly as EventStoreDB counts it.
func (p proposed) size() int { return len(p.eventType) + len(p.metadata) + len(p.data) }

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectRevision
)

// expectation is an append's expected stream revision.
type expectation struct {
	kind     expectKind
	revision uint64
}

// outcome is an append's result.
type outcome struct {
	ok bool
	// current is the stream's last revision; -1: no stream.
	current int64
	// pos is the position of the last event written, when written is true.
	pos     pos
	written bool
}

// eventLog is the in-memory store: every record in commit order, and per
// stream. Records are never changed once written and the slices only grow,
// so a reader may keep a slice taken under the lock and read it without.
type eventLog struct {
	mu      sync.RWMutex
	all     []*record
	streams map[string][]*record
	ids     map[string]map[uuid.UUID]int // stream -> event id -> revision
	end     uint64                       // where the next record goes in the log
	changed chan struct{}                // closed, and replaced, on every write
	now     func() time.Time
}

func newEventLog(now func() time.Time) *eventLog {
	return &eventLog{
		streams: make(map[string][]*record),
		ids:     make(map[string]map[uuid.UUID]int),
		changed: make(chan struct{}),
		now:     now,
	}
}

// snapshotAll returns every record so far and a channel closed on the next write.
func (l *eventLog) snapshotAll() ([]*record, <-chan struct{}) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.all, l.changed
}

// snapshotStream returns a stream's records so far and a channel closed on
// the next write.
func (l *eventLog) snapshotStream(stream string) ([]*record, <-chan struct{}) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.streams[stream], l.changed
}

// append writes events to stream if exp holds, or recognises a retry of a
// write already done, as EventStoreDB's commit check does.
func (l *eventLog) append(stream string, exp expectation, events []proposed) outcome {
	l.mu.Lock()
	defer l.mu.Unlock()

	recs := l.streams[stream]
	current := int64(len(recs)) - 1
	fail := outcome{current: current}

	switch exp.kind {
	case expectNoStream, expectRevision:
		want := int64(-1)
		if exp.kind == expectRevision {
			want = int64(exp.revision)
		}
		if current == want {
			break
		}
		if current > want && len(events) > 0 && written(recs, want+1, events) {
			return retried(recs, want+1, len(events))
		}
		return fail
	case expectStreamExists, expectAny:
		if exp.kind == expectStreamExists && current < 0 {
			return fail
		}
		if len(events) == 0 {
			break
		}
		// A retry with any: the first id was written, so must the others be.
		if at, ok := l.ids[stream][events[0].id]; ok {
			if written(recs, int64(at), events) {
				return retried(recs, int64(at), len(events))
			}
			return fail
		}
	}

	if len(events) == 0 {
		return outcome{ok: true, current: current}
	}
	positions := make([]uint64, len(events))
	for i, e := range events {
		positions[i] = l.end
		l.end += uint64(64 + len(stream) + e.size())
	}
	commit := positions[len(positions)-1]
	created := l.now().UnixNano() / 100
	ids := l.ids[stream]
	if ids == nil {
		ids = make(map[uuid.UUID]int)
		l.ids[stream] = ids
	}
	for i, e := range events {
		r := &record{
			stream:    stream,
			revision:  uint64(len(recs)),
			pos:       pos{commit: commit, prepare: positions[i]},
			id:        e.id,
			eventType: e.eventType,
			json:      e.json,
			created:   created,
			metadata:  e.metadata,
			data:      e.data,
		}
		recs = append(recs, r)
		l.all = append(l.all, r)
		ids[e.id] = int(r.revision)
	}
	l.streams[stream] = recs
	close(l.changed)
	l.changed = make(chan struct{})
	last := recs[len(recs)-1]
	return outcome{ok: true, current: int64(last.revision), pos: last.pos, written: true}
}

// written reports whether events are recs[at], recs[at+1], ... by id.
func written(recs []*record, at int64, events []proposed) bool {
	if at < 0 || at+int64(len(events)) > int64(len(recs)) {
		return false
	}
	for i, e := range events {
		if recs[at+int64(i)].id != e.id {
			return false
		}
	}
	return true
}

// retried is the outcome of a retry of the n events written from recs[at].
func retried(recs []*record, at int64, n int) outcome {
	last := recs[at+int64(n)-1]
	return outcome{ok: true, current: int64(last.revision), pos: last.pos, written: true}
}
