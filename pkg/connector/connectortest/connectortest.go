package connectortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Feature is a property of the suite a platform may be unable to have.
// Its value is the subtest's name.
type Feature string

// The properties, each a subtest of Run (see the package documentation).
const (
	SignatureRefusals Feature = "SignatureRefusals"
	DedupePastWindow  Feature = "DedupePastWindow"
	ExactlyOnce       Feature = "ExactlyOnce"
	FaultsConverge    Feature = "FaultsConverge"
	ReconcileDropped  Feature = "ReconcileDropped"
	Resync            Feature = "Resync"
	PartialFulfilment Feature = "PartialFulfilment"
	TrackingUpdate    Feature = "TrackingUpdate"
	RefusedFulfilment Feature = "RefusedFulfilment"
	CredentialFailure Feature = "CredentialFailure"
	StoreOutage       Feature = "StoreOutage"
	LaterAttempt      Feature = "LaterAttempt"
)

// Features is what a connector declares its platform cannot do: each
// missing feature with the reason (the platform's limit, not the
// connector's). The suite skips those subtests, naming the reason, and
// runs every other one.
type Features struct {
	// Missing are the features the platform cannot have, each with the
	// platform's limit that rules it out.
	Missing map[Feature]string
	// Todo are properties the platform can have and the connector does
	// not have yet: a known bug, each with a TODO naming it and what the
	// fix needs. They are skipped as failing, loudly; a connector should
	// have none.
	Todo map[Feature]string
}

// waitFor bounds every wait of the suite on the connector: generous for a
// shared CI machine; a healthy run takes a fraction of it.
const waitFor = 30 * time.Second

type property struct {
	feature Feature
	opts    Options
	fn      func(t *testing.T, c Connector)
}

// Run runs the store-connector suite. For each property it calls
// newConnector with the options the property needs and checks the
// property against the connector it returns, skipping those features
// declares missing.
func Run(t *testing.T, features Features, newConnector func(t *testing.T, opts Options) Connector) {
	t.Helper()
	props := []property{
		{SignatureRefusals, Options{}, testSignatureRefusals},
		{DedupePastWindow, Options{DuplicateWindow: dedupeWindow}, testDedupePastWindow},
		{ExactlyOnce, Options{}, testExactlyOnce},
		{FaultsConverge, Options{MaxDeliver: 30}, testFaultsConverge},
		{ReconcileDropped, Options{ReconcileInterval: 200 * time.Millisecond}, testReconcileDropped},
		{Resync, Options{}, testResync},
		{PartialFulfilment, Options{}, testPartialFulfilment},
		{TrackingUpdate, Options{}, testTrackingUpdate},
		{RefusedFulfilment, Options{}, testRefusedFulfilment},
		{CredentialFailure, Options{}, testCredentialFailure},
		{StoreOutage, Options{MaxDeliver: bus.CommandMaxDeliver, Backoff: scaledCommandBackoff()}, testStoreOutage},
		{LaterAttempt, Options{}, testLaterAttempt},
	}
	known := map[Feature]bool{}
	for _, p := range props {
		known[p.feature] = true
	}
	for f, reason := range features.Missing {
		if !known[f] {
			t.Errorf("features: %q is not a property of the suite", f)
		}
		if strings.TrimSpace(reason) == "" {
			t.Errorf("features: %s declared missing without a reason", f)
		}
		if _, ok := features.Todo[f]; ok {
			t.Errorf("features: %s is both missing and to do", f)
		}
	}
	for f, todo := range features.Todo {
		if !known[f] {
			t.Errorf("features: %q is not a property of the suite", f)
		}
		if !strings.Contains(todo, "TODO") {
			t.Errorf("features: to-do %s does not say TODO and name the bug", f)
		}
	}
	for _, p := range props {
		t.Run(string(p.feature), func(t *testing.T) {
			if reason, ok := features.Missing[p.feature]; ok {
				t.Skipf("the platform cannot: %s", reason)
			}
			if todo, ok := features.Todo[p.feature]; ok {
				t.Skipf("known connector bug, left out: %s", todo)
			}
			p.fn(t, newConnector(t, p.opts))
		})
	}
}

// suite is the view of one subtest on the connector's JetStream.
type suite struct {
	t *testing.T
	c Connector
}

func on(t *testing.T, c Connector) *suite { return &suite{t: t, c: c} }

