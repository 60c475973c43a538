package service_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// downAddr is a loopback address nothing listens on: a peer that is down.
func downAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestLastDeliveryWithPeerDownIsAFact: the orders service (store
// settings) or the notifier is down through every delivery of a
// FulfillmentRequested. The last delivery ends in a retryable
// FulfillmentFailed naming the peer, the order asks for attention, the
// store is left untouched, and nothing is dead-lettered.
func TestLastDeliveryWithPeerDownIsAFact(t *testing.T) {
	for name, cfg := range map[string]func(down string) peers.Config{
		"orders service down": func(down string) peers.Config { return peers.Config{OrdersAddr: down} },
		"notifier down":       func(down string) peers.Config { return peers.Config{NotifierAddr: down} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := cfg(downAddr(t))
			c.NotifierTimeout = time.Second
			p, err := peers.Dial(ctx, c, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			h := newHarness(t, opts{tracking: true, peers: p, maxDeliver: 2})
			id := h.order("processing")
			h.eventually(5*time.Second, "the paid order on the bus", func() bool { return has(h.storeEvents(id), "StorePaymentCaptured") })
			a := h.aggregate()
			a.pump(id)
			lines, _ := h.sim.LineIDs(id)
			l1, l2 := strconv.FormatInt(lines[0], 10), strconv.FormatInt(lines[1], 10)
			a.feed(placed(id, map[string]map[string]int32{"AE1": {l1: 2}, "AE2": {l2: 1}}))
			a.feed(shipment(id, "AE1", "S1", "LP00123456789CN", "CAINIAO_FULFILLMENT_STD", map[string]int32{l1: 2}))
			d := a.feed(shipment(id, "AE2", "S2", "9400111899223197428490", "USPS", map[string]int32{l2: 1}))
			if len(ofType(d, "FulfillmentRequested")) != 1 {
				t.Fatalf("decided %v, want one FulfillmentRequested", d)
			}
			a.publish(d)

			h.eventually(30*time.Second, "FulfillmentFailed", func() bool { return has(h.storeEvents(id), "FulfillmentFailed") })
			failed := ofType(h.storeEvents(id), "FulfillmentFailed")
			if len(failed) != 1 {
				t.Fatalf("%d FulfillmentFailed, want 1", len(failed))
			}
			reason := failed[0].GetFulfillmentFailed().GetReason()
			if reason.GetCode() != "PEER_UNAVAILABLE" || !reason.GetRetryable() {
				t.Errorf("reason %v, want retryable PEER_UNAVAILABLE", reason)
			}
			raised := ofType(a.feed(failed[0]), "AttentionRaised")
			if len(raised) != 1 || raised[0].GetAttentionRaised().GetKind() != eventsv1.AttentionKind_ATTENTION_KIND_FULFILLMENT_FAILED {
				t.Errorf("attention %v, want FULFILLMENT_FAILED", raised)
			}
			if st, _ := h.sim.Status(id); st != "processing" {
				t.Errorf("status %s: the store changed without its peer", st)
			}
			if dl, err := bus.DeadLetters(context.Background(), h.js, bus.StreamOrder, 0); err != nil || len(dl) != 0 {
				t.Errorf("dead letters %v (%v), want none: the fact is the outcome", dl, err)
			}
		})
	}
}
