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
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/shopify/service"
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
		fmt.Fprintln(os.Stderr, "shopify:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg service.Config
	if err := service.Load(&cfg); err != nil {
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
	lis, err := net.Listen("tcp", cfg.Shopify.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Shopify.Addr, err)
	}
	return service.Run(ctx, cfg, lis, log)
}
