// Package domain holds what the AliExpress connector decides, with no I/O
// and no clock: which failure reason an AliExpress error is, which supplier
// events an observed order state means, which open orders the API budget
// is spent on, and whether a manual sync is within its quota.
package domain

import (
	"strings"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Failure codes of SupplierPlacementFailed (FailureReason.code).
const (
	ReasonOutOfStock       = "OUT_OF_STOCK"
	ReasonSKUUnavailable   = "SKU_UNAVAILABLE"
	ReasonAddressRejected  = "ADDRESS_REJECTED"
	ReasonShippingMethod   = "SHIPPING_METHOD_UNAVAILABLE"
	ReasonRiskControl      = "RISK_CONTROL"
	ReasonAccountDisabled  = "SUPPLIER_ACCOUNT_DISABLED"
	ReasonPaymentCurrency  = "PAYMENT_CURRENCY_REJECTED"
	ReasonDuplicate        = "DUPLICATE_ORDER"
	ReasonConnection       = "SUPPLIER_CONNECTION"
	ReasonQuota            = "SUPPLIER_QUOTA_EXHAUSTED"
	ReasonUnavailable      = "SUPPLIER_UNAVAILABLE"
	ReasonSupplierError    = "SUPPLIER_ERROR"
	ReasonInvalidPlacement = "INVALID_PLACEMENT"
)

// failureRule maps AliExpress codes to a reason.
type failureRule struct {
	codes     []string // exact codes (ds.order.create error_code or error_response code/sub_code)
	prefixes  []string
	reason    string
	retryable bool
	text      string
}

// failureRules is the mapping table; the first rule that matches wins.
// Retryable says whether placing again without changing anything can help.
var failureRules = []failureRule{
	{codes: []string{"INVENTORY_HOLD_ERROR", "OUT_OF_STOCK", "B_DROPSHIPPER_INVENTORY_NOT_ENOUGH"}, reason: ReasonOutOfStock, text: "the supplier does not have enough stock"},
	{codes: []string{"SKU_NOT_EXIST", "PRODUCT_NOT_EXIST", "ITEM_NOT_FOUND", "PRODUCT_OFFLINE"}, reason: ReasonSKUUnavailable, text: "the product or SKU does not exist at the supplier (any more)"},
	{codes: []string{"B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "A002_INVALID_ZONE", "A005_INVALID_COUNTRIES"}, prefixes: []string{"B_DROPSHIPPER_DELIVERY_ADDRESS"}, reason: ReasonAddressRejected, text: "the supplier rejected the shipping address"},
	{codes: []string{"DELIVERY_METHOD_NOT_EXIST"}, reason: ReasonShippingMethod, text: "the shipping method is not available for this product and destination"},
	{codes: []string{"BLACKLIST_BUYER_IN_LIST", "A003_SUSPICIOUS_BUYER", "A001_ORDER_CANNOT_BE_PLACED", "RISK_CONTROL"}, reason: ReasonRiskControl, text: "AliExpress risk control refused the order"},
	{codes: []string{"USER_ACCOUNT_DISABLED", "A006_INVALID_ACCOUNT_INFO"}, reason: ReasonAccountDisabled, text: "the AliExpress buyer account cannot place orders"},
	{codes: []string{"PRICE_PAY_CURRENCY_ERROR", "A004_CANNOT_USER_COUPON"}, reason: ReasonPaymentCurrency, text: "AliExpress refused the payment options"},
	{codes: []string{"REPEATED_ORDER_ERROR"}, reason: ReasonDuplicate, text: "AliExpress says this order was placed already; check the AliExpress orders"},
	{codes: []string{"IllegalAccessToken", "InvalidAccessToken", "MissingAccessToken", "26", "27", "IncompleteSignature", "25", "InvalidAppKey", "29", "InsufficientPermission", "11", "session-expired", "invalid-sessionkey"},
		reason: ReasonConnection, retryable: true, text: "the AliExpress connection does not work (token expired or revoked, or bad app credentials)"},
	{codes: []string{"7", "accesscontrol.limited-by-app-access-count"}, reason: ReasonQuota, retryable: true, text: "the AliExpress daily API quota is spent"},
	{codes: []string{"ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "ApiCallLimit", "ServiceUnavailable", "10"}, prefixes: []string{"isp."}, reason: ReasonUnavailable, retryable: true, text: "AliExpress could not take the order now"},
	{codes: []string{"MissingParameter", "InvalidParameter", "40", "41"}, reason: ReasonInvalidPlacement, text: "the placement was not valid for AliExpress"},
}

// Failure maps AliExpress's codes to a failure reason; the first of codes
// that a rule knows decides (give the most specific first: sub_code, then
// code). An unknown code is SUPPLIER_ERROR, not retryable. message is
// AliExpress's own text, kept for people.
func Failure(message string, codes ...string) *eventsv1.FailureReason {
	for _, c := range codes {
		if c == "" {
			continue
		}
		for _, r := range failureRules {
			if r.matches(c) {
				return reason(r.reason, r.text, c, message, r.retryable)
			}
		}
	}
	first := ""
	for _, c := range codes {
		if c != "" {
			first = c
			break
		}
	}
	return reason(ReasonSupplierError, "AliExpress refused the order", first, message, false)
}

func (r failureRule) matches(code string) bool {
	for _, c := range r.codes {
		if code == c {
			return true
		}
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(code, p) {
			return true
		}
	}
	return false
}

func reason(code, text, aeCode, message string, retryable bool) *eventsv1.FailureReason {
	msg := text
	if aeCode != "" {
		msg += " (AliExpress " + aeCode
		if message != "" {
			msg += ": " + message
		}
		msg += ")"
	}
	return &eventsv1.FailureReason{Code: code, Message: msg, Retryable: retryable}
}
