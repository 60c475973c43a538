// Command chaos runs dropsync's chaos suite (internal/harness): every
// service, nats-server and the four platform simulators as their own
// processes, a bounded workload with random SIGKILLs, platform faults and
// duplicated webhooks, then an invariant report. It exits 1 on any
// violation. `make chaos` runs the long mode; the short one also runs in
// `make test` (TestChaosShort). `make chaos-recovery` runs the recovery
// measurement: a 30 s NATS outage under a steady workload, with the time
// the backlog takes to drain and the tracking -> store latency, next to
// the steady state of the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/services/chaos/internal/harness"
)

func main() {
	mode := flag.String("mode", "long", "long (300 orders over 6 minutes), short (the CI run, about 2 minutes) or recovery (a 30 s NATS outage under a steady workload, measured; about 6 minutes)")
	dir := flag.String("dir", "", "folder for binaries, data and logs (default: a new temporary folder, kept)")
	root := flag.String("root", "", "workspace whose services are built (default: the one this runs in)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, *mode, *dir, *root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// report is what a run prints and judges by.
type report interface {
	Print(w io.Writer)
	Violations() int
}

func run(ctx context.Context, mode, dir, root string) (bool, error) {
	var runPlan func(harness.Options) (report, error)
	if mode == harness.Recovery.Name {
		runPlan = func(o harness.Options) (report, error) { return harness.RunRecovery(ctx, harness.Recovery, o) }
	} else {
		plan, err := harness.PlanFor(mode)
		if err != nil {
			return false, err
		}
		runPlan = func(o harness.Options) (report, error) { return harness.Run(ctx, plan, o) }
	}
	var err error
	if root == "" {
		if root, err = harness.WorkspaceRoot(ctx); err != nil {
			return false, err
		}
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dropsync-chaos-"); err != nil {
			return false, fmt.Errorf("make a temporary folder: %w", err)
		}
	}
	r, err := runPlan(harness.Options{Root: root, Dir: dir, Out: os.Stdout})
	if err != nil {
		return false, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	r.Print(os.Stdout)
	fmt.Printf("logs in %s\n", dir)
	return r.Violations() == 0, nil
}
