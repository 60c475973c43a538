// Command devstack is `make run`: every dropsync service in one process on
// the embedded default — an in-process NATS server with JetStream, the
// JetStream event store, data under .data/ — with the platform simulators
// standing in for every platform whose credentials are not set, a demo
// that drives orders through them, and a live view of each store's tabs.
//
// With credentials in the environment (DROPSYNC_SHOPIFY_STORES and the
// store credentials it names, DROPSYNC_ALIEXPRESS_APP_KEY, ...), that
// platform's connector talks to the real platform instead, and the demo
// leaves it alone. Production runs one process per service (deploy/k8s).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/devstack/internal/stack"
)

// serviceName is the service.name of the spans and metrics of every service
// in the dev stack: they share one process and its global providers.
const serviceName = "dropsync-devstack"

func main() {
	docs := flag.Bool("config-docs", false, "print the configuration variables as a Markdown table and exit")
	flag.Parse()
	if *docs {
		if err := config.PrintUsage(os.Stdout, &stack.Config{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg stack.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	logFile, err := stack.OpenLog(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	log := telemetry.NewLogger(logFile, cfg.LogLevel, cfg.LogFormat)
	// Every service runs in this process with its own tracer and meter
	// providers (stack.Start), so each keeps its service.name; the global
	// ones, service.name dropsync-devstack (OTEL_SERVICE_NAME overrides
	// it), hold what is the process's own. The stdout exporter writes to
	// the log file, not over the live view.
	// The live view reads the same instruments the exporters get, through
	// an in-process reader.
	cfg.Metrics = sdkmetric.NewManualReader()
	cfg.TraceWriter = logFile
	shutdown, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: serviceName, Exporter: cfg.TraceExporter, Writer: logFile,
		Readers: []sdkmetric.Reader{cfg.Metrics}})
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	return stack.Run(ctx, cfg, log, os.Stdout)
}
