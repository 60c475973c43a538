package launch_test

import (
	"context"
	"log/slog"
	"net"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/launch"
)

// exampleConfig is a service's Config: sub-structs with envconfig tags and
// a Validate that reports every problem.
type exampleConfig struct {
	config.Telemetry
	Addr string `envconfig:"ADDR" default:"127.0.0.1:8080" desc:"listen address"`
}

func (c *exampleConfig) Validate() error { return c.Telemetry.Validate() }

// A service's whole main.go: what differs from the others.
func ExampleMain() {
	launch.Main(launch.Spec[exampleConfig]{
		Name:      "example",
		Load:      func(c *exampleConfig) error { return config.Load(c) },
		Telemetry: func(c *exampleConfig) config.Telemetry { return c.Telemetry },
		Addr:      func(c *exampleConfig) string { return c.Addr },
		Run: func(ctx context.Context, _ exampleConfig, lis net.Listener, log *slog.Logger) error {
			log.Info("serving", "addr", lis.Addr())
			<-ctx.Done()
			return lis.Close()
		},
	})
}
