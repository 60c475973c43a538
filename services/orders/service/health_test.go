package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// storeConnection is a connector's StoreConnectionChanged for shopify:demo.
func storeConnection(healthy bool, reason string, at time.Time) *eventsv1.Envelope {
	return &eventsv1.Envelope{
		EventId: envelope.ID("test", "store-connection", at.Format(time.RFC3339Nano)), OrderId: "shopify:demo",
		OccurredAt: timestamppb.New(at), RecordedAt: timestamppb.New(at),
		Source: &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_SHOPIFY, StoreId: "demo", Service: "shopify"},
		Event: &eventsv1.Envelope_StoreConnectionChanged{StoreConnectionChanged: &eventsv1.StoreConnectionChanged{
			Store: "demo", Healthy: healthy, Reason: reason,
		}},
	}
}

// TestStoreHealthFollowsConnectionEvents: a store whose platform refused
// the connector's token is shown unhealthy by GetStoreHealth, with the
// reason and since when, healthy again after the connector's healthy
// event, and so after a restart (folded from the event store); nothing is
// dead-lettered.
func TestStoreHealthFollowsConnectionEvents(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	health := func(store string) (*ordersv1.StoreHealth, error) {
		r, err := h.client.GetStoreHealth(ctx, &ordersv1.GetStoreHealthRequest{Store: store})
		if err != nil {
			return nil, err
		}
		if len(r.GetStores()) != 1 {
			return nil, fmt.Errorf("%d stores, want 1", len(r.GetStores()))
		}
		return r.GetStores()[0], nil
	}
	want := func(what string, healthy bool, reason string, since time.Time) {
		t.Helper()
		h.eventually(what, func() error {
			got, err := health("shopify:demo")
			if err != nil {
				return err
			}
			if got.GetHealthy() != healthy || got.GetReason() != reason || !got.GetSince().AsTime().Equal(since) {
				return fmt.Errorf("health %v", got)
			}
			return nil
		})
	}

	if got, err := health("shopify:demo"); err != nil || !got.GetHealthy() || got.GetSince() != nil {
		t.Fatalf("health of a store never reported = %v, %v; want healthy, no since", got, err)
	}
	const reason = `shopify answered HTTP 401 Unauthorized: {"errors":"[API] Invalid API key or access token"}`
	down := t0.Add(time.Minute)
	h.publish(storeConnection(false, reason, down))
	want("unhealthy", false, reason, down)

	all, err := h.client.GetStoreHealth(ctx, &ordersv1.GetStoreHealthRequest{})
	if err != nil || len(all.GetStores()) != 1 || all.GetStores()[0].GetStore() != "shopify:demo" {
		t.Fatalf("every store's health = %v, %v; want shopify:demo", all, err)
	}

	// A resync of an order of the store says the store is unhealthy.
	h.publish(created("shopify:demo:4101", "4101"))
	h.waitTab("shopify:demo:4101", eventsv1.Tab_TAB_PENDING)
	rs, err := h.client.ResyncOrder(ctx, &ordersv1.ResyncOrderRequest{RequestId: "resync-4101", OrderId: "shopify:demo:4101"})
	if err != nil {
		t.Fatal(err)
	}
	if sh := rs.GetStoreHealth(); sh.GetHealthy() || sh.GetReason() != reason {
		t.Errorf("resync of an order of an unhealthy store answered store health %v, want unhealthy with the reason", sh)
	}

	up := down.Add(time.Minute)
	h.publish(storeConnection(true, "", up))
	want("healthy again", true, "", up)
	rs, err = h.client.ResyncOrder(ctx, &ordersv1.ResyncOrderRequest{RequestId: "resync-4101b", OrderId: "shopify:demo:4101"})
	if err != nil || rs.GetStoreHealth() != nil {
		t.Errorf("resync of an order of a healthy store = %v, %v; want no store health", rs, err)
	}

	h.stop()
	h.start()
	want("healthy after a restart", true, "", up)

	if _, err := h.client.GetStoreHealth(ctx, &ordersv1.GetStoreHealthRequest{Store: "nope"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetStoreHealth of a malformed store key: %v, want InvalidArgument", err)
	}
	if dl, _ := bus.DeadLetters(ctx, h.js, bus.StreamStore, 10); len(dl) != 0 {
		t.Fatalf("connection events dead-lettered: %+v", dl)
	}
}
