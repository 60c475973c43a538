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

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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
	Out          io.Writer
	Header       string
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
	conn, err := grpc.NewClient(cfg.OrdersAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	client := ordersv1.NewOrderServiceClient(conn)
	st := &state{}
	if cfg.SupplierAddr != "" {
		sc, err := grpc.NewClient(cfg.SupplierAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
	if st.supplier != nil {
		b.WriteString("\n" + st.budget(ctx) + "\n")
	}
	b.WriteString("\nlatest moves\n")
	for _, m := range moves {
		b.WriteString("  " + m + "\n")
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
