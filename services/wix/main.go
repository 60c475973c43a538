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
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/wix/service"
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
		fmt.Fprintln(os.Stderr, "wix:", err)
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
	lis, err := net.Listen("tcp", cfg.Wix.WebhookAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Wix.WebhookAddr, err)
	}
	return service.Run(ctx, cfg, lis, log)
}
