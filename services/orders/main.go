// Command orders is the order aggregate service: it takes store and
// supplier events in, decides, appends to the event store, publishes order
// events and serves dropsync.orders.v1.OrderService on gRPC.
//
// Configuration comes from DROPSYNC_* environment variables; `orders
// -config-docs` prints them. With no DROPSYNC_NATS_URL it starts an embedded
// NATS server with JetStream and keeps its data in .data/nats.
package main

import (
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
	"github.com/dropsync/dropsync/services/orders/service"
)

func main() {
	launch.Main(launch.Spec[service.Config]{
		Name:      service.Name,
		Load:      func(c *service.Config) error { return config.Load(c) },
		Telemetry: func(c *service.Config) config.Telemetry { return c.Telemetry },
		Addr:      func(c *service.Config) string { return c.ListenAddr(service.DefaultAddr) },
		Run:       service.Run,
	})
}