func (s *suite) ctx() context.Context {
	ctx, cancel := context.WithTimeout(s.t.Context(), waitFor)
	s.t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it returns nil or waitFor passes.
func (s *suite) eventually(what string, cond func() error) {
	s.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: still %v after %s", what, err, waitFor)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events are the order's events on a stream, in stream order, JetStream
// duplicates included.
func (s *suite) events(stream, orderID string) []*eventsv1.Envelope {
	s.t.Helper()
	ctx := s.ctx()
	st, err := s.c.JetStream().Stream(ctx, stream)
	if err != nil {
		s.t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatalf("stream %s: %v", stream, err)
	}
	var out []*eventsv1.Envelope
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatalf("stream %s message %d: %v", stream, seq, err)
		}
		e, err := envelope.Unmarshal(m.Data)
		if err != nil {
			s.t.Fatalf("stream %s message %d: %v", stream, seq, err)
		}
		if orderID == "" || e.GetOrderId() == orderID {
			out = append(out, e)
		}
	}
	return out
}

// store is the order's store events.
func (s *suite) store(orderID string) []*eventsv1.Envelope {
	return s.events(bus.StreamStore, orderID)
}

// of is the order's store events of a type.
func (s *suite) of(typ, orderID string) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range s.store(orderID) {
		if envelope.Type(e) == typ {
			out = append(out, e)
		}
	}
	return out
}

// distinct drops JetStream duplicates (the same event id twice).
func distinct(envs []*eventsv1.Envelope) []*eventsv1.Envelope {
	seen := map[string]bool{}
	var out []*eventsv1.Envelope
	for _, e := range envs {
		if !seen[e.GetEventId()] {
			seen[e.GetEventId()] = true
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for n store events of typ about the order matching
// match (nil: any) and returns the distinct ones.
func (s *suite) waitEvent(typ, orderID string, n int, match func(*eventsv1.Envelope) bool) []*eventsv1.Envelope {
	s.t.Helper()
	var got []*eventsv1.Envelope
	s.eventually(fmt.Sprintf("%d %s of %s", n, typ, orderID), func() error {
		got = got[:0]
		for _, e := range distinct(s.of(typ, orderID)) {
			if match == nil || match(e) {
				got = append(got, e)
			}
		}
		if len(got) < n {
			return fmt.Errorf("%d so far", len(got))
		}
		return nil
	})
	return got
}

// outcome waits for the connector's outcome of a shipment's command: a
// FulfillmentPushed or a FulfillmentFailed naming it.
func (s *suite) outcome(orderID, shipment string) *eventsv1.Envelope {
	s.t.Helper()
	var got *eventsv1.Envelope
	s.eventually("outcome of "+orderID+" "+shipment, func() error {
		for _, e := range s.store(orderID) {
			if p := e.GetFulfillmentPushed(); p != nil && p.GetShipmentId() == shipment {
				got = e
				return nil
			}
			if f := e.GetFulfillmentFailed(); f != nil && f.GetShipmentId() == shipment {
				got = e
				return nil
			}
		}
		return errors.New("none yet")
	})
	return got
}

// idle waits until every consumer of ORDER_EVENTS (the connector's
// command consumer) has nothing pending or unacknowledged.
func (s *suite) idle() {
	s.t.Helper()
	s.eventually("commands handled", func() error {
		ctx := s.ctx()
		st, err := s.c.JetStream().Stream(ctx, bus.StreamOrder)
		if err != nil {
			return err
		}
		names := st.ConsumerNames(ctx)
		n := 0
		for name := range names.Name() {
			n++
			c, err := st.Consumer(ctx, name)
			if err != nil {
				return err
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return fmt.Errorf("consumer %s: %d pending, %d unacknowledged", name, info.NumPending, info.NumAckPending)
			}
		}
		if err := names.Err(); err != nil {
			return err
		}
		if n == 0 {
			return errors.New("no command consumer")
		}
		return nil
	})
}

// seen waits until the connector published the order's creation (by
// webhook): the suite then knows its line item ids reached the bus.
func (s *suite) seen(o Order) {
	s.t.Helper()
	s.waitEvent("StoreOrderCreated", o.ID, 1, nil)
	s.c.WaitWebhooks(s.t)
}

// command builds an order event addressed to the connector, as the
// orders service's relay publishes it.
func command(orderID, key string, set func(*eventsv1.Envelope)) *eventsv1.Envelope {
	id, _ := order.ParseID(orderID) // checked by the connector; a bad id is the harness's bug
	now := timestamppb.Now()
	e := &eventsv1.Envelope{
		EventId:    envelope.ID("connectortest", orderID, key),
		OrderId:    orderID,
		OccurredAt: now,
		RecordedAt: now,
		Source:     &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_DROPSYNC, StoreId: id.Store, Service: "orders"},
	}
	set(e)
	return e
}

// fulfil is the FulfillmentRequested of a shipment of lines of o (all of
// them when lines is empty) with one tracking number.
func fulfil(o Order, shipment string, lines []Line, number string) *eventsv1.Envelope {
	if len(lines) == 0 {
		lines = o.Lines
	}
	fr := &eventsv1.FulfillmentRequested{
		ShipmentId:     shipment,
		Tracking:       []*eventsv1.Tracking{{Number: number, Carrier: "CAINIAO_STANDARD"}},
		CompletesOrder: len(lines) == len(o.Lines),
		Policy:         eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART,
	}
	for _, l := range lines {
		fr.Lines = append(fr.Lines, &eventsv1.LineQuantity{LineItemId: l.ID, Quantity: l.Quantity})
	}
	return command(o.ID, "fr/"+shipment, func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: fr}
	})
}

