package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
)

// RecoveryPlan is the shape of the recovery measurement (-mode recovery):
// a steady workload, one NATS outage, and how long the system takes to
// catch up.
type RecoveryPlan struct {
	// Plan holds the cluster's settings and the bound of the final settle;
	// nothing is killed at random, no platform call is faulted.
	Plan
	// Rate is how many orders a second customers place, round the three
	// stores.
	Rate float64
	// Warmup is how long the workload runs before nats-server is killed.
	Warmup time.Duration
	// Outage is how long nats-server stays down (SIGKILL; back on the same
	// port and store).
	Outage time.Duration
	// After is how long the workload goes on after the restart.
	After time.Duration
	// ShipDelay bounds the sellers' wait from payment to shipment, so
	// parcels keep appearing at AliExpress during the outage.
	ShipDelay [2]time.Duration
	// InFlight: parcels shipped less than this long before the kill are
	// reported apart, as caught in flight, not as the steady baseline.
	InFlight time.Duration
	// Drain bounds the wait, from the restart, for the backlog to drain.
	Drain time.Duration
}

// Recovery is `make chaos-recovery`: issue 8's 30 s NATS outage under 2
// orders a second.
var Recovery = RecoveryPlan{
	Plan: Plan{Name: "recovery", Settle: 4 * time.Minute},
	Rate: 2, Warmup: 120 * time.Second, Outage: 30 * time.Second, After: 90 * time.Second,
	ShipDelay: [2]time.Duration{2 * time.Second, 40 * time.Second}, InFlight: 30 * time.Second, Drain: 5 * time.Minute,
}

// RecoveryReport is what the recovery measurement found: the run's
// invariant report and the figures.
type RecoveryReport struct {
	*Report
	Recovery RecoveryPlan
	// Begin, Kill and Restart are when the workload started, nats-server
	// was SIGKILLed, and it accepted connections again.
	Begin, Kill, Restart time.Time
	// Orders and Parcels are what the backlog holds: the orders placed on
	// the stores before the restart and the parcels shipped at AliExpress
	// before it.
	Orders, Parcels int
	// Ingested is the time from the restart until the orders service knew
	// every order of the backlog; Settled until it also showed every
	// parcel of the backlog pushed to its store; Delivered until the last
	// of those parcels' fulfilments reached its store simulator. Drained
	// is the greater of Settled and Delivered: the backlog is drained.
	Ingested, Settled, Delivered, Drained time.Duration
	// DrainErr says why the backlog did not drain within Recovery.Drain.
	DrainErr error
	// Latency is tracking -> store per group of parcels, by when they
	// were shipped.
	Latency []LatencyGroup
}

// LatencyGroup is the tracking -> store latency of one group of parcels:
// from the harness shipping a parcel at the AliExpress simulator to the
// store simulator receiving its fulfilment.
type LatencyGroup struct {
	Name string
	// N counts the parcels received; Missing those never received.
	N, Missing    int
	P50, P99, Max time.Duration
	latencies     []time.Duration
	from, to      time.Time // ship times: [from, to)
}

