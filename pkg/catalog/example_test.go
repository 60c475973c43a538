package catalog_test

import (
	"fmt"
	"time"

	"github.com/dropsync/dropsync/pkg/catalog"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// A store's settings are events: a command returns them, the caller
// appends them to the store's stream, then folds them in.
func Example() {
	st := catalog.New("shopify:acme")
	fmt.Println("confirmations by default:", st.Settings().GetShippingConfirmation())

	events, err := st.UpdateSettings("req-1", &eventsv1.StoreSettings{
		FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER,
	}, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	for _, e := range events { // appended to catalog.StreamName("shopify:acme") first
		st.Apply(e)
	}
	again, _ := st.UpdateSettings("req-1", &eventsv1.StoreSettings{}, time.Now())
	fmt.Println("policy:", st.Settings().GetFulfillmentPolicy(), "- same request again records", len(again), "events")
	// Output:
	// confirmations by default: true
	// policy: FULFILLMENT_POLICY_WHOLE_ORDER - same request again records 0 events
}
