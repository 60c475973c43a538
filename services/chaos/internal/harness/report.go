package harness

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
)

// Report is what a run found. Every list but Procs and HarnessErrors
// holds violations.
type Report struct {
	Plan       Plan
	Orders     int
	Elapsed    time.Duration
	Build      time.Duration
	SettleTime time.Duration
	// Settled: every order reached its tab within Plan.Settle.
	Settled bool
	Procs   []ProcCount

	// Lost are store orders the orders service does not know.
	Lost []string
	// WrongTab are orders not in the tab their story leads to (Fulfilled
	// with every shipment pushed; Pending for the never paid).
	WrongTab []string
	// DoubledFulfilments are store fulfilments of one shipment (tracking
	// number) beyond the first; MissingFulfilments shipments with none.
	DoubledFulfilments, MissingFulfilments []string
	// DoubledEmails are shipping confirmations beyond one per shipment
	// (WooCommerce: one per order).
	DoubledEmails []string
	// DoubledPlacements are AliExpress orders beyond one per order and
	// seller, or placed for no order dropsync knows.
	DoubledPlacements []string
	// DeadLetters are the messages in the DEAD_LETTER stream, with reasons.
	DeadLetters []string
	// SelfExits are process exits the harness did not cause.
	SelfExits []Exit

	// HarnessErrors count the harness's own failed calls (not violations:
	// the simulators' controls are never faulted, so these are rare).
	HarnessErrors []string
}

// ProcCount is how often one process was started and killed.
type ProcCount struct {
	Name          string
	Starts, Kills int
}

// Violations counts what the run found wrong.
func (r *Report) Violations() int {
	return len(r.Lost) + len(r.WrongTab) + len(r.DoubledFulfilments) + len(r.MissingFulfilments) +
		len(r.DoubledEmails) + len(r.DoubledPlacements) + len(r.DeadLetters) + len(r.SelfExits)
}

// Print writes the report.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\n== chaos %s: invariant report ==\n", r.Plan.Name)
	fmt.Fprintf(w, "orders: %d; wall time %v (build %v, settle %v, settled: %v)\n",
		r.Orders, r.Elapsed.Round(time.Second), r.Build.Round(time.Second), r.SettleTime.Round(time.Second), r.Settled)
	var kills []string
	for _, p := range r.Procs {
		kills = append(kills, fmt.Sprintf("%s %d/%d", p.Name, p.Kills, p.Starts))
	}
	fmt.Fprintf(w, "SIGKILLs/starts: %s\n", strings.Join(kills, ", "))
	section := func(name string, items []string) {
		fmt.Fprintf(w, "%-46s %d\n", name+":", len(items))
		for i, it := range items {
			if i == 20 {
				fmt.Fprintf(w, "    ... %d more\n", len(items)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", it)
		}
	}
	section("lost orders", r.Lost)
	section("orders not in their right tab", r.WrongTab)
	section("doubled fulfilments (per shipment)", r.DoubledFulfilments)
	section("missing fulfilments (shipped, not on the store)", r.MissingFulfilments)
	section("doubled shipping e-mails", r.DoubledEmails)
	section("doubled AliExpress placements", r.DoubledPlacements)
	section("dead letters", r.DeadLetters)
	var exits []string
	for _, e := range r.SelfExits {
		exits = append(exits, fmt.Sprintf("%s at %s: %s\n      %s", e.Proc, e.At.Format("15:04:05"), e.Err, strings.ReplaceAll(e.Tail, "\n", "\n      ")))
	}
	section("services that exited on their own", exits)
	if len(r.HarnessErrors) > 0 {
		sort.Strings(r.HarnessErrors)
		fmt.Fprintf(w, "harness call failures (not violations): %s\n", strings.Join(r.HarnessErrors, "; "))
	}
	verdict := "PASS"
	if n := r.Violations(); n > 0 {
		verdict = fmt.Sprintf("FAIL: %d violations", n)
	}
	fmt.Fprintf(w, "== %s ==\n", verdict)
}

// expected is the tab an order's story leads to.
func (t *tracked) expected() eventsv1.Tab {
	if t.Unpaid {
		return eventsv1.Tab_TAB_PENDING
	}
	return eventsv1.Tab_TAB_FULFILLED
}

// inTab reports whether o is where t belongs, with every shipment pushed.
func (t *tracked) inTab(o *ordersv1.Order) error {
	if o.GetTab() != t.expected() {
		return fmt.Errorf("in %v, want %v", o.GetTab(), t.expected())
	}
	for _, sh := range o.GetShipments() {
		if sh.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED {
			return fmt.Errorf("in %v, shipment %s %v", o.GetTab(), sh.GetTracking().GetNumber(), sh.GetState())
		}
	}
	return nil
}

// getOrder reads one order, retrying a moment if the service is away.
func (w *workload) getOrder(ctx context.Context, id string) (*ordersv1.Order, error) {
	var o *ordersv1.Order
	err := poll(ctx, 10*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := w.client.GetOrder(cctx, &ordersv1.GetOrderRequest{OrderId: id})
		if status.Code(err) == codes.NotFound {
			return nil
		}
		o = r.GetOrder()
		return err
	})
	return o, err
}

