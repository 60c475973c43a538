package client

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HealthObserver is told what the platform answered each call made for a
// store (WithStore): healthy false, with the platform's answer as the
// reason, after a 401 or 403; true after a success. Other answers (a 404,
// a 5xx, a network error) say nothing of the credentials and are not
// reported. storehealth.Tracker is one. It must be safe for concurrent use
// and must not block.
type HealthObserver interface {
	ObserveStore(store string, healthy bool, reason string)
}

// IsCredential reports whether err is an *Error whose last answer was
// HTTP 401 or 403: the platform refused the store's credentials, and the
// same call can succeed once they are replaced or restored.
func IsCredential(err error) bool {
	var e *Error
	return errors.As(err, &e) && credentialStatus(e.StatusCode)
}

func credentialStatus(s int) bool { return s == http.StatusUnauthorized || s == http.StatusForbidden }

// maxReasonBody bounds the part of a refusal's body a health reason quotes.
const maxReasonBody = 160

// credentialReason names the platform's refusal: status, and the start of
// its body, credentials redacted.
func credentialReason(platform string, resp *Response) string {
	var b strings.Builder
	b.WriteString(platform)
	b.WriteString(" answered HTTP ")
	b.WriteString(strconv.Itoa(resp.StatusCode))
	if t := http.StatusText(resp.StatusCode); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	body := strings.Join(strings.Fields(string(resp.Body)), " ")
	if len(body) > maxReasonBody {
		n := maxReasonBody
		for n > 0 && !utf8.RuneStart(body[n]) {
			n--
		}
		body = body[:n] + "…"
	}
	if body != "" {
		b.WriteString(": ")
		b.WriteString(body)
	}
	return RedactString(b.String())
}
