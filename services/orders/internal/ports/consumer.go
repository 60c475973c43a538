package ports

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/dropsync/dropsync/pkg/bus"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Durable consumer names. JetStream keeps each consumer's position under
// its name: renaming one creates a new consumer that replays its whole
// stream (harmless, every fact is deduplicated, but slow).
const (
	// ConsumerStoreEvents takes store events into the order aggregate.
	ConsumerStoreEvents = "orders-store-events"
	// ConsumerSupplierEvents takes supplier events into the order aggregate.
	ConsumerSupplierEvents = "orders-supplier-events"
)

// Facts is what the consumers need of the application.
type Facts interface {
	HandleFact(ctx context.Context, env *eventsv1.Envelope) error
}

// ConsumeFacts consumes store and supplier events into the aggregate until
// ctx ends. Each fact is acked only once its events are appended to the
// event store; a fact that cannot be taken in is dead-lettered with the
// reason by the bus.
func ConsumeFacts(ctx context.Context, consume func(context.Context, bus.ConsumerConfig, bus.Handler) error, base bus.ConsumerConfig, app Facts, log *slog.Logger) error {
	h := func(ctx context.Context, m *bus.Message) error { return app.HandleFact(ctx, m.Envelope) }
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range []struct{ stream, durable string }{
		{bus.StreamStore, ConsumerStoreEvents},
		{bus.StreamSupplier, ConsumerSupplierEvents},
	} {
		cfg := base
		cfg.Stream, cfg.Durable, cfg.Logger = c.stream, c.durable, log
		g.Go(func() error { return consume(ctx, cfg, h) })
	}
	return g.Wait()
}
