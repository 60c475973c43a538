package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// SnapshotStreamPrefix starts the streams that hold snapshots: stream s's
// snapshots are in "snapshot-" + s, which keeps only the latest ($maxCount
// 1). The order read model and the relay never read them (the read model
// filters "order-", the relay publishes order event types only).
const SnapshotStreamPrefix = "snapshot-"

var _ eventstore.Snapshots = (*Store)(nil)

// snapshotNamespace derives snapshot event ids, so a retried save is one
// event.
var snapshotNamespace = uuid.MustParse("6f0f5a0e-6b1c-4a55-9f37-2a1f4d3c8b01")

// snapshotMetadata is a snapshot event's user metadata.
type snapshotMetadata struct {
	Revision string `json:"revision"`
}

// SaveSnapshot appends snap to stream's snapshot stream, which keeps only
// its last event.
func (s *Store) SaveSnapshot(ctx context.Context, stream string, snap eventstore.Snapshot) error {
	if stream == "" || snap.Type == "" {
		return fmt.Errorf("save snapshot %q: stream and type are required: %w", stream, eventstore.ErrInvalidEvent)
	}
	meta, err := json.Marshal(snapshotMetadata{Revision: strconv.FormatUint(snap.Revision, 10)})
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w", stream, err)
	}
	name := SnapshotStreamPrefix + stream
	ev := esdbclient.EventData{
		EventID:     uuid.NewSHA1(snapshotNamespace, []byte(name+"@"+strconv.FormatUint(snap.Revision, 10))),
		EventType:   snap.Type,
		ContentType: esdbclient.ContentTypeBinary,
		Data:        snap.Data,
		Metadata:    meta,
	}
	var res *esdbclient.WriteResult
	err = s.do(func(c *esdbclient.Client) (err error) {
		res, err = c.AppendToStream(ctx, name, esdbclient.AppendToStreamOptions{ExpectedRevision: esdbclient.Any{}}, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("save snapshot %s: %w", stream, translate(ctx, err))
	}
	if res.NextExpectedVersion == 0 { // the first: keep only the latest from now on
		var md esdbclient.StreamMetadata
		md.SetMaxCount(1)
		err = s.do(func(c *esdbclient.Client) error {
			_, err := c.SetStreamMetadata(ctx, name, esdbclient.AppendToStreamOptions{ExpectedRevision: esdbclient.Any{}}, md)
			return err
		})
		if err != nil {
			return fmt.Errorf("save snapshot %s: set $maxCount: %w", stream, translate(ctx, err))
		}
	}
	return nil
}

// LoadSnapshot reads the last event of stream's snapshot stream, or
// returns eventstore.ErrNoSnapshot.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	if stream == "" {
		return eventstore.Snapshot{}, fmt.Errorf("load snapshot: empty stream name: %w", eventstore.ErrInvalidEvent)
	}
	var rs *esdbclient.ReadStream
	err := s.do(func(c *esdbclient.Client) (err error) {
		rs, err = c.ReadStream(ctx, SnapshotStreamPrefix+stream, esdbclient.ReadStreamOptions{Direction: esdbclient.Backwards, From: esdbclient.End{}}, 1)
		return err
	})
	if err == nil {
		defer rs.Close()
		var ev *esdbclient.ResolvedEvent
		if ev, err = rs.Recv(); err == nil {
			rec := ev.OriginalEvent()
			var md snapshotMetadata
			if err := json.Unmarshal(rec.UserMetadata, &md); err != nil {
				return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: metadata: %w", stream, err)
			}
			rev, err := strconv.ParseUint(md.Revision, 10, 64)
			if err != nil {
				return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: revision: %w", stream, err)
			}
			return eventstore.Snapshot{Revision: rev, Type: rec.EventType, Data: rec.Data}, nil
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(translate(ctx, err), eventstore.ErrStreamNotFound) {
		return eventstore.Snapshot{}, eventstore.ErrNoSnapshot
	}
	return eventstore.Snapshot{}, fmt.Errorf("load snapshot %s: %w", stream, translate(ctx, err))
}
