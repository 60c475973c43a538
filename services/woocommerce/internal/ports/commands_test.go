package ports_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/ports"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

var errCrash = errors.New("connector stopped")

// crashing stops the connector once, at a chosen call: after a write took
// effect on the store (its answer never arrives), or before a read.
type crashing struct {
	ports.API
	mu      sync.Mutex
	at      string
	n       int // the n-th call of that method
	calls   map[string]int
	crashed bool
}

func (c *crashing) hit(method string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[method]++
	if !c.crashed && method == c.at && c.calls[method] == c.n {
		c.crashed = true
		return true
	}
	return false
}

func (c *crashing) Order(ctx context.Context, id int64) (domain.Order, error) {
	if c.hit("Order") {
		return domain.Order{}, errCrash
	}
	return c.API.Order(ctx, id)
}

func (c *crashing) Trackings(ctx context.Context, id int64) ([]domain.TrackingItem, error) {
	if c.hit("Trackings") {
		return nil, errCrash
	}
	return c.API.Trackings(ctx, id)
}

func (c *crashing) AddTracking(ctx context.Context, id int64, w domain.TrackingWrite) error {
	err := c.API.AddTracking(ctx, id, w)
	if c.hit("AddTracking") {
		return errCrash
	}
	return err
}

func (c *crashing) SetStatus(ctx context.Context, id int64, status string) (domain.Order, error) {
	o, err := c.API.SetStatus(ctx, id, status)
	if c.hit("SetStatus") {
		return domain.Order{}, errCrash
	}
	return o, err
}

type recorder struct {
	mu   sync.Mutex
	envs []*eventsv1.Envelope
	fail int // fail this many publishes first
}

func (r *recorder) Publish(_ context.Context, _ string, env *eventsv1.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errCrash
	}
	r.envs = append(r.envs, env)
	return nil
}

type always notifierv1.Decision

func (d always) Issue(context.Context, string, string, string, string, string) (notifierv1.Decision, error) {
	return notifierv1.Decision(d), nil
}

// TestFulfilCrashAtEveryStep: the connector stops after each step of a
// fulfilment in turn, and a new one (no state carried over) handles the
// same command again: one tracking item per number, one completion, one
// e-mail, and FulfillmentPushed.
func TestFulfilCrashAtEveryStep(t *testing.T) {
	for _, tc := range []struct {
		at          string
		n           int
		publishFail int
	}{
		{at: "Order", n: 1},
		{at: "Trackings", n: 1},
		{at: "AddTracking", n: 1},
		{at: "AddTracking", n: 2},
		{at: "SetStatus", n: 1},
		{at: "publish", publishFail: 1},
	} {
		t.Run(tc.at+"#"+strconv.Itoa(tc.n), func(t *testing.T) {
			sim := woocommercesim.New(woocommercesim.Config{ConsumerKey: "ck", ConsumerSecret: "cs", ShipmentTracking: true, Seed: 5})
			srv := httptest.NewServer(sim)
			sim.SetSiteURL(srv.URL)
			t.Cleanup(func() { srv.Close(); sim.Close() })
			id, err := sim.CreateOrder(woocommercesim.OrderSpec{Status: "processing", Lines: []woocommercesim.LineSpec{
				{ProductID: 1, Quantity: 1, PriceCents: 500}, {ProductID: 2, Quantity: 1, PriceCents: 700},
			}})
			if err != nil {
				t.Fatal(err)
			}
			api, err := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck", ConsumerSecret: "cs",
				Outbound: client.Config{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			reg, _ := stores.New([]stores.Store{{Slug: "acme", SiteURL: srv.URL}})
			pub := &recorder{fail: tc.publishFail}
			connector := func(a ports.API) *ports.Commands {
				return &ports.Commands{
					Stores: reg, API: func(*stores.Store) ports.API { return a },
					Settings: peers.StaticSettings{}, Confirmations: always(notifierv1.Decision_DECISION_NOTIFY), Publisher: pub,
					Log: quietLog(), Config: ports.CommandsConfig{Rounds: 1},
				}
			}
			oid := "woocommerce:acme:" + strconv.FormatInt(id, 10)
			cmd := &bus.Message{Deliveries: 1, Envelope: &eventsv1.Envelope{
				EventId: envelope.ID("test", oid, "request"), OrderId: oid, OccurredAt: timestamppb.New(time.Now()),
				Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
					ShipmentId: "S2", CompletesOrder: true, Policy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER,
					Tracking: []*eventsv1.Tracking{{Number: "LP1", Carrier: "CAINIAO_STANDARD"}, {Number: "9400", Carrier: "USPS"}},
				}},
			}}
			first := connector(&crashing{API: api, at: tc.at, n: tc.n})
			if err := first.Handle(context.Background(), cmd); err == nil {
				t.Fatal("the first delivery did not fail")
			}
			cmd.Deliveries = 2
			if err := connector(api).Handle(context.Background(), cmd); err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			// And once more, all done already.
			if err := connector(api).Handle(context.Background(), cmd); err != nil {
				t.Fatalf("third delivery: %v", err)
			}
			if n := len(sim.Trackings(id)); n != 2 {
				t.Fatalf("%d tracking items", n)
			}
			if n := sim.ShippingEmails(id); n != 1 {
				t.Fatalf("%d shipping e-mails", n)
			}
			if st, _ := sim.Status(id); st != "completed" {
				t.Fatalf("status %s", st)
			}
			ids := map[string]bool{}
			for _, e := range pub.envs {
				if e.GetFulfillmentPushed() == nil {
					t.Fatalf("published %s", envelope.Type(e))
				}
				ids[e.GetEventId()] = true
			}
			if len(pub.envs) == 0 || len(ids) != 1 {
				t.Fatalf("FulfillmentPushed: %d published, %d ids", len(pub.envs), len(ids))
			}
		})
	}
}

