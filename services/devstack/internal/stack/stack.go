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

	"github.com/nats-io/nats.go/jetstream"
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := Start(ctx, cfg, conn.JS, log)
	if err != nil {
		return err
	}
	st.g.Go(func() error { return st.Demo.Run(st.ctx) })
	st.g.Go(func() error {
		return view.Run(st.ctx, view.Config{OrdersAddr: st.OrdersAddr, Out: out, Header: header(cfg, st.Demo)})
	})
	return st.Wait()
}

// Stack is every service running, with the simulators that stand in for
// the platforms without credentials.
type Stack struct {
	// Addresses the services listen on.
	OrdersAddr, NotifierAddr, AliExpressAddr, ShopifyAddr, WooCommerceAddr, WixAddr string
	// Simulators; nil where the real platform is used.
	Shopify     *shopifysim.Sim
	WooCommerce *woocommercesim.Sim
	Wix         *wixsim.Sim
	AliExpress  *aliexpresssim.Sim
	// Demo drives the simulators; Run starts it, tests drive them directly.
	Demo *demo.Demo

	g   *errgroup.Group
	ctx context.Context
}

// Simulated store identities.
const (
	ShopifySlug, ShopifyDomain = "demo", "demo-shop.myshopify.com"
	WixSlug, WixSiteID         = "demo", "5a7e0000-0000-4000-8000-0000000000d1"
	WooCommerceSlug            = "demo"
)

