// Command chaos runs dropsync's chaos suite (internal/harness): every
// service, nats-server and the four platform simulators as their own
// processes, a bounded workload with random SIGKILLs, platform faults and
// duplicated webhooks, then an invariant report. It exits 1 on any
// violation. `make chaos` runs the long mode; the short one also runs in
// `make test` (TestChaosShort).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/services/chaos/internal/harness"
)

func main() {
	mode := flag.String("mode", "long", "long (300 orders over 6 minutes) or short (the CI run, about 2 minutes)")
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

func run(ctx context.Context, mode, dir, root string) (bool, error) {
	plan, err := harness.PlanFor(mode)
	if err != nil {
		return false, err
	}
	if root == "" {
		if root, err = harness.WorkspaceRoot(ctx); err != nil {
			return false, err
		}
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dropsync-chaos-"); err != nil {
			return false, err
		}
	}
	r, err := harness.Run(ctx, plan, harness.Options{Root: root, Dir: dir, Out: os.Stdout})
	if err != nil {
		return false, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	r.Print(os.Stdout)
	fmt.Printf("logs in %s\n", dir)
	return r.Violations() == 0, nil
}
