package order

import (
	"errors"
	"fmt"
)

// Sentinel errors. Compare with [errors.Is]; refusals that follow from a
// SPEC rule come wrapped in a [*RuleError] that names the rule.
var (
	// ErrInvalidID: an order id or store key does not parse.
	ErrInvalidID = errors.New("order: invalid order id")
	// ErrInvalidEvent: an event lacks an id or a payload, lacks the data its
	// type needs, or belongs to another order.
	ErrInvalidEvent = errors.New("order: invalid event")
	// ErrUnsupportedEvent: the event is not a fact the order takes in
	// (decisions such as PlacementRequested are made by the order itself).
	ErrUnsupportedEvent = errors.New("order: not a fact the order takes in")
	// ErrUnknownOrder: no store event has created the order yet.
	ErrUnknownOrder = errors.New("order: unknown order")
	// ErrInvalidRequest: a command lacks its request id.
	ErrInvalidRequest = errors.New("order: invalid request")
	// ErrRequestReused: the request id was already used for another command.
	ErrRequestReused = errors.New("order: request id already used for another command")
	// ErrNotPlaceable: the order has no active line left to place.
	ErrNotPlaceable = errors.New("order: nothing to place")
	// ErrNotRetryable: Retry on an order that neither failed nor has lines
	// canceled at the supplier.
	ErrNotRetryable = errors.New("order: not failed and not canceled at the supplier")
	// ErrAlreadyFulfilled: the order is fulfilled (by hand, on the store, or
	// completely by dropsync).
	ErrAlreadyFulfilled = errors.New("order: already fulfilled")
	// ErrCanceledOnStore: the order is canceled or refunded on the store.
	ErrCanceledOnStore = errors.New("order: canceled on the store")
	// ErrPaymentNotCaptured: the customer's payment is not captured yet.
	ErrPaymentNotCaptured = errors.New("order: payment not captured")
	// ErrPlacementInFlight: a placement was requested and the supplier has
	// not answered yet.
	ErrPlacementInFlight = errors.New("order: placement in flight")
	// ErrConflict: the store changed the order by hand; resolve the conflict first.
	ErrConflict = errors.New("order: unresolved conflict with the store")
	// ErrNoConflict: ResolveConflict on an order without a conflict.
	ErrNoConflict = errors.New("order: no conflict to resolve")
	// ErrUnknownShipment: the event names a shipment the order does not have.
	ErrUnknownShipment = errors.New("order: unknown shipment")
	// ErrNotSynced: dropsync no longer syncs the order (fulfilled by hand or
	// on the store), so it sends no confirmation.
	ErrNotSynced = errors.New("order: not synced by dropsync")
	// ErrNotFulfilledOnStore: a confirmation for a shipment whose
	// fulfilment was not asked of the store (or failed there).
	ErrNotFulfilledOnStore = errors.New("order: shipment not fulfilled on the store")
	// ErrAlreadyConfirmed: the shipment's confirmation was already issued.
	ErrAlreadyConfirmed = errors.New("order: shipping confirmation already issued")
	// ErrNoFailedFulfillment: RetryFulfillment on an order none of whose
	// shipments' fulfilment failed.
	ErrNoFailedFulfillment = errors.New("order: no failed fulfilment to retry")
	// ErrConfirmationOff: the store's shipping-confirmation setting is off.
	ErrConfirmationOff = errors.New("order: shipping confirmation is off for the store")
)

