package service_test

import (
	"slices"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/services/wix/service"
)

// TestCommandRetryDefaultsAreThePolicy: the connector retries a command
// that fails transiently for about a day, the same as every connector.
func TestCommandRetryDefaultsAreThePolicy(t *testing.T) {
	var cfg service.Config
	if err := envconfig.Process(config.Prefix, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Wix.MaxDeliver != bus.CommandMaxDeliver || !slices.Equal(cfg.Wix.RetryBackoff, bus.CommandBackoff) {
		t.Fatalf("max deliver %d, backoff %v; want bus.CommandMaxDeliver and bus.CommandBackoff", cfg.Wix.MaxDeliver, cfg.Wix.RetryBackoff)
	}
}
