package bus_test

import (
	"context"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/natsserver"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// exampleConsumer is the orders service's durable consumer of store events.
// JetStream keeps its position under this name: renaming it replays the
// whole stream.
const exampleConsumer = "orders-store-events"

// A store connector publishes a store event; the orders service consumes it.
func Example() {
	dir, err := os.MkdirTemp("", "bus-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }() // best-effort cleanup of a temporary folder
	srv, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: dir})
	if err != nil {
		panic(err)
	}
	defer srv.Stop()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		panic(err)
	}

	// The connector: the event id is derived from the platform's own id, so
	// a retried webhook publishes a duplicate that JetStream drops.
	pub := bus.NewPublisher(js, bus.PublisherConfig{})
	env := &eventsv1.Envelope{
		EventId: envelope.ID("shopify", "acme.myshopify.com", "X-Shopify-Event-Id", "e-1"),
		OrderId: "shopify:acme.myshopify.com:1001",
		Event:   &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{}},
	}
	subject, err := bus.SubjectFor(env)
	if err != nil {
		panic(err)
	}
	if err := pub.Publish(ctx, subject, env); err != nil { // stored once this returns
		panic(err)
	}

	// The orders service: the handler returns nil once its effect is
	// durable; retries, dead letters and tracing are Consume's job.
	ctx, stop := context.WithCancel(ctx)
	err = bus.Consume(ctx, js, bus.ConsumerConfig{
		Stream:  bus.StreamStore,
		Durable: exampleConsumer,
	}, func(ctx context.Context, m *bus.Message) error {
		fmt.Println(m.Subject)
		fmt.Println(m.EventType(), m.Envelope.GetOrderId(), m.Deliveries)
		stop() // one message is enough for the example
		return nil
	})
	fmt.Println("consume:", err)
	// Output:
	// store.shopify.acme~2Emyshopify~2Ecom.1001
	// StoreOrderCreated shopify:acme.myshopify.com:1001 1
	// consume: <nil>
}
