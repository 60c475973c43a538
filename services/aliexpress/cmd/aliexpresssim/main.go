// Command aliexpresssim runs the AliExpress simulator (pkg/aliexpresssim)
// on a listener, for manual testing and the chaos suite (services/chaos):
// the Open Platform gateway for the app in DROPSYNC_ALIEXPRESS_APP_KEY and
// _APP_SECRET (the connector's own variables), a demo catalog of two
// sellers, and the simulator's controls under /_sim/ (pay, ship, cancel,
// GET /_sim/orders), plus two of this command's own:
//
//	GET /_sim/token    -> aliexpresssim.Token of the buyer account, for
//	                      DROPSYNC_ALIEXPRESS_ACCESS_TOKEN and _REFRESH_TOKEN
//	GET /_sim/products -> []aliexpresssim.Product, the catalog
//
// Point the connector at it with DROPSYNC_ALIEXPRESS_GATEWAY_URL=http://<addr>.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8095", "listen address of the gateway and /_sim/ controls")
	account := flag.String("account", "buyer", "the buyer account the token is issued for")
	faults := flag.Float64("faults", 0, "share of API calls answered 500 or 503")
	visible := flag.Duration("visible-after", 10*time.Second, "how long after creation an order is visible (AliExpress: about 10 s)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *account, *faults, *visible); err != nil {
		fmt.Fprintln(os.Stderr, "aliexpresssim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, account string, faults float64, visible time.Duration) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	key, secret := os.Getenv("DROPSYNC_ALIEXPRESS_APP_KEY"), os.Getenv("DROPSYNC_ALIEXPRESS_APP_SECRET")
	if key == "" || secret == "" {
		return errors.New("set DROPSYNC_ALIEXPRESS_APP_KEY and DROPSYNC_ALIEXPRESS_APP_SECRET")
	}
	sim := aliexpresssim.New(aliexpresssim.Config{VisibleAfter: visible})
	sim.AddApp(key, secret)
	for _, p := range catalog() {
		sim.AddProduct(p)
	}
	tok, err := sim.IssueToken(key, account)
	if err != nil {
		return fmt.Errorf("issue token: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/token", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, tok) })
	mux.HandleFunc("GET /_sim/products", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, catalog()) })
	mux.Handle("/_sim/", sim)
	mux.Handle("/", withFaults(sim, faults))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Info("aliexpress simulator ready", "gateway", "http://"+lis.Addr().String(), "account", account)
	return serve(ctx, lis, mux)
}

// withFaults injects a 500 or 503 into the share faults of API calls.
func withFaults(sim *aliexpresssim.Sim, faults float64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rand.Float64() < faults {
			sim.InjectFault(aliexpresssim.Fault{Kind: aliexpresssim.FaultStatus, Status: []int{500, 503}[rand.IntN(2)]})
		}
		sim.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func serve(ctx context.Context, lis net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// catalog is the simulated catalog: two sellers, so an order of both
// products becomes two AliExpress orders.
func catalog() []aliexpresssim.Product {
	return []aliexpresssim.Product{
		{ID: "1005001000000001", SellerID: "9001", StoreName: "Demo Mugs", Title: "Ceramic mug",
			SKUs:            []aliexpresssim.SKU{{ID: "12000037255569170", Attr: "14:200013901#White", Stock: 1000000, PriceCents: 350}},
			ShippingMethods: []string{"CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD"}},
		{ID: "1005001000000002", SellerID: "9002", StoreName: "Demo Tees", Title: "Cotton T-shirt",
			SKUs:            []aliexpresssim.SKU{{ID: "12000040000000001", Attr: "5:361386", Stock: 1000000, PriceCents: 800}},
			ShippingMethods: []string{"CAINIAO_STANDARD", "YANWEN_JYT"}},
	}
}
