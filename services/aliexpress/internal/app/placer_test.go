package app_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
	"github.com/dropsync/dropsync/services/aliexpress/internal/app"
)

// flakyPublisher fails the first fails publishes of SupplierOrderPlaced
// (all of them when fails is negative), each time canceling the handler's
// context first (its time is spent), then passes them on.
type flakyPublisher struct {
	next    bus.EventPublisher
	fails   int
	cancel  context.CancelFunc
	calls   atomic.Int32
	placed  atomic.Int32
	spentOK atomic.Bool // a publish ran with the handler's context spent
}

func (f *flakyPublisher) Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error {
	if env.GetSupplierOrderPlaced() == nil {
		return f.next.Publish(ctx, subject, env)
	}
	n := int(f.calls.Add(1))
	if f.fails < 0 || n <= f.fails {
		f.cancel()
		return errors.New("nats: timeout")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.spentOK.Store(true)
	f.placed.Add(1)
	return f.next.Publish(ctx, subject, env)
}

// TestLastDeliveryOfAPlacementEndsInAFact: on the last delivery, a
// placement AliExpress made is recorded even when publishing its
// SupplierOrderPlaced fails at first and the delivery's time is spent;
// when it cannot be recorded at all, the command asks for a later
// delivery (placing again is idempotent) and is never dead-lettered.
func TestLastDeliveryOfAPlacementEndsInAFact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fails  int
		last   bool
		placed int32
		later  bool
	}{
		{name: "publish fails once on the last delivery", fails: 1, last: true, placed: 1},
		{name: "publish keeps failing on the last delivery", fails: -1, last: true, later: true},
		{name: "publish fails before the last delivery", fails: 1, last: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, nc := natstest.Connect(t)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
				t.Fatal(err)
			}
			store, err := app.OpenStore(ctx, js, 1)
			if err != nil {
				t.Fatal(err)
			}
			sim := aliexpresssim.New(aliexpresssim.Config{TokenTTL: 365 * 24 * time.Hour})
			sim.AddApp("app", "secret")
			tok, _ := sim.IssueToken("app", "buyer")
			sim.AddProduct(aliexpresssim.Product{ID: "1005000", SellerID: "9000", ShippingMethods: []string{"CAINIAO_STANDARD"},
				SKUs: []aliexpresssim.SKU{{ID: "120000", Stock: 100, PriceCents: 100}}})
			gw := httptest.NewServer(sim)
			t.Cleanup(gw.Close)
			api := aeapi.New(aeapi.Config{BaseURL: gw.URL, AppKey: "app", AppSecret: "secret", AccessToken: tok.AccessToken,
				HTTP: client.New(client.Config{Logger: quiet, MaxAttempts: 1})})

			hctx, cancel := context.WithCancel(ctx)
			defer cancel()
			pub := &flakyPublisher{next: bus.NewPublisher(js, bus.PublisherConfig{}), fails: tc.fails, cancel: cancel}
			placer := app.NewPlacer(api, store, pub, time.Now, 5, quiet).SettleWithin(2 * time.Second)
			env := &eventsv1.Envelope{EventId: "cmd-1", OrderId: "shopify:acme:1",
				Event: &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{
					RequestId: "req-1",
					Items:     []*eventsv1.SupplierItem{{LineItemId: "li-1", ProductId: "1005000", ShippingMethod: "CAINIAO_STANDARD", Quantity: 1}},
					ShippingAddress: &eventsv1.Address{FullName: "A B", Address1: "1 St", City: "Lisboa", Province: "Lisboa", Zip: "1100",
						CountryCode: "PT", Phone: "+351912345678"},
				}}}
			deliveries := uint64(1)
			if tc.last {
				deliveries = 5
			}
			err = placer.Handle(hctx, &bus.Message{Envelope: env, Deliveries: deliveries, Last: tc.last})

			_, later := bus.RetryLaterDelay(err)
			switch {
			case tc.later:
				if !later || bus.IsPermanent(err) {
					t.Fatalf("Handle = %v, want a RetryLater error", err)
				}
			case tc.last:
				if err != nil {
					t.Fatalf("Handle = %v, want nil (the fact recorded)", err)
				}
			default:
				if err == nil || later || bus.IsPermanent(err) {
					t.Fatalf("Handle = %v, want an ordinary error the consumer retries", err)
				}
			}
			if got := pub.placed.Load(); got != tc.placed {
				t.Errorf("%d SupplierOrderPlaced published, want %d", got, tc.placed)
			}
			if tc.placed > 0 && !pub.spentOK.Load() {
				t.Error("SupplierOrderPlaced was not published with time of its own")
			}
			if n := len(store.Open()); n != 1 {
				t.Errorf("%d orders tracked, want the placed one", n)
			}
			if tc.later {
				// The later delivery, NATS back: placing again places
				// nothing new, and the fact is recorded.
				pub.fails = 0
				err := placer.Handle(ctx, &bus.Message{Envelope: env, Deliveries: 6, Last: true})
				if err != nil || pub.placed.Load() != 1 {
					t.Fatalf("later delivery: Handle = %v, %d SupplierOrderPlaced; want nil, 1", err, pub.placed.Load())
				}
			}
			if n := len(sim.Orders()); n != 1 {
				t.Errorf("%d AliExpress orders, want 1", n)
			}
		})
	}
}