// Wait waits for every part to stop (when ctx ends) and returns the first
// failure.
func (s *Stack) Wait() error {
	err := s.g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Start starts every service on js and returns once all listen; they run
// until ctx ends. A listen address with port 0 gets a free port.
func Start(ctx context.Context, cfg Config, js jetstream.JetStream, log *slog.Logger) (*Stack, error) {
	g, ctx := errgroup.WithContext(ctx)
	st := &Stack{g: g, ctx: ctx}
	// Bind every listener first: the services find each other (and the
	// simulators find the webhook endpoints) by the bound addresses.
	lis := map[string]net.Listener{}
	for name, addr := range map[string]string{
		"orders": cfg.Devstack.OrdersAddr, "notifier": cfg.Devstack.NotifierAddr, "aliexpress": cfg.Devstack.AliExpressAddr,
		"shopify": cfg.Devstack.ShopifyAddr, "woocommerce": cfg.Devstack.WooCommerceAddr, "wix": cfg.Devstack.WixAddr,
	} {
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range lis {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listen %s (%s): %w", addr, name, err)
		}
		lis[name] = l
	}
	st.OrdersAddr, st.NotifierAddr, st.AliExpressAddr = lis["orders"].Addr().String(), lis["notifier"].Addr().String(), lis["aliexpress"].Addr().String()
	st.ShopifyAddr, st.WooCommerceAddr, st.WixAddr = lis["shopify"].Addr().String(), lis["woocommerce"].Addr().String(), lis["wix"].Addr().String()
	st.Demo = &demo.Demo{OrdersAddr: st.OrdersAddr, Every: cfg.Devstack.OrdersEvery, Log: log.With("part", "demo")}
	fail := func(err error) (*Stack, error) {
		for _, l := range lis {
			_ = l.Close()
		}
		return nil, err
	}
	run := func(name string, f func(net.Listener) error) {
		l := lis[name]
		delete(lis, name)
		g.Go(func() error { return f(l) })
	}

	// The orders service and the notifier.
	var oc orders.Config
	if err := config.Load(&oc); err != nil {
		return fail(fmt.Errorf("orders: %w", err))
	}
	var nc notifier.Config
	if err := config.Load(&nc); err != nil {
		return fail(fmt.Errorf("notifier: %w", err))
	}
	nc.Notifier.OrdersAddr = st.OrdersAddr

	// AliExpress: the real gateway when an app key is set, else the simulator.
	var ac aliexpress.Config
	if err := config.Read(&ac); err != nil {
		return fail(fmt.Errorf("aliexpress: %w", err))
	}
	if ac.AliExpress.AppKey == "" {
		sim, url, err := startAliExpressSim(g, ctx, log)
		if err != nil {
			return fail(err)
		}
		ac.AliExpress.GatewayURL = url
		ac.AliExpress.AppKey, ac.AliExpress.AppSecret = "devstack-app", aliexpress.Secret(devSecret)
		tok, err := sim.IssueToken("devstack-app", "devstack-buyer")
		if err != nil {
			return fail(err)
		}
		ac.AliExpress.AccessToken, ac.AliExpress.RefreshToken = aliexpress.Secret(tok.AccessToken), aliexpress.Secret(tok.RefreshToken)
		// Demo pace: orders show at once, and open orders are polled often.
		ac.AliExpress.VisibleAfter, ac.AliExpress.PollInterval, ac.AliExpress.MinRepoll = time.Second, time.Second, time.Second
		ac.AliExpress.DailyBudget = 2_000_000 // the simulator has no quota worth saving
		st.AliExpress = sim
		st.Demo.Supplier = sim
	}
	if err := ac.Validate(); err != nil {
		return fail(fmt.Errorf("aliexpress: %w", err))
	}

	// Shopify: the shops named in DROPSYNC_SHOPIFY_STORES, else a simulated one.
	var sc shopify.Config
	if err := config.Read(&sc); err != nil {
		return fail(fmt.Errorf("shopify: %w", err))
	}
	sc.Shopify.OrdersAddr, sc.Shopify.NotifierAddr = st.OrdersAddr, st.NotifierAddr
	if sc.Shopify.Stores != "" {
		if err := shopify.Load(&sc); err != nil {
			return fail(fmt.Errorf("shopify: %w", err))
		}
	} else {
		sim, err := startShopifySim(g, ctx, &sc, cfg.Devstack.Faults, "http://"+st.ShopifyAddr+shopify.WebhookPath, log)
		if err != nil {
			return fail(err)
		}
		st.Shopify = sim
		st.Demo.Stores = append(st.Demo.Stores, demo.NewShopifyStore(sim, ShopifySlug, ShopifyDomain))
	}
	if err := sc.Validate(); err != nil {
		return fail(fmt.Errorf("shopify: %w", err))
	}

	// WooCommerce: the stores in DROPSYNC_WOOCOMMERCE_STORES, else a simulated one.
	var woo woocommerce.Config
	if err := config.Read(&woo); err != nil {
		return fail(fmt.Errorf("woocommerce: %w", err))
	}
	woo.WooCommerce.WebhookAddr = st.WooCommerceAddr
	woo.WooCommerce.OrdersAddr, woo.WooCommerce.NotifierAddr = st.OrdersAddr, st.NotifierAddr
	if woo.WooCommerce.Stores != "" {
		if err := woocommerce.Load(&woo); err != nil {
			return fail(fmt.Errorf("woocommerce: %w", err))
		}
	} else {
		sim, err := startWooSim(g, ctx, &woo, cfg.Devstack.Faults, "http://"+st.WooCommerceAddr+woo.WooCommerce.WebhookPath, log)
		if err != nil {
			return fail(err)
		}
		st.WooCommerce = sim
		st.Demo.Stores = append(st.Demo.Stores, demo.NewWooCommerceStore(sim, WooCommerceSlug))
	}
	if err := woo.Validate(); err != nil {
		return fail(fmt.Errorf("woocommerce: %w", err))
	}

	// Wix: the sites in DROPSYNC_WIX_STORES, else a simulated one.
	var wc wix.Config
	if err := config.Read(&wc); err != nil {
		return fail(fmt.Errorf("wix: %w", err))
	}
	wc.Wix.WebhookAddr, wc.Wix.NotifierAddr = st.WixAddr, st.NotifierAddr
	if len(wc.Wix.Stores) == 0 {
		sim, err := startWixSim(g, ctx, &wc, cfg.Devstack.Faults, "http://"+st.WixAddr+wc.Wix.WebhookPath, log)
		if err != nil {
			return fail(err)
		}
		st.Wix = sim
		st.Demo.Stores = append(st.Demo.Stores, demo.NewWixStore(sim, WixSlug, WixSiteID))
	}
	if err := wc.Validate(); err != nil {
		return fail(fmt.Errorf("wix: %w", err))
	}

	run("orders", func(l net.Listener) error { return orders.RunOn(ctx, oc, js, l, log.With("service", "orders")) })
	run("notifier", func(l net.Listener) error { return notifier.RunOn(ctx, nc, js, l, log.With("service", "notifier")) })
	run("aliexpress", func(l net.Listener) error { return aliexpress.RunOn(ctx, ac, js, l, log.With("service", "aliexpress")) })
	run("shopify", func(l net.Listener) error { return shopify.RunOn(ctx, sc, js, l, log.With("service", "shopify")) })
	run("woocommerce", func(l net.Listener) error {
		return woocommerce.RunOn(ctx, woo, js, l, log.With("service", "woocommerce"))
	})
	run("wix", func(l net.Listener) error { return wix.RunOn(ctx, wc, js, l, log.With("service", "wix")) })
	return st, nil
}

func header(cfg Config, d *demo.Demo) string {
	sims := "no simulators (real platforms)"
	if n := len(d.Stores); n > 0 || d.Supplier != nil {
		sims = fmt.Sprintf("simulated stores: %d, simulated AliExpress: %v", n, d.Supplier != nil)
	}
	return fmt.Sprintf("dropsync dev stack - OrderService on %s (grpcurl -plaintext %s list) - %s - logs in %s",
		cfg.Devstack.OrdersAddr, cfg.Devstack.OrdersAddr, sims, cfg.Devstack.LogFile)
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

func startShopifySim(g *errgroup.Group, ctx context.Context, sc *shopify.Config, faults float64, webhookURL string, log *slog.Logger) (*shopifysim.Sim, error) {
	const slug, domain = ShopifySlug, ShopifyDomain
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
		TooManyRequests: faults / 2, ServerErrors: faults / 2, RetryAfter: time.Second, DuplicateWebhooks: faults,
	}})
	if err := sim.AddShop(shopifysim.ShopConfig{
		Domain: domain, AccessToken: creds[shopify.CredentialsPrefix(slug)+"ACCESS_TOKEN"], AppSecret: devSecret, WebhookURL: webhookURL,
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
	return sim, nil
}

func startWixSim(g *errgroup.Group, ctx context.Context, wc *wix.Config, faults float64, webhookURL string, log *slog.Logger) (*wixsim.Sim, error) {
	const slug, siteID, instanceID = WixSlug, WixSiteID, "1e570000-0000-4000-8000-0000000000d1"
	sim, err := wixsim.New(wixsim.Config{
		Logger:   log.With("sim", "wix"),
		Faults:   wixsim.Faults{TooManyRequests: faults / 2, ServerErrors: faults / 2, DuplicateWebhooks: faults},
		Webhooks: wixsim.WebhookConfig{URL: webhookURL},
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
	return sim, nil
}

func startWooSim(g *errgroup.Group, ctx context.Context, woo *woocommerce.Config, faults float64, webhookURL string, log *slog.Logger) (*woocommercesim.Sim, error) {
	const slug, ref = WooCommerceSlug, "DEVSTACK_WOO_DEMO"
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
		Faults: woocommercesim.Faults{TooManyRequests: faults / 2, ServerErrors: faults / 2, DropWebhooks: faults},
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
		url := webhookURL
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
	return sim, nil
}
