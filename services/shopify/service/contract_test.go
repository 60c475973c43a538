package service_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/connector/connectortest"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/services/shopify/service"
)

// TestContract runs the store-connector suite against the Shopify
// connector and the Shopify simulator. Shopify can do every property.
func TestContract(t *testing.T) {
	connectortest.Run(t, connectortest.Features{}, newContractConnector)
}

// contractConnector is the suite's harness over the connector's own test
// harness, with a connectortest.Front between the connector and the
// simulator.
type contractConnector struct {
	h     *harness
	front *connectortest.Front

	mu     sync.Mutex
	faults shopifysim.Faults
}

func newContractConnector(t *testing.T, opts connectortest.Options) connectortest.Connector {
	var sim atomic.Pointer[shopifysim.Sim]
	front := &connectortest.Front{
		IsFulfilmentWrite: func(_ *http.Request, body []byte) bool { return bytes.Contains(body, []byte("fulfillmentCreate")) },
		Spoil:             func(r *http.Request) { r.Header.Set("X-Shopify-Access-Token", "shpat_revoked") },
	}
	// The simulator exists only once newHarness has made it; until then
	// (the connector makes no call before its first command) 503.
	front.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := sim.Load(); s != nil {
			s.ServeHTTP(w, r)
			return
		}
		http.Error(w, "simulator not ready", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { front.Hold(false) })
	h := newHarness(t, func(c *service.Config, _ *shopifysim.ShopConfig) {
		c.Shopify.APIBaseURL = srv.URL + "/{shop}"
		// A held answer must outlast the suite's stop: the connector
		// must not give up on it and read the fulfilment back first.
		c.Shopify.APIAttemptTimeout = 20 * time.Second
		if opts.DuplicateWindow > 0 {
			c.DuplicateWindow = opts.DuplicateWindow
		}
		c.Shopify.ReconcileInterval = opts.ReconcileInterval
		if opts.MaxDeliver > 0 {
			c.Shopify.CommandMaxDeliver = opts.MaxDeliver
		}
		if opts.Backoff != nil {
			c.Shopify.CommandBackoff = opts.Backoff
		}
	})
	sim.Store(h.sim)
	return &contractConnector{h: h, front: front}
}

func (c *contractConnector) JetStream() jetstream.JetStream { return c.h.js }

func (c *contractConnector) Stop(*testing.T) { c.h.stop() }

func (c *contractConnector) Start(t *testing.T) {
	c.h.t = t
	c.h.start()
}

func (c *contractConnector) Place(t *testing.T, paid bool) connectortest.Order {
	t.Helper()
	o, err := c.h.sim.CreateOrder(shop, shopifysim.NewOrder{
		Email:    "customer@example.com",
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "Example", Address1: "1 Rua", City: "Lisboa", Zip: "1000-001", Country: "Portugal", CountryCode: "PT"},
		Lines: []shopifysim.NewLine{
			{Title: "Mug", SKU: "MUG", Quantity: 2, Price: "9.95"},
			{Title: "Tee", SKU: "TEE", Quantity: 1, Price: "19.90"},
		},
		Paid: paid,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := connectortest.Order{ID: orderID(o)}
	for _, l := range o.Lines {
		out.Lines = append(out.Lines, connectortest.Line{ID: strconv.FormatInt(l.ID, 10), Quantity: int32(l.Quantity)})
	}
	return out
}

// shopifyID is the Shopify order id of a suite order.
func shopifyID(t *testing.T, o connectortest.Order) int64 {
	t.Helper()
	id, err := strconv.ParseInt(o.ID[strings.LastIndexByte(o.ID, ':')+1:], 10, 64)
	if err != nil {
		t.Fatalf("order id %s: %v", o.ID, err)
	}
	return id
}

func (c *contractConnector) MarkPaid(t *testing.T, o connectortest.Order) {
	must(t, c.h.sim.MarkPaid(shop, shopifyID(t, o)))
}

func (c *contractConnector) Cancel(t *testing.T, o connectortest.Order) {
	must(t, c.h.sim.Cancel(shop, shopifyID(t, o), "customer"))
}

func (c *contractConnector) setFaults(f func(*shopifysim.Faults)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.faults)
	c.h.sim.SetFaults(c.faults)
}

