// Package jetstream is the event store on NATS JetStream, the embedded
// default: an [eventstore.Store] that passes the conformance suite in
// [github.com/dropsync/dropsync/pkg/eventstore/eventstoretest].
//
// # Layout
//
// One JetStream stream (Config.Stream, "EVENTSTORE") holds every event
// stream, one subject per event stream, "<prefix>.<category>.<rest>" (see
// [Subject]): "order-shopify:acme:1001" is "es.order.shopify:acme:1001".
// Names with characters a subject cannot hold are base64url-encoded behind
// a "~" marker, reversibly. A single event is one message: its data is the
// payload, its id is Nats-Msg-Id, and [HeaderRevision], [HeaderType] and
// [HeaderContentType] hold the rest; its position is its stream sequence,
// Position{Commit: seq, Prepare: seq}. The events of a multi-event append
// are packed into one message (see [HeaderCount]), the i-th at
// Position{Commit: seq, Prepare: seq + i}.
//
// # Revisions and concurrency
//
// Revisions are contiguous from 0 in each stream: the store writes them,
// and guards every append with Nats-Expected-Last-Subject-Sequence, so the
// server refuses an append unless the subject's last message is the one
// the revision was computed from. A store keeps a bounded cache of each
// stream's last revision and sequence, learned from its appends and reads;
// on a miss it fetches the subject's last message with a direct get. A
// refused append at an exact revision (or NoStream) is checked against the
// stream: if the events at the expected revision carry the appended ids,
// it was a retry and succeeds with their revisions, as in EventStoreDB;
// otherwise it fails with [eventstore.ErrConcurrency]. Appends at Any retry
// on conflicts.
//
// # Atomicity
//
// A multi-event append is one message, so the server writes all of it or
// none, with one sync. nats-server 2.12+ also has atomic batch publish
// (AllowAtomicPublish: Nats-Batch-Id, Nats-Batch-Sequence, the expected
// subject sequence on the first message, Nats-Batch-Commit on the last),
// but on an R1 file-backed stream the server stages each batch in a file
// store of its own, which costs 10 to 40 times a single publish (measured:
// 6-33 ms a batch against 0.4-1 ms). The store uses it only for appends too
// large for one message (Config.MaxPackedBytes); ReadAll never ends inside
// such a batch, and direct gets never see part of one. An append holds at
// most [MaxAppendEvents] events.
//
// # Duplicates
//
// The server drops a message whose Nats-Msg-Id it has seen within the
// duplicate window (Config.DuplicateWindow, 10 minutes by default; see
// there for why not longer). The id of a packed message is its first
// event's. A duplicate ack, or a batch the server rejects for a duplicate
// id, is resolved as a retry as above: success only if these very events
// are in the stream.
//
// # Durability
//
// An acknowledged append is on disk only if the server syncs every write:
// the embedded server ([github.com/dropsync/dropsync/pkg/natsserver]) runs
// with sync_interval always unless Options.RelaxedSync is set. A packed
// append is synced once, as is an atomic batch, at its commit.
//
// # Reading
//
// ReadStream pages through a subject with batched direct gets (no consumer
// to create, a bounded page in memory). ReadAll and Subscribe use an
// ordered consumer from the position on, so a replay of any size holds at
// most one pull batch in memory; the consumer is deleted when the reader
// stops.
package jetstream
