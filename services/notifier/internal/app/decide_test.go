package app_test

import (
	"errors"
	"testing"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

func TestDecide(t *testing.T) {
	on := &eventsv1.StoreSettings{ShippingConfirmation: true}
	off := &eventsv1.StoreSettings{ShippingConfirmation: false}
	withShipment := func(state ordersv1.ShipmentState, set func(*ordersv1.Order, *ordersv1.Shipment)) *ordersv1.Order {
		sh := &ordersv1.Shipment{ShipmentId: "s1", State: state}
		o := &ordersv1.Order{OrderId: "shopify:acme:1001", Shipments: []*ordersv1.Shipment{{ShipmentId: "s0", State: ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED}, sh}}
		if set != nil {
			set(o, sh)
		}
		return o
	}
	requested := ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED
	for _, tc := range []struct {
		name       string
		order      *ordersv1.Order
		settings   *eventsv1.StoreSettings
		want       notifierv1.Decision
		wantReason string
		wantErr    error
		wantCode   string
	}{
		{name: "setting on, fulfilment requested: notify", order: withShipment(requested, nil), settings: on,
			want: notifierv1.Decision_DECISION_NOTIFY, wantReason: app.CodeConfirmationOn},
		{name: "setting on, fulfilment pushed: notify", order: withShipment(ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED, nil), settings: on,
			want: notifierv1.Decision_DECISION_NOTIFY, wantReason: app.CodeConfirmationOn},
		{name: "fulfilment refused and being retried: notify", order: withShipment(ordersv1.ShipmentState_SHIPMENT_STATE_FAILED, nil), settings: on,
			want: notifierv1.Decision_DECISION_NOTIFY, wantReason: app.CodeConfirmationOn},
		{name: "no settings: the defaults (on)", order: withShipment(requested, nil),
			want: notifierv1.Decision_DECISION_NOTIFY, wantReason: app.CodeConfirmationOn},
		{name: "setting off: skip, the fulfilment still happens", order: withShipment(requested, nil), settings: off,
			want: notifierv1.Decision_DECISION_SKIP_SETTING_OFF, wantReason: order.CodeConfirmationOff},
		{name: "fulfilled by hand before placing: skip (rule 5)", settings: on,
			order: withShipment(requested, func(o *ordersv1.Order, _ *ordersv1.Shipment) { o.FulfilledManually = true }),
			want:  notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, wantReason: order.CodeFulfilledManually},
		{name: "fulfilled by hand after placing: skip (rule 6)", settings: on,
			order: withShipment(requested, func(o *ordersv1.Order, _ *ordersv1.Shipment) {
				o.FulfilledManually = true
				o.SupplierOrders = []*ordersv1.SupplierOrderView{{SupplierOrderId: "ae-1"}}
			}),
			want: notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, wantReason: order.CodeFulfilledManuallyPlaced},
		{name: "fulfilled on the store: skip (rule 7)", settings: on,
			order: withShipment(requested, func(o *ordersv1.Order, _ *ordersv1.Shipment) { o.FulfilledOnStore = true }),
			want:  notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, wantReason: order.CodeFulfilledOnStore},
		{name: "shipment not synced: skip", order: withShipment(ordersv1.ShipmentState_SHIPMENT_STATE_NOT_SYNCED, nil), settings: on,
			want: notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, wantReason: order.CodeFulfilledOnStore},
		{name: "the orders service already shows a confirmation: skip", settings: on,
			order: withShipment(requested, func(_ *ordersv1.Order, s *ordersv1.Shipment) { s.ConfirmationIssued = true }),
			want:  notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED, wantReason: order.CodeConfirmationIssued},
		{name: "fulfilment not requested yet: refused, nothing decided", order: withShipment(ordersv1.ShipmentState_SHIPMENT_STATE_WAITING, nil), settings: on,
			wantErr: order.ErrNotFulfilledOnStore, wantCode: order.CodeShipmentNotFulfilled},
		{name: "unknown shipment: refused", order: &ordersv1.Order{OrderId: "shopify:acme:1001"}, settings: on,
			wantErr: order.ErrUnknownShipment, wantCode: order.CodeUnknownShipment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := app.Decide(tc.order, "s1", tc.settings)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || order.Code(err) != tc.wantCode {
					t.Fatalf("err = %v (code %s), want %v (%s)", err, order.Code(err), tc.wantErr, tc.wantCode)
				}
				return
			}
			if err != nil || d != tc.want || reason != tc.wantReason {
				t.Fatalf("Decide = %v, %q, %v; want %v, %q", d, reason, err, tc.want, tc.wantReason)
			}
		})
	}
}
