package service_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/services/shopify/service"
)

func TestParseStores(t *testing.T) {
	env := map[string]string{
		"DROPSYNC_SHOPIFY_STORE_DEMO_ACCESS_TOKEN":    "shpat_demo",
		"DROPSYNC_SHOPIFY_STORE_DEMO_WEBHOOK_SECRET":  "whsec_demo",
		"DROPSYNC_SHOPIFY_STORE_MY_SHOP_ACCESS_TOKEN": "shpat_my",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	list, err := service.ParseStores("demo=Demo.myshopify.com, my-shop=my-shop.myshopify.com", "", lookup, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Domain != "demo.myshopify.com" || list[0].AccessToken.Reveal() != "shpat_demo" || list[1].Slug != "my-shop" {
		t.Fatalf("stores %+v", list)
	}
	// Credentials never print.
	if s := fmt.Sprintf("%v %+v %#v", list[0], list[0], list[0]); strings.Contains(s, "shpat_demo") || strings.Contains(s, "whsec_demo") {
		t.Fatalf("credentials printed: %s", s)
	}
	cfg := service.Config{Stores: list}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), `store "my-shop": no webhook secret`) {
		t.Fatalf("validation: %v", err)
	}
	if strings.Contains(err.Error(), "shpat_") {
		t.Fatalf("validation error shows a credential: %v", err)
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "demo"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"access_token": "shpat_file\n", "webhook_secret": "whsec_file"} {
		if err := os.WriteFile(filepath.Join(dir, "demo", name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	list, err = service.ParseStores("demo=demo.myshopify.com", dir, lookup, os.ReadFile)
	if err != nil || list[0].AccessToken.Reveal() != "shpat_file" || list[0].WebhookSecret.Reveal() != "whsec_file" {
		t.Fatalf("secrets dir: %+v %v", list, err)
	}
	if _, err := service.ParseStores("demo", "", lookup, os.ReadFile); err == nil {
		t.Fatal("a store without a domain was accepted")
	}
}
