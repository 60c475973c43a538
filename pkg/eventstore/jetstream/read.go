package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

const (
	// readPage is how many messages one direct get of a stream returns.
	readPage = 1000
	// readPageBytes bounds the bytes of one page, so a reader of huge
	// events holds a bounded amount in memory.
	readPageBytes = 1 << 20
	// readAllPull is how many messages ReadAll and Subscribe keep requested
	// ahead of the caller (nats.go's pull buffer; the memory bound of a
	// replay, with its byte limit).
	readAllPull      = 1000
	readAllPullBytes = 8 << 20
	// consumerInactive is when the server removes a reader's consumer the
	// client failed to delete (a crash).
	consumerInactive = time.Minute
)

// Direct get headers (nats-server's JSSequence, JSTimeStamp, JSNumPending).
const (
	headerSequence   = "Nats-Sequence"
	headerTimeStamp  = "Nats-Time-Stamp"
	headerNumPending = "Nats-Num-Pending"
	headerStatus     = "Status"
)

// directGetRequest is nats-server's JSApiMsgGetRequest, the part of it the
// store uses: a batch of messages on one subject from a sequence on.
type directGetRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// ReadStream yields stream's events from revision from on, in order, or
// [eventstore.ErrStreamNotFound] when it has none. It pages through the
// stream's subject with batched direct gets (no consumer to create), up to
// 1000 messages or 1 MiB a page.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) { yield(eventstore.RecordedEvent{}, fmt.Errorf("read %s: %w", stream, err)) }
		if s.closed.Load() {
			fail(errClosed)
			return
		}
		subj, err := Subject(s.cfg.SubjectPrefix, stream)
		if err != nil {
			fail(fmt.Errorf("%w: %w", eventstore.ErrInvalidEvent, err))
			return
		}
		for ev, err := range s.readStream(ctx, stream, subj, from) {
			if err != nil {
				fail(err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// readStream is ReadStream without the checks and the error wrapping.
func (s *Store) readStream(ctx context.Context, stream, subj string, from uint64) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) { yield(eventstore.RecordedEvent{}, err) }
		if err := ctx.Err(); err != nil {
			fail(err)
			return
		}
		// Start at the first sequence of the subject, or at a known tip at
		// or before revision from.
		start := uint64(1)
		if t, ok := s.tips.get(stream); ok && t.rev <= from {
			start = t.seq
		} else if h, ok := s.snaps.hint(stream); ok && h.rev <= from {
			start = h.seq // where a loaded snapshot's revision is (snapshot.go)
		}
		// One page's replies (at most readPage messages and the end-of-batch
		// status) fit the channel, so none is dropped; a SubscribeSync would
		// allocate the connection's default 64k-slot channel on every read.
		inbox := s.nc.NewInbox()
		replies := make(chan *nats.Msg, readPage+2)
		sub, err := s.nc.ChanSubscribe(inbox, replies)
		if err != nil {
			fail(fmt.Errorf("subscribe: %w", err))
			return
		}
		defer func() { _ = sub.Unsubscribe() }()

		var last tip
		found := false
		for {
			req, err := json.Marshal(directGetRequest{Seq: start, NextFor: subj, Batch: readPage, MaxBytes: readPageBytes})
			if err != nil {
				fail(err)
				return
			}
			if err := s.nc.PublishRequest(s.directGet, inbox, req); err != nil {
				fail(fmt.Errorf("direct get: %w", err))
				return
			}
			more := false
		page:
			for {
				var msg *nats.Msg
				select {
				case msg = <-replies:
				case <-ctx.Done():
					fail(ctx.Err())
					return
				}
				switch status := msg.Header.Get(headerStatus); status {
				case "":
					seq, err := strconv.ParseUint(msg.Header.Get(headerSequence), 10, 64)
					if err != nil {
						fail(fmt.Errorf("direct get: bad %s header: %w", headerSequence, err))
						return
					}
					ts, _ := time.Parse(time.RFC3339Nano, msg.Header.Get(headerTimeStamp))
					var stop error
					ok, err := decode(stream, msg.Header, msg.Data, seq, ts, func(ev eventstore.RecordedEvent) bool {
						found, start, last = true, seq+1, tip{rev: ev.Revision, seq: seq}
						if ev.Revision < from {
							return true
						}
						if stop = ctx.Err(); stop != nil {
							return false
						}
						return yield(ev, nil)
					})
					if err == nil {
						err = stop
					}
					if err != nil {
						fail(err)
						return
					}
					if !ok {
						return
					}
				case "204": // end of this batch
					pending, _ := strconv.ParseUint(msg.Header.Get(headerNumPending), 10, 64)
					more = pending > 0
					break page
				case "404": // no message on the subject at or after start
					if !found {
						fail(eventstore.ErrStreamNotFound)
						return
					}
					break page
				default:
					fail(fmt.Errorf("direct get: status %s %s", status, msg.Header.Get("Description")))
					return
				}
			}
			if !more {
				break
			}
		}
		if found {
			s.tips.put(stream, last)
		}
	}
}