func (c *contractConnector) DropWebhooks(_ *testing.T, drop bool) {
	c.setFaults(func(f *shopifysim.Faults) {
		f.DropWebhooks = 0
		if drop {
			f.DropWebhooks = 1
		}
	})
}

func (c *contractConnector) SetFaults(_ *testing.T, in connectortest.Faults) {
	c.setFaults(func(f *shopifysim.Faults) {
		f.TooManyRequests, f.ServerErrors, f.LostResponses = in.TooManyRequests, in.ServerErrors, in.LostResponses
		f.RetryAfter = 50 * time.Millisecond
	})
}

func (c *contractConnector) WaitWebhooks(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	must(t, c.h.sim.WaitWebhooks(ctx))
}

// Redeliver posts the order's latest delivered webhook again with its own
// headers (event and webhook ids included), signed as sig says.
func (c *contractConnector) Redeliver(t *testing.T, o connectortest.Order, sig connectortest.Signature) int {
	t.Helper()
	id := shopifyID(t, o)
	var last *shopifysim.Delivery
	for _, d := range c.h.sim.Deliveries() {
		if d.OrderID == id && d.Delivered {
			last = &d
		}
	}
	if last == nil {
		t.Fatalf("no webhook of %s delivered", o.ID)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+c.h.addr+service.WebhookPath, bytes.NewReader(last.Body))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(shopifysim.HeaderTopic, last.Topic)
	req.Header.Set(shopifysim.HeaderShopDomain, last.Shop)
	req.Header.Set(shopifysim.HeaderEventID, last.EventID)
	req.Header.Set(shopifysim.HeaderWebhookID, last.WebhookID)
	req.Header.Set(shopifysim.HeaderAPIVersion, shopifysim.DefaultAPIVersion)
	req.Header.Set(shopifysim.HeaderTriggeredAt, last.TriggeredAt.UTC().Format(time.RFC3339Nano))
	switch sig {
	case connectortest.Signed:
		req.Header.Set(shopifysim.HeaderHmac, shopifysim.Sign(secret, last.Body))
	case connectortest.WrongKey:
		req.Header.Set(shopifysim.HeaderHmac, shopifysim.Sign("whsec_not_the_secret", last.Body))
	case connectortest.Unsigned:
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// Fulfilments are the order's fulfilments that are not cancelled.
func (c *contractConnector) Fulfilments(t *testing.T, o connectortest.Order) []connectortest.Fulfilment {
	t.Helper()
	so, err := c.h.sim.Order(shop, shopifyID(t, o))
	must(t, err)
	var out []connectortest.Fulfilment
	for _, f := range so.Fulfillments {
		if f.Status == "cancelled" {
			continue
		}
		cf := connectortest.Fulfilment{ID: strconv.FormatInt(f.ID, 10), Lines: map[string]int32{}}
		for id, q := range f.Lines {
			cf.Lines[strconv.FormatInt(id, 10)] = int32(q)
		}
		for _, tr := range f.Tracking {
			cf.Tracking = append(cf.Tracking, tr.Number)
		}
		out = append(out, cf)
	}
	return out
}

// Confirmations counts Shopify's shipping confirmation e-mails: one per
// fulfilment created with notifyCustomer.
func (c *contractConnector) Confirmations(t *testing.T, o connectortest.Order) int {
	id := shopifyID(t, o)
	n := 0
	for _, note := range c.h.sim.Notifications() {
		if note.OrderID == id && note.Kind == "shipping_confirmation" {
			n++
		}
	}
	return n
}

func (c *contractConnector) TransientAnswers(*testing.T) int64 { return c.front.Transient() }

func (c *contractConnector) HoldFulfilments(_ *testing.T, hold bool) { c.front.Hold(hold) }

func (c *contractConnector) RevokeCredential(*testing.T) { c.front.Revoke(true) }

func (c *contractConnector) RestoreCredential(*testing.T) { c.front.Revoke(false) }
