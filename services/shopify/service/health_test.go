package service_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/services/shopify/service"
)

// TestReplacedSecretResumesHeldCommands: the store's access token is read
// from a mounted Secret. A stale token there (Shopify answers 401) is a
// StoreConnectionChanged (unhealthy) and holds the fulfilment; once the
// Secret file is replaced with the right token the connector takes it
// without a restart, reports the store healthy, and the held command
// fulfils once by itself.
func TestReplacedSecretResumesHeldCommands(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "demo", "access_token")
	write := func(name, v string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "demo"), 0o700); err != nil {
			t.Fatal(err)
		}
		// Written aside and renamed, as a Secret volume swaps its files.
		tmp := filepath.Join(dir, "demo", "."+name)
		if err := os.WriteFile(tmp, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "demo", name)); err != nil {
			t.Fatal(err)
		}
	}
	write("access_token", token)
	write("webhook_secret", secret)
	h := newHarness(t, func(c *service.Config, _ *shopifysim.ShopConfig) {
		c.Shopify.SecretsDir = dir
		list, err := service.ParseStores(c.Shopify.Stores, dir, os.LookupEnv, os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Stores = list
	})
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)

	write("access_token", "shpat_stale_token")
	time.Sleep(config.FileSecretCheck + 100*time.Millisecond) // the connector looks at the file this often
	h.publish(fulfilmentRequested(id, "fr-held", "ship-1", map[string]int32{line(o, 0): 2}, "LP00999", "CAINIAO_STANDARD"))
	h.eventually("StoreConnectionChanged (unhealthy)", func() error { return connection(h, false) })
	if fs, _ := h.sim.Fulfillments(shop); len(fs) != 0 || len(h.of("FulfillmentFailed", id)) != 0 {
		t.Fatalf("with the stale token: %d fulfilments, %d FulfillmentFailed; want none", len(fs), len(h.of("FulfillmentFailed", id)))
	}

	write("access_token", token)
	if b, _ := os.ReadFile(tokenFile); string(b) != token+"\n" {
		t.Fatalf("token file %q", b)
	}
	h.eventually("StoreConnectionChanged (healthy)", func() error { return connection(h, true) })
	h.waitFor("FulfillmentPushed", id, 1)
	if fs, _ := h.sim.Fulfillments(shop); len(fs) != 1 || len(h.sim.Notifications()) != 1 {
		t.Fatalf("%d fulfilments, %d notifications after the Secret was replaced; want 1 and 1", len(fs), len(h.sim.Notifications()))
	}
	if n := len(h.of("FulfillmentFailed", id)); n != 0 {
		t.Errorf("%d FulfillmentFailed, want none", n)
	}
	if dl, _ := bus.DeadLetters(t.Context(), h.js, "", 0); len(dl) != 0 {
		t.Errorf("dead-lettered: %+v", dl)
	}
}

// connection is nil once the store stream has a StoreConnectionChanged of
// shopify:demo with that health after every one of the other health.
func connection(h *harness, healthy bool) error {
	last := -1
	for i, e := range h.events() {
		if c := e.GetStoreConnectionChanged(); c != nil && e.GetOrderId() == "shopify:demo" {
			if c.GetHealthy() == healthy {
				last = i
			} else {
				last = -1
			}
		}
	}
	if last < 0 {
		return errors.New("not yet")
	}
	return nil
}
