package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
)

// TestOpenStreams: OpenStreams creates the streams that are missing (where
// the server lets it) and leaves an existing one as its owner made it,
// whatever the caller's configuration says.
func TestOpenStreams(t *testing.T) {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	owner := bus.Config{DuplicateWindow: time.Hour}
	if err := bus.EnsureStreams(ctx, js, owner); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, bus.StreamDeadLetter); err != nil {
		t.Fatal(err)
	}
	if err := bus.OpenStreams(ctx, js, bus.Config{DuplicateWindow: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bus.StreamStore, bus.StreamSupplier, bus.StreamOrder, bus.StreamDeadLetter} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := time.Hour
		if name == bus.StreamDeadLetter {
			want = 2 * time.Hour // the missing one, created as the caller says
		}
		if got := s.CachedInfo().Config.Duplicates; got != want {
			t.Errorf("%s: duplicate window %s, want %s", name, got, want)
		}
	}
}

// TestConsumeTakesOverSingleFilterDurable: a durable made before Consume
// sent a single filter as FilterSubject (as FilterSubjects) is updated in
// place, its position kept.
func TestConsumeTakesOverSingleFilterDurable(t *testing.T) {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	filter := bus.OrderFilter("", "PlacementRequested")
	if _, err := js.CreateOrUpdateConsumer(ctx, bus.StreamOrder, jetstream.ConsumerConfig{
		Durable: "old", FilterSubjects: []string{filter}, AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(cctx, js, bus.ConsumerConfig{Stream: bus.StreamOrder, Durable: "old", FilterSubjects: []string{filter},
			Started: func() { close(started) }}, func(context.Context, *bus.Message) error { return nil })
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("consume: %v", err)
	case <-ctx.Done():
		t.Fatal("not started")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(ctx, bus.StreamOrder, "old")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.FilterSubject; got != filter {
		t.Errorf("filter %q, want %q", got, filter)
	}
}
