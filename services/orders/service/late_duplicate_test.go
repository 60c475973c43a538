package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/services/orders/internal/ports"
	"github.com/dropsync/dropsync/services/orders/service"
)

// TestLateRedeliveryChangesNothing: a connector publishes a fact again
// after JetStream's duplicate window (a platform retry hours later, with no
// webhook dedupe record to stop it, as when the record is written after
// the 200 and was lost). The order aggregate's seen event ids drop it:
// the order's history, its view and ORDER_EVENTS are as before.
func TestLateRedeliveryChangesNothing(t *testing.T) {
	const window = time.Second
	h := newHarness(t, func(c *service.Config) { c.DuplicateWindow = window })
	ctx := context.Background()
	const id = "shopify:demo:3001"
	facts := []*eventsv1.Envelope{created(id, "3001"), paid(id, "3001")}
	for _, f := range facts {
		h.publish(f)
	}
	before := h.waitTab(id, eventsv1.Tab_TAB_AWAITING_ORDER)
	history := len(h.history(id))
	published := len(h.orderEvents(bus.OrderFilter("shopify", "")))

	time.Sleep(window + window/2) // past the stream's duplicate window
	for _, delay := range []time.Duration{0, window / 4} {
		time.Sleep(delay)
		for _, f := range facts {
			h.publish(f) // the same event ids
		}
	}
	h.eventually("the redeliveries taken in", func() error {
		c, err := h.js.Consumer(ctx, bus.StreamStore, ports.ConsumerStoreEvents)
		if err != nil {
			return err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 {
			return fmt.Errorf("pending %d, ack pending %d", ci.NumPending, ci.NumAckPending)
		}
		return nil
	})
	stored := storeMessages(t, h.js)
	if stored < uint64(2*len(facts)) {
		t.Fatalf("STORE_EVENTS holds %d messages: the redelivery was not published again, the test proves nothing", stored)
	}
	if got := len(h.history(id)); got != history {
		t.Fatalf("history grew from %d to %d events", history, got)
	}
	if got := len(h.orderEvents(bus.OrderFilter("shopify", ""))); got != published {
		t.Fatalf("ORDER_EVENTS has %d events of the order, had %d", got, published)
	}
	after, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: id})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetOrder().GetRevision() != before.GetRevision() || after.GetOrder().GetTab() != before.GetTab() {
		t.Fatalf("order moved from revision %d %v to %d %v", before.GetRevision(), before.GetTab(), after.GetOrder().GetRevision(), after.GetOrder().GetTab())
	}
}

func storeMessages(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.StreamStore)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
