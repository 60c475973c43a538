// Package stack starts every dropsync service in one process on one
// embedded NATS server, with simulators for the platforms that have no
// credentials.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/sync/errgroup"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/telemetry"
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
	// Metrics reads the process's meter provider for the live view's
	// latency, budget, dead-letter and health figures; nil leaves them out.
	Metrics sdkmetric.Reader `ignored:"true"`
	// TraceWriter receives the stdout trace exporter's output (the log
	// file, not the live view); nil is standard output.
	TraceWriter io.Writer `ignored:"true"`
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
	// ShopifyRestoreRate is the simulated shop's GraphQL cost restore rate.
	ShopifyRestoreRate float64 `envconfig:"SHOPIFY_RESTORE_RATE" default:"100" desc:"GraphQL cost points a second the simulated Shopify shop restores (Standard 100, Advanced 200, Plus 1000)"`
	// Faults is the share of simulated platform calls that fail.
	Faults float64 `envconfig:"FAULTS" default:"0" desc:"Share (0-0.5) of simulated platform API calls answered 429 or 5xx, and of webhooks delivered twice"`
	// LogFile receives the services' logs, so the live view stays readable.
	LogFile string `envconfig:"LOG_FILE" default:".data/dropsync.log" desc:"File the services log to while the live view owns the terminal ('-' for stderr)"`
	// GRPCDir receives the dev CA, certificates and tokens of every start.
	GRPCDir string `envconfig:"GRPC_DIR" default:".data/grpc" desc:"Folder where each start writes a new dev CA, a certificate per service, operator and viewer certificates and operator and reader tokens: the services call each other over mTLS (DROPSYNC_GRPC_PLAINTEXT=true: plaintext instead)"`
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
	conns, err := OpenNATS(ctx, cfg.NATS, log)
	if err != nil {
		return err
	}
	defer conns.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := Start(ctx, cfg, conns.JetStream(""), log, Options{JetStream: conns.JetStream})
	if err != nil {
		return err
	}
	viewer, err := grpcauth.DialOptions(st.Viewer)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "gRPC: mTLS with a dev CA; call as an operator with grpcurl "+st.GRPCURL+" "+st.OrdersAddr+" list",
		"operator_token_file", st.OperatorTokenFile, "reader_token_file", st.ReaderTokenFile)
	st.g.Go(func() error { return st.Demo.Run(st.ctx) })
	st.g.Go(func() error {
		return view.Run(st.ctx, view.Config{OrdersAddr: st.OrdersAddr, SupplierAddr: st.AliExpressAddr, Dial: viewer, Metrics: cfg.Metrics, Out: out, Header: header(cfg, st)})
	})
	return st.Wait()
}

// Stack is every service running, with the simulators that stand in for
// the platforms without credentials.
type Stack struct {
	// Addresses the services listen on.
	OrdersAddr, NotifierAddr, AliExpressAddr, ShopifyAddr, WooCommerceAddr, WixAddr string
	// Sims are the simulators (fields nil where the real platform is used).
	*Sims
	// Demo drives the simulators; Run starts it, tests drive them directly.
	Demo *demo.Demo
	// Operator and Viewer are how a client calls the services as an
	// operator or a reader (grpcauth.DialOptions); GRPCURL the matching
	// grpcurl flags of an operator.
	Operator, Viewer config.GRPCClient
	GRPCURL          string
	// OperatorTokenFile and ReaderTokenFile hold bearer tokens of those
	// roles (-H "authorization: Bearer ..."); empty in plaintext.
	OperatorTokenFile, ReaderTokenFile string

	g     *errgroup.Group
	ctx   context.Context
	owned bool // the simulators live and die with this stack
}

// Simulated store identities.
const (
	ShopifySlug, ShopifyDomain = "demo", "demo-shop.myshopify.com"
	WixSlug, WixSiteID         = "demo", "5a7e0000-0000-4000-8000-0000000000d1"
	WooCommerceSlug            = "demo"
)

