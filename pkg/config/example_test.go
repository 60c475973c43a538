package config_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/dropsync/dropsync/pkg/config"
)

// Config is a service's configuration: shared parts, and its own.
type Config struct {
	config.NATS
	config.GRPC
}

// Validate reports every problem at once.
func (c Config) Validate() error { return errors.Join(c.NATS.Validate(), c.GRPC.Validate()) }

func ExampleLoad() {
	_ = os.Setenv("DROPSYNC_NATS_REPLICAS", "3")
	_ = os.Setenv("DROPSYNC_GRPC_PLAINTEXT", "true") // development: gRPC without TLS (the default refuses to start without it)
	defer func() { _ = os.Unsetenv("DROPSYNC_NATS_REPLICAS"); _ = os.Unsetenv("DROPSYNC_GRPC_PLAINTEXT") }()
	var c Config
	if err := config.Load(&c); err != nil {
		panic(err)
	}
	fmt.Println(c.Replicas, c.Embedded(), c.ListenAddr("127.0.0.1:8080"))
	// Output: 3 true 127.0.0.1:8080
}
