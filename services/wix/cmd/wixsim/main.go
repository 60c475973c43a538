// Command wixsim runs the Wix simulator (pkg/wixsim) on a listener, for
// manual testing and the chaos suite (services/chaos): the eCommerce REST
// API of the sites named in DROPSYNC_WIX_STORES, RS256-signed webhooks to
// the connector, and the simulator's control and inspection API under
// /_sim/ (create and pay orders, read fulfilments and e-mails, fetch the
// webhook public key for DROPSYNC_WIX_PUBLIC_KEY).
//
// It reads each site's credential from the same variable as the connector
// (credentials_env), so both agree without credentials in the repository.
// Point the connector at it with DROPSYNC_WIX_BASE_URL=http://<addr>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/services/wix/service"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8094", "listen address of the API and /_sim/ controls")
	webhooks := flag.String("webhooks", "http://127.0.0.1:8084/webhooks/wix", "where webhooks are delivered (the connector's endpoint)")
	faults := flag.Float64("faults", 0, "share of API calls answered 429, 5xx or (a quarter of it) carried out with the answer lost, and of webhooks duplicated")
	scale := flag.Float64("retry-scale", 1, "factor on Wix's webhook retry delays (1m, 2m, 5m ... over two days)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *webhooks, *faults, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "wixsim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, webhooks string, faults, scale float64) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var stores service.Stores
	if err := stores.Decode(os.Getenv("DROPSYNC_WIX_STORES")); err != nil {
		return fmt.Errorf("DROPSYNC_WIX_STORES: %w", err)
	}
	if len(stores) == 0 {
		return errors.New("DROPSYNC_WIX_STORES names no store")
	}
	sim, err := wixsim.New(wixsim.Config{
		Logger:   log,
		Faults:   wixsim.Faults{TooManyRequests: faults * 3 / 8, ServerErrors: faults * 3 / 8, LostResponses: faults / 4, DuplicateWebhooks: faults},
		Webhooks: wixsim.WebhookConfig{URL: webhooks, TimeScale: scale},
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	for _, st := range stores {
		if st.CredentialsEnv == "" {
			return fmt.Errorf("store %s: the simulator reads credentials_env only", st.Slug)
		}
		cred := os.Getenv(st.CredentialsEnv)
		if cred == "" {
			return fmt.Errorf("store %s: %s is empty", st.Slug, st.CredentialsEnv)
		}
		site := wixsim.Site{SiteID: st.SiteID, InstanceID: st.InstanceID, AccessToken: cred}
		if st.Auth == "api_key" {
			site = wixsim.Site{SiteID: st.SiteID, InstanceID: st.InstanceID, APIKey: cred}
		}
		if err := sim.AddSite(site); err != nil {
			return fmt.Errorf("store %s: %w", st.Slug, err)
		}
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Info("wix simulator ready", "api", "http://"+lis.Addr().String(), "webhooks", webhooks, "sites", len(stores))
	return sim.Serve(ctx, lis)
}
