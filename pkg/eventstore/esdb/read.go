package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// readCount is the count of a read "to the end": EventStoreDB pages through
// the stream itself, and gRPC flow control keeps it no faster than we read.
const readCount = math.MaxInt64

// ReadStream yields stream's events from revision from on, in order, as the
// server sends them. A stream without events yields
// [eventstore.ErrStreamNotFound].
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) {
			yield(eventstore.RecordedEvent{}, fmt.Errorf("read %s from %d: %w", stream, from, translate(ctx, err)))
		}
		if stream == "" {
			fail(fmt.Errorf("empty stream name: %w", eventstore.ErrInvalidEvent))
			return
		}
		var rs *esdbclient.ReadStream
		err := s.do(func(c *esdbclient.Client) (err error) {
			rs, err = c.ReadStream(ctx, stream, esdbclient.ReadStreamOptions{From: esdbclient.Revision(from)}, readCount)
			return err
		})
		if err != nil {
			fail(err)
			return
		}
		defer rs.Close()
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			if err := contextErr(ctx); err != nil {
				fail(err) // not the events gRPC had buffered
				return
			}
			if !yield(recordedEvent(ev.OriginalEvent()), nil) {
				return
			}
		}
	}
}

// ReadAll yields the events of the streams filter keeps, in global order,
// strictly after from, up to the end of the log when the read started.
// System events are skipped.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, filter eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) {
			yield(eventstore.RecordedEvent{}, fmt.Errorf("read all from %s: %w", from, translate(ctx, err)))
		}
		var rs *esdbclient.ReadStream
		err := s.do(func(c *esdbclient.Client) (err error) {
			rs, err = c.ReadAll(ctx, esdbclient.ReadAllOptions{From: allPosition(from)}, readCount)
			return err
		})
		if err != nil {
			fail(err)
			return
		}
		defer rs.Close()
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			e := ev.OriginalEvent()
			if !keep(e, from, filter) {
				continue
			}
			if err := contextErr(ctx); err != nil {
				fail(err) // not the events gRPC had buffered
				return
			}
			if !yield(recordedEvent(e), nil) {
				return
			}
		}
	}
}

// Subscribe yields the events of the streams filter keeps, in global order,
// strictly after from: those written so far, then new ones as they are
// written, until ctx is done; then it yields ctx.Err(). System events are
// skipped. The server filters stream names. When the server drops the
// subscription (it stopped, the connection broke), Subscribe yields the
// error and ends: subscribe again from the last position seen.
func (s *Store) Subscribe(ctx context.Context, from eventstore.Position, filter eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) {
			if ctxErr := contextErr(ctx); ctxErr != nil {
				yield(eventstore.RecordedEvent{}, ctxErr)
				return
			}
			yield(eventstore.RecordedEvent{}, fmt.Errorf("subscribe from %s: %w", from, translate(ctx, err)))
		}
		opts := esdbclient.SubscribeToAllOptions{From: allPosition(from), Filter: esdbclient.ExcludeSystemEventsFilter()}
		if filter.StreamPrefix != "" {
			opts.Filter = &esdbclient.SubscriptionFilter{Type: esdbclient.StreamFilterType, Prefixes: []string{filter.StreamPrefix}}
		}
		var sub *esdbclient.Subscription
		err := s.do(func(c *esdbclient.Client) (err error) {
			sub, err = c.SubscribeToAll(ctx, opts)
			return err
		})
		if err != nil {
			fail(err)
			return
		}
		defer func() { _ = sub.Close() }()
		for {
			msg := sub.Recv()
			switch {
			case msg.SubscriptionDropped != nil:
				fail(msg.SubscriptionDropped.Error)
				return
			case msg.EventAppeared != nil:
				e := msg.EventAppeared.OriginalEvent()
				if !keep(e, from, filter) {
					continue
				}
				if err := contextErr(ctx); err != nil {
					fail(err)
					return
				}
				if !yield(recordedEvent(e), nil) {
					return
				}
			}
			// Checkpoints, caught up and fell behind tell nothing to yield.
		}
	}
}

// allPosition maps a port position to the client's; the zero position is
// the start of $all.
func allPosition(p eventstore.Position) esdbclient.AllPosition {
	if p == eventstore.Start {
		return esdbclient.Start{}
	}
	return esdbclient.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// keep reports whether a read or subscription across all streams yields e:
// not a system event, in a stream filter keeps, strictly after from.
func keep(e *esdbclient.RecordedEvent, from eventstore.Position, filter eventstore.Filter) bool {
	if e == nil || isSystem(e.StreamID) || isSystem(e.EventType) {
		return false
	}
	if !strings.HasPrefix(e.StreamID, filter.StreamPrefix) {
		return false
	}
	if from == eventstore.Start {
		return true
	}
	return from.Less(eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare})
}

// isSystem reports whether a stream name or event type is EventStoreDB's:
// "$epochs", "$$order-1" (metadata), "$>" (link), "$metadata", ...
func isSystem(name string) bool { return strings.HasPrefix(name, "$") }

// recordedEvent maps the client's event to the port's, with the content
// type the adapter wrote in the user metadata, or else the server's.
func recordedEvent(e *esdbclient.RecordedEvent) eventstore.RecordedEvent {
	contentType := e.ContentType
	var meta userMetadata
	if len(e.UserMetadata) > 0 && json.Unmarshal(e.UserMetadata, &meta) == nil && meta.ContentType != "" {
		contentType = meta.ContentType
	}
	if len(meta.Metadata) == 0 {
		meta.Metadata = nil
	}
	return eventstore.RecordedEvent{
		Stream:      e.StreamID,
		Revision:    e.EventNumber,
		Position:    eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare},
		ID:          e.EventID.String(),
		Type:        e.EventType,
		Data:        e.Data,
		ContentType: contentType,
		Created:     e.CreatedDate,
		Metadata:    meta.Metadata,
	}
}
