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
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/notifier/service"
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
		fmt.Fprintln(os.Stderr, "notifier:", err)
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
