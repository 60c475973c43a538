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
	// ConsumerServiceFacts takes facts other dropsync services record on
	// the order stream (the notifier's ShippingConfirmationIssued) into the
	// order aggregate. The relay publishes them again after the append with
	// the same event id: JetStream drops that copy, and the aggregate would.
	ConsumerServiceFacts = "orders-service-facts"
)

// ServiceFactTypes are the order-stream event types that other services
// decide and the order aggregate takes in as facts.
var ServiceFactTypes = []string{"ShippingConfirmationIssued"}

// Facts is what the consumers need of the application.
type Facts interface {
	HandleFact(ctx context.Context, env *eventsv1.Envelope) error
}

// ConsumeFacts consumes store and supplier events, and the facts other
// services record (ServiceFactTypes), into the aggregate until
// ctx ends. Each fact is acked only once its events are appended to the
// event store; a fact that cannot be taken in is dead-lettered with the
// reason by the bus.
func ConsumeFacts(ctx context.Context, consume func(context.Context, bus.ConsumerConfig, bus.Handler) error, base bus.ConsumerConfig, app Facts, log *slog.Logger) error {
	h := func(ctx context.Context, m *bus.Message) error { return app.HandleFact(ctx, m.Envelope) }
	var serviceFacts []string
	for _, t := range ServiceFactTypes {
		serviceFacts = append(serviceFacts, bus.OrderFilter("", t))
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range []struct {
		stream, durable string
		filter          []string
	}{
		{bus.StreamStore, ConsumerStoreEvents, nil},
		{bus.StreamSupplier, ConsumerSupplierEvents, nil},
		{bus.StreamOrder, ConsumerServiceFacts, serviceFacts},
	} {
		cfg := base
		cfg.Stream, cfg.Durable, cfg.FilterSubjects, cfg.Logger = c.stream, c.durable, c.filter, log
		g.Go(func() error {
			if err := consume(ctx, cfg, h); err != nil && ctx.Err() == nil {
				return err
			}
			return nil // stopping: whatever was cut short is redelivered
		})
	}
	return g.Wait()
}
