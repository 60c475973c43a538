// Package view shows what dropsync is doing, live, in the terminal of
// `make run`: how many orders each store has in each tab, and the latest
// moves of orders between tabs.
package view

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc"

	"github.com/dropsync/dropsync/pkg/metrics"
	aliexpressv1 "github.com/dropsync/dropsync/proto/dropsync/aliexpress/v1"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// Config configures the view.
type Config struct {
	OrdersAddr string
	// SupplierAddr is the AliExpress connector, for its API budget; empty
	// leaves the budget out.
	SupplierAddr string
	// Dial are the options both are dialled with: TLS and a reader's
	// credentials.
	Dial []grpc.DialOption
	// Metrics reads the process's meter provider: the sync legs' p50 and
	// p95, the AliExpress budget, the dead letters and the unhealthy
	// connections are shown from it, the figures the exporters get; nil
	// leaves them out.
	Metrics sdkmetric.Reader
	Out     io.Writer
	Header  string
	// Every is the refresh period; 1s when zero.
	Every time.Duration
}

var tabs = []eventsv1.Tab{
	eventsv1.Tab_TAB_PENDING, eventsv1.Tab_TAB_AWAITING_ORDER, eventsv1.Tab_TAB_AWAITING_PAYMENT,
	eventsv1.Tab_TAB_AWAITING_SHIPMENT, eventsv1.Tab_TAB_AWAITING_FULFILLMENT, eventsv1.Tab_TAB_FULFILLED,
	eventsv1.Tab_TAB_CANCELED, eventsv1.Tab_TAB_FAILED,
}

var short = map[eventsv1.Tab]string{
	eventsv1.Tab_TAB_UNSPECIFIED: "new", eventsv1.Tab_TAB_PENDING: "Pending", eventsv1.Tab_TAB_AWAITING_ORDER: "Aw.order",
	eventsv1.Tab_TAB_AWAITING_PAYMENT: "Aw.payment", eventsv1.Tab_TAB_AWAITING_SHIPMENT: "Aw.shipment",
	eventsv1.Tab_TAB_AWAITING_FULFILLMENT: "Aw.fulfil", eventsv1.Tab_TAB_FULFILLED: "Fulfilled",
	eventsv1.Tab_TAB_CANCELED: "Canceled", eventsv1.Tab_TAB_FAILED: "Failed",
}

type state struct {
	supplier aliexpressv1.SupplierSyncServiceClient
	mu       sync.Mutex
	stores   []string
	moves    []string
}

// Run renders until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	conn, err := grpc.NewClient(cfg.OrdersAddr, cfg.Dial...)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	client := ordersv1.NewOrderServiceClient(conn)
	st := &state{}
	if cfg.SupplierAddr != "" {
		sc, err := grpc.NewClient(cfg.SupplierAddr, cfg.Dial...)
		if err != nil {
			return err
		}
		defer func() { _ = sc.Close() }()
		st.supplier = aliexpressv1.NewSupplierSyncServiceClient(sc)
	}
	go st.watch(ctx, client)
	tty := isTerminal(cfg.Out)
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n++
		if !tty && n%10 != 0 {
			continue // not a terminal: a summary every ten periods
		}
		frame := st.render(ctx, client, cfg.Header)
		if cfg.Metrics != nil {
			frame += "\n" + renderMetrics(ctx, cfg.Metrics)
		}
		if tty {
			fmt.Fprint(cfg.Out, "\033[H\033[2J", frame)
		} else {
			fmt.Fprint(cfg.Out, frame, "\n")
		}
	}
}

func (st *state) watch(ctx context.Context, client ordersv1.OrderServiceClient) {
	for ctx.Err() == nil {
		stream, err := client.WatchOrders(ctx, &ordersv1.WatchOrdersRequest{})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for {
			c, err := stream.Recv()
			if err != nil {
				break
			}
			platform, rest, _ := strings.Cut(c.GetOrderId(), ":")
			store, _, _ := strings.Cut(rest, ":")
			st.mu.Lock()
			if key := platform + ":" + store; !slices.Contains(st.stores, key) {
				st.stores = append(st.stores, key)
				slices.Sort(st.stores)
			}
			st.moves = append(st.moves, fmt.Sprintf("%s  %-28s %11s -> %s",
				c.GetChangedAt().AsTime().Local().Format("15:04:05"), c.GetOrderId(), short[c.GetFrom()], short[c.GetTo()]))
			if len(st.moves) > 14 {
				st.moves = st.moves[len(st.moves)-14:]
			}
			st.mu.Unlock()
		}
		time.Sleep(time.Second)
	}
}

