package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"

	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
)

// Options say where a run works and what it prints.
type Options struct {
	// Root is the repository root (where go.work is).
	Root string
	// Dir receives the binaries, nats-server's store and every process's
	// log; it is kept after the run.
	Dir string
	// Out receives the progress lines and the report.
	Out io.Writer
}

// Run builds everything, runs plan and returns its report; err is for a
// run that could not be carried out (a build or start failure), not for
// violations (Report.Violations).
func Run(ctx context.Context, plan Plan, opts Options) (*Report, error) {
	s, err := boot(ctx, plan, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	c, w := s.c, s.w
	fmt.Fprintf(opts.Out, "chaos %s: %d orders over %v; a service SIGKILLed every %v-%v, nats-server %d times, %.0f%% platform faults\n",
		plan.Name, plan.Orders, plan.Duration, plan.KillEvery[0], plan.KillEvery[1], plan.NATSKills, plan.Faults*100)
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var bg sync.WaitGroup
	bg.Go(func() { w.merchant(wctx) })
	bg.Go(func() { w.sellers(wctx) })
	chaosCtx, stopChaos := context.WithTimeout(ctx, plan.Duration)
	defer stopChaos()
	var chaos sync.WaitGroup
	chaos.Go(func() { c.killServices(chaosCtx, w) })
	chaos.Go(func() { c.killNATS(chaosCtx, w) })
	chaos.Go(func() { c.redeliver(chaosCtx, w) })
	w.customers(ctx)
	<-chaosCtx.Done()
	chaos.Wait()

	fmt.Fprintf(opts.Out, "chaos %s: workload over (%d orders placed); settling for up to %v\n", plan.Name, len(w.snapshot()), plan.Settle)
	r, err := s.conclude(ctx)
	stopWork()
	bg.Wait()
	return r, err
}

// session is a started cluster and the workload that drives it.
type session struct {
	c     *cluster
	w     *workload
	conn  *grpc.ClientConn
	start time.Time     // when the run began, build included
	built time.Duration // how long the build took
}

// boot builds every binary, starts the cluster and maps the stores'
// variants to the AliExpress catalog; close ends it all.
func boot(ctx context.Context, plan Plan, opts Options) (*session, error) {
	s := &session{start: time.Now()}
	bin := filepath.Join(opts.Dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", bin, err)
	}
	fmt.Fprintf(opts.Out, "chaos %s: building into %s\n", plan.Name, bin)
	if err := Build(ctx, opts.Root, bin); err != nil {
		return nil, err
	}
	s.built = time.Since(s.start)
	c, err := newCluster(opts.Dir, bin, plan)
	if err != nil {
		return nil, err
	}
	s.c = c
	fmt.Fprintf(opts.Out, "chaos %s: built in %v; starting nats-server, 4 simulators and 6 services (logs in %s)\n", plan.Name, s.built.Round(time.Second), opts.Dir)
	if err := c.start(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("start: %w", err)
	}
	dial, err := c.operator()
	if err != nil {
		s.close()
		return nil, err
	}
	if s.conn, err = grpc.NewClient(c.addr("orders"), dial...); err != nil {
		s.close()
		return nil, fmt.Errorf("orders client: %w", err)
	}
	s.w = newWorkload(c, plan, ordersv1.NewOrderServiceClient(s.conn), opts.Out)
	if err := s.w.mapSupplier(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close stops every process and closes the orders client.
func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	if s.c != nil {
		s.c.stop()
	}
}

// conclude waits until every process runs, lets the orders settle within
// the plan's Settle, then reads the invariant report and fills in the
// run's counts. The merchant and the sellers must still be at work.
func (s *session) conclude(ctx context.Context) (*Report, error) {
	c, w := s.c, s.w
	settled := time.Now()
	for _, p := range c.procs {
		if err := p.waitRunning(ctx); err != nil {
			return nil, err
		}
	}
	err := w.settle(ctx, w.plan.Settle)
	settleTime := time.Since(settled)
	// A quiet spell, so a late double has the time to show.
	sleepUntil(ctx, time.Now().Add(5*time.Second))
	r, rerr := w.report(ctx)
	if rerr != nil {
		return nil, rerr
	}
	r.Plan, r.Elapsed, r.Build, r.SettleTime, r.Settled = w.plan, time.Since(s.start), s.built, settleTime, err == nil
	for _, name := range c.order {
		p := c.procs[name]
		starts, kills := p.Counts()
		r.Procs = append(r.Procs, ProcCount{Name: name, Starts: starts, Kills: kills})
		r.SelfExits = append(r.SelfExits, p.Exits()...)
	}
	w.mu.Lock()
	for kind, n := range w.errs {
		r.HarnessErrors = append(r.HarnessErrors, fmt.Sprintf("%s: %d", kind, n))
	}
	w.mu.Unlock()
	return r, nil
}

// killServices SIGKILLs a random service every plan.KillEvery until ctx
// ends; each comes back after plan.ServiceDown.
func (c *cluster) killServices(ctx context.Context, w *workload) {
	for sleepUntil(ctx, time.Now().Add(between(c.plan.KillEvery))) {
		name := Services[rand.IntN(len(Services))]
		c.procs[name].Kill(between(c.plan.ServiceDown))
	}
}

// killNATS SIGKILLs nats-server plan.NATSKills times, evenly within the
// workload; it comes back on the same port and store after plan.NATSDown.
func (c *cluster) killNATS(ctx context.Context, w *workload) {
	start, gap := time.Now(), c.plan.Duration/time.Duration(c.plan.NATSKills+1)
	for i := range c.plan.NATSKills {
		if !sleepUntil(ctx, start.Add(time.Duration(i+1)*gap)) {
			return
		}
		down := between(c.plan.NATSDown)
		w.logf("chaos: nats-server SIGKILLed, down for %v", down.Round(100*time.Millisecond))
		c.procs["nats-server"].Kill(down)
	}
}

// redeliver asks the Shopify and Wix simulators for plan.Redeliveries late
// duplicates of webhooks they delivered, spread over the workload.
func (c *cluster) redeliver(ctx context.Context, w *workload) {
	if c.plan.Redeliveries == 0 {
		return
	}
	every := c.plan.Duration / time.Duration(c.plan.Redeliveries+1)
	for i := 0; i < c.plan.Redeliveries && sleepUntil(ctx, time.Now().Add(every)); i++ {
		var events []string
		sim := []string{"shopifysim", "wixsim"}[i%2]
		if sim == "shopifysim" {
			var ds []shopifysim.Delivery
			if err := getJSON(ctx, c.url(sim)+"/_sim/deliveries", &ds, 0); err != nil {
				w.fail("list Shopify webhooks", err)
				continue
			}
			for _, d := range ds {
				if d.Delivered && !d.Duplicate {
					events = append(events, d.EventID)
				}
			}
		} else {
			var ds []wixsim.Delivery
			if err := getJSON(ctx, c.url(sim)+"/_sim/deliveries", &ds, 0); err != nil {
				w.fail("list Wix webhooks", err)
				continue
			}
			for _, d := range ds {
				if d.Delivered && !d.Duplicate {
					events = append(events, d.EventID)
				}
			}
		}
		if len(events) == 0 {
			continue
		}
		if err := postJSON(ctx, c.url(sim)+"/_sim/deliveries/"+events[rand.IntN(len(events))]+"/redeliver", nil, nil); err != nil {
			w.fail("redeliver a webhook", err)
		}
	}
}

// errUnsettled: the settle time ran out with orders not in their tab.
var errUnsettled = errors.New("orders not settled")
