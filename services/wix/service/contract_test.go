package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/connectortest"
	"github.com/dropsync/dropsync/pkg/wixsim"
)

// TestContract runs the store-connector suite against the Wix connector
// and the Wix simulator. Wix can do every property.
func TestContract(t *testing.T) {
	connectortest.Run(t, connectortest.Features{}, newContractConnector)
}

// contractConnector is the suite's harness over the connector's own test
// harness, with a connectortest.Front between the connector and the
// simulator's API.
type contractConnector struct {
	h     *harness
	front *connectortest.Front

	mu     sync.Mutex
	faults wixsim.Faults
}

var (
	otherKeyOnce sync.Once
	otherKey     *rsa.PrivateKey
)

// wrongKey is an RSA key that is not the app's: a webhook signed with it
// must be refused.
func wrongKey(t *testing.T) *rsa.PrivateKey {
	otherKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		otherKey = k
	})
	return otherKey
}

func newContractConnector(t *testing.T, opts connectortest.Options) connectortest.Connector {
	h := newHarness(t, options{reconcile: opts.ReconcileInterval})
	front := &connectortest.Front{
		Handler: h.sim,
		IsFulfilmentWrite: func(r *http.Request, _ []byte) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/create-fulfillment")
		},
		Spoil: func(r *http.Request) { r.Header.Set("Authorization", "REVOKED-ACCESS-TOKEN") },
	}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { front.Hold(false) })
	h.cfg.Wix.BaseURL = srv.URL
	// A held answer must outlast the suite's stop: the connector must not
	// give up on it and read the fulfilment back first.
	h.cfg.Wix.CallTimeout = 20 * time.Second
	if opts.MaxDeliver > 0 {
		h.cfg.Wix.MaxDeliver = opts.MaxDeliver
	}
	if opts.Backoff != nil {
		h.cfg.Wix.RetryBackoff = opts.Backoff
	}
	if opts.DuplicateWindow > 0 {
		h.cfg.DuplicateWindow = opts.DuplicateWindow
		// newHarness made the streams already: their window changes too.
		if err := bus.EnsureStreams(t.Context(), h.js, bus.Config{DuplicateWindow: opts.DuplicateWindow}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h.start()
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
	in := wixsim.NewOrder{
		Lines: []wixsim.NewLine{
			{Name: "item 0", SKU: "SKU-0", VariantID: "variant-0", Quantity: 2, Price: "10.00"},
			{Name: "item 1", SKU: "SKU-1", VariantID: "variant-1", Quantity: 1, Price: "10.00"},
		},
		Email: "buyer@example.com",
		Recipient: &wixsim.AddressWithContact{
			Address:        wixsim.Address{Country: "US", Subdivision: "US-NY", City: "New York", PostalCode: "10001", AddressLine1: "1 Main St"},
			ContactDetails: wixsim.ContactDetails{FirstName: "Ann", LastName: "Lee"},
		},
	}
	if !paid {
		in.PaymentStatus = wixsim.PaymentPending
	}
	o, err := c.h.sim.CreateOrder(siteID, in)
	if err != nil {
		t.Fatal(err)
	}
	out := connectortest.Order{ID: orderID(o.ID)}
	for _, l := range o.LineItems {
		out.Lines = append(out.Lines, connectortest.Line{ID: l.ID, Quantity: int32(l.Quantity)})
	}
	return out
}

// wixID is the Wix order id of a suite order.
func wixID(o connectortest.Order) string { return strings.TrimPrefix(o.ID, "wix:"+slug+":") }

func (c *contractConnector) MarkPaid(t *testing.T, o connectortest.Order) {
	if _, err := c.h.sim.SetPaymentStatus(wixID(o), wixsim.PaymentPaid); err != nil {
		t.Fatal(err)
	}
}

func (c *contractConnector) Cancel(t *testing.T, o connectortest.Order) {
	if _, err := c.h.sim.Cancel(wixID(o)); err != nil {
		t.Fatal(err)
	}
}

func (c *contractConnector) setFaults(f func(*wixsim.Faults)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.faults)
	c.h.sim.SetFaults(c.faults)
}

func (c *contractConnector) DropWebhooks(_ *testing.T, drop bool) {
	c.setFaults(func(f *wixsim.Faults) {
		f.DropWebhooks = 0
		if drop {
			f.DropWebhooks = 1
		}
	})
}

func (c *contractConnector) SetFaults(_ *testing.T, in connectortest.Faults) {
	c.setFaults(func(f *wixsim.Faults) {
		f.TooManyRequests, f.ServerErrors, f.LostResponses = in.TooManyRequests, in.ServerErrors, in.LostResponses
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

// Redeliver posts the JWT of the order's latest delivered event again:
// as Wix signed it, re-signed with a key that is not the app's, or with
// its signature cut off.
func (c *contractConnector) Redeliver(t *testing.T, o connectortest.Order, sig connectortest.Signature) int {
	t.Helper()
	delivered := map[string]bool{}
	for _, d := range c.h.sim.Deliveries() {
		if d.Delivered {
			delivered[d.EventID] = true
		}
	}
	var last *wixsim.Event
	for _, e := range c.h.sim.Events() {
		if e.OrderID == wixID(o) && delivered[e.ID] {
			last = &e
		}
	}
	if last == nil {
		t.Fatalf("no webhook of %s delivered", o.ID)
	}
	body := last.JWT
	switch sig {
	case connectortest.Signed:
	case connectortest.WrongKey:
		claims, err := wixsim.EncodeClaims(last.Type, last.InstanceID, last.Payload, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if body, err = wixsim.SignRS256(wrongKey(t), wixsim.DefaultKeyID, claims); err != nil {
			t.Fatal(err)
		}
	case connectortest.Unsigned:
		body = body[:strings.LastIndexByte(body, '.')+1]
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.h.hookURL+"/webhooks/wix", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (c *contractConnector) Fulfilments(t *testing.T, o connectortest.Order) []connectortest.Fulfilment {
	t.Helper()
	fs, err := c.h.sim.Fulfillments(wixID(o))
	if err != nil {
		t.Fatal(err)
	}
	var out []connectortest.Fulfilment
	for _, f := range fs {
		cf := connectortest.Fulfilment{ID: f.ID, Lines: map[string]int32{}}
		for _, l := range f.LineItems {
			cf.Lines[l.ID] += int32(l.Quantity)
		}
		if f.TrackingInfo != nil {
			cf.Tracking = []string{f.TrackingInfo.TrackingNumber}
		}
		out = append(out, cf)
	}
	return out
}

// Confirmations counts Wix's shipping confirmation e-mails for the order.
func (c *contractConnector) Confirmations(_ *testing.T, o connectortest.Order) int {
	n := 0
	for _, e := range c.h.sim.Emails() {
		if e.OrderID == wixID(o) {
			n++
		}
	}
	return n
}

func (c *contractConnector) TransientAnswers(*testing.T) int64 { return c.front.Transient() }

func (c *contractConnector) HoldFulfilments(_ *testing.T, hold bool) { c.front.Hold(hold) }

func (c *contractConnector) RevokeCredential(*testing.T) { c.front.Revoke(true) }

func (c *contractConnector) RestoreCredential(*testing.T) { c.front.Revoke(false) }
