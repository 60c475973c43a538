// Command shopifysim runs the Shopify simulator (pkg/shopifysim) on a
// listener, for manual testing and the chaos suite (services/chaos): the
// GraphQL Admin API of the shops named in DROPSYNC_SHOPIFY_STORES, signed
// webhooks to the connector, the simulator's control and inspection API
// under /_sim/ (create and pay orders, read orders with their fulfilments,
// customer e-mails and webhooks), and, with -orders-every, a paid order
// placed every so often.
//
// It reads each shop's credentials from the same variables as the
// connector (DROPSYNC_SHOPIFY_STORE_<SLUG>_ACCESS_TOKEN and
// _WEBHOOK_SECRET), so both agree without credentials in the repository.
// Point the connector at it with
// DROPSYNC_SHOPIFY_API_BASE_URL=http://<addr>/{shop}.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/services/shopify/service"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address of the Admin API")
	webhooks := flag.String("webhooks", "http://127.0.0.1:8081"+service.WebhookPath, "where webhooks are delivered (the connector's endpoint)")
	every := flag.Duration("orders-every", 0, "place a paid demo order in every shop this often (0: never)")
	faults := flag.Float64("faults", 0, "share of API calls answered 429, 5xx or (a quarter of it) carried out with the answer lost, and of webhooks duplicated")
	var retries durations
	flag.Var(&retries, "retries", "delays before each retry of a failed webhook, comma-separated (default: the simulator's, 8 retries within seconds)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *webhooks, *every, *faults, retries); err != nil {
		fmt.Fprintln(os.Stderr, "shopifysim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, webhooks string, every time.Duration, faults float64, retries []time.Duration) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	list, err := service.ParseStores(os.Getenv("DROPSYNC_SHOPIFY_STORES"), "", os.LookupEnv, os.ReadFile)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New("DROPSYNC_SHOPIFY_STORES names no store")
	}
	sim := shopifysim.New(shopifysim.Config{Logger: log, Webhooks: shopifysim.WebhookConfig{Retries: retries}, Faults: shopifysim.Faults{
		TooManyRequests: faults * 3 / 8, ServerErrors: faults * 3 / 8, LostResponses: faults / 4, RetryAfter: time.Second, DuplicateWebhooks: faults,
	}})
	defer sim.Close()
	for _, st := range list {
		if st.AccessToken.Empty() || st.WebhookSecret.Empty() {
			return fmt.Errorf("store %s: set %sACCESS_TOKEN and %sWEBHOOK_SECRET", st.Slug, service.CredentialsPrefix(st.Slug), service.CredentialsPrefix(st.Slug))
		}
		if err := sim.AddShop(shopifysim.ShopConfig{
			Domain: st.Domain, AccessToken: st.AccessToken.Reveal(), AppSecret: st.WebhookSecret.Reveal(), WebhookURL: webhooks,
		}); err != nil {
			return err
		}
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Info("shopify simulator ready", "api", "http://"+lis.Addr().String()+"/{shop}", "webhooks", webhooks, "shops", len(list))
	if every > 0 {
		go placeOrders(ctx, sim, list[0].Domain, every, log)
	}
	return sim.Serve(ctx, lis)
}

// placeOrders places a paid order with one or two lines every interval.
func placeOrders(ctx context.Context, sim *shopifysim.Sim, domain string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	products := []shopifysim.NewLine{
		{Title: "Enamel mug", SKU: "MUG-WHITE", Price: "9.95", VariantID: 44000000001, ProductID: 8000000001},
		{Title: "Linen tee", SKU: "TEE-M", Price: "19.90", VariantID: 44000000002, ProductID: 8000000002},
		{Title: "Canvas tote", SKU: "TOTE", Price: "14.50", VariantID: 44000000003, ProductID: 8000000003},
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var lines []shopifysim.NewLine
		for _, i := range rand.Perm(len(products))[:1+rand.IntN(2)] {
			l := products[i]
			l.Quantity = 1 + rand.IntN(3)
			lines = append(lines, l)
		}
		o, err := sim.CreateOrder(domain, shopifysim.NewOrder{
			Email:    "customer@example.com",
			Shipping: shopifysim.Address{FirstName: "Demo", LastName: "Customer", Address1: "1 Example Street", City: "Lisboa", Zip: "1000-001", Country: "Portugal", CountryCode: "PT"},
			Lines:    lines,
			Paid:     true,
		})
		if err != nil {
			log.Warn("demo order", "err", err)
			continue
		}
		log.Info("demo order placed", "shop", domain, "order", o.ID, "name", o.Name)
	}
}

// durations is a comma-separated list of durations, as a flag.
type durations []time.Duration

func (d *durations) String() string { return fmt.Sprint([]time.Duration(*d)) }

func (d *durations) Set(v string) error {
	*d = nil
	for _, f := range strings.Split(v, ",") {
		x, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		*d = append(*d, x)
	}
	return nil
}
