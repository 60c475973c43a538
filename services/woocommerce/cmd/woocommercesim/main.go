// Command woocommercesim runs the WooCommerce simulator (pkg/woocommercesim)
// on a listener, for manual testing and the chaos suite (services/chaos):
// the REST API v3 and the Shipment Tracking extension of the first store
// named in DROPSYNC_WOOCOMMERCE_STORES, its webhooks (order.created,
// order.updated, order.deleted) sent to the connector, the simulator's
// control and inspection API under /_sim/ (create and pay orders, read each
// order's status, trackings and e-mails), and, with -orders-every, a paid
// order placed every so often.
//
// It reads the store's credentials from the same references as the
// connector (credentials_ref), so both agree without credentials in the
// repository. The store's site_url must be this simulator's address
// (http://127.0.0.1:8093 by default): over plain HTTP the connector signs
// with OAuth 1.0a, whose base string holds the site URL.
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

	"github.com/dropsync/dropsync/pkg/woocommercesim"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8093", "listen address of the store (the store's site_url must point here)")
	webhooks := flag.String("webhooks", "http://127.0.0.1:8092/webhooks/woocommerce", "where webhooks are delivered (the connector's endpoint)")
	every := flag.Duration("orders-every", 0, "place a paid demo order this often (0: never)")
	faults := flag.Float64("faults", 0, "share of API calls answered 429 or 5xx, and of webhooks dropped")
	tracking := flag.Bool("shipment-tracking", true, "install the Shipment Tracking extension")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *webhooks, *every, *faults, *tracking); err != nil {
		fmt.Fprintln(os.Stderr, "woocommercesim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, webhooks string, every time.Duration, faults float64, tracking bool) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	specs, err := stores.ParseSpecs(os.Getenv("DROPSYNC_WOOCOMMERCE_STORES"))
	if err != nil {
		return err
	}
	list, err := stores.Resolve(specs, os.LookupEnv, os.ReadFile)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return errors.New("DROPSYNC_WOOCOMMERCE_STORES names no store")
	}
	st := list[0]
	site := "http://" + addr
	if !strings.EqualFold(strings.TrimRight(st.SiteURL, "/"), site) {
		log.Warn("the store's site_url is not this simulator: OAuth signatures will not match", "site_url", st.SiteURL, "simulator", site)
	}
	sim := woocommercesim.New(woocommercesim.Config{
		SiteURL: site, ConsumerKey: st.ConsumerKey.Reveal(), ConsumerSecret: st.ConsumerSecret.Reveal(),
		ShipmentTracking: tracking, Logger: log,
		Faults: woocommercesim.Faults{TooManyRequests: faults / 2, ServerErrors: faults / 2, DropWebhooks: faults},
	})
	defer sim.Close()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- sim.Serve(ctx, lis) }()
	for _, topic := range []string{"order.created", "order.updated", "order.deleted"} {
		if _, err := sim.AddWebhook(woocommercesim.WebhookConfig{Name: "dropsync " + topic, Topic: topic, DeliveryURL: webhooks, Secret: st.WebhookSecret.Reveal()}); err != nil {
			// As in WooCommerce, the webhook stays registered; the ping is
			// sent again only when it is saved again.
			log.Warn("webhook ping failed (is the connector running?)", "topic", topic, "err", err)
		}
	}
	log.Info("woocommerce simulator ready", "site", site, "webhooks", webhooks, "store", st.Slug)
	if every > 0 {
		go placeOrders(ctx, sim, every, log)
	}
	return <-errc
}

// placeOrders places a paid order with one or two lines every interval.
func placeOrders(ctx context.Context, sim *woocommercesim.Sim, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	products := []woocommercesim.LineSpec{
		{ProductID: 101, Name: "Enamel mug", SKU: "MUG-WHITE", PriceCents: 995},
		{ProductID: 102, VariationID: 1021, Name: "Linen tee - M", SKU: "TEE-M", PriceCents: 1990},
		{ProductID: 103, Name: "Canvas tote", SKU: "TOTE", PriceCents: 1450},
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var lines []woocommercesim.LineSpec
		for _, i := range rand.Perm(len(products))[:1+rand.IntN(2)] {
			l := products[i]
			l.Quantity = 1 + rand.IntN(3)
			lines = append(lines, l)
		}
		id, err := sim.CreateOrder(woocommercesim.OrderSpec{
			Status:   woocommercesim.StatusProcessing,
			Lines:    lines,
			Shipping: woocommercesim.Address{FirstName: "Demo", LastName: "Customer", Address1: "1 Example Street", City: "Lisboa", Postcode: "1000-001", Country: "PT"},
			Billing:  woocommercesim.Address{FirstName: "Demo", LastName: "Customer", Email: "customer@example.com", Country: "PT"},
		})
		if err != nil {
			log.Warn("demo order", "err", err)
			continue
		}
		log.Info("demo order placed", "order", id)
	}
}
