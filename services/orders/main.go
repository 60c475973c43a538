// Command orders is the order aggregate service: it takes store and
// supplier events in, decides, appends to the event store, publishes order
// events and serves dropsync.orders.v1.OrderService on gRPC.
//
// Configuration comes from DROPSYNC_* environment variables; `orders
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
	"github.com/dropsync/dropsync/services/orders/service"
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
		fmt.Fprintln(os.Stderr, "orders:", err)
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
