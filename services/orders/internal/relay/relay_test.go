package relay_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	"github.com/dropsync/dropsync/services/orders/internal/relay"
)

type fixture struct {
	t     *testing.T
	js    jetstream.JetStream
	store eventstore.Store
	cp    *relay.KVCheckpoints
}

func newFixture(t *testing.T) *fixture {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	store, err := jsstore.New(ctx, js, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cp, err := relay.NewKVCheckpoints(ctx, js, 1, "test-relay")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, js: js, store: store, cp: cp}
}

// appendOrder records a store fact and n order events on one order stream.
func (f *fixture) appendOrder(orderID string, n int) {
	f.t.Helper()
	events := []*eventsv1.Envelope{{
		EventId: envelope.ID(orderID, "created"), OrderId: orderID, OccurredAt: timestamppb.Now(),
		Event: &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: &eventsv1.StoreOrder{StoreOrderId: "1"}}},
	}}
	for i := range n {
		events = append(events, &eventsv1.Envelope{
			EventId: envelope.ID(orderID, "status", fmt.Sprint(i)), OrderId: orderID, OccurredAt: timestamppb.Now(),
			Event: &eventsv1.Envelope_OrderStatusChanged{OrderStatusChanged: &eventsv1.OrderStatusChanged{To: eventsv1.Tab(i%8 + 1)}},
		})
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		b, err := envelope.Marshal(e)
		if err != nil {
			f.t.Fatal(err)
		}
		data[i] = eventstore.EventData{ID: e.GetEventId(), Type: envelope.Type(e), Data: b}
	}
	if _, err := f.store.Append(context.Background(), "order-"+orderID, eventstore.NoStream(), data...); err != nil {
		f.t.Fatal(err)
	}
}

// run runs a relay until stop is called; stop returns Run's error.
func (f *fixture) run() (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	r := relay.New(f.store, bus.NewPublisher(f.js, bus.PublisherConfig{}), f.cp,
		relay.Config{CheckpointEvery: 10 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func (f *fixture) published() uint64 {
	f.t.Helper()
	s, err := f.js.Stream(context.Background(), bus.StreamOrder)
	if err != nil {
		f.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return info.State.Msgs
}

func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: not after 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRelayPublishesOnlyOrderEventsOnce(t *testing.T) {
	f := newFixture(t)
	f.appendOrder("shopify:s:1", 3)
	f.appendOrder("wix:s:2", 2)
	stop := f.run()
	f.eventually("5 order events published", func() bool { return f.published() == 5 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	pos, err := f.cp.Load(context.Background())
	if err != nil || pos == eventstore.Start {
		t.Fatalf("checkpoint after stop = %v, %v", pos, err)
	}

	// Restarted, it resumes from the checkpoint: only new events go out.
	f.appendOrder("shopify:s:3", 4)
	stop = f.run()
	f.eventually("4 more published", func() bool { return f.published() == 9 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := f.published(); n != 9 {
		t.Fatalf("%d messages in %s, want 9", n, bus.StreamOrder)
	}
}

func TestRelayRepublishAfterLostCheckpointIsDropped(t *testing.T) {
	f := newFixture(t)
	f.appendOrder("shopify:s:1", 3)
	stop := f.run()
	f.eventually("published", func() bool { return f.published() == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// A crash before the checkpoint was saved: the relay starts over.
	if err := f.cp.Save(context.Background(), eventstore.Start); err != nil {
		t.Fatal(err)
	}
	stop = f.run()
	f.eventually("checkpoint caught up", func() bool {
		pos, err := f.cp.Load(context.Background())
		return err == nil && pos != eventstore.Start
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := f.published(); n != 3 {
		t.Fatalf("%d messages after a republish, want 3 (Nats-Msg-Id dedupe)", n)
	}
}

// warnings signals every warning logged.
type warnings chan string

func (w warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w warnings) Handle(_ context.Context, r slog.Record) error {
	select {
	case w <- r.Message:
	default:
	}
	return nil
}
func (w warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnings) WithGroup(string) slog.Handler      { return w }

// TestRelayRidesOutAPublishFailure: when its publishes are not
// acknowledged the relay says so, keeps its checkpoint before the event,
// and publishes it once the bus takes it again, without returning.
func TestRelayRidesOutAPublishFailure(t *testing.T) {
	f := newFixture(t)
	if err := f.js.DeleteStream(context.Background(), bus.StreamOrder); err != nil {
		t.Fatal(err)
	}
	f.appendOrder("shopify:s:1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	warned := make(warnings, 16)
	r := relay.New(f.store, bus.NewPublisher(f.js, bus.PublisherConfig{AckTimeout: time.Second}), f.cp, relay.Config{}, slog.New(warned))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case msg := <-warned:
		if msg != "relay stopped; resuming from the checkpoint" {
			t.Fatalf("warned %q", msg)
		}
	case err := <-done:
		t.Fatalf("Run returned %v during the failure", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no warning about the failed publish")
	}
	// The store fact (revision 0) needs no publish; the order event
	// (revision 1) was never published: the checkpoint stays before it.
	var unpublished eventstore.Position
	for rec, err := range f.store.ReadStream(context.Background(), "order-shopify:s:1", 1) {
		if err != nil {
			t.Fatal(err)
		}
		unpublished = rec.Position
		break
	}
	if pos, _ := f.cp.Load(context.Background()); !pos.Less(unpublished) {
		t.Fatalf("checkpoint moved to %v, past the unpublished event at %v", pos, unpublished)
	}
	// The stream is back: the relay publishes the event.
	if err := bus.EnsureStreams(context.Background(), f.js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	f.eventually("published after the failure", func() bool { return f.published() == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil once stopped", err)
	}
}
