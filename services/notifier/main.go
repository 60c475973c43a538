// Command notifier issues shipping confirmations: it serves
// dropsync.notifier.v1.ShippingConfirmationService on gRPC, decides once
// per shipment whether the customer is told (the store's setting, and only
// for orders dropsync still syncs), keeps each decision in a JetStream KV
// ledger and publishes ShippingConfirmationIssued for the orders service.
//
// Configuration comes from DROPSYNC_* environment variables; `notifier
// -config-docs` prints them. It reads orders from the orders service at
// DROPSYNC_NOTIFIER_ORDERS_ADDR and must share its NATS (DROPSYNC_NATS_URL).
package main

import (
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
	"github.com/dropsync/dropsync/services/notifier/service"
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
