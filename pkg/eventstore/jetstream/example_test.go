package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/jetstream"
	"github.com/dropsync/dropsync/pkg/natsserver"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "eventstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }() // best-effort cleanup of a temporary folder
	srv, err := natsserver.Start(natsserver.Options{Port: -1, StoreDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	store, err := jetstream.New(ctx, js, jetstream.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	const stream = "order-shopify:acme:1001"
	created := eventstore.EventData{ID: "7a1e6a52-3c4f-4d7e-9d3a-1b2c3d4e5f60", Type: "StoreOrderCreated", Data: []byte("...")}
	paid := eventstore.EventData{ID: "7a1e6a52-3c4f-4d7e-9d3a-1b2c3d4e5f61", Type: "PaymentCaptured", Data: []byte("...")}

	// A new stream, two events, atomically.
	res, err := store.Append(ctx, stream, eventstore.NoStream(), created, paid)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("next expected:", res.NextExpected)

	// The same append again (a retry) is a no-op.
	again, err := store.Append(ctx, stream, eventstore.NoStream(), created, paid)
	fmt.Println("retry:", again == res, err)

	// Another writer's append at a stale revision fails.
	shipped := eventstore.EventData{ID: "7a1e6a52-3c4f-4d7e-9d3a-1b2c3d4e5f62", Type: "SupplierShipmentCreated"}
	_, err = store.Append(ctx, stream, eventstore.Exact(0), shipped)
	fmt.Println("stale:", errors.Is(err, eventstore.ErrConcurrency))
	if _, err := store.Append(ctx, stream, eventstore.Exact(res.NextExpected), shipped); err != nil {
		log.Fatal(err)
	}

	for ev, err := range store.ReadStream(ctx, stream, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Revision, ev.Type)
	}
	// Output:
	// next expected: 1
	// retry: true <nil>
	// stale: true
	// 0 StoreOrderCreated
	// 1 PaymentCaptured
	// 2 SupplierShipmentCreated
}

func ExampleSubject() {
	for _, stream := range []string{"order-shopify:acme:1001", "order-a.b", "no category"} {
		subject, _ := jetstream.Subject("es", stream)
		name, _ := jetstream.StreamName("es", subject)
		fmt.Printf("%s -> %s -> %s\n", stream, subject, name)
	}
	// Output:
	// order-shopify:acme:1001 -> es.order.shopify:acme:1001 -> order-shopify:acme:1001
	// order-a.b -> es.order.~YS5i -> order-a.b
	// no category -> es.~.~bm8gY2F0ZWdvcnk -> no category
}
