package envelope_test

import (
	"fmt"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// A fact gets the same id however often the platform delivers it, so a
// re-delivery is dropped as a duplicate.
func ExampleID() {
	first := envelope.ID("shopify", "acme", "event", "98880550-7158-44d4-b7cd-2c97c8a091b5")
	again := envelope.ID("shopify", "acme", "event", "98880550-7158-44d4-b7cd-2c97c8a091b5")
	other := envelope.ID("shopify", "acme", "event", "another-event")
	fmt.Println(first == again, first == other, len(first))
	// Output: true false 36
}

func ExampleType() {
	e := &eventsv1.Envelope{
		EventId: envelope.ID("example"),
		Event:   &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: &eventsv1.StorePaymentCaptured{}},
	}
	b, err := envelope.Marshal(e)
	if err != nil {
		panic(err)
	}
	back, err := envelope.Unmarshal(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(envelope.Type(back))
	// Output: StorePaymentCaptured
}