// RunRecovery builds everything, runs plan and returns its report; err is
// for a run that could not be carried out, not for violations.
func RunRecovery(ctx context.Context, plan RecoveryPlan, opts Options) (*RecoveryReport, error) {
	s, err := boot(ctx, plan.Plan, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	w := s.w
	w.shipDelay = plan.ShipDelay
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var bg sync.WaitGroup
	bg.Go(func() { w.merchant(wctx) })
	bg.Go(func() { w.sellers(wctx) })
	stopCustomers := make(chan struct{})
	var customers sync.WaitGroup
	customers.Go(func() { w.steady(wctx, plan.Rate, stopCustomers) })
	rr := &RecoveryReport{Recovery: plan, Begin: time.Now()}
	w.logf("recovery: %.1f orders/s, sellers ship %v-%v after payment; nats-server SIGKILLed after %v for %v",
		plan.Rate, plan.ShipDelay[0], plan.ShipDelay[1], plan.Warmup, plan.Outage)

	if err := rr.outage(ctx, s.c, plan, opts.Out); err != nil {
		return nil, err
	}
	w.logf("recovery: nats-server back %v after the kill; workload goes on for %v", rr.Restart.Sub(rr.Kill).Round(10*time.Millisecond), plan.After)
	stop := time.AfterFunc(time.Until(rr.Restart.Add(plan.After)), func() { close(stopCustomers) })
	defer stop.Stop()
	rr.DrainErr = w.watchDrain(ctx, rr, plan.Drain)
	customers.Wait()

	w.logf("recovery: workload over (%d orders placed); settling for up to %v", len(w.snapshot()), plan.Settle)
	r, err := s.conclude(ctx)
	if err == nil {
		rr.Report = r
		err = w.latencies(ctx, rr)
	}
	stopWork()
	bg.Wait()
	if err != nil {
		return nil, err
	}
	return rr, nil
}

// outage waits out the warm-up, SIGKILLs nats-server and waits until it
// accepts connections again after plan.Outage.
func (rr *RecoveryReport) outage(ctx context.Context, c *cluster, plan RecoveryPlan, out io.Writer) error {
	if !sleepUntil(ctx, rr.Begin.Add(plan.Warmup)) {
		return fmt.Errorf("warm-up: %w", ctx.Err())
	}
	nats := c.procs["nats-server"]
	rr.Kill = time.Now()
	nats.Kill(plan.Outage)
	fmt.Fprintf(out, "%s recovery: nats-server SIGKILLed; back in %v\n", rr.Kill.Format("15:04:05"), plan.Outage)
	if !sleepUntil(ctx, rr.Kill.Add(plan.Outage)) {
		return fmt.Errorf("outage: %w", ctx.Err())
	}
	if err := nats.waitRunning(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if err := waitTCP(ctx, c.addr("nats")); err != nil {
		return fmt.Errorf("restart: nats-server: %w", err)
	}
	rr.Restart = time.Now()
	return nil
}

// watchDrain polls the orders service every 500 ms, for up to limit from
// the restart, until it knows every order placed on a store before the
// restart (rr.Ingested) and shows every parcel shipped at AliExpress
// before the restart as pushed to its store (rr.Settled).
func (w *workload) watchDrain(ctx context.Context, rr *RecoveryReport, limit time.Duration) error {
	var orders []string
	for _, t := range w.snapshot() {
		if t.placedAt.Before(rr.Restart) {
			orders = append(orders, t.ID)
		}
	}
	pending := w.shippedBetween(time.Time{}, rr.Restart)
	rr.Orders, rr.Parcels = len(orders), len(pending)
	owner := map[int64]string{} // AliExpress order -> dropsync order
	deadline := rr.Restart.Add(limit)
	last := time.Now()
	for {
		known, err := w.known(ctx, orders)
		if err == nil && known == len(orders) && rr.Ingested == 0 {
			rr.Ingested = time.Since(rr.Restart)
		}
		if err == nil {
			err = w.pushed(ctx, orders, pending, owner)
		}
		now := time.Now()
		if err == nil && known == len(orders) && len(pending) == 0 {
			rr.Settled = now.Sub(rr.Restart)
			return nil
		}
		if now.After(deadline) {
			return errors.Join(fmt.Errorf("after %v: %d of %d orders known, %d of %d parcels not pushed", limit, known, len(orders), len(pending), rr.Parcels), err)
		}
		if now.Sub(last) > 15*time.Second {
			w.logf("recovery: backlog: %d of %d orders known, %d of %d parcels not pushed yet", known, len(orders), len(pending), rr.Parcels)
			last = now
		}
		if !sleepUntil(ctx, now.Add(500*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

// known counts how many of orders the orders service lists (summaries
// only, 500 a page, at most 100 pages).
func (w *workload) known(ctx context.Context, orders []string) (int, error) {
	listed := map[string]bool{}
	token := ""
	for range 100 {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := w.client.ListOrders(cctx, &ordersv1.ListOrdersRequest{PageSize: 500, PageToken: token})
		cancel()
		if err != nil {
			return 0, fmt.Errorf("list orders: %w", err)
		}
		for _, o := range r.GetOrders() {
			listed[o.GetOrderId()] = true
		}
		if token = r.GetNextPageToken(); token == "" {
			break
		}
	}
	n := 0
	for _, id := range orders {
		if listed[id] {
			n++
		}
	}
	return n, nil
}

// pushed reads the orders that own a pending parcel (all of orders while
// some parcel's AliExpress order has no known owner: its placement may
// not be recorded yet) and removes from pending (tracking number ->
// parcel, numbers unique in a run) every parcel they show PUSHED; owner
// learns which dropsync order each AliExpress order belongs to.
func (w *workload) pushed(ctx context.Context, orders []string, pending map[string]shipment, owner map[int64]string) error {
	read := map[string]bool{}
	for _, p := range pending {
		id, ok := owner[p.AEOrder]
		if !ok {
			read = map[string]bool{}
			for _, id := range orders {
				read[id] = true
			}
			break
		}
		read[id] = true
	}
	for id := range read {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := w.client.GetOrder(cctx, &ordersv1.GetOrderRequest{OrderId: id})
		cancel()
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return fmt.Errorf("get order %s: %w", id, err)
		}
		for _, so := range r.GetOrder().GetSupplierOrders() {
			var ae int64
			if _, err := fmt.Sscan(so.GetSupplierOrderId(), &ae); err == nil {
				owner[ae] = id
			}
		}
		for _, sh := range r.GetOrder().GetShipments() {
			if sh.GetState() == ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED {
				delete(pending, sh.GetTracking().GetNumber())
			}
		}
	}
	return nil
}

// shippedBetween returns the parcels shipped in [from, to).
func (w *workload) shippedBetween(from, to time.Time) map[string]shipment {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]shipment{}
	for no, s := range w.shipped {
		if !s.At.Before(from) && s.At.Before(to) {
			out[no] = s
		}
	}
	return out
}

// latencies reads when each store simulator received each parcel's first
// fulfilment and fills in rr.Delivered, rr.Drained and rr.Latency.
func (w *workload) latencies(ctx context.Context, rr *RecoveryReport) error {
	got, err := w.receipts(ctx)
	if err != nil {
		return err
	}
	for no := range w.shippedBetween(time.Time{}, rr.Restart) {
		if at, ok := got[no]; ok && at.Sub(rr.Restart) > rr.Delivered {
			rr.Delivered = at.Sub(rr.Restart)
		}
	}
	rr.Drained = max(rr.Settled, rr.Delivered)
	drained := rr.Restart.Add(rr.Drained)
	rr.Latency = []LatencyGroup{
		{Name: "steady state (before the kill - in-flight margin)", from: rr.Begin, to: rr.Kill.Add(-rr.Recovery.InFlight)},
		{Name: "in flight at the kill", from: rr.Kill.Add(-rr.Recovery.InFlight), to: rr.Kill},
		{Name: "during the outage", from: rr.Kill, to: rr.Restart},
		{Name: "during recovery (restart -> drained)", from: rr.Restart, to: drained},
		{Name: "outage and recovery (kill -> drained)", from: rr.Kill, to: drained},
		{Name: "after recovery", from: drained, to: time.Now()},
	}
	for i := range rr.Latency {
		g := &rr.Latency[i]
		for no, s := range w.shippedBetween(g.from, g.to) {
			at, ok := got[no]
			if !ok {
				g.Missing++
				continue
			}
			g.latencies = append(g.latencies, at.Sub(s.At))
		}
		g.summarize()
	}
	return nil
}

// summarize sets N, P50, P99 and Max (nearest rank) from the latencies.
func (g *LatencyGroup) summarize() {
	slices.Sort(g.latencies)
	g.N = len(g.latencies)
	if g.N == 0 {
		return
	}
	rank := func(p float64) time.Duration { return g.latencies[int(math.Ceil(p*float64(g.N)))-1] }
	g.P50, g.P99, g.Max = rank(0.50), rank(0.99), g.latencies[g.N-1]
}

// receipts returns, by tracking number, when a store simulator first
// received a fulfilment carrying it (Shopify and WooCommerce: the
// simulators' full-precision receipt times; Wix: the fulfilment's
// createdDate, in milliseconds).
func (w *workload) receipts(ctx context.Context) (map[string]time.Time, error) {
	got := map[string]time.Time{}
	note := func(no string, at time.Time) {
		if first, ok := got[no]; !ok || at.Before(first) {
			got[no] = at
		}
	}
	var shop []shopifysim.Order
	if err := getJSON(ctx, w.c.url("shopifysim")+"/_sim/shops/"+shopDomain+"/orders", &shop, 30*time.Second); err != nil {
		return nil, fmt.Errorf("shopify orders: %w", err)
	}
	for _, o := range shop {
		for _, f := range o.Fulfillments {
			for _, tr := range f.Tracking {
				if f.Status == "success" {
					note(tr.Number, f.ReceivedAt)
				}
			}
		}
	}
	var woo []woocommercesim.OrderState
	if err := getJSON(ctx, w.c.url("woocommercesim")+"/_sim/orders", &woo, 30*time.Second); err != nil {
		return nil, fmt.Errorf("woocommerce orders: %w", err)
	}
	for _, o := range woo {
		for _, tr := range o.Trackings {
			note(tr.Number, tr.ReceivedAt)
		}
	}
	for _, t := range w.snapshot() {
		if t.Platform != "wix" {
			continue
		}
		var fs []wixsim.Fulfillment
		if err := getJSON(ctx, w.c.url("wixsim")+"/_sim/orders/"+t.StoreID+"/fulfillments", &fs, 30*time.Second); err != nil {
			return nil, fmt.Errorf("wix fulfilments of %s: %w", t.ID, err)
		}
		for _, f := range fs {
			at, err := time.Parse(time.RFC3339Nano, f.CreatedDate)
			if f.TrackingInfo == nil || err != nil {
				continue
			}
			note(f.TrackingInfo.TrackingNumber, at)
		}
	}
	return got, nil
}

// Print writes the invariant report, then the recovery figures.
func (rr *RecoveryReport) Print(w io.Writer) {
	rr.Report.Print(w)
	p := rr.Recovery
	fmt.Fprintf(w, "\n== recovery after a %v NATS outage ==\n", p.Outage)
	fmt.Fprintf(w, "workload: %.1f orders/s round the three stores (no faults, no other kills), sellers ship %v-%v after payment; kill %v after the start, restart (listening) %v after the kill\n",
		p.Rate, p.ShipDelay[0], p.ShipDelay[1], rr.Kill.Sub(rr.Begin).Round(time.Second), rr.Restart.Sub(rr.Kill).Round(10*time.Millisecond))
	fmt.Fprintf(w, "backlog at the restart: %d orders placed on the stores, %d parcels shipped at AliExpress\n", rr.Orders, rr.Parcels)
	if rr.DrainErr != nil {
		fmt.Fprintf(w, "NOT DRAINED: %v\n", rr.DrainErr)
	}
	fmt.Fprintf(w, "from the restart: every backlog order known to OrderService %v; every backlog parcel PUSHED there %v; last backlog fulfilment received by its store %v\n",
		rr.Ingested.Round(10*time.Millisecond), rr.Settled.Round(10*time.Millisecond), rr.Delivered.Round(10*time.Millisecond))
	fmt.Fprintf(w, "backlog drained %v after the restart\n", rr.Drained.Round(10*time.Millisecond))
	fmt.Fprintf(w, "tracking -> store latency (AliExpress ship call -> store simulator receipt), by ship time:\n")
	fmt.Fprintf(w, "  %-52s %5s %7s %8s %8s %8s\n", "parcels shipped", "n", "missing", "p50", "p99", "max")
	for _, g := range rr.Latency {
		fmt.Fprintf(w, "  %-52s %5d %7d %8v %8v %8v\n", g.Name, g.N, g.Missing, g.P50.Round(10*time.Millisecond), g.P99.Round(10*time.Millisecond), g.Max.Round(10*time.Millisecond))
	}
	if base, hit := rr.Latency[0], rr.Latency[4]; base.P50 > 0 && base.P99 > 0 {
		fmt.Fprintf(w, "outage and recovery vs steady state: p50 %.1fx, p99 %.1fx, max %.1fx\n",
			ratio(hit.P50, base.P50), ratio(hit.P99, base.P99), ratio(hit.Max, base.Max))
	}
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
