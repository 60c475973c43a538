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
// a "~" marker, reversibly. Each event is one message: its data is the
// payload, its id is Nats-Msg-Id, and [HeaderRevision], [HeaderType] and
// [HeaderContentType] hold the rest. Its position is its stream sequence,
// Position{Commit: seq, Prepare: seq}.
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
// An append of several events is one atomic batch (nats-server 2.12+,
// AllowAtomicPublish): messages carry Nats-Batch-Id and Nats-Batch-Sequence,
// the first also the expected subject sequence, the last Nats-Batch-Commit.
// The server stages the batch and writes all of it or none. ReadStream's
// direct gets never see part of a batch; ReadAll may be handed a batch's
// first messages before the server stores its last, so it never ends inside
// a batch. A batch holds at most [MaxAppendEvents] events. A single event
// is a plain publish, the fast path.
//
// # Duplicates
//
// The server drops a message whose Nats-Msg-Id it has seen within the
// duplicate window (Config.DuplicateWindow, 10 minutes by default; see
// there for why not longer). Inside an atomic batch a duplicate id rejects
// the batch, which the store then resolves as a retry as above.
//
// # Durability
//
// An acknowledged append is on disk only if the server syncs every write:
// the embedded server ([github.com/dropsync/dropsync/pkg/natsserver]) runs
// with sync_interval always unless Options.RelaxedSync is set. An atomic
// batch is synced once, at its commit.
//
// # Reading
//
// ReadStream pages through a subject with batched direct gets (no consumer
// to create, a bounded page in memory). ReadAll and Subscribe use an
// ordered consumer from the position on, so a replay of any size holds at
// most one pull batch in memory; the consumer is deleted when the reader
// stops.
package jetstream
