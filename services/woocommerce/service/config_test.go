package service_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/services/woocommerce/service"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	t.Setenv("DROPSYNC_WOOCOMMERCE_STORES", `[{"slug":"acme","site_url":"https://acme.example","credentials_ref":"env:WOO_ACME"}]`)
	var cfg service.Config
	if err := service.Load(&cfg); err == nil || !strings.Contains(err.Error(), "consumer_key not found") {
		t.Fatalf("credentials not set: %v", err)
	}
	t.Setenv("WOO_ACME_CONSUMER_KEY", "ck")
	t.Setenv("WOO_ACME_CONSUMER_SECRET", "cs")
	t.Setenv("WOO_ACME_WEBHOOK_SECRET", "wh")
	if err := service.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Stores) != 1 || cfg.Stores[0].ConsumerSecret.Reveal() != "cs" {
		t.Fatalf("stores %+v", cfg.Stores)
	}
	w := cfg.WooCommerce
	if w.ReconcileInterval.String() != "1m0s" || w.WebhookPath != "/webhooks/woocommerce" || !slices.Equal(w.CommandBackoff, bus.CommandBackoff) || w.MaxDeliver != bus.CommandMaxDeliver {
		t.Fatalf("defaults %+v", w)
	}

	var bad service.Config
	if err := envconfig.Process(config.Prefix, &bad); err != nil {
		t.Fatal(err)
	}
	bad.WooCommerce.Stores = `[{"slug":"acme"}, {"slug":"acme","site_url":"x","credentials_ref":"env:X"}]`
	bad.WooCommerce.ReconcileInterval = 0
	bad.WooCommerce.TrackingURLTemplate = "https://t.example/"
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"STORES[0]", "twice", "RECONCILE_INTERVAL", "TRACKING_URL_TEMPLATE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}