// ReadAll yields the events of the streams filter keeps, in stream sequence
// order, strictly after from, up to the stream's last sequence when the
// read starts. It reads with an ordered consumer (pull, flow-controlled, at
// most 1000 messages or 8 MiB ahead), filtered on the filter's category
// subject when the prefix has one ("order-" reads "es.order.>") and on the
// name prefix client-side.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, filter eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	return s.readAll(ctx, from, filter, false)
}

// Subscribe is ReadAll that goes on waiting for new events until ctx is
// done, then yields ctx.Err().
func (s *Store) Subscribe(ctx context.Context, from eventstore.Position, filter eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	return s.readAll(ctx, from, filter, true)
}

func (s *Store) readAll(ctx context.Context, from eventstore.Position, filter eventstore.Filter, follow bool) iter.Seq2[eventstore.RecordedEvent, error] {
	op := "read all"
	if follow {
		op = "subscribe"
	}
	return func(yield func(eventstore.RecordedEvent, error) bool) {
		fail := func(err error) {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			yield(eventstore.RecordedEvent{}, fmt.Errorf("%s: %w", op, err))
		}
		if s.closed.Load() {
			fail(errClosed)
			return
		}
		if err := ctx.Err(); err != nil {
			fail(err)
			return
		}
		// Strictly after from: from the message at from.Commit on, as it
		// may hold several events, skipping events not after from.
		start := max(from.Commit, 1)
		info, err := s.stream.Info(ctx)
		if err != nil {
			fail(fmt.Errorf("stream info: %w", err))
			return
		}
		end := info.State.LastSeq
		if !follow && end < start {
			return
		}
		cons, msgs, err := s.consume(ctx, start, end, filter)
		if err != nil {
			fail(err)
			return
		}
		defer s.stopConsumer(ctx, cons, msgs)
		if info := cons.CachedInfo(); !follow && info != nil && info.NumPending == 0 {
			return
		}
		inBatch := false // the last message was in a batch and not its last
		for {
			msg, err := msgs.Next(jetstream.NextContext(ctx))
			if err != nil {
				fail(err)
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				fail(err)
				return
			}
			seq := meta.Sequence.Stream
			if !follow && seq > end && !inBatch {
				return
			}
			name, err := StreamName(s.cfg.SubjectPrefix, msg.Subject())
			if err != nil {
				fail(err)
				return
			}
			if keep(name, filter) {
				var stop error
				ok, err := decode(name, msg.Headers(), msg.Data(), seq, meta.Timestamp, func(ev eventstore.RecordedEvent) bool {
					if !from.Less(ev.Position) {
						return true
					}
					if stop = ctx.Err(); stop != nil {
						return false
					}
					return yield(ev, nil)
				})
				if err == nil {
					err = stop
				}
				if err != nil {
					fail(err)
					return
				}
				if !ok {
					return
				}
			}
			// Never end inside an atomic batch: the server may deliver its
			// first messages before it stores the last.
			inBatch = msg.Headers().Get(headerBatchID) != "" && msg.Headers().Get(headerBatchCommit) == ""
			if !follow && !inBatch && (seq >= end || meta.NumPending == 0) {
				return
			}
		}
	}
}

// consume starts an ordered consumer from sequence start on, filtered on
// filter's category subject if that drops at least half of the messages
// from start to end; otherwise on all the store's subjects, as the server
// matches a filtered consumer's subjects at every message, which costs it
// more than sending the few it would drop (readAll filters by name anyway).
func (s *Store) consume(ctx context.Context, start, end uint64, filter eventstore.Filter) (jetstream.Consumer, jetstream.MessagesContext, error) {
	all := s.cfg.SubjectPrefix + ".>"
	subject := filterSubject(s.cfg.SubjectPrefix, filter.StreamPrefix)
	for {
		cons, err := s.js.OrderedConsumer(ctx, s.cfg.Stream, jetstream.OrderedConsumerConfig{
			FilterSubjects:    []string{subject},
			DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:       start,
			InactiveThreshold: consumerInactive,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("create consumer: %w", err)
		}
		msgs, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(readAllPull, readAllPullBytes))
		if err != nil {
			return nil, nil, fmt.Errorf("consume: %w", err)
		}
		if subject == all || end < start {
			return cons, msgs, nil
		}
		if info := cons.CachedInfo(); info == nil || 2*info.NumPending < end-start+1 {
			return cons, msgs, nil
		}
		s.stopConsumer(ctx, cons, msgs)
		subject = all
	}
}

// keep reports whether filter keeps stream: a name starting with the
// prefix, or any name but system streams ("$...") when the prefix is empty.
func keep(stream string, filter eventstore.Filter) bool {
	if filter.StreamPrefix == "" {
		return !strings.HasPrefix(stream, "$")
	}
	return strings.HasPrefix(stream, filter.StreamPrefix)
}

// stopConsumer stops a reader's pulls and deletes its consumer rather than
// leave it to the inactivity timeout.
func (s *Store) stopConsumer(ctx context.Context, cons jetstream.Consumer, msgs jetstream.MessagesContext) {
	msgs.Stop()
	info := cons.CachedInfo()
	if info == nil || s.nc.IsClosed() {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	// On failure the inactivity threshold removes it later; nothing to
	// report to a reader that is done.
	_ = s.js.DeleteConsumer(dctx, s.cfg.Stream, info.Name)
}
