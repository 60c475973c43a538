// Package launch is the main of every dropsync service, written once: the
// -config-docs flag, SIGINT/SIGTERM, configuration, the logger, telemetry
// (flushed on the way out), the listener, and the exit code. A service's
// main.go names what differs (its config, its address, its Run) and calls
// [Main].
package launch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Spec is what differs from one service's main to another's. C is the
// service's Config.
type Spec[C any] struct {
	// Name is the service's name: the prefix of its fatal error and the
	// default service.name of its telemetry (OTEL_SERVICE_NAME wins).
	Name string
	// Load reads the configuration from the environment and validates it.
	Load func(cfg *C) error
	// Telemetry is the configuration's logging and telemetry settings.
	Telemetry func(cfg *C) config.Telemetry
	// Addr is the address the service's main listener binds.
	Addr func(cfg *C) string
	// Run serves on lis until ctx ends, logging to log.
	Run func(ctx context.Context, cfg C, lis net.Listener, log *slog.Logger) error
}

// Main runs the service described by spec and exits the process: 1 on an
// error (printed to stderr with the service's name), 0 when it stopped on
// a signal. With -config-docs it prints the configuration variables as a
// Markdown table instead.
func Main[C any](spec Spec[C]) {
	docs := flag.Bool("config-docs", false, "print the configuration variables as a Markdown table and exit")
	flag.Parse()
	if *docs {
		var cfg C
		if err := config.PrintUsage(os.Stdout, &cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, spec, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
		os.Exit(1)
	}
}

// Run is Main without the flags, the signals and the exit: it loads the
// configuration, sets up logging (to logs) and telemetry, binds the
// listener and runs the service until ctx ends, then flushes telemetry.
func Run[C any](ctx context.Context, spec Spec[C], logs io.Writer) error {
	if spec.Load == nil || spec.Telemetry == nil || spec.Addr == nil || spec.Run == nil {
		return errors.New("launch: Spec needs Load, Telemetry, Addr and Run")
	}
	var cfg C
	if err := spec.Load(&cfg); err != nil {
		return err
	}
	tel := spec.Telemetry(&cfg)
	log := telemetry.NewLogger(logs, tel.LogLevel, tel.LogFormat)
	shutdown, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: spec.Name, Exporter: tel.TraceExporter})
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	addr := spec.Addr(&cfg)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return spec.Run(ctx, cfg, lis, log)
}
