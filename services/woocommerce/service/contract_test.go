package service_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/connector/connectortest"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
	"github.com/dropsync/dropsync/services/woocommerce/service"
)

// TestContract runs the store-connector suite against the WooCommerce
// connector and the WooCommerce simulator (the Shipment Tracking
// extension installed, OAuth 1.0a over plain HTTP).
func TestContract(t *testing.T) {
	connectortest.Run(t, connectortest.Features{
		Missing: map[connectortest.Feature]string{
			connectortest.PartialFulfilment: "WooCommerce has no fulfilment of some lines: an order is completed as a whole, " +
				"and a part shipment's tracking is written to the order (a Shipment Tracking item or a note) without naming its lines",
		},
	}, newContractConnector)
}

// contractConnector is the suite's harness: the connector's own harness,
// built with a connectortest.Front between the connector and the
// simulator.
type contractConnector struct {
	h     *harness
	front *connectortest.Front

	mu     sync.Mutex
	faults woocommercesim.Faults
}

// fulfilmentWrite matches the call that completes an order.
var fulfilmentWrite = regexp.MustCompile(`/wc/v3/orders/\d+$`)

func newContractConnector(t *testing.T, opts connectortest.Options) connectortest.Connector {
	sim := woocommercesim.New(woocommercesim.Config{
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, ShipmentTracking: true, Seed: 11,
	})
	front := &connectortest.Front{
		Handler: sim,
		IsFulfilmentWrite: func(r *http.Request, body []byte) bool {
			return r.Method == http.MethodPut && fulfilmentWrite.MatchString(r.URL.Path) && bytes.Contains(body, []byte(`"completed"`))
		},
		// OAuth 1.0a: the consumer key travels in the query; a key the
		// store does not know is its "Consumer key is invalid" 401.
		Spoil: func(r *http.Request) {
			r.URL.RawQuery = strings.ReplaceAll(r.URL.RawQuery, consumerKey, "ck_revoked")
		},
	}
	simSrv := httptest.NewServer(front)
	sim.SetSiteURL(simSrv.URL)
	t.Cleanup(func() { front.Hold(false); simSrv.Close(); sim.Close() })

	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	notifier, cc := startNotifier(t, notifierv1.Decision_DECISION_NOTIFY)
	env := map[string]string{"TEST_CONSUMER_KEY": consumerKey, "TEST_CONSUMER_SECRET": consumerSecret, "TEST_WEBHOOK_SECRET": webhookSecret}
	list, err := stores.Resolve([]stores.Spec{{Slug: "acme", SiteURL: simSrv.URL, CredentialsRef: "env:TEST"}},
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := stores.New(list)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sim: sim, simSrv: simSrv, js: js, notifier: notifier}
	h.cfg = testConfig(opts.ReconcileInterval)
	// A held answer must outlast the suite's stop: the connector must not
	// give up on it and read the completed order back first.
	h.cfg.WooCommerce.CallTimeout = 20 * time.Second
	if opts.DuplicateWindow > 0 {
		h.cfg.DuplicateWindow = opts.DuplicateWindow
	}
	if opts.MaxDeliver > 0 {
		h.cfg.WooCommerce.MaxDeliver = opts.MaxDeliver
	}
	if opts.Backoff != nil {
		h.cfg.WooCommerce.CommandBackoff = opts.Backoff
	}
	h.deps = service.Deps{
		JS: js, Stores: reg, Log: quietLog(),
		Settings: peers.StaticSettings{Settings: &eventsv1.StoreSettings{
			FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER, ShippingConfirmation: true,
		}},
		Confirmations: &peers.Notifier{Client: notifierv1.NewShippingConfirmationServiceClient(cc)},
	}
	h.start()
	// The store's webhooks go to a fixed address that forwards to the
	// connector's listener of the moment (a new port after each restart).
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := url.Parse(h.hookURL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		u.Path = "" // the request keeps its own, webhookPath
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(relay.Close)
	for _, topic := range []string{"order.created", "order.updated", "order.deleted"} {
		if _, err := sim.AddWebhook(woocommercesim.WebhookConfig{Topic: topic, DeliveryURL: relay.URL + webhookPath, Secret: webhookSecret}); err != nil {
			t.Fatalf("webhook %s: %v", topic, err)
		}
	}
	return &contractConnector{h: h, front: front}
}

func (c *contractConnector) JetStream() jetstream.JetStream { return c.h.js }

func (c *contractConnector) Stop(*testing.T) { c.h.stop() }

// Start runs the connector again, on a new port.
func (c *contractConnector) Start(t *testing.T) {
	c.h.t = t
	c.h.start()
}

func (c *contractConnector) Place(t *testing.T, paid bool) connectortest.Order {
	t.Helper()
	c.h.t = t
	status := woocommercesim.StatusPending
	if paid {
		status = woocommercesim.StatusProcessing
	}
	id := c.h.order(status)
	lines, err := c.h.sim.LineIDs(id)
	if err != nil {
		t.Fatal(err)
	}
	o := connectortest.Order{ID: orderID(id)}
	for i, l := range lines {
		o.Lines = append(o.Lines, connectortest.Line{ID: strconv.FormatInt(l, 10), Quantity: int32(specLines[i].Quantity)})
	}
	return o
}

// wooID is the WooCommerce order id of a suite order.
func wooID(t *testing.T, o connectortest.Order) int64 {
	t.Helper()
	id, err := strconv.ParseInt(o.ID[strings.LastIndexByte(o.ID, ':')+1:], 10, 64)
	if err != nil {
		t.Fatalf("order id %s: %v", o.ID, err)
	}
	return id
}

func (c *contractConnector) MarkPaid(t *testing.T, o connectortest.Order) {
	if err := c.h.sim.Pay(wooID(t, o)); err != nil {
		t.Fatal(err)
	}
}

func (c *contractConnector) Cancel(t *testing.T, o connectortest.Order) {
	if err := c.h.sim.SetStatus(wooID(t, o), woocommercesim.StatusCancelled); err != nil {
		t.Fatal(err)
	}
}

func (c *contractConnector) setFaults(f func(*woocommercesim.Faults)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.faults)
	c.h.sim.SetFaults(c.faults)
}

