// Package ports is what the AliExpress connector is asked: the
// PlacementRequested commands on the bus and the SupplierSyncService on
// gRPC.
package ports

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
)

// PlacementDurable is the durable consumer of PlacementRequested commands.
// Renaming it replays the ORDER_EVENTS stream's placements: harmless (the
// out_order_id makes AliExpress return the orders it placed, and the
// events have deterministic ids) but slow.
const PlacementDurable = "aliexpress-placements"

// ConsumePlacements runs the placement consumer until ctx ends. cfg
// supplies the tuning (MaxDeliver, AckWait, Concurrency, Logger); stream,
// durable and filter are fixed here.
func ConsumePlacements(ctx context.Context, js jetstream.JetStream, cfg bus.ConsumerConfig, h bus.Handler) error {
	cfg.Stream = bus.StreamOrder
	cfg.Durable = PlacementDurable
	cfg.FilterSubjects = []string{bus.OrderFilter("", "PlacementRequested")}
	return bus.Consume(ctx, js, cfg, h)
}
