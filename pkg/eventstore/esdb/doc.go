// Package esdb is the EventStoreDB (KurrentDB) adapter of the event store
// port, [eventstore.Store], on the official gRPC client
// (github.com/EventStore/EventStore-Client-Go/v4).
//
// Stream names are passed to EventStoreDB as they are given. Events are
// written with the port's event id, so a retried append is one of
// EventStoreDB's idempotent writes, and with the binary content type:
// EventStoreDB keeps only "JSON or not" of an event's content type, so the
// port's content type travels in the event's user metadata, as
// {"contentType": "..."}, and comes back from there.
//
// Reads and subscriptions across all streams skip EventStoreDB's system
// events (streams and event types starting with "$"). [Store.ReadAll]
// filters stream names on the client, since the v4 client's ReadAll takes
// no filter; [Store.Subscribe] asks the server to filter.
//
// Errors are translated at the edge: a wrong expected version is
// [eventstore.ErrConcurrency], a stream that is not found is
// [eventstore.ErrStreamNotFound], an event without a UUID id or a type is
// [eventstore.ErrInvalidEvent] (checked before anything is sent); the
// client's *esdb.Error stays in the chain for errors.As.
//
// The v4.1.0 client gives up for good after failing to reach the server
// MaxDiscoverAttempts times in a row (connection string settings
// maxDiscoverAttempts and discoveryInterval; 10 x 100 ms by default). The
// store then replaces the client, so it recovers once the server is back.
//
// The package esdbtest is a test double of EventStoreDB's gRPC API for
// tests and benchmarks of this adapter where no EventStoreDB can run. The
// tests run the port's conformance suite against it, and against a real
// EventStoreDB when ESDB_URL is set:
//
//	ESDB_URL='esdb://localhost:2113?tls=false' go test -run Conformance ./pkg/eventstore/esdb/
package esdb
