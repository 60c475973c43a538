package storehealth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

type recorder struct {
	mu   sync.Mutex
	got  []*eventsv1.Envelope
	subj []string
}

func (r *recorder) Publish(_ context.Context, subject string, env *eventsv1.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.subj = append(r.got, env), append(r.subj, subject)
	return nil
}

func (r *recorder) events() []*eventsv1.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*eventsv1.Envelope(nil), r.got...)
}

// TestTrackerPublishesChangesOnce: the first answer is a change, a burst
// of refusals is one unhealthy event, the first success after it one
// healthy event; events name the store and are published in order.
func TestTrackerPublishesChangesOnce(t *testing.T) {
	now := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	tr := storehealth.New(storehealth.Config{
		Platform: "shopify", Source: eventsv1.Platform_PLATFORM_SHOPIFY, Service: "shopify",
		Now:    func() time.Time { now = now.Add(time.Second); return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if st := tr.State("demo"); !st.Healthy {
		t.Fatalf("state before any answer = %+v, want healthy", st)
	}
	tr.ObserveStore("demo", true, "")
	tr.ObserveStore("demo", true, "")
	for range 5 {
		tr.ObserveStore("demo", false, "shopify answered HTTP 401 Unauthorized")
	}
	tr.ObserveStore("demo", true, "")
	tr.ObserveStore("demo", true, "")

	var pub recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Publish(ctx, &pub) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(pub.events()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more comes
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := pub.events()
	want := []bool{true, false, true}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %v", len(got), len(want), got)
	}
	for i, e := range got {
		c := e.GetStoreConnectionChanged()
		if c.GetHealthy() != want[i] || c.GetStore() != "demo" || e.GetOrderId() != "shopify:demo" {
			t.Errorf("event %d = %v, want healthy %t for shopify:demo", i, e, want[i])
		}
		if pub.subj[i] != bus.StoreSubject("shopify:demo") {
			t.Errorf("event %d on %s", i, pub.subj[i])
		}
	}
	if r := got[1].GetStoreConnectionChanged().GetReason(); r != "shopify answered HTTP 401 Unauthorized" {
		t.Errorf("reason %q", r)
	}
	if got[0].GetEventId() == got[2].GetEventId() {
		t.Error("two changes share an event id")
	}
}

// TestHold: a credential refusal, even marked permanent, is held with a
// growing, capped delay; any other error is returned as it is.
func TestHold(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	refused := bus.Permanent(&client.Error{Method: "POST", URL: "https://x", StatusCode: http.StatusUnauthorized, Err: errors.New("http 401")})
	for _, c := range []struct {
		deliveries uint64
		want       time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {30, storehealth.HoldMax}} {
		err := storehealth.Hold(context.Background(), log, &bus.Message{Envelope: &eventsv1.Envelope{}, Deliveries: c.deliveries}, refused)
		d, later := bus.RetryLaterDelay(err)
		if !later || bus.IsPermanent(err) || d != c.want {
			t.Errorf("delivery %d: Hold = %v (later %t, %s), want RetryLater after %s, not permanent", c.deliveries, err, later, d, c.want)
		}
	}
	other := bus.Permanent(&client.Error{StatusCode: http.StatusUnprocessableEntity})
	m := &bus.Message{Envelope: &eventsv1.Envelope{}, Deliveries: 1}
	if err := storehealth.Hold(context.Background(), log, m, other); !errors.Is(err, other) {
		t.Errorf("Hold of a 422 = %v, want it unchanged", err)
	}
	if err := storehealth.Hold(context.Background(), log, m, nil); err != nil {
		t.Errorf("Hold(nil) = %v", err)
	}
}