func (st *state) render(ctx context.Context, client ordersv1.OrderServiceClient, header string) string {
	st.mu.Lock()
	stores := slices.Clone(st.stores)
	moves := slices.Clone(st.moves)
	st.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%-22s", header, "store")
	for _, t := range tabs {
		fmt.Fprintf(&b, "%12s", short[t])
	}
	b.WriteString("\n")
	for _, s := range append(stores, "") {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		r, err := client.CountOrders(ctx, &ordersv1.CountOrdersRequest{Store: s})
		cancel()
		name := s
		if s == "" {
			name = "all stores"
		}
		fmt.Fprintf(&b, "%-22s", name)
		if err != nil {
			fmt.Fprintf(&b, "  (orders service: %v)\n", err)
			continue
		}
		counts := map[eventsv1.Tab]int64{}
		for _, c := range r.GetCounts() {
			counts[c.GetTab()] = c.GetCount()
		}
		for _, t := range tabs {
			fmt.Fprintf(&b, "%12d", counts[t])
		}
		b.WriteString("\n")
	}
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	hr, err := client.GetStoreHealth(hctx, &ordersv1.GetStoreHealthRequest{})
	cancel()
	b.WriteString("\n" + formatStoreHealth(hr.GetStores(), err))
	if st.supplier != nil {
		b.WriteString("\n" + st.budget(ctx) + "\n")
	}
	b.WriteString("\nlatest moves\n")
	for _, m := range moves {
		b.WriteString("  " + m + "\n")
	}
	return b.String()
}

// formatStoreHealth is the store connections lines: how many the orders
// service holds unhealthy (StoreConnectionChanged), each with the
// platform's answer and since when.
func formatStoreHealth(hs []*ordersv1.StoreHealth, err error) string {
	if err != nil {
		return fmt.Sprintf("store connections: (orders service: %v)\n", err)
	}
	var bad []*ordersv1.StoreHealth
	for _, h := range hs {
		if !h.GetHealthy() {
			bad = append(bad, h)
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("store connections: %d reported, all healthy\n", len(hs))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "store connections: %d UNHEALTHY of %d (commands held)\n", len(bad), len(hs))
	for _, h := range bad {
		reason := h.GetReason()
		if r := []rune(reason); len(r) > 90 {
			reason = string(r[:90]) + "…"
		}
		fmt.Fprintf(&b, "  %-22s since %s  %s\n", h.GetStore(), h.GetSince().AsTime().Local().Format("15:04:05"), reason)
	}
	return b.String()
}

// budget is the AliExpress line: calls used and left today, the open
// orders followed, the next fixed-time sync, and a limit pause.
func (st *state) budget(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r, err := st.supplier.GetSyncQuota(ctx, &aliexpressv1.GetSyncQuotaRequest{})
	if err != nil {
		return fmt.Sprintf("AliExpress budget: (aliexpress connector: %v)", err)
	}
	bu := r.GetBudget()
	line := fmt.Sprintf("AliExpress %s: %d of %d calls used today, %d left; %d open orders followed",
		bu.GetAccount(), bu.GetUsedToday(), bu.GetDailyLimit(), max(bu.GetDailyLimit()-bu.GetUsedToday(), 0), bu.GetOpenOrders())
	if bu.GetNextFixedSyncAt() != nil {
		line += "; next fixed sync " + bu.GetNextFixedSyncAt().AsTime().Local().Format("15:04")
	}
	if bu.GetPausedUntil() != nil {
		line += "; PAUSED by AliExpress limits until " + bu.GetPausedUntil().AsTime().Local().Format("15:04:05")
	}
	return line
}

// renderMetrics shows the figures of the exported metrics (see
// metrics.Snapshot): per-leg latency, the AliExpress budget, dead letters
// and unhealthy connections.
func renderMetrics(ctx context.Context, r sdkmetric.Reader) string {
	s, err := metrics.Snapshot(ctx, r)
	if err != nil {
		return fmt.Sprintf("metrics: %v\n", err)
	}
	return formatSummary(s)
}

func formatSummary(s metrics.Summary) string {
	var b strings.Builder
	b.WriteString("sync latency (dropsync_sync_leg_duration_seconds)\n")
	if len(s.Legs) == 0 {
		b.WriteString("  none measured yet\n")
	}
	for _, l := range s.Legs {
		fmt.Fprintf(&b, "  %-24s p50 %-10s p95 %-10s (%d)\n", l.Leg, round(l.P50), round(l.P95), l.Count)
	}
	for _, bu := range s.Budgets {
		fmt.Fprintf(&b, "AliExpress budget %s: %d used, %d left of %d\n", bu.Account, bu.Used, bu.Left, bu.Limit)
	}
	if s.DeadLettersTotal == 0 {
		b.WriteString("dead letters: none\n")
	} else {
		streams := make([]string, 0, len(s.DeadLetters))
		for st, n := range s.DeadLetters {
			streams = append(streams, fmt.Sprintf("%s %d", st, n))
		}
		slices.Sort(streams)
		fmt.Fprintf(&b, "dead letters: %d (%s)\n", s.DeadLettersTotal, strings.Join(streams, ", "))
	}
	if len(s.Unhealthy) == 0 {
		b.WriteString("connections: all healthy\n")
	} else {
		fmt.Fprintf(&b, "connections UNHEALTHY: %s\n", strings.Join(s.Unhealthy, ", "))
	}
	return b.String()
}

// round shortens a latency for the view.
func round(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(100 * time.Microsecond).String()
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