// publish puts a command on ORDER_EVENTS as the orders service does, its
// event id the Nats-Msg-Id.
func (s *suite) publish(env *eventsv1.Envelope) {
	s.t.Helper()
	subject, err := bus.SubjectFor(env)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := bus.NewPublisher(s.c.JetStream(), bus.PublisherConfig{}).Publish(s.ctx(), subject, env); err != nil {
		s.t.Fatalf("publish %s: %v", envelope.Type(env), err)
	}
}

// again publishes the same command under a fresh Nats-Msg-Id, so
// JetStream takes it and the connector gets it a second time: a relay
// republishing after its duplicate window, or a merchant's retry.
func (s *suite) again(env *eventsv1.Envelope) {
	s.t.Helper()
	subject, err := bus.SubjectFor(env)
	if err != nil {
		s.t.Fatal(err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		s.t.Fatal(err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, env.GetEventId()+"/again/"+uuid.NewString())
	if _, err := s.c.JetStream().PublishMsg(s.ctx(), msg); err != nil {
		s.t.Fatalf("publish %s again: %v", envelope.Type(env), err)
	}
}

// pushedOnce checks the order has exactly one FulfillmentPushed for the
// shipment (JetStream duplicates aside) and returns it.
func (s *suite) pushedOnce(o Order, shipment string) *eventsv1.FulfillmentPushed {
	s.t.Helper()
	var got []*eventsv1.FulfillmentPushed
	for _, e := range distinct(s.of("FulfillmentPushed", o.ID)) {
		if p := e.GetFulfillmentPushed(); p.GetShipmentId() == shipment {
			got = append(got, p)
		}
	}
	if len(got) != 1 {
		s.t.Fatalf("%s: %d FulfillmentPushed for %s, want 1: %v", o.ID, len(got), shipment, got)
	}
	return got[0]
}

// fulfilments checks the order has n fulfilments on the platform and
// returns them.
func (s *suite) fulfilments(o Order, n int) []Fulfilment {
	s.t.Helper()
	fs := s.c.Fulfilments(s.t, o)
	if len(fs) != n {
		s.t.Fatalf("%s: %d fulfilments on the platform, want %d: %+v", o.ID, len(fs), n, fs)
	}
	return fs
}

func (s *suite) confirmations(o Order, n int) {
	s.t.Helper()
	if got := s.c.Confirmations(s.t, o); got != n {
		s.t.Errorf("%s: %d shipping confirmations sent to the customer, want %d", o.ID, got, n)
	}
}

// checkLines checks a fulfilment holds exactly lines.
func checkLines(t *testing.T, f Fulfilment, lines []Line) {
	t.Helper()
	if len(f.Lines) != len(lines) {
		t.Errorf("fulfilment %s holds lines %v, want %v", f.ID, f.Lines, lines)
		return
	}
	for _, l := range lines {
		if f.Lines[l.ID] != l.Quantity {
			t.Errorf("fulfilment %s holds lines %v, want %v", f.ID, f.Lines, lines)
			return
		}
	}
}

// snapshot is the order a store event carries, nil if none.
func snapshot(e *eventsv1.Envelope) *eventsv1.StoreOrder {
	switch {
	case e.GetStoreOrderCreated() != nil:
		return e.GetStoreOrderCreated().GetOrder()
	case e.GetStoreOrderUpdated() != nil:
		return e.GetStoreOrderUpdated().GetOrder()
	case e.GetStorePaymentCaptured() != nil:
		return e.GetStorePaymentCaptured().GetOrder()
	case e.GetStoreOrderReread() != nil:
		return e.GetStoreOrderReread().GetOrder()
	}
	return nil
}

// checkSnapshot checks a store order names o's lines, paid as said.
func checkSnapshot(t *testing.T, o Order, got *eventsv1.StoreOrder, paid bool) {
	t.Helper()
	var ids []string
	for _, l := range got.GetLineItems() {
		ids = append(ids, l.GetId())
	}
	for _, l := range o.Lines {
		if !slices.Contains(ids, l.ID) {
			t.Errorf("%s: snapshot lines %v lack %s", o.ID, ids, l.ID)
		}
	}
	if got.GetPaymentCaptured() != paid {
		t.Errorf("%s: snapshot payment captured %v, want %v", o.ID, got.GetPaymentCaptured(), paid)
	}
}

// testSignatureRefusals: a webhook signed with the wrong key, or not
// signed, is answered 401 and publishes nothing; the same webhook
// correctly signed is taken (2xx).
func testSignatureRefusals(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	before := len(s.store(o.ID))
	for _, sig := range []Signature{WrongKey, Unsigned} {
		if got := c.Redeliver(t, o, sig); got != 401 {
			t.Errorf("webhook %s: status %d, want 401", sig, got)
		}
	}
	if got := len(s.store(o.ID)); got != before {
		t.Fatalf("refused webhooks published %d events", got-before)
	}
	if got := c.Redeliver(t, o, Signed); got < 200 || got > 299 {
		t.Errorf("webhook %s: status %d, want 2xx", Signed, got)
	}
}

// dedupeWindow is JetStream's duplicate window in the dedupe property.
const dedupeWindow = time.Second

// checkWindow fails the test unless STORE_EVENTS forgets duplicates
// within window: a harness that ignores Options.DuplicateWindow would
// make the dedupe property pass without testing anything.
func (s *suite) checkWindow(window time.Duration) {
	s.t.Helper()
	st, err := s.c.JetStream().Stream(s.ctx(), bus.StreamStore)
	if err != nil {
		s.t.Fatalf("stream %s: %v", bus.StreamStore, err)
	}
	info, err := st.Info(s.ctx())
	if err != nil {
		s.t.Fatalf("stream %s: %v", bus.StreamStore, err)
	}
	if d := info.Config.Duplicates; d > window {
		s.t.Fatalf("%s keeps duplicates for %s: the harness did not apply Options.DuplicateWindow (%s)", bus.StreamStore, d, window)
	}
}

// testDedupePastWindow: a webhook delivered again at once, and again after
// JetStream's duplicate window has forgotten its events, is acknowledged
// and changes nothing: no new event about the order.
func testDedupePastWindow(t *testing.T, c Connector) {
	s := on(t, c)
	s.checkWindow(dedupeWindow)
	o := c.Place(t, true)
	s.seen(o)
	before := s.store(o.ID)
	for range 2 {
		if got := c.Redeliver(t, o, Signed); got < 200 || got > 299 {
			t.Fatalf("redelivery: status %d, want 2xx", got)
		}
	}
	time.Sleep(dedupeWindow + 300*time.Millisecond) // past JetStream's memory, with a margin
	if got := c.Redeliver(t, o, Signed); got < 200 || got > 299 {
		t.Fatalf("redelivery past the window: status %d, want 2xx", got)
	}
	time.Sleep(200 * time.Millisecond) // anything it published has landed
	if after := s.store(o.ID); len(after) != len(before) {
		var types []string
		for _, e := range after[len(before):] {
			types = append(types, envelope.Type(e))
		}
		t.Fatalf("redeliveries published %v", types)
	}
}

// testExactlyOnce: a command delivered twice, and a command whose
// fulfilment the platform made while the connector stopped before hearing
// of it (then redelivered after the restart), each end in exactly one
// fulfilment, one shipping confirmation and one FulfillmentPushed naming
// that fulfilment.
func testExactlyOnce(t *testing.T, c Connector) {
	t.Run("redelivery", func(t *testing.T) {
		s := on(t, c)
		o := c.Place(t, true)
		s.seen(o)
		cmd := fulfil(o, "ship-1", nil, "LP0001")
		s.publish(cmd)
		s.again(cmd)
		s.outcome(o.ID, "ship-1")
		s.idle()
		s.again(cmd) // once more, after the first was done
		s.idle()
		f := s.fulfilments(o, 1)[0]
		checkLines(t, f, o.Lines)
		if !slices.Contains(f.Tracking, "LP0001") {
			t.Errorf("tracking %v, want LP0001", f.Tracking)
		}
		s.confirmations(o, 1)
		p := s.pushedOnce(o, "ship-1")
		if p.GetStoreFulfillmentId() != f.ID || !p.GetCustomerNotified() {
			t.Errorf("pushed %v, want fulfilment %s, customer notified", p, f.ID)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("restart mid-command", func(t *testing.T) {
		s := on(t, c)
		o := c.Place(t, true)
		s.seen(o)
		c.HoldFulfilments(t, true)
		cmd := fulfil(o, "ship-1", nil, "LP0002")
		s.publish(cmd)
		s.eventually("fulfilment made on the platform", func() error {
			if n := len(c.Fulfilments(t, o)); n != 1 {
				return fmt.Errorf("%d fulfilments", n)
			}
			return nil
		})
		c.Stop(t) // before the answer: the command is not acked
		c.HoldFulfilments(t, false)
		if got := s.of("FulfillmentPushed", o.ID); len(got) != 0 {
			t.Fatalf("FulfillmentPushed before the answer came: %v", got)
		}
		c.Start(t)
		s.outcome(o.ID, "ship-1")
		s.again(cmd) // and delivered once more after the restart
		s.idle()
		f := s.fulfilments(o, 1)[0]
		checkLines(t, f, o.Lines)
		s.confirmations(o, 1)
		if p := s.pushedOnce(o, "ship-1"); p.GetStoreFulfillmentId() != f.ID {
			t.Errorf("pushed %v, want fulfilment %s", p, f.ID)
		}
	})
}

// testFaultsConverge: with a fifth of the platform's API calls failing
// (429, 5xx, answers lost after the effect), every order of a batch ends
// fulfilled exactly once, with one confirmation each.
func testFaultsConverge(t *testing.T, c Connector) {
	s := on(t, c)
	before := c.TransientAnswers(t)
	var orders []Order
	// Batches of five until the platform has failed some calls: the
	// simulators draw faults from seeded randomness, and a batch that met
	// none would prove nothing.
	for batch := 0; batch < 4 && (batch == 0 || c.TransientAnswers(t) == before); batch++ {
		var placed []Order
		for range 5 {
			placed = append(placed, c.Place(t, true))
		}
		for _, o := range placed {
			s.seen(o)
		}
		c.SetFaults(t, Faults{TooManyRequests: 0.1, ServerErrors: 0.05, LostResponses: 0.05})
		for i, o := range placed {
			s.publish(fulfil(o, "ship-1", nil, fmt.Sprintf("LP1%d%03d", batch, i)))
		}
		for _, o := range placed {
			if e := s.outcome(o.ID, "ship-1"); e.GetFulfillmentFailed() != nil {
				t.Errorf("%s: %v", o.ID, e.GetFulfillmentFailed())
			}
		}
		c.SetFaults(t, Faults{})
		orders = append(orders, placed...)
	}
	met := c.TransientAnswers(t) - before
	if met == 0 {
		t.Fatal("the platform answered no call 429 or 5xx in four batches: the harness does not inject the faults, so convergence proves nothing")
	}
	t.Logf("%d orders, %d platform answers 429 or 5xx", len(orders), met)
	s.idle()
	for _, o := range orders {
		f := s.fulfilments(o, 1)[0]
		checkLines(t, f, o.Lines)
		s.confirmations(o, 1)
		s.pushedOnce(o, "ship-1")
	}
}

// simHour is one simulated hour of the command retry policy in the outage
// property.
const simHour = 100 * time.Millisecond

// scaledCommandBackoff is bus.CommandBackoff with an hour lasting simHour.
func scaledCommandBackoff() []time.Duration {
	out := make([]time.Duration, len(bus.CommandBackoff))
	for i, d := range bus.CommandBackoff {
		out[i] = d / (time.Hour / simHour)
	}
	return out
}

// testStoreOutage: the platform answers every API call 5xx for six
// simulated hours of the connectors' retry policy (bus.CommandBackoff,
// bus.CommandMaxDeliver); once it is back, the shipment ends fulfilled
// exactly once, one confirmation, and no FulfillmentFailed.
func testStoreOutage(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	c.SetFaults(t, Faults{ServerErrors: 1})
	s.publish(fulfil(o, "ship-1", nil, "LPOUT1"))
	time.Sleep(6 * simHour)
	c.SetFaults(t, Faults{})
	if e := s.outcome(o.ID, "ship-1"); e.GetFulfillmentFailed() != nil {
		t.Fatalf("an outage inside the retry horizon ended failed: %v", e.GetFulfillmentFailed())
	}
	s.idle()
	checkLines(t, s.fulfilments(o, 1)[0], o.Lines)
	s.confirmations(o, 1)
	s.pushedOnce(o, "ship-1")
}

// testLaterAttempt: a second attempt at a shipment the platform already
// fulfilled (what RetryFulfillment records when the first attempt's
// answer was taken for a failure) reads the platform first: it reports the
// fulfilment there, creates none, sends no second confirmation.
func testLaterAttempt(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	first := fulfil(o, "ship-1", nil, "LPATT1")
	first.GetFulfillmentRequested().Attempt = 1
	s.publish(first)
	if e := s.outcome(o.ID, "ship-1"); e.GetFulfillmentFailed() != nil {
		t.Fatalf("first attempt failed: %v", e.GetFulfillmentFailed())
	}
	p := s.pushedOnce(o, "ship-1")
	second := command(o.ID, "fr/ship-1#2", func(e *eventsv1.Envelope) {
		fr := first.GetFulfillmentRequested()
		e.Event = &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{
			ShipmentId: fr.GetShipmentId(), Lines: fr.GetLines(), Tracking: fr.GetTracking(),
			CompletesOrder: fr.GetCompletesOrder(), Policy: fr.GetPolicy(), Attempt: 2, RequestId: "retry-1",
		}}
	})
	s.publish(second)
	s.eventually("second attempt's outcome", func() error {
		if n := len(distinct(s.of("FulfillmentPushed", o.ID))); n < 2 {
			return fmt.Errorf("%d FulfillmentPushed", n)
		}
		return nil
	})
	for _, e := range distinct(s.of("FulfillmentPushed", o.ID)) {
		if got := e.GetFulfillmentPushed().GetStoreFulfillmentId(); got != p.GetStoreFulfillmentId() {
			t.Errorf("second attempt reported fulfilment %s, want %s", got, p.GetStoreFulfillmentId())
		}
	}
	if n := len(s.of("FulfillmentFailed", o.ID)); n != 0 {
		t.Errorf("%d FulfillmentFailed", n)
	}
	s.idle()
	s.fulfilments(o, 1)
	s.confirmations(o, 1)
}

// testReconcileDropped: an order whose webhooks the platform never sent
// reaches the bus through reconciliation, as the platform shows it.
func testReconcileDropped(t *testing.T, c Connector) {
	s := on(t, c)
	c.DropWebhooks(t, true)
	o := c.Place(t, true)
	c.DropWebhooks(t, false)
	var got *eventsv1.StoreOrder
	s.eventually("reconciled "+o.ID, func() error {
		for _, e := range s.store(o.ID) {
			if so := snapshot(e); so != nil && so.GetPaymentCaptured() {
				got = so
				return nil
			}
		}
		return errors.New("no paid snapshot")
	})
	checkSnapshot(t, o, got, true)
}

// testResync: ResyncRequested re-reads the order and publishes it as the
// platform shows it now, a change the connector was not told of included.
func testResync(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, false)
	s.seen(o)
	c.DropWebhooks(t, true)
	c.MarkPaid(t, o) // the connector is not told
	c.DropWebhooks(t, false)
	s.publish(command(o.ID, "resync", func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_ResyncRequested{ResyncRequested: &eventsv1.ResyncRequested{RequestId: "req-1"}}
	}))
	rr := s.waitEvent("StoreOrderReread", o.ID, 1, nil)[0].GetStoreOrderReread()
	if rr.GetRequestId() != "req-1" {
		t.Errorf("reread for request %q, want req-1", rr.GetRequestId())
	}
	if !strings.HasSuffix(o.ID, ":"+rr.GetOrder().GetStoreOrderId()) {
		t.Errorf("reread order %q, want the store's id of %s", rr.GetOrder().GetStoreOrderId(), o.ID)
	}
	checkSnapshot(t, o, rr.GetOrder(), true)
}

// testPartialFulfilment: a shipment of some lines makes a fulfilment of
// those lines only; the next shipment fulfils the rest, each once.
func testPartialFulfilment(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	first, second := o.Lines[:1], o.Lines[1:]
	s.publish(fulfil(o, "ship-1", first, "LP2001"))
	if e := s.outcome(o.ID, "ship-1"); e.GetFulfillmentFailed() != nil {
		t.Fatalf("first shipment: %v", e.GetFulfillmentFailed())
	}
	s.idle()
	checkLines(t, s.fulfilments(o, 1)[0], first)
	s.publish(fulfil(o, "ship-2", second, "LP2002"))
	if e := s.outcome(o.ID, "ship-2"); e.GetFulfillmentFailed() != nil {
		t.Fatalf("second shipment: %v", e.GetFulfillmentFailed())
	}
	s.idle()
	fs := s.fulfilments(o, 2)
	checkLines(t, fs[0], first)
	checkLines(t, fs[1], second)
	s.confirmations(o, 2)
	s.pushedOnce(o, "ship-1")
	s.pushedOnce(o, "ship-2")
}

// testTrackingUpdate: TrackingUpdateRequested makes the pushed
// fulfilment carry the new number instead of the old one, without
// another confirmation.
func testTrackingUpdate(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	s.publish(fulfil(o, "ship-1", nil, "LP3001"))
	e := s.outcome(o.ID, "ship-1")
	if e.GetFulfillmentFailed() != nil {
		t.Fatalf("fulfilment: %v", e.GetFulfillmentFailed())
	}
	pushed := e.GetFulfillmentPushed()
	s.publish(command(o.ID, "tu/ship-1", func(e *eventsv1.Envelope) {
		e.Event = &eventsv1.Envelope_TrackingUpdateRequested{TrackingUpdateRequested: &eventsv1.TrackingUpdateRequested{
			ShipmentId: "ship-1", StoreFulfillmentId: pushed.GetStoreFulfillmentId(),
			Tracking: &eventsv1.Tracking{Number: "LP3002", Carrier: "CAINIAO_STANDARD"},
			// As the aggregate sends it: the number the store was given.
			Replaces: &eventsv1.Tracking{Number: "LP3001", Carrier: "CAINIAO_STANDARD"},
		}}
	}))
	s.idle()
	var f Fulfilment
	s.eventually("new tracking number on the platform", func() error {
		f = s.fulfilments(o, 1)[0]
		if !slices.Contains(f.Tracking, "LP3002") {
			return fmt.Errorf("tracking %v", f.Tracking)
		}
		return nil
	})
	if slices.Contains(f.Tracking, "LP3001") {
		t.Errorf("tracking %v still carries the old number LP3001", f.Tracking)
	}
	checkLines(t, f, o.Lines)
	s.confirmations(o, 1)
}

// testRefusedFulfilment: when the platform refuses to fulfil (the order is
// cancelled there), the connector publishes FulfillmentFailed, not
// retryable, with a reason, writes nothing and tells nobody.
func testRefusedFulfilment(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	c.Cancel(t, o)
	s.publish(fulfil(o, "ship-1", nil, "LP4001"))
	e := s.outcome(o.ID, "ship-1")
	failed := e.GetFulfillmentFailed()
	if failed == nil {
		t.Fatalf("outcome %s, want FulfillmentFailed", envelope.Type(e))
	}
	if r := failed.GetReason(); r.GetCode() == "" || r.GetMessage() == "" || r.GetRetryable() {
		t.Errorf("reason %v, want a code, the platform's reason, not retryable", r)
	}
	s.idle()
	s.fulfilments(o, 0)
	s.confirmations(o, 0)
	if n := len(distinct(s.of("FulfillmentFailed", o.ID))); n != 1 {
		t.Errorf("%d FulfillmentFailed, want 1", n)
	}
}

// testCredentialFailure: with the connector's credential revoked on the
// platform mid-flow, a fulfilment command writes nothing, tells nobody,
// fails nothing and is not dead-lettered: the connector publishes one
// StoreConnectionChanged (unhealthy, naming the platform's answer) for
// the store and holds the command, redelivering it. Once the credential
// is restored, the held command completes by itself, without a new
// delivery: one fulfilment with the requested lines, one shipping
// confirmation, one FulfillmentPushed, and a StoreConnectionChanged
// (healthy) after the unhealthy one.
func testCredentialFailure(t *testing.T, c Connector) {
	s := on(t, c)
	o := c.Place(t, true)
	s.seen(o)
	id, err := order.ParseID(o.ID)
	if err != nil {
		t.Fatal(err)
	}
	storeKey := id.StoreKey()
	c.RevokeCredential(t)
	cmd := fulfil(o, "ship-1", nil, "LP5001")
	s.publish(cmd)

	down := s.connection(storeKey, false, nil)
	r := down.GetStoreConnectionChanged().GetReason()
	if !strings.Contains(r, "401") && !strings.Contains(r, "403") {
		t.Errorf("unhealthy reason %q, want the platform's answer (401 or 403)", r)
	}
	t.Logf("unhealthy: %s", r)
	s.held(cmd)
	s.fulfilments(o, 0)
	s.confirmations(o, 0)
	if n := len(s.of("FulfillmentFailed", o.ID)) + len(s.of("FulfillmentPushed", o.ID)); n != 0 {
		t.Errorf("%d FulfillmentFailed or FulfillmentPushed with the credential revoked, want none: the command is held", n)
	}
	s.noDeadLetters(o)
	if n := len(distinct(s.connections(storeKey, false))); n != 1 {
		t.Errorf("%d StoreConnectionChanged (unhealthy) for a burst of refusals, want 1", n)
	}

	c.RestoreCredential(t)
	s.connection(storeKey, true, down)
	s.waitEvent("FulfillmentPushed", o.ID, 1, nil)
	s.idle()
	f := s.fulfilments(o, 1)[0]
	checkLines(t, f, o.Lines)
	s.confirmations(o, 1)
	if p := s.pushedOnce(o, "ship-1"); p.GetStoreFulfillmentId() != f.ID {
		t.Errorf("pushed %v, want fulfilment %s", p, f.ID)
	}
	if n := len(s.of("FulfillmentFailed", o.ID)); n != 0 {
		t.Errorf("%d FulfillmentFailed, want none", n)
	}
	s.noDeadLetters(o)
}

// connections are the store's StoreConnectionChanged events of that
// health, in stream order.
func (s *suite) connections(storeKey string, healthy bool) []*eventsv1.Envelope {
	var out []*eventsv1.Envelope
	for _, e := range s.store(storeKey) {
		if c := e.GetStoreConnectionChanged(); c != nil && c.GetHealthy() == healthy {
			out = append(out, e)
		}
	}
	return out
}

// connection waits for a StoreConnectionChanged of the store with that
// health, recorded after the event after (nil: any), and returns it.
func (s *suite) connection(storeKey string, healthy bool, after *eventsv1.Envelope) *eventsv1.Envelope {
	s.t.Helper()
	var got *eventsv1.Envelope
	s.eventually(fmt.Sprintf("StoreConnectionChanged (healthy %t) of %s", healthy, storeKey), func() error {
		for _, e := range s.connections(storeKey, healthy) {
			if after == nil || e.GetOccurredAt().AsTime().After(after.GetOccurredAt().AsTime()) {
				got = e
				return nil
			}
		}
		return errors.New("none yet")
	})
	return got
}

// held waits until the command consumer delivered a command again (it is
// held, not settled) while it still holds it.
func (s *suite) held(cmd *eventsv1.Envelope) {
	s.t.Helper()
	s.eventually("command "+envelope.Type(cmd)+" held and redelivered", func() error {
		ctx := s.ctx()
		st, err := s.c.JetStream().Stream(ctx, bus.StreamOrder)
		if err != nil {
			return err
		}
		names := st.ConsumerNames(ctx)
		for name := range names.Name() {
			c, err := st.Consumer(ctx, name)
			if err != nil {
				return err
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if info.NumRedelivered > 0 && info.NumAckPending > 0 {
				return nil
			}
		}
		if err := names.Err(); err != nil {
			return err
		}
		return errors.New("not redelivered yet")
	})
}

// noDeadLetters checks nothing about the order was dead-lettered.
func (s *suite) noDeadLetters(o Order) {
	s.t.Helper()
	dls, err := bus.DeadLetters(s.ctx(), s.c.JetStream(), "", 0)
	if err != nil {
		s.t.Fatalf("dead letters: %v", err)
	}
	for _, dl := range dls {
		if e, err := envelope.Unmarshal(dl.Data); err == nil && e.GetOrderId() == o.ID {
			s.t.Errorf("%s dead-lettered: %s", envelope.Type(e), dl.Reason)
		}
	}
}
