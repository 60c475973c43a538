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
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/aliexpress/service"
)

func main() {
	docs := flag.Bool("config-docs", false, "print the configuration variables as a Markdown table and exit")
	flag.Parse()
	if *docs {
		if err := config.PrintUsage(os.Stdout, &service.Config{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "aliexpress:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg service.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	log := telemetry.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	shutdown, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: service.Name, Exporter: cfg.TraceExporter})
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	addr := cfg.ListenAddr(service.DefaultAddr)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return service.Run(ctx, cfg, lis, log)
}
