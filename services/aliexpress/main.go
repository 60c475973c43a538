// Command aliexpress is the AliExpress supplier connector: it places the
// orders dropsync decides to place (PlacementRequested), follows the
// AliExpress orders until they ship and finish, publishes supplier events
// to NATS JetStream, and serves dropsync.aliexpress.v1.SupplierSyncService
// on gRPC (manual sync with its quota, API budget, connection health).
//
// Configuration comes from DROPSYNC_* environment variables; `aliexpress
// -config-docs` prints them. Credentials come from the environment (a
// Kubernetes Secret) and are never logged.
package main

import (
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
	"github.com/dropsync/dropsync/services/aliexpress/service"
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
