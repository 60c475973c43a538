package ports_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/ports"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// trackingAdmin records tracking updates; nothing else is called.
type trackingAdmin struct {
	ports.Admin
	mu      sync.Mutex
	updates []string
}

func (a *trackingAdmin) UpdateTracking(_ context.Context, _ *stores.Store, fulfillmentID string, tracking domain.TrackingInput, _ bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.updates = append(a.updates, fulfillmentID)
	return nil
}

// downSettings is the orders service down: store settings unavailable.
type downSettings struct{}

func (downSettings) StoreSettings(context.Context, string) (*eventsv1.StoreSettings, error) {
	return nil, errors.New("orders service: Unavailable")
}

// refusing publishes nothing: a tracking update has no fact to publish.
type refusing struct{ n int }

func (r *refusing) Publish(context.Context, string, *eventsv1.Envelope) error {
	r.n++
	return errors.New("nothing should be published")
}

// TestTrackingUpdateWithPeerDown: a TrackingUpdateRequested whose store
// settings cannot be read is retried as usual, and on its last delivery
// comes again after TrackingRetryDelay rather than being dead-lettered (it
// has no failure fact); once the peer is back it is carried out.
func TestTrackingUpdateWithPeerDown(t *testing.T) {
	reg := registry(t)
	admin := &trackingAdmin{}
	pub := &refusing{}
	c := &ports.Commands{Stores: reg, Admin: admin, Settings: downSettings{}, Publisher: pub,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: ports.CommandsConfig{MaxDeliver: 3, TrackingRetryDelay: 7 * time.Minute}}
	env := &eventsv1.Envelope{
		EventId: "tu-1", OrderId: "shopify:demo:1001",
		Event: &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
			ShipmentId: "ship-1", StoreFulfillmentId: "gid://shopify/Fulfillment/1", Tracking: &eventsv1.Tracking{Number: "4PX000111", Carrier: "FOURPX_RM"},
		}},
	}
	for _, tc := range []struct {
		name       string
		deliveries uint64
		last       bool
		later      bool
	}{
		{name: "first delivery: retried as usual", deliveries: 1},
		{name: "MaxDeliver reached: later", deliveries: 3, later: true},
		{name: "marked last: later", deliveries: 2, last: true, later: true},
		{name: "past MaxDeliver: later again", deliveries: 4, last: true, later: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Handle(context.Background(), &bus.Message{Deliveries: tc.deliveries, Last: tc.last, Envelope: env})
			delay, later := bus.RetryLaterDelay(err)
			switch {
			case err == nil || bus.IsPermanent(err):
				t.Fatalf("Handle = %v, want a transient error", err)
			case later != tc.later:
				t.Fatalf("Handle = %v: retry later %v, want %v", err, later, tc.later)
			case later && delay != 7*time.Minute:
				t.Errorf("retry after %s, want TrackingRetryDelay", delay)
			}
		})
	}
	if len(admin.updates) != 0 || pub.n != 0 {
		t.Fatalf("%d updates, %d publishes while the peer is down, want none", len(admin.updates), pub.n)
	}
	c.Settings = peers.StaticSettings{} // the orders service is back
	if err := c.Handle(context.Background(), &bus.Message{Deliveries: 5, Last: true, Envelope: env}); err != nil {
		t.Fatal(err)
	}
	if len(admin.updates) != 1 {
		t.Fatalf("%d tracking updates, want 1", len(admin.updates))
	}
}
