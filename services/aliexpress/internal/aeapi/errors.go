package aeapi

import (
	"errors"
	"fmt"
	"strings"
)

// APIError is an error_response: AliExpress refused a call.
type APIError struct {
	// Code is the error code as text ("IllegalAccessToken", "27", "15").
	Code string
	// Msg, SubCode and SubMsg are AliExpress's explanation.
	Msg, SubCode, SubMsg string
	// RequestID identifies the call to AliExpress support.
	RequestID string
}

// Error is "aliexpress error <code>/<sub_code>: <msg> (<sub_msg>) [request <id>]".
func (e *APIError) Error() string {
	s := "aliexpress error " + e.Code
	if e.SubCode != "" {
		s += "/" + e.SubCode
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.SubMsg != "" {
		s += " (" + e.SubMsg + ")"
	}
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// Auth reports whether the error says the credentials do not work: an
// invalid, expired or revoked access token, or a signature or app key
// AliExpress does not accept.
func (e *APIError) Auth() bool {
	switch e.Code {
	case "IllegalAccessToken", "InvalidAccessToken", "MissingAccessToken", "26", "27",
		"IncompleteSignature", "25", "InvalidAppKey", "29", "InsufficientPermission", "11":
		return true
	}
	return strings.Contains(e.SubCode, "session") || strings.Contains(e.SubCode, "token")
}

// Expired reports whether a refresh of the access token may help.
func (e *APIError) Expired() bool {
	switch e.Code {
	case "IllegalAccessToken", "InvalidAccessToken", "26", "27":
		return true
	}
	return strings.Contains(e.SubCode, "session") || strings.Contains(e.SubCode, "token")
}

// Throttled reports a per-API rate limit: retry shortly.
func (e *APIError) Throttled() bool {
	return e.Code == "ApiCallLimit" || e.Code == "AppCallLimit" && !e.QuotaExhausted() || strings.Contains(e.SubCode, "api-call-limit")
}

// QuotaExhausted reports the app's daily quota is spent: no call will
// succeed before it resets.
func (e *APIError) QuotaExhausted() bool {
	return e.Code == "7" || strings.Contains(e.SubCode, "limited-by-app-access-count")
}

// Transient reports a server-side failure worth retrying.
func (e *APIError) Transient() bool {
	return e.Code == "ServiceUnavailable" || e.Code == "InternalError" || e.Code == "isp.remote-service-timeout" ||
		strings.HasPrefix(e.Code, "isp.") || strings.HasPrefix(e.SubCode, "isp.") || e.Code == "10"
}

// NotFound reports an order AliExpress does not show (yet: orders are not
// visible for about 10 s after creation).
func (e *APIError) NotFound() bool {
	return strings.Contains(strings.ToLower(e.SubCode), "order-not-exist") || strings.Contains(strings.ToLower(e.SubCode), "order_not_found")
}

// ErrMalformed: a response AliExpress would not send.
var ErrMalformed = errors.New("aliexpress: malformed response")

func malformed(method, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, method, why)
}
