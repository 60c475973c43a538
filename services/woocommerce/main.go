// Command woocommerce is the WooCommerce store connector: it takes the
// stores' webhooks (verified), reconciles by polling the REST API, publishes
// store events to NATS JetStream, and carries out the order events
// addressed to WooCommerce stores (fulfil: write tracking, mark the order
// completed once; re-read an order).
//
// Configuration comes from DROPSYNC_* environment variables; `woocommerce
// -config-docs` prints them. With no DROPSYNC_NATS_URL it starts an embedded
// NATS server with JetStream and keeps its data in .data/nats.
package main

import (
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
	"github.com/dropsync/dropsync/services/woocommerce/service"
)

func main() {
	launch.Main(launch.Spec[service.Config]{
		Name:      service.Name,
		Load:      func(c *service.Config) error { return service.Load(c) },
		Telemetry: func(c *service.Config) config.Telemetry { return c.Telemetry },
		Addr:      func(c *service.Config) string { return c.WooCommerce.WebhookAddr },
		Run:       service.Run,
	})
}
