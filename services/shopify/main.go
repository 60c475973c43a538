// Command shopify is the dropsync Shopify connector: it takes the stores'
// webhooks (verified, stored on JetStream before Shopify gets its 200),
// reconciles what webhooks missed by polling the GraphQL Admin API, and
// carries out the orders service's commands addressed to Shopify stores
// (fulfilments with tracking, tracking changes, re-reads).
//
// Configuration comes from DROPSYNC_* environment variables; `shopify
// -config-docs` prints them. With no DROPSYNC_NATS_URL it starts an
// embedded NATS server with JetStream and keeps its data in .data/nats.
package main

import (
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
	"github.com/dropsync/dropsync/services/shopify/service"
)

func main() {
	launch.Main(launch.Spec[service.Config]{
		Name:      service.Name,
		Load:      func(c *service.Config) error { return service.Load(c) },
		Telemetry: func(c *service.Config) config.Telemetry { return c.Telemetry },
		Addr:      func(c *service.Config) string { return c.Shopify.Addr },
		Run:       service.Run,
	})
}
