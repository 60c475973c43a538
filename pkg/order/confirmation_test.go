package order_test

import (
	"errors"
	"testing"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// One store fulfilment carries one confirmation, whatever number of
// shipments it covers: WooCommerce completes the whole order once, its
// Completed e-mail listing every tracking number.
func TestOneConfirmationCoversTheWholeOrderFulfilment(t *testing.T) {
	f := newFixture(t, eventsv1.Platform_PLATFORM_WOOCOMMERCE, nil)
	f.awaitingShipment()
	f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
	evs := f.fact(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
	var sid string
	for _, e := range evs {
		if r := e.GetFulfillmentRequested(); r != nil {
			sid = r.GetShipmentId()
		}
	}
	if sid == "" {
		t.Fatalf("no whole-order FulfillmentRequested in %q", describeAll(evs))
	}
	f.fact(f.pushed(sid, "woocommerce:order:1001:completed"))
	f.fact(f.confirmed(sid))
	for _, sh := range f.o.ToProto().GetShipments() {
		if !sh.GetConfirmationIssued() {
			t.Fatalf("shipment %s of the one fulfilment shows no confirmation", sh.GetShipmentId())
		}
	}
	other := "s1"
	if sid == "s1" {
		other = "s2"
	}
	if _, err := f.handle(f.confirmed(other)); !errors.Is(err, order.ErrAlreadyConfirmed) {
		t.Fatalf("a second confirmation for the same fulfilment: %v, want ErrAlreadyConfirmed", err)
	}
}
