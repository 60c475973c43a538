package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// Snapshot headers.
const (
	headerSnapshotRevision = "Dropsync-Snapshot-Revision"
	headerSnapshotType     = "Dropsync-Snapshot-Type"
	// headerSnapshotSequence is the event stream's sequence of the message
	// holding the snapshot's revision, when the saving store knew it: a
	// read of the events after the snapshot starts there instead of
	// searching the subject from the stream's first message.
	headerSnapshotSequence = "Dropsync-Snapshot-Sequence"
)

// snapshotHints bounds the read hints kept from loaded snapshots.
const snapshotHints = 10_000

var _ eventstore.Snapshots = (*Store)(nil)

// SnapshotStream is the name of the JetStream stream that holds a store's
// snapshots: "<Config.Stream>_SNAPSHOTS", subjects
// "<Config.SubjectPrefix>_snap.<category>.<rest>" (the event's subject
// with "_snap" after the prefix), one message per subject (the latest
// snapshot), direct get allowed. It is created on the first save.
func SnapshotStream(cfg Config) string { return cfg.withDefaults().Stream + "_SNAPSHOTS" }

// snapshotStream is the snapshot stream, created on first use, and the
// read hints of the snapshots loaded: "revision rev is at sequence seq".
type snapshotStream struct {
	mu     sync.Mutex
	stream jetstream.Stream
	hints  *tipCache
}

// hint returns where the message holding a loaded snapshot's revision is.
func (s *snapshotStream) hint(stream string) (tip, bool) {
	s.mu.Lock()
	h := s.hints
	s.mu.Unlock()
	if h == nil {
		return tip{}, false
	}
	return h.get(stream)
}

func (s *snapshotStream) putHint(stream string, t tip) {
	s.mu.Lock()
	if s.hints == nil {
		s.hints = newTipCache(snapshotHints)
	}
	h := s.hints
	s.mu.Unlock()
	h.put(stream, t)
}

func (s *Store) snapshotPrefix() string { return s.cfg.SubjectPrefix + "_snap" }

// snapshotStream returns the snapshot stream; create says whether to
// create it when it is missing (a save) or to report ErrNoSnapshot (a
// load).
func (s *Store) snapshotStream(ctx context.Context, create bool) (jetstream.Stream, error) {
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	if s.snaps.stream != nil {
		return s.snaps.stream, nil
	}
	name := SnapshotStream(s.cfg)
	st, err := s.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if !create {
			return nil, eventstore.ErrNoSnapshot
		}
		st, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:              name,
			Description:       "dropsync event store snapshots: the latest of each stream",
			Subjects:          []string{s.snapshotPrefix() + ".>"},
			Retention:         jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1,
			Discard:           jetstream.DiscardOld,
			Storage:           s.cfg.Storage,
			Replicas:          s.cfg.Replicas,
			AllowDirect:       true,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot stream %s: %w", name, err)
	}
	s.snaps.stream = st
	return st, nil
}

// SaveSnapshot saves snap as stream's latest snapshot: one message on the
// snapshot stream, which keeps one per stream.
func (s *Store) SaveSnapshot(ctx context.Context, stream string, snap eventstore.Snapshot) error {
	if s.closed.Load() {
		return fmt.Errorf("save snapshot %s: %w", stream, errClosed)
	}
	subj, err := Subject(s.snapshotPrefix(), stream)
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w: %w", stream, eventstore.ErrInvalidEvent, err)
	}
	if snap.Type == "" || !headerSafe(snap.Type) {
		return fmt.Errorf("save snapshot %s: %w: snapshot type %q", stream, eventstore.ErrInvalidEvent, snap.Type)
	}
	if _, err := s.snapshotStream(ctx, true); err != nil {
		return fmt.Errorf("save snapshot %s: %w", stream, err)
	}
	m := nats.NewMsg(subj)
	m.Data = snap.Data
	m.Header.Set(headerSnapshotRevision, strconv.FormatUint(snap.Revision, 10))
	m.Header.Set(headerSnapshotType, snap.Type)
	if t, ok := s.tips.get(stream); ok && t.rev == snap.Revision {
		m.Header.Set(headerSnapshotSequence, strconv.FormatUint(t.seq, 10))
	}
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("save snapshot %s: %w", stream, classify(err))
	}
	return nil
}

// LoadSnapshot returns stream's latest snapshot, with one direct get, or
// eventstore.ErrNoSnapshot.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	if s.closed.Load() {
		return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: %w", stream, errClosed)
	}
	subj, err := Subject(s.snapshotPrefix(), stream)
	if err != nil {
		return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: %w: %w", stream, eventstore.ErrInvalidEvent, err)
	}
	st, err := s.snapshotStream(ctx, false)
	if err != nil {
		if errors.Is(err, eventstore.ErrNoSnapshot) {
			return eventstore.Snapshot{}, err
		}
		return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: %w", stream, err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return eventstore.Snapshot{}, eventstore.ErrNoSnapshot
	}
	if err != nil {
		return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: %w", stream, err)
	}
	rev, err := strconv.ParseUint(msg.Header.Get(headerSnapshotRevision), 10, 64)
	if err != nil {
		return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: bad %s header: %w", stream, headerSnapshotRevision, err)
	}
	if seq, err := strconv.ParseUint(msg.Header.Get(headerSnapshotSequence), 10, 64); err == nil && seq > 0 {
		s.snaps.putHint(stream, tip{rev: rev, seq: seq})
	}
	return eventstore.Snapshot{Revision: rev, Type: msg.Header.Get(headerSnapshotType), Data: msg.Data}, nil
}
