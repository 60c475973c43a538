// Package esdbtest is a test double of EventStoreDB's gRPC API: an
// in-process, in-memory server that speaks real gRPC to the official Go
// client (github.com/EventStore/EventStore-Client-Go/v4, v4.1.0).
//
// It is NOT EventStoreDB. It is built from the client module's own generated
// protos (protos/streams, protos/shared, protos/serverfeatures,
// protos/gossip) and implements only what the esdb adapter calls, with
// EventStoreDB's semantics as the client observes them:
//
//   - Streams.Append: the options message (stream, expected revision: any,
//     no stream, stream exists or an exact revision), then the proposed
//     events; the reply is Success (current revision and log position) or
//     WrongExpectedVersion (current and expected revision). Appending again
//     the same event ids at the same expected revision, or with any, is an
//     idempotent no-op that reports the original write. Appends over 1 MiB
//     fail with InvalidArgument, as EventStoreDB's default limit does.
//   - Streams.Read: stream and $all reads, forwards and backwards, from
//     start, end, a revision or a position, with a count; a read of a
//     stream without events replies StreamNotFound. Subscriptions (stream
//     and $all, optionally filtered by stream-name or event-type prefix or
//     regex) reply SubscriptionConfirmation, the events so far, CaughtUp,
//     then new events as they are written; filtered subscriptions get
//     Checkpoint messages every max-search-window x checkpoint-multiplier
//     events scanned.
//   - ServerFeatures.GetSupportedMethods and Gossip.Read, so connecting with
//     esdb:// and esdb+discover:// both work.
//
// Like a fresh EventStoreDB node, the log starts with a few system events
// (streams and event types beginning with "$"), so readers of $all must skip
// them. Global positions are byte offsets into a pretend transaction log:
// increasing, not contiguous; the events of one append share a commit
// position and have increasing prepare positions (commit >= prepare).
//
// Not implemented: Delete, Tombstone, BatchAppend, link resolution, stream
// metadata and ACLs, persistent subscriptions, projections, operations,
// users, authentication and TLS, FellBehind, deadlines sent by the client,
// and durability (everything lives in memory until Stop).
//
// Use [Start] in tests and benchmarks; [Listen] or [Serve] elsewhere.
package esdbtest
