package order

import (
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// ToProto returns the order as the API shows it, with placeable set when
// [Order.Place] would be accepted now. The result shares messages taken from
// the order's events (line quantities, tracking, failure, attention); treat
// it as read-only, or clone it before changing it. Revision is the stream
// revision of the last event folded (0 also for an order with one event).
func (o *Order) ToProto() *ordersv1.Order {
	v := &ordersv1.Order{
		OrderId:           o.id,
		Platform:          o.platform,
		StoreId:           o.store,
		StoreOrderId:      o.storeOrderID,
		Name:              o.name,
		Tab:               o.Tab(),
		Failure:           o.failure,
		FulfilledManually: o.manual,
		FulfilledOnStore:  o.FulfilledOnStore(),
		Placeable:         o.CanPlace() == nil,
		ConflictFields:    o.ConflictFields(),
		CreatedAt:         ts(o.CreatedAt()),
		UpdatedAt:         ts(o.updatedAt),
		PaymentCaptured:   o.captured,
	}
	if o.revision > 0 {
		v.Revision = o.revision - 1
	}
	var buf [8]progress
	p := o.progress(buf[:0])
	if len(o.lines) > 0 {
		v.Lines = make([]*ordersv1.OrderLine, len(o.lines))
	}
	for j := range o.lines {
		it := o.lines[j].item
		q := &p[j]
		v.Lines[j] = &ordersv1.OrderLine{
			LineItemId:        it.GetId(),
			VariantId:         it.GetVariantId(),
			Sku:               it.GetSku(),
			Title:             it.GetTitle(),
			Quantity:          q.ordered,
			CanceledQuantity:  q.storeCanceled,
			PlacedQuantity:    q.placed(),
			ShippedQuantity:   q.shipped,
			FulfilledQuantity: min(q.pushed+q.foreign, q.ordered),
		}
	}
	for i := range o.suppliers {
		so := &o.suppliers[i]
		if !so.placed {
			continue
		}
		v.SupplierOrders = append(v.SupplierOrders, &ordersv1.SupplierOrderView{
			SupplierOrderId: so.id,
			Lines:           so.lines,
			Paid:            so.paid,
			Canceled:        so.canceledWhole || so.liveQty() == 0,
			Finished:        so.finished,
		})
	}
	stopped := o.syncStopped() || o.canceledOnStore()
	for i := range o.shipments {
		s := &o.shipments[i]
		v.Shipments = append(v.Shipments, &ordersv1.Shipment{
			ShipmentId:          s.id,
			SupplierOrderId:     s.supplierOrder,
			Tracking:            s.tracking,
			Lines:               s.lines,
			State:               s.state(stopped),
			StoreFulfillmentId:  s.fulfillmentID,
			ConfirmationIssued:  s.confirmed,
			LatestCheckpoint:    s.checkpoint,
			Delivered:           s.delivered,
			TrackingUpdatedAt:   ts(s.trackingUpdatedAt()),
			FulfillmentFailure:  s.failure,
			FulfillmentAttempts: s.attempt,
		})
	}
	for i := range o.attention {
		if a := &o.attention[i]; !a.cleared && !o.syncStopped() {
			v.Attention = append(v.Attention, a.msg)
		}
	}
	return v
}

// state derives a shipment's state; stopped: dropsync no longer syncs the
// order (fulfilled by hand or on the store, or canceled on the store), so a
// shipment no fulfilment covers will never be synced.
func (s *shipment) state(stopped bool) ordersv1.ShipmentState {
	switch {
	case s.pushed:
		return ordersv1.ShipmentState_SHIPMENT_STATE_PUSHED
	case s.failed:
		return ordersv1.ShipmentState_SHIPMENT_STATE_FAILED
	case s.coveredBy != "":
		return ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED
	case stopped:
		return ordersv1.ShipmentState_SHIPMENT_STATE_NOT_SYNCED
	}
	return ordersv1.ShipmentState_SHIPMENT_STATE_WAITING
}

// ShipmentState returns how far a shipment got on the store, and false for
// an unknown shipment.
func (o *Order) ShipmentState(shipmentID string) (ordersv1.ShipmentState, bool) {
	s := o.shipment(shipmentID)
	if s == nil {
		return ordersv1.ShipmentState_SHIPMENT_STATE_UNSPECIFIED, false
	}
	return s.state(o.syncStopped() || o.canceledOnStore()), true
}
