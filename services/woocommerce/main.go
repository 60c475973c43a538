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
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/woocommerce/service"
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
		fmt.Fprintln(os.Stderr, "woocommerce:", err)
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
	lis, err := net.Listen("tcp", cfg.WooCommerce.WebhookAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.WooCommerce.WebhookAddr, err)
	}
	return service.Run(ctx, cfg, lis, log)
}
