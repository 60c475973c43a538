package app

import (
	"fmt"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// CodeConfirmationOn is the reason of a NOTIFY decision: the store's
// shipping-confirmation setting is on and dropsync fulfils the shipment.
const CodeConfirmationOn = "RULE_4_CONFIRMATION_ON"

// Decide decides whether a shipment of o gets a shipping confirmation,
// under the store's settings s (nil: [order.DefaultSettings]). It returns
// the decision and the rule code it follows from, checking in the order
// the aggregate does:
//
//   - the orders service already shows a confirmation: SKIP_ALREADY_ISSUED;
//   - the order was fulfilled by hand (rules 5, 6) or on the store (rule 7):
//     SKIP_NOT_SYNCED;
//   - the shipment's fulfilment is not requested of the store: an error,
//     [*order.RuleError] RULE_4_SHIPMENT_NOT_FULFILLED, and nothing is
//     decided (the orders service's view may lag the FulfillmentRequested
//     the connector holds: asking again later is safe);
//   - setting off: SKIP_SETTING_OFF; on: NOTIFY.
//
// A shipment the order does not have gives an error wrapping
// [order.ErrUnknownShipment]. Decide is pure.
func Decide(o *ordersv1.Order, shipmentID string, s *eventsv1.StoreSettings) (notifierv1.Decision, string, error) {
	var sh *ordersv1.Shipment
	for _, x := range o.GetShipments() {
		if x.GetShipmentId() == shipmentID {
			sh = x
			break
		}
	}
	if sh == nil {
		return 0, "", fmt.Errorf("%w %q in order %s", order.ErrUnknownShipment, shipmentID, o.GetOrderId())
	}
	if sh.GetConfirmationIssued() {
		return notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED, order.CodeConfirmationIssued, nil
	}
	switch {
	case o.GetFulfilledManually() && len(o.GetSupplierOrders()) > 0:
		return notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, order.CodeFulfilledManuallyPlaced, nil
	case o.GetFulfilledManually():
		return notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, order.CodeFulfilledManually, nil
	case o.GetFulfilledOnStore(), sh.GetState() == ordersv1.ShipmentState_SHIPMENT_STATE_NOT_SYNCED:
		return notifierv1.Decision_DECISION_SKIP_NOT_SYNCED, order.CodeFulfilledOnStore, nil
	}
	switch sh.GetState() {
	case ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED, ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED,
		ordersv1.ShipmentState_SHIPMENT_STATE_FAILED:
		// Asked of the store (FAILED: asked, refused, being tried again).
	default:
		return 0, "", &order.RuleError{OrderID: o.GetOrderId(), Code: order.CodeShipmentNotFulfilled, Err: order.ErrNotFulfilledOnStore}
	}
	if s == nil {
		s = order.DefaultSettings()
	}
	if !s.GetShippingConfirmation() {
		return notifierv1.Decision_DECISION_SKIP_SETTING_OFF, order.CodeConfirmationOff, nil
	}
	return notifierv1.Decision_DECISION_NOTIFY, CodeConfirmationOn, nil
}
