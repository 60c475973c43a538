// Command storeevent publishes a store order event to the bus, as a store
// connector would: a development aid for trying `make run` by hand.
//
//	go run ./services/orders/cmd/storeevent -order shopify:manual:1001          # created, unpaid
//	go run ./services/orders/cmd/storeevent -order shopify:manual:1001 -paid    # payment captured
//
// It connects to DROPSYNC_NATS_URL (default nats://127.0.0.1:4222, the
// embedded server of `make run`, where it may publish store events of
// the stores named manual only).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/natsperm"
	"github.com/dropsync/dropsync/pkg/order"
)

func main() {
	id := flag.String("order", "shopify:manual:1001", "order id <platform>:<store>:<store order id>")
	paid := flag.Bool("paid", false, "publish the payment capture instead of the creation")
	flag.Parse()
	if err := run(*id, *paid); err != nil {
		fmt.Fprintln(os.Stderr, "storeevent:", err)
		os.Exit(1)
	}
}

func run(orderID string, paid bool) error {
	id, err := order.ParseID(orderID)
	if err != nil {
		return err
	}
	url := os.Getenv("DROPSYNC_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	// On the embedded server of `make run` a client without credentials is
	// the devtools user (pkg/natsperm): store events of the stores named
	// manual, replies on its own inbox prefix only.
	nc, err := nats.Connect(url, nats.Name("storeevent"), nats.CustomInboxPrefix(natsperm.InboxPrefix(natsperm.DevTools)))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	created := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	snap := &eventsv1.StoreOrder{
		StoreOrderId: id.StoreOrderID,
		Name:         "#" + id.StoreOrderID,
		LineItems: []*eventsv1.StoreLineItem{
			{Id: "li-1", ProductId: "p-1", VariantId: "v-1", Sku: "MUG-RED", Title: "Red mug", Quantity: 2, UnitPrice: &eventsv1.Money{Currency: "USD", MinorUnits: 1299}},
			{Id: "li-2", ProductId: "p-2", VariantId: "v-2", Sku: "TEE-M", Title: "T-shirt M", Quantity: 1, UnitPrice: &eventsv1.Money{Currency: "USD", MinorUnits: 1999}},
		},
		ShippingAddress: &eventsv1.Address{FullName: "Ada Example", Address1: "1 Demo Street", City: "Lisbon", Zip: "1000-001", CountryCode: "PT"},
		Total:           &eventsv1.Money{Currency: "USD", MinorUnits: 4597},
		FinancialStatus: "pending",
		StoreCreatedAt:  timestamppb.New(created),
		StoreUpdatedAt:  timestamppb.New(created),
	}
	env := &eventsv1.Envelope{
		OrderId:    id.String(),
		OccurredAt: timestamppb.New(created),
		RecordedAt: timestamppb.Now(),
		Source:     &eventsv1.Source{Platform: id.Platform, StoreId: id.Store, Service: "storeevent"},
	}
	if paid {
		snap.PaymentCaptured, snap.FinancialStatus = true, "paid"
		snap.StoreUpdatedAt = timestamppb.New(created.Add(time.Minute))
		env.OccurredAt = snap.StoreUpdatedAt
		env.EventId = envelope.ID("storeevent", id.String(), "paid")
		env.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{Order: snap}}
	} else {
		env.EventId = envelope.ID("storeevent", id.String(), "created")
		env.Event = &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{Order: snap}}
	}
	env.CorrelationId = env.EventId
	if err := bus.NewPublisher(js, bus.PublisherConfig{}).Publish(ctx, bus.StoreSubject(id.String()), env); err != nil {
		return err
	}
	fmt.Printf("published %s %s for %s\n", envelope.Type(env), env.GetEventId(), id)
	return nil
}
