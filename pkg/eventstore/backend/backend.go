// Package backend opens the event store adapter a service's configuration
// names: the JetStream store on the service's NATS connection (the embedded
// default), or EventStoreDB.
package backend

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
)

// Open returns the configured event store. js is used by the jetstream
// backend; replicas sizes its stream.
func Open(ctx context.Context, cfg config.EventStore, js jetstream.JetStream, replicas int, log *slog.Logger) (eventstore.Store, error) {
	switch cfg.Backend {
	case "jetstream":
		return jsstore.New(ctx, js, jsstore.Config{Stream: cfg.Stream, Replicas: replicas})
	case "esdb":
		return esdb.New(esdb.Config{ConnectionString: cfg.ESDBURL, Logger: log})
	default:
		return nil, fmt.Errorf("event store backend %q: not jetstream or esdb", cfg.Backend)
	}
}