// TestFulfilRefusedOnCancelledOrder: a cancelled order is not completed;
// FulfillmentFailed says why and the command is acked.
func TestFulfilRefusedOnCancelledOrder(t *testing.T) {
	sim := woocommercesim.New(woocommercesim.Config{ConsumerKey: "ck", ConsumerSecret: "cs", Seed: 5})
	srv := httptest.NewServer(sim)
	sim.SetSiteURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	id, _ := sim.CreateOrder(woocommercesim.OrderSpec{Status: "cancelled", Lines: []woocommercesim.LineSpec{{ProductID: 1, Quantity: 1, PriceCents: 500}}})
	api, _ := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck", ConsumerSecret: "cs"})
	reg, _ := stores.New([]stores.Store{{Slug: "acme", SiteURL: srv.URL}})
	pub := &recorder{}
	c := &ports.Commands{Stores: reg, API: func(*stores.Store) ports.API { return api }, Settings: peers.StaticSettings{},
		Confirmations: always(notifierv1.Decision_DECISION_NOTIFY), Publisher: pub, Log: quietLog()}
	oid := "woocommerce:acme:" + strconv.FormatInt(id, 10)
	err := c.Handle(context.Background(), &bus.Message{Deliveries: 1, Envelope: &eventsv1.Envelope{
		EventId: "req-1", OrderId: oid,
		Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
			ShipmentId: "S1", CompletesOrder: true, Tracking: []*eventsv1.Tracking{{Number: "LP1"}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pub.envs) != 1 || pub.envs[0].GetFulfillmentFailed().GetReason().GetCode() != ports.CodeOrderCanceled {
		t.Fatalf("published %v", pub.envs)
	}
	if st, _ := sim.Status(id); st != "cancelled" || sim.ShippingEmails(id) != 0 || len(sim.Notes(id)) != 0 {
		t.Fatal("the store was changed")
	}
}

// TestTrackingUpdate: a changed tracking number is added once, however
// often the command comes, and no e-mail goes out.
func TestTrackingUpdate(t *testing.T) {
	sim := woocommercesim.New(woocommercesim.Config{ConsumerKey: "ck", ConsumerSecret: "cs", ShipmentTracking: true, Seed: 5})
	srv := httptest.NewServer(sim)
	sim.SetSiteURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	id, _ := sim.CreateOrder(woocommercesim.OrderSpec{Status: "completed", Lines: []woocommercesim.LineSpec{{ProductID: 1, Quantity: 1, PriceCents: 500}}})
	before := len(sim.Emails(id))
	api, _ := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck", ConsumerSecret: "cs"})
	reg, _ := stores.New([]stores.Store{{Slug: "acme", SiteURL: srv.URL}})
	c := &ports.Commands{Stores: reg, API: func(*stores.Store) ports.API { return api }, Settings: peers.StaticSettings{},
		Confirmations: always(notifierv1.Decision_DECISION_NOTIFY), Publisher: &recorder{}, Log: quietLog()}
	m := &bus.Message{Deliveries: 1, Envelope: &eventsv1.Envelope{
		EventId: "upd-1", OrderId: "woocommerce:acme:" + strconv.FormatInt(id, 10),
		Event: &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
			ShipmentId: "S1", StoreFulfillmentId: domain.FulfillmentID(id), Tracking: &eventsv1.Tracking{Number: "9400NEW", Carrier: "USPS"},
		}},
	}}
	for range 2 {
		if err := c.Handle(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if tr := sim.Trackings(id); len(tr) != 1 || tr[0].Number != "9400NEW" || tr[0].Provider != "usps" {
		t.Fatalf("trackings %+v", tr)
	}
	if len(sim.Emails(id)) != before {
		t.Fatal("an e-mail for a tracking update")
	}
}

// TestTrackingUpdateReplaces: a changed number replaces the one the store
// was given, with the Shipment Tracking extension (its item is deleted)
// and without it (dropsync's private note is deleted), however often the
// command comes; no e-mail goes out.
func TestTrackingUpdateReplaces(t *testing.T) {
	for _, extension := range []bool{true, false} {
		t.Run(fmt.Sprintf("extension=%v", extension), func(t *testing.T) {
			sim := woocommercesim.New(woocommercesim.Config{ConsumerKey: "ck", ConsumerSecret: "cs", ShipmentTracking: extension, Seed: 5})
			srv := httptest.NewServer(sim)
			sim.SetSiteURL(srv.URL)
			t.Cleanup(func() { srv.Close(); sim.Close() })
			id, _ := sim.CreateOrder(woocommercesim.OrderSpec{Status: "processing", Lines: []woocommercesim.LineSpec{{ProductID: 1, Quantity: 1, PriceCents: 500}}})
			api, _ := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck", ConsumerSecret: "cs"})
			reg, _ := stores.New([]stores.Store{{Slug: "acme", SiteURL: srv.URL}})
			c := &ports.Commands{Stores: reg, API: func(*stores.Store) ports.API { return api }, Settings: peers.StaticSettings{},
				Confirmations: always(notifierv1.Decision_DECISION_NOTIFY), Publisher: &recorder{}, Log: quietLog()}
			oid := "woocommerce:acme:" + strconv.FormatInt(id, 10)
			fulfil := &bus.Message{Deliveries: 1, Envelope: &eventsv1.Envelope{
				EventId: "req-1", OrderId: oid,
				Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
					ShipmentId: "S1", CompletesOrder: true, Tracking: []*eventsv1.Tracking{{Number: "LP1", Carrier: "USPS"}},
				}},
			}}
			if err := c.Handle(context.Background(), fulfil); err != nil {
				t.Fatal(err)
			}
			emails := len(sim.Emails(id))
			update := &bus.Message{Deliveries: 1, Envelope: &eventsv1.Envelope{
				EventId: "upd-1", OrderId: oid,
				Event: &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
					ShipmentId: "S1", StoreFulfillmentId: domain.FulfillmentID(id),
					Tracking: &eventsv1.Tracking{Number: "LP2", Carrier: "USPS"}, Replaces: &eventsv1.Tracking{Number: "LP1", Carrier: "USPS"},
				}},
			}}
			for range 2 {
				if err := c.Handle(context.Background(), update); err != nil {
					t.Fatal(err)
				}
			}
			var shown []string
			if extension {
				for _, tr := range sim.Trackings(id) {
					shown = append(shown, tr.Number)
				}
			} else {
				var notes []domain.Note
				for _, n := range sim.Notes(id) {
					notes = append(notes, domain.Note{ID: n.ID, Text: n.Note})
				}
				shown = domain.NoteNumbers(notes)
			}
			if !slices.Equal(shown, []string{"LP2"}) {
				t.Fatalf("the store shows %v; want only LP2", shown)
			}
			if len(sim.Emails(id)) != emails {
				t.Fatal("an e-mail for a tracking update")
			}
		})
	}
}