// Wait waits for every service to stop (when ctx ends), and for the
// simulators when the stack started them, and returns the first failure.
func (s *Stack) Wait() error {
	err := s.g.Wait()
	if s.owned {
		err = errors.Join(err, s.Sims.Wait())
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Options tune Start.
type Options struct {
	// Sims are simulators an earlier Start made (a restart of the services
	// on the same addresses); nil makes new ones where credentials are
	// missing.
	Sims *Sims
	// SimsContext bounds the life of new simulators; the services' ctx
	// when nil.
	SimsContext context.Context
	// Telemetry returns the tracer and meter providers of the named
	// service ("orders", "shopify", ...); nil gives each service its own,
	// from the OTEL_* variables (telemetry.New), with its own service.name.
	// Start shuts them down when the service stops.
	Telemetry func(service string) (*telemetry.Providers, error)
	// JetStream returns the connection of the named service, each logged
	// in as its own NATS identity (pkg/natsperm); nil runs every service
	// on Start's js.
	JetStream func(service string) jetstream.JetStream
}

// Start starts every service on js and returns once all listen; they run
// until ctx ends. A listen address with port 0 gets a free port.
func Start(ctx context.Context, cfg Config, js jetstream.JetStream, log *slog.Logger, opts Options) (*Stack, error) {
	g, ctx := errgroup.WithContext(ctx)
	st := &Stack{g: g, ctx: ctx, Sims: opts.Sims}
	if st.Sims == nil {
		sctx := opts.SimsContext
		if sctx == nil {
			sctx, st.owned = ctx, true
		}
		st.Sims = newSims(sctx, cfg.Devstack, log)
	}
	// Bind every listener first: the services find each other (and the
	// simulators find the webhook endpoints) by the bound addresses.
	lis := map[string]net.Listener{}
	closeAll := func() {
		for _, l := range lis {
			_ = l.Close()
		}
	}
	for name, addr := range map[string]string{
		"orders": cfg.Devstack.OrdersAddr, "notifier": cfg.Devstack.NotifierAddr, "aliexpress": cfg.Devstack.AliExpressAddr,
		"shopify": cfg.Devstack.ShopifyAddr, "woocommerce": cfg.Devstack.WooCommerceAddr, "wix": cfg.Devstack.WixAddr,
	} {
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen %s (%s): %w", addr, name, err)
		}
		lis[name] = l
	}
	st.OrdersAddr, st.NotifierAddr, st.AliExpressAddr = lis["orders"].Addr().String(), lis["notifier"].Addr().String(), lis["aliexpress"].Addr().String()
	st.ShopifyAddr, st.WooCommerceAddr, st.WixAddr = lis["shopify"].Addr().String(), lis["woocommerce"].Addr().String(), lis["wix"].Addr().String()
	st.Demo = &demo.Demo{OrdersAddr: st.OrdersAddr, Every: cfg.Devstack.OrdersEvery, Log: log.With("part", "demo"), Supplier: st.AliExpress}
	fail := func(err error) (*Stack, error) {
		closeAll()
		return nil, err
	}

	// gRPC between the services: mTLS with a dev CA issued now.
	var plain config.GRPCClient
	if err := config.Read(&plain); err != nil {
		return fail(err)
	}
	sec, err := newGRPCSecurity(cfg.Devstack.GRPCDir, plain.Plaintext)
	if err != nil {
		return fail(err)
	}
	st.Operator, st.Viewer, st.GRPCURL = sec.clientConfig(operatorCert), sec.clientConfig(viewerCert), sec.grpcurl()
	st.OperatorTokenFile, st.ReaderTokenFile = sec.files.OperatorTokenFile, sec.files.ReaderTokenFile
	if st.Demo.Dial, err = grpcauth.DialOptions(st.Operator); err != nil {
		return fail(err)
	}

	// The orders service and the notifier.
	var oc orders.Config
	if err := config.Read(&oc); err != nil {
		return fail(fmt.Errorf("orders: %w", err))
	}
	sec.server(&oc.GRPC, orders.Name)
	if err := oc.Validate(); err != nil {
		return fail(fmt.Errorf("orders: %w", err))
	}
	var nc notifier.Config
	if err := config.Read(&nc); err != nil {
		return fail(fmt.Errorf("notifier: %w", err))
	}
	sec.server(&nc.GRPC, notifier.Name)
	if err := nc.Validate(); err != nil {
		return fail(fmt.Errorf("notifier: %w", err))
	}
	nc.Notifier.OrdersAddr = st.OrdersAddr

	// AliExpress: the real gateway when an app key is set, else the simulator.
	var ac aliexpress.Config
	if err := config.Read(&ac); err != nil {
		return fail(fmt.Errorf("aliexpress: %w", err))
	}
	if ac.AliExpress.AppKey == "" {
		if err := st.aliExpress(&ac); err != nil {
			return fail(err)
		}
		st.Demo.Supplier = st.AliExpress
	}
	sec.server(&ac.GRPC, aliexpress.Name)
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
		if err := st.shopify(&sc, "http://"+st.ShopifyAddr+shopify.WebhookPath); err != nil {
			return fail(err)
		}
		st.Demo.Stores = append(st.Demo.Stores, demo.NewShopifyStore(st.Shopify, ShopifySlug, ShopifyDomain))
	}
	sec.client(&sc.GRPCClient, shopify.Name)
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
		if err := st.wooCommerce(&woo, "http://"+st.WooCommerceAddr+woo.WooCommerce.WebhookPath); err != nil {
			return fail(err)
		}
		st.Demo.Stores = append(st.Demo.Stores, demo.NewWooCommerceStore(st.WooCommerce, WooCommerceSlug))
	}
	sec.client(&woo.GRPCClient, woocommerce.Name)
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
		if err := st.wix(&wc, "http://"+st.WixAddr+wc.Wix.WebhookPath); err != nil {
			return fail(err)
		}
		st.Demo.Stores = append(st.Demo.Stores, demo.NewWixStore(st.Wix, WixSlug, WixSiteID))
	}
	sec.client(&wc.GRPCClient, wix.Name)
	if err := wc.Validate(); err != nil {
		return fail(fmt.Errorf("wix: %w", err))
	}

	// One process, one ops port at most: the connectors serve /metrics on
	// their webhook ports; the gRPC services' ops listeners stay off.
	oc.OpsAddr, nc.OpsAddr, ac.OpsAddr = "", "", ""

	// Each service gets its own providers, so its spans and metrics carry
	// its own service.name.
	newTelemetry := opts.Telemetry
	if newTelemetry == nil {
		newTelemetry = func(service string) (*telemetry.Providers, error) {
			return telemetry.New(ctx, telemetry.Config{
				ServiceName: service, Exporter: cfg.TraceExporter, Writer: cfg.TraceWriter, FixedServiceName: true,
			})
		}
	}
	tel := map[string]*telemetry.Providers{}
	for _, name := range []string{orders.Name, notifier.Name, aliexpress.Name, shopify.Name, woocommerce.Name, wix.Name} {
		p, err := newTelemetry(name)
		if err != nil {
			for _, p := range tel {
				_ = p.Shutdown(ctx)
			}
			return fail(fmt.Errorf("%s telemetry: %w", name, err))
		}
		tel[name] = p
	}
	jsOf := func(service string) jetstream.JetStream {
		if opts.JetStream != nil {
			return opts.JetStream(service)
		}
		return js
	}
	run := func(name string, f func(context.Context, net.Listener) error) {
		l := lis[name]
		delete(lis, name)
		p := tel[name]
		g.Go(func() error {
			err := f(telemetry.WithProviders(ctx, p), l)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if serr := p.Shutdown(sctx); serr != nil {
				log.Warn("telemetry shutdown", "service", name, "err", serr)
			}
			return err
		})
	}
	run(orders.Name, func(ctx context.Context, l net.Listener) error {
		return orders.RunOn(ctx, oc, jsOf(orders.Name), l, log.With("service", orders.Name))
	})
	run(notifier.Name, func(ctx context.Context, l net.Listener) error {
		return notifier.RunOn(ctx, nc, jsOf(notifier.Name), l, log.With("service", notifier.Name))
	})
	run(aliexpress.Name, func(ctx context.Context, l net.Listener) error {
		return aliexpress.RunOn(ctx, ac, jsOf(aliexpress.Name), l, log.With("service", aliexpress.Name))
	})
	run(shopify.Name, func(ctx context.Context, l net.Listener) error {
		return shopify.RunOn(ctx, sc, jsOf(shopify.Name), l, log.With("service", shopify.Name))
	})
	run(woocommerce.Name, func(ctx context.Context, l net.Listener) error {
		return woocommerce.RunOn(ctx, woo, jsOf(woocommerce.Name), l, log.With("service", woocommerce.Name))
	})
	run(wix.Name, func(ctx context.Context, l net.Listener) error {
		return wix.RunOn(ctx, wc, jsOf(wix.Name), l, log.With("service", wix.Name))
	})
	return st, nil
}

func header(cfg Config, st *Stack) string {
	d := st.Demo
	sims := "no simulators (real platforms)"
	if n := len(d.Stores); n > 0 || d.Supplier != nil {
		sims = fmt.Sprintf("simulated stores: %d, simulated AliExpress: %v", n, d.Supplier != nil)
	}
	return fmt.Sprintf("dropsync dev stack - OrderService on %s (grpcurl %s %s list) - %s - logs in %s",
		st.OrdersAddr, st.GRPCURL, st.OrdersAddr, sims, cfg.Devstack.LogFile)
}