func (c *contractConnector) DropWebhooks(_ *testing.T, drop bool) {
	c.setFaults(func(f *woocommercesim.Faults) {
		f.DropWebhooks = 0
		if drop {
			f.DropWebhooks = 1
		}
	})
}

func (c *contractConnector) SetFaults(_ *testing.T, in connectortest.Faults) {
	c.setFaults(func(f *woocommercesim.Faults) {
		f.TooManyRequests, f.ServerErrors, f.LostResponses = in.TooManyRequests, in.ServerErrors, in.LostResponses
		f.RetryAfter = -1 // no Retry-After (whole seconds only): the client's own short backoff
	})
}

func (c *contractConnector) WaitWebhooks(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.h.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// Redeliver posts the order's latest delivered webhook again with its own
// webhook and delivery ids, signed as sig says.
func (c *contractConnector) Redeliver(t *testing.T, o connectortest.Order, sig connectortest.Signature) int {
	t.Helper()
	id := wooID(t, o)
	var last *woocommercesim.Delivery
	for _, d := range c.h.sim.Deliveries() {
		if d.OrderID == id && d.Delivered {
			last = &d
		}
	}
	if last == nil {
		t.Fatalf("no webhook of %s delivered", o.ID)
	}
	_, event, _ := strings.Cut(last.Topic, ".")
	hdr := map[string]string{
		"Content-Type":                  "application/json",
		woocommercesim.HeaderSource:     c.h.sim.SiteURL() + "/",
		woocommercesim.HeaderTopic:      last.Topic,
		woocommercesim.HeaderWebhookID:  strconv.FormatInt(last.WebhookID, 10),
		woocommercesim.HeaderDeliveryID: last.DeliveryID,
		woocommercesim.HeaderResource:   "order",
		woocommercesim.HeaderEvent:      event,
	}
	switch sig {
	case connectortest.Signed:
		hdr[woocommercesim.HeaderSignature] = woocommercesim.Sign(webhookSecret, last.Body)
	case connectortest.WrongKey:
		hdr[woocommercesim.HeaderSignature] = woocommercesim.Sign("whsec_not_the_secret", last.Body)
	case connectortest.Unsigned:
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.h.hookURL, bytes.NewReader(last.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// Fulfilments: WooCommerce has one per order at most, the order
// completed: every line, with the order's Shipment Tracking numbers.
func (c *contractConnector) Fulfilments(t *testing.T, o connectortest.Order) []connectortest.Fulfilment {
	t.Helper()
	id := wooID(t, o)
	status, err := c.h.sim.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	if status != woocommercesim.StatusCompleted {
		return nil
	}
	f := connectortest.Fulfilment{ID: domain.FulfillmentID(id), Lines: map[string]int32{}}
	for _, l := range o.Lines {
		f.Lines[l.ID] = l.Quantity
	}
	for _, it := range c.h.sim.Trackings(id) {
		f.Tracking = append(f.Tracking, it.Number)
	}
	return []connectortest.Fulfilment{f}
}

// Confirmations counts WooCommerce's shipping e-mails to the customer
// (Completed order, customer notes).
func (c *contractConnector) Confirmations(t *testing.T, o connectortest.Order) int {
	return c.h.sim.ShippingEmails(wooID(t, o))
}

func (c *contractConnector) TransientAnswers(*testing.T) int64 { return c.front.Transient() }

func (c *contractConnector) HoldFulfilments(_ *testing.T, hold bool) { c.front.Hold(hold) }

func (c *contractConnector) RevokeCredential(*testing.T) { c.front.Revoke(true) }

func (c *contractConnector) RestoreCredential(*testing.T) { c.front.Revoke(false) }
