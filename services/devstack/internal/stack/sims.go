package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	aliexpress "github.com/dropsync/dropsync/services/aliexpress/service"
	"github.com/dropsync/dropsync/services/devstack/internal/demo"
	shopify "github.com/dropsync/dropsync/services/shopify/service"
	wix "github.com/dropsync/dropsync/services/wix/service"
	woocommerce "github.com/dropsync/dropsync/services/woocommerce/service"
)

// devSecret is this run's secret for every simulated platform: made fresh
// at start, never stored.
var devSecret = func() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}()

// Sims are the platform simulators of a stack. Each is made the first time
// a connector needs it and serves until the context it was made with ends;
// a later Start may reuse them (a restart of the services).
type Sims struct {
	Shopify     *shopifysim.Sim
	WooCommerce *woocommercesim.Sim
	Wix         *wixsim.Sim
	AliExpress  *aliexpresssim.Sim

	ctx     context.Context
	g       *errgroup.Group
	faults  float64
	restore float64
	log     *slog.Logger

	mu     sync.Mutex
	aeTok  aliexpresssim.Token
	aeURL  string
	shop   sim
	wooLis string
	wixURL string
}

type sim struct{ url string }

// Secret is the secret every simulated platform shares with its connector
// in this run (webhook signing, API tokens): made fresh at start, never
// stored. Tests sign their own deliveries with it.
func (s *Sims) Secret() string { return devSecret }

func newSims(ctx context.Context, d Devstack, log *slog.Logger) *Sims {
	g, ctx := errgroup.WithContext(ctx)
	return &Sims{ctx: ctx, g: g, faults: d.Faults, restore: d.ShopifyRestoreRate, log: log}
}

