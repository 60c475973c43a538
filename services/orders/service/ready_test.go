package service_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// total counts the orders CountOrders reports in every tab.
func total(r *ordersv1.CountOrdersResponse) int64 {
	var n int64
	for _, c := range r.GetCounts() {
		n += c.GetCount()
	}
	return n
}

// TestNotReadyUntilReplayed restarts the service over an event store that
// holds n orders and watches it come up: until the read model has replayed
// the whole store, health says NOT_SERVING and CountOrders and ListOrders
// answer Unavailable; no answer ever has a partial count, and once health
// says SERVING every order is counted.
func TestNotReadyUntilReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: ingests and replays a thousand orders")
	}
	const n = 1000
	h := newHarness(t)
	ctx := context.Background()
	for i := range n {
		store := fmt.Sprint(5000 + i)
		h.publish(created("shopify:demo:"+store, store))
	}
	h.eventually("all orders counted", func() error {
		r, err := h.client.CountOrders(ctx, &ordersv1.CountOrdersRequest{})
		if err != nil {
			return err
		}
		if got := total(r); got != n {
			return fmt.Errorf("%d orders counted", got)
		}
		return nil
	})
	h.stop()

	h.launch()
	var notServing, unavailable int
	for {
		hr, err := h.health.Check(ctx, &healthpb.HealthCheckRequest{})
		serving := err == nil && hr.GetStatus() == healthpb.HealthCheckResponse_SERVING
		if err == nil && !serving {
			notServing++
		}
		cr, err := h.client.CountOrders(ctx, &ordersv1.CountOrdersRequest{})
		switch {
		case status.Code(err) == codes.Unavailable:
			unavailable++
			if serving {
				t.Fatalf("health SERVING but CountOrders says %v", err)
			}
		case err != nil:
			t.Fatal(err)
		case total(cr) != n:
			t.Fatalf("CountOrders answered a partial count: %d of %d (health serving: %v)", total(cr), n, serving)
		}
		lr, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{PageSize: 500})
		switch {
		case status.Code(err) == codes.Unavailable:
		case err != nil:
			t.Fatal(err)
		case len(lr.GetOrders()) != 500:
			t.Fatalf("ListOrders answered a partial page: %d orders", len(lr.GetOrders()))
		}
		if serving && err == nil {
			break
		}
	}
	t.Logf("before SERVING: %d NOT_SERVING health answers, %d Unavailable counts", notServing, unavailable)
}
