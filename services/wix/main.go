// Command wix is the Wix store connector: it takes Wix's webhooks (JWTs
// signed RS256 with the app's key), reconciles by polling Search Orders,
// publishes store events to NATS JetStream, and carries out the order
// events addressed to Wix stores (fulfil shipped line items with tracking,
// re-read an order).
//
// Configuration comes from DROPSYNC_* environment variables; `wix
// -config-docs` prints them. With no DROPSYNC_NATS_URL it starts an
// embedded NATS server with JetStream and keeps its data in .data/nats.
package main

import (
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
	"github.com/dropsync/dropsync/services/wix/service"
)

func main() {
	launch.Main(launch.Spec[service.Config]{
		Name:      service.Name,
		Load:      func(c *service.Config) error { return config.Load(c) },
		Telemetry: func(c *service.Config) config.Telemetry { return c.Telemetry },
		Addr:      func(c *service.Config) string { return c.Wix.WebhookAddr },
		Run:       service.Run,
	})
}
