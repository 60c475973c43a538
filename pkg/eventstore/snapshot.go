package eventstore

import (
	"context"
	"errors"
)

// ErrNoSnapshot: the stream has no snapshot saved.
var ErrNoSnapshot = errors.New("eventstore: no snapshot")

// Snapshot is a stream's state folded up to and including the event at
// Revision, saved so that a reader starts from it and reads only the events
// after it: a bounded number of reads however long the stream. It is a
// cache of the fold, never the truth: losing one costs a longer read.
type Snapshot struct {
	// Revision is the revision of the last event the state includes.
	Revision uint64
	// Type names the format and its version ("order.v1"); a reader that
	// does not know it ignores the snapshot and folds the events.
	Type string
	// Data is the encoded state.
	Data []byte
}

// Snapshots keeps the latest snapshot of each stream, beside the event
// store; the adapters implement it with the Store.
type Snapshots interface {
	// SaveSnapshot saves s as stream's latest snapshot. Only the latest is
	// kept; saving one older than the saved one is not an error (the
	// newer stays, or the older replaces it: readers check Revision
	// against the stream either way).
	SaveSnapshot(ctx context.Context, stream string, s Snapshot) error
	// LoadSnapshot returns stream's latest snapshot, or ErrNoSnapshot.
	LoadSnapshot(ctx context.Context, stream string) (Snapshot, error)
}
