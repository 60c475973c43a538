// Package stack starts every dropsync service in one process on one
// embedded NATS server, with simulators for the platforms that have no
// credentials.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/natsconn"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	aliexpress "github.com/dropsync/dropsync/services/aliexpress/service"
	"github.com/dropsync/dropsync/services/devstack/internal/demo"
	"github.com/dropsync/dropsync/services/devstack/internal/view"
	notifier "github.com/dropsync/dropsync/services/notifier/service"
	orders "github.com/dropsync/dropsync/services/orders/service"
	shopify "github.com/dropsync/dropsync/services/shopify/service"
	wix "github.com/dropsync/dropsync/services/wix/service"
	woocommerce "github.com/dropsync/dropsync/services/woocommerce/service"
)

// Config is the dev stack's own configuration; every service reads its own
// DROPSYNC_* variables too (see the README), and the stack fills in the
// addresses that join them up.
type Config struct {
	config.NATS
	config.Telemetry
	Devstack Devstack
}

// Devstack tunes `make run`.
type Devstack struct {
	// OrdersAddr is the orders service's gRPC address.
	OrdersAddr string `envconfig:"ORDERS_ADDR" default:"127.0.0.1:8080" desc:"gRPC address of the orders service (OrderService; try grpcurl against it)"`
	// NotifierAddr is the notifier's gRPC address.
	NotifierAddr string `envconfig:"NOTIFIER_ADDR" default:"127.0.0.1:8082" desc:"gRPC address of the notifier (ShippingConfirmationService)"`
	// AliExpressAddr is the AliExpress connector's gRPC address.
	AliExpressAddr string `envconfig:"ALIEXPRESS_ADDR" default:"127.0.0.1:8083" desc:"gRPC address of the AliExpress connector (SupplierSyncService)"`
	// ShopifyAddr is the Shopify connector's webhook address.
	ShopifyAddr string `envconfig:"SHOPIFY_ADDR" default:"127.0.0.1:8081" desc:"HTTP address of the Shopify connector's webhook endpoint"`
	// WooCommerceAddr is the WooCommerce connector's webhook address.
	WooCommerceAddr string `envconfig:"WOOCOMMERCE_ADDR" default:"127.0.0.1:8085" desc:"HTTP address of the WooCommerce connector's webhook endpoint"`
	// WixAddr is the Wix connector's webhook address.
	WixAddr string `envconfig:"WIX_ADDR" default:"127.0.0.1:8084" desc:"HTTP address of the Wix connector's webhook endpoint"`
	// OrdersEvery is how often the demo places an order in each simulated store.
	OrdersEvery time.Duration `envconfig:"ORDERS_EVERY" default:"4s" desc:"How often the demo places an order in each simulated store; 0 turns the demo off"`
	// Faults is the share of simulated platform calls that fail.
	Faults float64 `envconfig:"FAULTS" default:"0" desc:"Share (0-0.5) of simulated platform API calls answered 429 or 5xx, and of webhooks delivered twice"`
	// LogFile receives the services' logs, so the live view stays readable.
	LogFile string `envconfig:"LOG_FILE" default:".data/dropsync.log" desc:"File the services log to while the live view owns the terminal ('-' for stderr)"`
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Devstack.Faults < 0 || c.Devstack.Faults > 0.5 {
		errs = append(errs, errors.New("DROPSYNC_DEVSTACK_FAULTS: must be within 0..0.5"))
	}
	return errors.Join(c.NATS.Validate(), c.Telemetry.Validate(), errors.Join(errs...))
}

