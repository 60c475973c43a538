package esdb_test

import (
	"context"
	"fmt"
	"log"

	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb"
	"github.com/dropsync/dropsync/pkg/eventstore/esdb/esdbtest"
)

func Example() {
	// A test double of EventStoreDB; in production, the connection string
	// of a real one, e.g. "esdb://eventstore:2113?tls=true".
	srv, err := esdbtest.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	store, err := esdb.New(esdb.Config{ConnectionString: srv.URL()})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	placed := eventstore.EventData{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Type: "StoreOrderCreated", Data: []byte{0x0a, 0x04}}
	res, err := store.Append(ctx, "order-shopify:acme:1001", eventstore.NoStream(), placed)
	if err != nil {
		log.Fatal(err)
	}
	// A retry of the same append is a no-op.
	if _, err := store.Append(ctx, "order-shopify:acme:1001", eventstore.NoStream(), placed); err != nil {
		log.Fatal(err)
	}
	fmt.Println("next expected revision:", res.NextExpected)

	for e, err := range store.ReadStream(ctx, "order-shopify:acme:1001", 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Revision, e.Type, e.ContentType)
	}
	// Output:
	// next expected revision: 0
	// 0 StoreOrderCreated application/x-protobuf
}