// Codes carried by [RuleError], one per rule a refusal follows from. The
// number is the SPEC rule.
const (
	CodePaymentNotCaptured      = "RULE_1_PAYMENT_NOT_CAPTURED"
	CodeAlreadyPlaced           = "RULE_2_ALREADY_PLACED"
	CodeOrderFulfilled          = "RULE_4_ORDER_FULFILLED"
	CodeShipmentNotFulfilled    = "RULE_4_SHIPMENT_NOT_FULFILLED"
	CodeConfirmationIssued      = "RULE_4_CONFIRMATION_ISSUED"
	CodeConfirmationOff         = "RULE_4_CONFIRMATION_OFF"
	CodeNoFailedFulfillment     = "RULE_4_NO_FAILED_FULFILLMENT"
	CodeFulfilledManually       = "RULE_5_FULFILLED_MANUALLY"
	CodeFulfilledManuallyPlaced = "RULE_6_FULFILLED_MANUALLY_AFTER_PLACING"
	CodeFulfilledOnStore        = "RULE_7_FULFILLED_ON_STORE"
	CodeCanceledOnStore         = "RULE_8_CANCELED_ON_STORE"
	CodeNotRetryable            = "RULE_9_NOT_FAILED"
	CodePlacementInFlight       = "RULE_10_PLACEMENT_IN_FLIGHT"
	CodeRequestReused           = "RULE_10_REQUEST_ID_REUSED"
	CodeConflict                = "RULE_11_CONFLICT"
	CodeNoConflict              = "RULE_11_NO_CONFLICT"
	CodeNotFound                = "NOT_FOUND"
	CodeInvalidID               = "INVALID_ORDER_ID"
	CodeInvalidEvent            = "INVALID_EVENT"
	CodeUnsupportedEvent        = "UNSUPPORTED_EVENT"
	CodeInvalidRequest          = "INVALID_REQUEST"
	CodeUnknownShipment         = "UNKNOWN_SHIPMENT"
	codeUnknown                 = "UNKNOWN"
)

// RuleError is a refusal that follows from a SPEC rule: the order's state
// forbids the command or fact. It unwraps to one of the sentinel errors, so
// errors.Is(err, ErrAlreadyFulfilled) holds for a RULE_5 refusal; the gRPC
// layer answers FailedPrecondition with Code.
type RuleError struct {
	// OrderID is the refused order.
	OrderID string
	// Code names the rule, e.g. [CodeFulfilledManually].
	Code string
	// Err is the sentinel.
	Err error
}

// Error formats the refusal: "order <id>: <code>: <sentinel>".
func (e *RuleError) Error() string {
	return fmt.Sprintf("order %s: %s: %v", e.OrderID, e.Code, e.Err)
}

// Unwrap returns the sentinel.
func (e *RuleError) Unwrap() error { return e.Err }

func (o *Order) refuse(code string, sentinel error) error {
	return &RuleError{OrderID: o.id, Code: code, Err: sentinel}
}

// Code returns the code of an error from this package: the rule code of a
// [*RuleError], a fixed code per sentinel (ErrUnknownOrder is NOT_FOUND),
// "" for nil and "UNKNOWN" for anything else.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var re *RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrUnknownOrder, CodeNotFound},
		{ErrInvalidID, CodeInvalidID},
		{ErrInvalidEvent, CodeInvalidEvent},
		{ErrUnsupportedEvent, CodeUnsupportedEvent},
		{ErrInvalidRequest, CodeInvalidRequest},
		{ErrRequestReused, CodeRequestReused},
		{ErrUnknownShipment, CodeUnknownShipment},
		{ErrNotPlaceable, CodeAlreadyPlaced},
		{ErrNotRetryable, CodeNotRetryable},
		{ErrAlreadyFulfilled, CodeOrderFulfilled},
		{ErrCanceledOnStore, CodeCanceledOnStore},
		{ErrPaymentNotCaptured, CodePaymentNotCaptured},
		{ErrPlacementInFlight, CodePlacementInFlight},
		{ErrConflict, CodeConflict},
		{ErrNoConflict, CodeNoConflict},
		{ErrNotSynced, CodeFulfilledOnStore},
		{ErrNotFulfilledOnStore, CodeShipmentNotFulfilled},
		{ErrAlreadyConfirmed, CodeConfirmationIssued},
		{ErrConfirmationOff, CodeConfirmationOff},
		{ErrNoFailedFulfillment, CodeNoFailedFulfillment},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return codeUnknown
}