// settle waits until every order is in its tab and every AliExpress order
// is shipped in full, or limit passes.
func (w *workload) settle(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last := time.Time{}
	for {
		left, why := 0, ""
		for _, t := range w.snapshot() {
			o, err := w.getOrder(ctx, t.ID)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				left, why = left+1, t.ID+": cannot be read: "+err.Error()
				continue
			}
			if o == nil {
				left, why = left+1, t.ID+": unknown to the orders service"
				continue
			}
			if err := t.inTab(o); err != nil {
				left, why = left+1, t.ID+": "+err.Error()
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d left", errUnsettled, left)
		}
		if time.Since(last) > 15*time.Second {
			w.logf("settle: %d orders not yet in their tab (e.g. %s)", left, why)
			last = time.Now()
		}
		if !sleepUntil(ctx, time.Now().Add(2*time.Second)) {
			return ctx.Err()
		}
	}
}

// report reads the final state from the orders service, the simulators
// and the dead-letter stream and checks the invariants.
func (w *workload) report(ctx context.Context) (*Report, error) {
	r := &Report{}
	orders := w.snapshot()
	r.Orders = len(orders)
	var ae []aliexpresssim.Order
	if err := getJSON(ctx, w.c.url("aliexpresssim")+"/_sim/orders", &ae, 30*time.Second); err != nil {
		return nil, fmt.Errorf("aliexpress orders: %w", err)
	}
	aeStatus := map[string]string{}
	for _, o := range ae {
		aeStatus[itoa(o.ID)] = fmt.Sprintf("%s, %d parcels", o.Status, len(o.Packages))
	}
	views := map[string]*ordersv1.Order{}
	for _, t := range orders {
		o, err := w.getOrder(ctx, t.ID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.WrongTab = append(r.WrongTab, t.ID+": cannot be read: "+err.Error())
			continue
		}
		if o == nil {
			r.Lost = append(r.Lost, fmt.Sprintf("%s (unpaid: %v)", t.ID, t.Unpaid))
			continue
		}
		views[t.ID] = o
		if err := t.inTab(o); err != nil {
			r.WrongTab = append(r.WrongTab, t.ID+": "+err.Error()+attention(o)+supplierState(o, aeStatus))
		}
	}
	parcels := checkPlacements(r, views, ae)
	if err := w.checkStores(ctx, r, orders, parcels); err != nil {
		return nil, err
	}
	if err := w.checkDeadLetters(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// supplierState says where the order's AliExpress orders stand at AliExpress.
func supplierState(o *ordersv1.Order, status map[string]string) string {
	var out []string
	for _, so := range o.GetSupplierOrders() {
		out = append(out, so.GetSupplierOrderId()+" "+status[so.GetSupplierOrderId()])
	}
	if len(out) == 0 {
		return ""
	}
	return " (at AliExpress: " + strings.Join(out, "; ") + ")"
}

func attention(o *ordersv1.Order) string {
	var out []string
	for _, a := range o.GetAttention() {
		out = append(out, a.String())
	}
	if f := o.GetFailure(); f != nil {
		out = append(out, "failure "+f.String())
	}
	if len(out) == 0 {
		return ""
	}
	return " [" + strings.Join(out, "; ") + "]"
}

// checkPlacements checks that every order has one AliExpress order per
// seller, all from one placement, and that AliExpress holds no order
// dropsync does not know; it returns each order's parcels (tracking
// numbers) as AliExpress shipped them.
func checkPlacements(r *Report, views map[string]*ordersv1.Order, list []aliexpresssim.Order) map[string][]string {
	byID := map[int64]aliexpresssim.Order{}
	for _, o := range list {
		byID[o.ID] = o
	}
	owner := map[int64]string{} // AliExpress order -> dropsync order
	parcels := map[string][]string{}
	for id, v := range views {
		sellers, outs := map[string]int{}, map[string]bool{}
		for _, so := range v.GetSupplierOrders() {
			var ae int64
			if _, err := fmt.Sscan(so.GetSupplierOrderId(), &ae); err != nil {
				r.DoubledPlacements = append(r.DoubledPlacements, fmt.Sprintf("%s: supplier order %q is not an AliExpress id", id, so.GetSupplierOrderId()))
				continue
			}
			owner[ae] = id
			o, ok := byID[ae]
			if !ok {
				r.DoubledPlacements = append(r.DoubledPlacements, fmt.Sprintf("%s: supplier order %d unknown to AliExpress", id, ae))
				continue
			}
			for _, p := range o.Packages {
				parcels[id] = append(parcels[id], p.LogisticsNo)
			}
			if so.GetCanceled() {
				continue
			}
			sellers[o.SellerID]++
			outs[o.OutOrderID] = true
		}
		for seller, n := range sellers {
			if n > 1 {
				r.DoubledPlacements = append(r.DoubledPlacements, fmt.Sprintf("%s: %d AliExpress orders at seller %s", id, n, seller))
			}
		}
		if len(outs) > 1 {
			r.DoubledPlacements = append(r.DoubledPlacements, fmt.Sprintf("%s: placed %d times (out_order_ids %v)", id, len(outs), keys(outs)))
		}
	}
	for _, o := range list {
		if _, ok := owner[o.ID]; !ok {
			r.DoubledPlacements = append(r.DoubledPlacements, fmt.Sprintf("AliExpress order %d (out_order_id %s, %s) belongs to no dropsync order", o.ID, o.OutOrderID, o.Status))
		}
	}
	return parcels
}

// checkStores compares each store's fulfilments and e-mails with the
// parcels AliExpress shipped.
func (w *workload) checkStores(ctx context.Context, r *Report, orders []*tracked, parcels map[string][]string) error {
	var shop []shopifysim.Order
	if err := getJSON(ctx, w.c.url("shopifysim")+"/_sim/shops/"+shopDomain+"/orders", &shop, 30*time.Second); err != nil {
		return fmt.Errorf("shopify orders: %w", err)
	}
	var notes []shopifysim.Notification
	if err := getJSON(ctx, w.c.url("shopifysim")+"/_sim/notifications", &notes, 30*time.Second); err != nil {
		return fmt.Errorf("shopify notifications: %w", err)
	}
	var woo []woocommercesim.OrderState
	if err := getJSON(ctx, w.c.url("woocommercesim")+"/_sim/orders", &woo, 30*time.Second); err != nil {
		return fmt.Errorf("woocommerce orders: %w", err)
	}
	var wixMails []wixsim.Email
	if err := getJSON(ctx, w.c.url("wixsim")+"/_sim/emails", &wixMails, 30*time.Second); err != nil {
		return fmt.Errorf("wix e-mails: %w", err)
	}
	shopByID := map[string]shopifysim.Order{}
	for _, o := range shop {
		shopByID[itoa(o.ID)] = o
	}
	wooByID := map[string]woocommercesim.OrderState{}
	for _, o := range woo {
		wooByID[itoa(o.ID)] = o
	}
	mailsPerFulfilment := map[int64]int{}
	for _, n := range notes {
		if n.Kind == "shipping_confirmation" {
			mailsPerFulfilment[n.FulfillmentID]++
		}
	}
	wixMailsPer := map[string]int{}
	for _, m := range wixMails {
		wixMailsPer[m.OrderID+" "+m.TrackingNumber]++
	}
	for _, t := range orders {
		numbers := map[string]int{} // tracking number -> store fulfilments carrying it
		switch t.Platform {
		case "shopify":
			for _, f := range shopByID[t.StoreID].Fulfillments {
				if f.Status != "success" {
					continue
				}
				for _, tr := range f.Tracking {
					numbers[tr.Number]++
				}
				if n := mailsPerFulfilment[f.ID]; n > 1 {
					r.DoubledEmails = append(r.DoubledEmails, fmt.Sprintf("%s: %d shipping confirmations for fulfilment %d", t.ID, n, f.ID))
				}
			}
		case "woocommerce":
			st := wooByID[t.StoreID]
			for _, tr := range st.Trackings {
				numbers[tr.Number]++
			}
			if st.ShippingEmails > 1 {
				r.DoubledEmails = append(r.DoubledEmails, fmt.Sprintf("%s: %d shipping e-mails (Completed and notes)", t.ID, st.ShippingEmails))
			}
		case "wix":
			var fs []wixsim.Fulfillment
			if err := getJSON(ctx, w.c.url("wixsim")+"/_sim/orders/"+t.StoreID+"/fulfillments", &fs, 30*time.Second); err != nil {
				return fmt.Errorf("wix fulfilments of %s: %w", t.ID, err)
			}
			for _, f := range fs {
				if f.TrackingInfo != nil {
					numbers[f.TrackingInfo.TrackingNumber]++
				}
			}
			for no := range numbers {
				if n := wixMailsPer[t.StoreID+" "+no]; n > 1 {
					r.DoubledEmails = append(r.DoubledEmails, fmt.Sprintf("%s: %d shipping confirmations for parcel %s", t.ID, n, no))
				}
			}
		}
		for no, n := range numbers {
			if n > 1 {
				r.DoubledFulfilments = append(r.DoubledFulfilments, fmt.Sprintf("%s: %d fulfilments of parcel %s", t.ID, n, no))
			}
		}
		for _, no := range parcels[t.ID] {
			if numbers[no] == 0 {
				r.MissingFulfilments = append(r.MissingFulfilments, fmt.Sprintf("%s: parcel %s shipped, no fulfilment on %s", t.ID, no, t.Platform))
			}
		}
	}
	return nil
}

// checkDeadLetters lists the DEAD_LETTER stream.
func (w *workload) checkDeadLetters(ctx context.Context, r *Report) error {
	nc, err := nats.Connect("nats://"+w.c.addr("nats"), nats.Name("chaos-harness"), nats.Timeout(5*time.Second),
		nats.UserInfo(harnessUser.Name, w.c.natsPW[harnessUser.Name]))
	if err != nil {
		return fmt.Errorf("connect to nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dls, err := bus.DeadLetters(cctx, js, "", 0)
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	for _, d := range dls {
		r.DeadLetters = append(r.DeadLetters, fmt.Sprintf("%s %s (consumer %s, %d deliveries, order %s): %s",
			d.Stream, d.Header.Get(bus.HeaderEventType), d.Consumer, d.Deliveries, d.Header.Get(bus.HeaderOrderID), d.Reason))
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