// OpenLog opens the log destination.
func OpenLog(cfg Config) (io.WriteCloser, error) {
	if cfg.Devstack.LogFile == "-" {
		return nopCloser{os.Stderr}, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Devstack.LogFile), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(cfg.Devstack.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Run starts everything and returns when ctx ends or a part fails; the live
// view is written to out.
func Run(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	conn, err := natsconn.Open(ctx, cfg.NATS, "devstack", log)
	if err != nil {
		return err
	}
	defer conn.Close()
	js := conn.JS
	g, ctx := errgroup.WithContext(ctx)
	d := &demo.Demo{OrdersAddr: cfg.Devstack.OrdersAddr, Every: cfg.Devstack.OrdersEvery, Log: log.With("part", "demo")}

	// The orders service and the notifier.
	var oc orders.Config
	if err := config.Load(&oc); err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	if err := serve(g, ctx, cfg.Devstack.OrdersAddr, func(lis net.Listener) error {
		return orders.RunOn(ctx, oc, js, lis, log.With("service", "orders"))
	}); err != nil {
		return err
	}
	var nc notifier.Config
	if err := config.Load(&nc); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	nc.Notifier.OrdersAddr = cfg.Devstack.OrdersAddr
	if err := serve(g, ctx, cfg.Devstack.NotifierAddr, func(lis net.Listener) error {
		return notifier.RunOn(ctx, nc, js, lis, log.With("service", "notifier"))
	}); err != nil {
		return err
	}

	// AliExpress: the real gateway when an app key is set, else the simulator.
	var ac aliexpress.Config
	if err := config.Read(&ac); err != nil {
		return fmt.Errorf("aliexpress: %w", err)
	}
	if ac.AliExpress.AppKey == "" {
		sim, url, err := startAliExpressSim(g, ctx, log)
		if err != nil {
			return err
		}
		ac.AliExpress.GatewayURL = url
		ac.AliExpress.AppKey, ac.AliExpress.AppSecret = "devstack-app", aliexpress.Secret(devSecret)
		tok, err := sim.IssueToken("devstack-app", "devstack-buyer")
		if err != nil {
			return err
		}
		ac.AliExpress.AccessToken, ac.AliExpress.RefreshToken = aliexpress.Secret(tok.AccessToken), aliexpress.Secret(tok.RefreshToken)
		// Demo pace: orders show at once, and open orders are polled often.
		ac.AliExpress.VisibleAfter, ac.AliExpress.PollInterval, ac.AliExpress.MinRepoll = time.Second, 2*time.Second, 2*time.Second
		ac.AliExpress.DailyBudget = 2_000_000 // the simulator has no quota worth saving
		d.Supplier = sim
	}
	if err := ac.Validate(); err != nil {
		return fmt.Errorf("aliexpress: %w", err)
	}
	if err := serve(g, ctx, cfg.Devstack.AliExpressAddr, func(lis net.Listener) error {
		return aliexpress.RunOn(ctx, ac, js, lis, log.With("service", "aliexpress"))
	}); err != nil {
		return err
	}

	// Shopify: the shops named in DROPSYNC_SHOPIFY_STORES, else a simulated one.
	var sc shopify.Config
	if err := config.Read(&sc); err != nil {
		return fmt.Errorf("shopify: %w", err)
	}
	sc.Shopify.OrdersAddr, sc.Shopify.NotifierAddr = cfg.Devstack.OrdersAddr, cfg.Devstack.NotifierAddr
	if sc.Shopify.Stores != "" {
		if err := shopify.Load(&sc); err != nil {
			return fmt.Errorf("shopify: %w", err)
		}
	} else {
		store, err := startShopifySim(g, ctx, &sc, cfg.Devstack, log)
		if err != nil {
			return err
		}
		d.Stores = append(d.Stores, store)
	}
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("shopify: %w", err)
	}
	if err := serve(g, ctx, cfg.Devstack.ShopifyAddr, func(lis net.Listener) error {
		return shopify.RunOn(ctx, sc, js, lis, log.With("service", "shopify"))
	}); err != nil {
		return err
	}

	// WooCommerce: the stores in DROPSYNC_WOOCOMMERCE_STORES, else a simulated one.
	var woo woocommerce.Config
	if err := config.Read(&woo); err != nil {
		return fmt.Errorf("woocommerce: %w", err)
	}
	woo.WooCommerce.WebhookAddr = cfg.Devstack.WooCommerceAddr
	woo.WooCommerce.OrdersAddr, woo.WooCommerce.NotifierAddr = cfg.Devstack.OrdersAddr, cfg.Devstack.NotifierAddr
	if woo.WooCommerce.Stores != "" {
		if err := woocommerce.Load(&woo); err != nil {
			return fmt.Errorf("woocommerce: %w", err)
		}
	} else {
		store, err := startWooSim(g, ctx, &woo, cfg.Devstack, log)
		if err != nil {
			return err
		}
		d.Stores = append(d.Stores, store)
	}
	if err := woo.Validate(); err != nil {
		return fmt.Errorf("woocommerce: %w", err)
	}
	if err := serve(g, ctx, cfg.Devstack.WooCommerceAddr, func(lis net.Listener) error {
		return woocommerce.RunOn(ctx, woo, js, lis, log.With("service", "woocommerce"))
	}); err != nil {
		return err
	}

	// Wix: the sites in DROPSYNC_WIX_STORES, else a simulated one.
	var wc wix.Config
	if err := config.Read(&wc); err != nil {
		return fmt.Errorf("wix: %w", err)
	}
	wc.Wix.WebhookAddr, wc.Wix.NotifierAddr = cfg.Devstack.WixAddr, cfg.Devstack.NotifierAddr
	if len(wc.Wix.Stores) == 0 {
		store, err := startWixSim(g, ctx, &wc, cfg.Devstack, log)
		if err != nil {
			return err
		}
		d.Stores = append(d.Stores, store)
	}
	if err := wc.Validate(); err != nil {
		return fmt.Errorf("wix: %w", err)
	}
	if err := serve(g, ctx, cfg.Devstack.WixAddr, func(lis net.Listener) error {
		return wix.RunOn(ctx, wc, js, lis, log.With("service", "wix"))
	}); err != nil {
		return err
	}

	g.Go(func() error { return d.Run(ctx) })
	g.Go(func() error {
		return view.Run(ctx, view.Config{OrdersAddr: cfg.Devstack.OrdersAddr, Out: out, Header: header(cfg, d)})
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func header(cfg Config, d *demo.Demo) string {
	sims := "no simulators (real platforms)"
	if n := len(d.Stores); n > 0 || d.Supplier != nil {
		sims = fmt.Sprintf("simulated stores: %d, simulated AliExpress: %v", n, d.Supplier != nil)
	}
	return fmt.Sprintf("dropsync dev stack - OrderService on %s (grpcurl -plaintext %s list) - %s - logs in %s",
		cfg.Devstack.OrdersAddr, cfg.Devstack.OrdersAddr, sims, cfg.Devstack.LogFile)
}

// serve binds addr and runs start on it under g.
func serve(g *errgroup.Group, ctx context.Context, addr string, start func(net.Listener) error) error {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	g.Go(func() error { return start(lis) })
	return nil
}

// devSecret is this run's secret for every simulated platform: made fresh
// at start, never stored.
var devSecret = func() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}()

func startAliExpressSim(g *errgroup.Group, ctx context.Context, log *slog.Logger) (*aliexpresssim.Sim, string, error) {
	sim := aliexpresssim.New(aliexpresssim.Config{VisibleAfter: time.Second})
	sim.AddApp("devstack-app", devSecret)
	for _, p := range demo.SupplierCatalog() {
		sim.AddProduct(p)
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	url := "http://" + lis.Addr().String()
	log.Info("AliExpress simulator", "url", url)
	g.Go(func() error {
		if err := sim.Serve(ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return sim, url, nil
}

func startShopifySim(g *errgroup.Group, ctx context.Context, sc *shopify.Config, d Devstack, log *slog.Logger) (demo.Store, error) {
	const slug, domain = "demo", "demo-shop.myshopify.com"
	creds := map[string]string{
		shopify.CredentialsPrefix(slug) + "ACCESS_TOKEN":   "shpat_" + devSecret,
		shopify.CredentialsPrefix(slug) + "WEBHOOK_SECRET": devSecret,
	}
	list, err := shopify.ParseStores(slug+"="+domain, "", func(k string) (string, bool) { v, ok := creds[k]; return v, ok }, os.ReadFile)
	if err != nil {
		return nil, err
	}
	sc.Stores = list
	sim := shopifysim.New(shopifysim.Config{Logger: log.With("sim", "shopify"), Faults: shopifysim.Faults{
		TooManyRequests: d.Faults / 2, ServerErrors: d.Faults / 2, RetryAfter: time.Second, DuplicateWebhooks: d.Faults,
	}})
	if err := sim.AddShop(shopifysim.ShopConfig{
		Domain: domain, AccessToken: creds[shopify.CredentialsPrefix(slug)+"ACCESS_TOKEN"], AppSecret: devSecret,
		WebhookURL: "http://" + d.ShopifyAddr + shopify.WebhookPath,
	}); err != nil {
		return nil, err
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sc.Shopify.APIBaseURL = "http://" + lis.Addr().String() + "/{shop}"
	sc.Shopify.ReconcileInterval = 30 * time.Second
	g.Go(func() error {
		defer sim.Close()
		if err := sim.Serve(ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return demo.NewShopifyStore(sim, slug, domain), nil
}


func startWixSim(g *errgroup.Group, ctx context.Context, wc *wix.Config, d Devstack, log *slog.Logger) (demo.Store, error) {
	const slug, siteID, instanceID = "demo", "5a7e0000-0000-4000-8000-0000000000d1", "1e570000-0000-4000-8000-0000000000d1"
	sim, err := wixsim.New(wixsim.Config{
		Logger:   log.With("sim", "wix"),
		Faults:   wixsim.Faults{TooManyRequests: d.Faults / 2, ServerErrors: d.Faults / 2, DuplicateWebhooks: d.Faults},
		Webhooks: wixsim.WebhookConfig{URL: "http://" + d.WixAddr + wc.Wix.WebhookPath},
	})
	if err != nil {
		return nil, err
	}
	if err := sim.AddSite(wixsim.Site{SiteID: siteID, InstanceID: instanceID, AccessToken: "wix-" + devSecret}); err != nil {
		return nil, err
	}
	const credentials = "DEVSTACK_WIX_DEMO_TOKEN"
	wc.Wix.Stores = wix.Stores{{Slug: slug, SiteID: siteID, InstanceID: instanceID, CredentialsEnv: credentials}}
	wc.LookupEnv = func(k string) (string, bool) {
		if k == credentials {
			return "wix-" + devSecret, true
		}
		return "", false
	}
	wc.Wix.PublicKey = sim.PublicKeyPEM()
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	wc.Wix.BaseURL = "http://" + lis.Addr().String()
	wc.Wix.ReconcileInterval = 30 * time.Second
	g.Go(func() error {
		defer sim.Close()
		if err := sim.Serve(ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return demo.NewWixStore(sim, slug, siteID), nil
}

func startWooSim(g *errgroup.Group, ctx context.Context, woo *woocommerce.Config, d Devstack, log *slog.Logger) (demo.Store, error) {
	const slug, ref = "demo", "DEVSTACK_WOO_DEMO"
	creds := map[string]string{
		ref + "_CONSUMER_KEY": "ck_" + devSecret, ref + "_CONSUMER_SECRET": "cs_" + devSecret, ref + "_WEBHOOK_SECRET": devSecret,
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	site := "http://" + lis.Addr().String()
	// A plain-HTTP store: the connector signs every call with OAuth 1.0a.
	sim := woocommercesim.New(woocommercesim.Config{
		SiteURL: site, ConsumerKey: creds[ref+"_CONSUMER_KEY"], ConsumerSecret: creds[ref+"_CONSUMER_SECRET"],
		ShipmentTracking: true, Logger: log.With("sim", "woocommerce"),
		Faults: woocommercesim.Faults{TooManyRequests: d.Faults / 2, ServerErrors: d.Faults / 2, DropWebhooks: d.Faults},
	})
	list, err := woocommerce.ParseStores(fmt.Sprintf(`[{"slug":%q,"site_url":%q,"credentials_ref":"env:%s"}]`, slug, site, ref),
		func(k string) (string, bool) { v, ok := creds[k]; return v, ok }, os.ReadFile)
	if err != nil {
		return nil, err
	}
	woo.Stores = list
	woo.WooCommerce.ReconcileInterval = 15 * time.Second
	g.Go(func() error {
		defer sim.Close()
		if err := sim.Serve(ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	// Register the webhooks once the connector answers their ping.
	g.Go(func() error {
		url := "http://" + d.WooCommerceAddr + woo.WooCommerce.WebhookPath
		for _, topic := range []string{"order.created", "order.updated", "order.deleted"} {
			id, err := sim.AddWebhook(woocommercesim.WebhookConfig{Name: "dropsync " + topic, Topic: topic, DeliveryURL: url, Secret: devSecret})
			for err != nil {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(200 * time.Millisecond):
				}
				if id == 0 {
					id, err = sim.AddWebhook(woocommercesim.WebhookConfig{Name: "dropsync " + topic, Topic: topic, DeliveryURL: url, Secret: devSecret})
				} else {
					err = sim.Ping(id)
				}
			}
		}
		return nil
	})
	return demo.NewWooCommerceStore(sim, slug), nil
}
