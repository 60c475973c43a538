package reconcile_test

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/reconcile"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// platform is a store whose orders have an updated_at.
type platform struct {
	mu     sync.Mutex
	orders map[string]time.Time
	fail   error
	asked  []time.Time
}

func (p *platform) set(id string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.orders[id] = at
}

func (p *platform) Changed(_ context.Context, since time.Time) iter.Seq2[reconcile.Item, error] {
	return func(yield func(reconcile.Item, error) bool) {
		p.mu.Lock()
		p.asked = append(p.asked, since)
		fail := p.fail
		var items []reconcile.Item
		for id, at := range p.orders {
			if at.Before(since) {
				continue
			}
			items = append(items, reconcile.Item{OrderID: "shopify:demo:" + id, UpdatedAt: at, Envelopes: []*eventsv1.Envelope{{
				EventId: reconcile.EventID("shopify", "demo", id, "StoreOrderUpdated", at),
				OrderId: "shopify:demo:" + id,
				Event: &eventsv1.Envelope_StoreOrderUpdated{StoreOrderUpdated: &eventsv1.StoreOrderUpdated{
					Order: &eventsv1.StoreOrder{StoreOrderId: id, StoreUpdatedAt: timestamppb.New(at)},
				}},
			}}})
		}
		p.mu.Unlock()
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
		if fail != nil {
			yield(reconcile.Item{}, fail)
		}
	}
}

func setup(t *testing.T) (jetstream.JetStream, *reconcile.KVCheckpoints) {
	t.Helper()
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	cp, err := reconcile.NewKVCheckpoints(ctx, js, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	return js, cp
}

func stored(t *testing.T, js jetstream.JetStream) uint64 {
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

func TestPass(t *testing.T) {
	js, cp := setup(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p := &platform{orders: map[string]time.Time{
		"1": now.Add(-time.Hour),
		"2": now.Add(-30 * time.Minute),
		"3": now.Add(-72 * time.Hour), // before the initial lookback
	}}
	r, err := reconcile.New(reconcile.Config{
		Name: "shopify.demo", Lister: p, Publisher: bus.NewPublisher(js, bus.PublisherConfig{}), Checkpoints: cp,
		Overlap: time.Minute, InitialLookback: 48 * time.Hour, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}

	res, err := r.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != 2 || stored(t, js) != 2 || !res.Since.Equal(now.Add(-48*time.Hour)) {
		t.Fatalf("first pass %+v, %d stored", res, stored(t, js))
	}
	if cpAt, ok, _ := cp.Load(ctx, "shopify.demo"); !ok || !cpAt.Equal(now.Add(-30*time.Minute)) {
		t.Fatalf("checkpoint %v %v", cpAt, ok)
	}

	// Nothing changed: the overlap reads order 2 again, a duplicate.
	res, err = r.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != 1 || stored(t, js) != 2 {
		t.Fatalf("second pass %+v, %d stored", res, stored(t, js))
	}

	// An order changes: a new snapshot.
	p.set("1", now.Add(time.Minute))
	if _, err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, js); got != 3 {
		t.Fatalf("%d stored after a change, want 3", got)
	}

	// A failing pass keeps the checkpoint.
	before, _, _ := cp.Load(ctx, "shopify.demo")
	p.mu.Lock()
	p.fail = errors.New("platform down")
	p.mu.Unlock()
	p.set("4", now.Add(2*time.Minute))
	if _, err := r.Pass(ctx); err == nil {
		t.Fatal("failing lister: no error")
	}
	if after, _, _ := cp.Load(ctx, "shopify.demo"); !after.Equal(before) {
		t.Fatalf("checkpoint moved on failure: %v -> %v", before, after)
	}
	if st := r.Stats(); st.Passes != 3 || st.Failures != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRunRestartsFromCheckpoint(t *testing.T) {
	js, cp := setup(t)
	now := time.Now().UTC()
	p := &platform{orders: map[string]time.Time{"1": now.Add(-time.Hour)}}
	cfg := reconcile.Config{
		Name: "shopify.demo", Lister: p, Publisher: bus.NewPublisher(js, bus.PublisherConfig{}), Checkpoints: cp,
		Interval: 20 * time.Millisecond, Overlap: time.Minute, Logger: slog.New(slog.DiscardHandler),
	}
	run := func() {
		r, err := reconcile.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		deadline := time.Now().Add(5 * time.Second)
		for r.Stats().Passes < 3 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	run()
	run()
	p.mu.Lock()
	defer p.mu.Unlock()
	last := p.asked[len(p.asked)-1]
	if want := now.Add(-time.Hour - time.Minute); !last.Equal(want) {
		t.Fatalf("restarted pass read from %v, want checkpoint minus overlap %v", last, want)
	}
	if got := stored(t, js); got != 1 {
		t.Fatalf("%d stored, want 1", got)
	}
}

func TestEventIDDeterministic(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", -5*3600))
	a := reconcile.EventID("shopify", "demo.myshopify.com", "1", "StoreOrderUpdated", at)
	b := reconcile.EventID("shopify", "demo.myshopify.com", "1", "StoreOrderUpdated", at.UTC())
	c := reconcile.EventID("shopify", "demo.myshopify.com", "1", "StoreOrderUpdated", at.Add(time.Second))
	if a != b || a == c {
		t.Fatalf("ids %s %s %s", a, b, c)
	}
}
