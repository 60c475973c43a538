package readmodel_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	jsstore "github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/orders/internal/readmodel"
)

// TestRunPassesOverUndecodableEvents: one bad record in the event store is
// logged and passed over; the orders after it are still seen, live too.
func TestRunPassesOverUndecodableEvents(t *testing.T) {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := jsstore.New(ctx, js, jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	appendOne := func(stream string, e *eventsv1.Envelope, data []byte) {
		t.Helper()
		if data == nil {
			if data, err = envelope.Marshal(e); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.Append(ctx, stream, eventstore.Any(), eventstore.EventData{ID: envelope.ID(stream, string(data)), Type: "StoreOrderCreated", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	appendOne("order-shopify:a:1", nil, []byte("not a protobuf envelope"))
	appendOne("order-shopify:a:2", moved(eventsv1.Tab_TAB_UNSPECIFIED, eventsv1.Tab_TAB_PENDING, t0), nil)

	var logs bytes.Buffer
	m := readmodel.New()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, store, slog.New(slog.NewTextHandler(&logs, nil))) }()
	select {
	case <-m.CaughtUp():
	case err := <-done:
		t.Fatalf("Run stopped on a bad record: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("replay did not catch up")
	}
	if _, ok := m.Get("shopify:a:2"); !ok {
		t.Fatal("the order after the bad record is missing")
	}
	appendOne("order-shopify:a:3", moved(eventsv1.Tab_TAB_UNSPECIFIED, eventsv1.Tab_TAB_PENDING, t0), nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := m.Get("shopify:a:3"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("live events after the bad record are not seen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "undecodable event passed over") {
		t.Fatalf("the bad record was not logged: %q", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