// Wait waits for the simulators to stop.
func (s *Sims) Wait() error {
	err := s.g.Wait()
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// serve runs h's Serve on a fresh loopback listener and returns its URL.
func (s *Sims) serve(serve func(context.Context, net.Listener) error, closeFn func()) (string, error) {
	lis, err := (&net.ListenConfig{}).Listen(s.ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.g.Go(func() error {
		if closeFn != nil {
			defer closeFn()
		}
		if err := serve(s.ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return "http://" + lis.Addr().String(), nil
}

// aliExpress points the AliExpress connector at the simulator.
func (s *Sims) aliExpress(ac *aliexpress.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.AliExpress == nil {
		sim := aliexpresssim.New(aliexpresssim.Config{VisibleAfter: time.Second, RateLimit: 1000, RateBurst: 1000})
		sim.AddApp("devstack-app", devSecret)
		for _, p := range demo.SupplierCatalog() {
			sim.AddProduct(p)
		}
		tok, err := sim.IssueToken("devstack-app", "devstack-buyer")
		if err != nil {
			return err
		}
		url, err := s.serve(sim.Serve, nil)
		if err != nil {
			return err
		}
		s.log.Info("AliExpress simulator", "url", url)
		s.AliExpress, s.aeTok, s.aeURL = sim, tok, url
	}
	a := &ac.AliExpress
	a.GatewayURL = s.aeURL
	a.AppKey, a.AppSecret = "devstack-app", config.NewSecret(devSecret)
	a.AccessToken, a.RefreshToken = config.NewSecret(s.aeTok.AccessToken), config.NewSecret(s.aeTok.RefreshToken)
	// Demo pace: orders show at once, and open orders are polled often.
	a.VisibleAfter, a.PollInterval, a.MinInterval = time.Second, time.Second, 2*time.Second
	// Demo pace: the demo's buyers accept a shipped order after a minute;
	// shipped orders are polled often enough to see it and let go of it.
	a.ShippedCeiling = 30 * time.Second
	a.DailyBudget = 2_000_000 // the simulator has no quota worth saving
	a.RateLimit = 500
	return nil
}

// shopify points the Shopify connector at a simulated shop whose webhooks
// go to webhookURL.
func (s *Sims) shopify(sc *shopify.Config, webhookURL string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	creds := map[string]string{
		shopify.CredentialsPrefix(ShopifySlug) + "ACCESS_TOKEN":   "shpat_" + devSecret,
		shopify.CredentialsPrefix(ShopifySlug) + "WEBHOOK_SECRET": devSecret,
	}
	if s.Shopify == nil {
		sim := shopifysim.New(shopifysim.Config{Logger: s.log.With("sim", "shopify"), Faults: shopifysim.Faults{
			TooManyRequests: s.faults / 2, ServerErrors: s.faults / 2, RetryAfter: time.Second, DuplicateWebhooks: s.faults,
		}})
		if err := sim.AddShop(shopifysim.ShopConfig{
			Domain: ShopifyDomain, AccessToken: creds[shopify.CredentialsPrefix(ShopifySlug)+"ACCESS_TOKEN"], AppSecret: devSecret, WebhookURL: webhookURL,
			RestoreRate: s.restore, MaximumAvailable: 10 * s.restore, // Shopify: bucket = 10 s of restore
		}); err != nil {
			return err
		}
		url, err := s.serve(sim.Serve, sim.Close)
		if err != nil {
			return err
		}
		s.Shopify, s.shop.url = sim, url
	} else if err := s.Shopify.SetWebhookURL(ShopifyDomain, webhookURL); err != nil {
		return err
	}
	list, err := shopify.ParseStores(ShopifySlug+"="+ShopifyDomain, "", func(k string) (string, bool) { v, ok := creds[k]; return v, ok }, os.ReadFile)
	if err != nil {
		return err
	}
	sc.Stores = list
	sc.Shopify.APIBaseURL = s.shop.url + "/{shop}"
	sc.Shopify.ReconcileInterval = 30 * time.Second
	return nil
}

// wooCommerce points the WooCommerce connector at a simulated plain-HTTP
// store (the connector signs every call with OAuth 1.0a) whose webhooks go
// to webhookURL.
func (s *Sims) wooCommerce(woo *woocommerce.Config, webhookURL string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	const ref = "DEVSTACK_WOO_DEMO"
	creds := map[string]string{
		ref + "_CONSUMER_KEY": "ck_" + devSecret, ref + "_CONSUMER_SECRET": "cs_" + devSecret, ref + "_WEBHOOK_SECRET": devSecret,
	}
	if s.WooCommerce == nil {
		lis, err := (&net.ListenConfig{}).Listen(s.ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.wooLis = "http://" + lis.Addr().String()
		sim := woocommercesim.New(woocommercesim.Config{
			SiteURL: s.wooLis, ConsumerKey: creds[ref+"_CONSUMER_KEY"], ConsumerSecret: creds[ref+"_CONSUMER_SECRET"],
			ShipmentTracking: true, Logger: s.log.With("sim", "woocommerce"),
			Faults: woocommercesim.Faults{TooManyRequests: s.faults / 2, ServerErrors: s.faults / 2, DropWebhooks: s.faults},
		})
		s.WooCommerce = sim
		s.g.Go(func() error {
			defer sim.Close()
			if err := sim.Serve(s.ctx, lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		// Register the webhooks once the connector answers their ping.
		s.g.Go(func() error { return registerWooWebhooks(s.ctx, sim, webhookURL) })
	}
	list, err := woocommerce.ParseStores(fmt.Sprintf(`[{"slug":%q,"site_url":%q,"credentials_ref":"env:%s"}]`, WooCommerceSlug, s.wooLis, ref),
		func(k string) (string, bool) { v, ok := creds[k]; return v, ok }, os.ReadFile)
	if err != nil {
		return err
	}
	woo.Stores = list
	woo.WooCommerce.ReconcileInterval = 15 * time.Second
	return nil
}

func registerWooWebhooks(ctx context.Context, sim *woocommercesim.Sim, url string) error {
	for _, topic := range []string{"order.created", "order.updated", "order.deleted"} {
		c := woocommercesim.WebhookConfig{Name: "dropsync " + topic, Topic: topic, DeliveryURL: url, Secret: devSecret}
		id, err := sim.AddWebhook(c)
		for err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
			}
			if id == 0 {
				id, err = sim.AddWebhook(c)
			} else {
				err = sim.Ping(id)
			}
		}
	}
	return nil
}

// wix points the Wix connector at a simulated site whose webhooks go to
// webhookURL.
func (s *Sims) wix(wc *wix.Config, webhookURL string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	const instanceID, credentials = "1e570000-0000-4000-8000-0000000000d1", "DEVSTACK_WIX_DEMO_TOKEN"
	if s.Wix == nil {
		sim, err := wixsim.New(wixsim.Config{
			Logger:   s.log.With("sim", "wix"),
			Faults:   wixsim.Faults{TooManyRequests: s.faults / 2, ServerErrors: s.faults / 2, DuplicateWebhooks: s.faults},
			Webhooks: wixsim.WebhookConfig{URL: webhookURL},
		})
		if err != nil {
			return err
		}
		if err := sim.AddSite(wixsim.Site{SiteID: WixSiteID, InstanceID: instanceID, AccessToken: "wix-" + devSecret}); err != nil {
			return err
		}
		url, err := s.serve(sim.Serve, sim.Close)
		if err != nil {
			return err
		}
		s.Wix, s.wixURL = sim, url
	} else {
		s.Wix.SetWebhookURL(webhookURL)
	}
	wc.Wix.Stores = wix.Stores{{Slug: WixSlug, SiteID: WixSiteID, InstanceID: instanceID, CredentialsEnv: credentials}}
	wc.LookupEnv = func(k string) (string, bool) {
		if k == credentials {
			return "wix-" + devSecret, true
		}
		return "", false
	}
	wc.Wix.PublicKey = s.Wix.PublicKeyPEM()
	wc.Wix.BaseURL = s.wixURL
	wc.Wix.ReconcileInterval = 30 * time.Second
	return nil
}
