package service_test

import (
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/service"
)

// simHour is one simulated hour of the command retry policy: the tests run
// bus.CommandBackoff scaled down so that an hour takes this long.
const simHour = 100 * time.Millisecond

// scaledPolicy runs the connector on the default command retry policy
// with simulated time, and without waits inside one delivery.
func scaledPolicy(c *service.Config, _ *shopifysim.ShopConfig) {
	c.Shopify.CommandMaxDeliver = bus.CommandMaxDeliver
	c.Shopify.CommandBackoff = nil
	for _, d := range bus.CommandBackoff {
		c.Shopify.CommandBackoff = append(c.Shopify.CommandBackoff, d/(time.Hour/simHour))
	}
	c.Shopify.CommandRoundBackoff = time.Millisecond
	c.Shopify.APIMaxAttempts = 1
}

func attemptRequested(orderID, key string, attempt int32, o shopifysim.Order) *eventsv1.Envelope {
	e := fulfilmentRequested(orderID, key, "ship-1", map[string]int32{line(o, 0): 2, line(o, 1): 1}, "LP1", "CAINIAO_STANDARD")
	e.GetFulfillmentRequested().Attempt = attempt
	if attempt > 1 {
		e.GetFulfillmentRequested().RequestId = "retry-" + key
	}
	return e
}

// TestStoreOutageOfHoursEndsFulfilledOnce: Shopify answers every call 5xx
// for six simulated hours (far past the old ten minutes of redeliveries);
// the command is redelivered on the policy's backoff and, once Shopify is
// back, the shipment is fulfilled exactly once, with one e-mail, and no
// FulfillmentFailed and no dead letter.
func TestStoreOutageOfHoursEndsFulfilledOnce(t *testing.T) {
	h := newHarness(t, scaledPolicy)
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)

	h.sim.SetFaults(shopifysim.Faults{ServerErrors: 1})
	h.publish(attemptRequested(id, "fr-1", 1, o))
	time.Sleep(6 * simHour)
	outage := h.sim.Stats().ServerErrors
	h.sim.SetFaults(shopifysim.Faults{})

	h.waitFor("FulfillmentPushed", id, 1)
	if n := len(h.of("FulfillmentFailed", id)); n != 0 {
		t.Fatalf("%d FulfillmentFailed after an outage inside the retry horizon", n)
	}
	fs, _ := h.sim.Fulfillments(shop)
	if len(fs) != 1 || len(h.sim.Notifications()) != 1 {
		t.Fatalf("%d fulfilments, %d e-mails; want 1 and 1", len(fs), len(h.sim.Notifications()))
	}
	if dl, err := bus.DeadLetters(t.Context(), h.js, bus.StreamOrder, 0); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %v %v", dl, err)
	}
	if outage == 0 {
		t.Fatal("the outage answered nothing")
	}
	t.Logf("%d calls answered 5xx during the outage", outage)
}

// TestRefusalThenRetryFulfillment: Shopify refuses the fulfilment for good
// (userErrors): FulfillmentFailed, not retryable, nothing created, no
// e-mail. Once the merchant fixed the cause, the next attempt (what
// RetryFulfillment records) fulfils once with one e-mail; a later attempt
// finds that fulfilment on the store and reports it, creating nothing.
func TestRefusalThenRetryFulfillment(t *testing.T) {
	h := newHarness(t, scaledPolicy)
	o := h.newOrder()
	id := orderID(o)
	h.waitFor("StoreOrderCreated", id, 1)

	h.sim.SetFaults(shopifysim.Faults{RefuseFulfillments: "The location cannot fulfil this order."})
	h.publish(attemptRequested(id, "fr-1", 1, o))
	f := h.waitFor("FulfillmentFailed", id, 1)[0].GetFulfillmentFailed()
	if f.GetReason().GetRetryable() || f.GetAttempt() != 1 || f.GetReason().GetCode() != "STORE_REJECTED" {
		t.Fatalf("failed %v", f)
	}
	if fs, _ := h.sim.Fulfillments(shop); len(fs) != 0 || len(h.sim.Notifications()) != 0 {
		t.Fatalf("refused: %d fulfilments, %d e-mails", len(fs), len(h.sim.Notifications()))
	}

	h.sim.SetFaults(shopifysim.Faults{})
	h.publish(attemptRequested(id, "fr-2", 2, o))
	pushed := h.waitFor("FulfillmentPushed", id, 1)
	h.publish(attemptRequested(id, "fr-3", 3, o))
	again := h.waitFor("FulfillmentPushed", id, 2)
	if again[1].GetFulfillmentPushed().GetStoreFulfillmentId() != pushed[0].GetFulfillmentPushed().GetStoreFulfillmentId() {
		t.Fatalf("third attempt reported %v, want the second's fulfilment", again[1].GetFulfillmentPushed())
	}
	fs, _ := h.sim.Fulfillments(shop)
	if len(fs) != 1 || len(h.sim.Notifications()) != 1 {
		t.Fatalf("%d fulfilments, %d e-mails; want 1 and 1", len(fs), len(h.sim.Notifications()))
	}
	if n := len(h.of("FulfillmentFailed", id)); n != 1 {
		t.Fatalf("%d FulfillmentFailed, want the first attempt's only", n)
	}
}