// downSettings is the orders service down: store settings unavailable.
type downSettings struct{}

func (downSettings) StoreSettings(context.Context, string) (*eventsv1.StoreSettings, error) {
	return nil, errors.New("orders service: Unavailable")
}

// TestTrackingUpdateWithPeerDown: a TrackingUpdateRequested whose store
// settings cannot be read is retried as usual, and on its last delivery
// comes again after TrackingRetryDelay rather than being dead-lettered (it
// has no failure fact); once the peer is back it is carried out.
func TestTrackingUpdateWithPeerDown(t *testing.T) {
	sim := woocommercesim.New(woocommercesim.Config{ConsumerKey: "ck", ConsumerSecret: "cs", ShipmentTracking: true, Seed: 5})
	srv := httptest.NewServer(sim)
	sim.SetSiteURL(srv.URL)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	id, _ := sim.CreateOrder(woocommercesim.OrderSpec{Status: "completed", Lines: []woocommercesim.LineSpec{{ProductID: 1, Quantity: 1, PriceCents: 500}}})
	api, _ := wcapi.New(wcapi.Config{SiteURL: srv.URL, ConsumerKey: "ck", ConsumerSecret: "cs"})
	reg, _ := stores.New([]stores.Store{{Slug: "acme", SiteURL: srv.URL}})
	pub := &recorder{}
	c := &ports.Commands{Stores: reg, API: func(*stores.Store) ports.API { return api }, Settings: downSettings{},
		Confirmations: always(notifierv1.Decision_DECISION_NOTIFY), Publisher: pub, Log: quietLog(),
		Config: ports.CommandsConfig{MaxDeliver: 3, TrackingRetryDelay: 7 * time.Minute}}
	env := &eventsv1.Envelope{
		EventId: "upd-1", OrderId: "woocommerce:acme:" + strconv.FormatInt(id, 10),
		Event: &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
			ShipmentId: "S1", StoreFulfillmentId: domain.FulfillmentID(id), Tracking: &eventsv1.Tracking{Number: "9400NEW", Carrier: "USPS"},
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
	if len(pub.envs) != 0 || len(sim.Trackings(id)) != 0 {
		t.Fatalf("published %v, trackings %v: want nothing while the peer is down", pub.envs, sim.Trackings(id))
	}
	c.Settings = peers.StaticSettings{} // the orders service is back
	if err := c.Handle(context.Background(), &bus.Message{Deliveries: 5, Last: true, Envelope: env}); err != nil {
		t.Fatal(err)
	}
	if tr := sim.Trackings(id); len(tr) != 1 || tr[0].Number != "9400NEW" {
		t.Fatalf("trackings %+v", tr)
	}
}
