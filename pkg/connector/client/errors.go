package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
)

// Error is a call that did not succeed: the request (URL redacted), the
// last status, how many attempts were made and whether retrying later could
// help. Err is the cause: a transport error, a context error, or what the
// Classifier returned.
type Error struct {
	// Method and URL of the request; URL has credentials redacted.
	Method, URL string
	// Key is the rate limiting key the call ran under.
	Key string
	// StatusCode of the last response; 0 when none came.
	StatusCode int
	// Attempts made.
	Attempts int
	// Retryable reports whether the same call may succeed later (a 5xx, a
	// timeout, a rate limit); false when the platform refused it.
	Retryable bool
	// RetryAfter is how long the platform asked to wait, when it did.
	RetryAfter time.Duration
	// Err is the cause.
	Err error
}

// Error describes the failure without credentials.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(e.Method))
	b.WriteByte(' ')
	b.WriteString(e.URL)
	if e.StatusCode != 0 {
		b.WriteString(": status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return RedactString(b.String())
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is an *Error that may succeed when tried
// again later. Context cancellation is not retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// IsPermanent reports whether err is an *Error retrying cannot fix: the
// platform refused the call (a 4xx, a business error the Classifier marked
// permanent).
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Retryable && !errors.Is(e.Err, errContext)
}

// HandlerError is err as a bus handler should return it: a permanent
// failure is wrapped with bus.Permanent, so the message is dead-lettered at
// once; anything else is returned as is and retried by the consumer.
func HandlerError(err error) error {
	if IsPermanent(err) {
		return bus.Permanent(err)
	}
	return err
}

// errContext marks a call stopped by its context.
var errContext = errors.New("call stopped by its context")

// classified is what Retryable and Permanent return.
type classified struct {
	err        error
	retryable  bool
	retryAfter time.Duration
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

// Retryable marks err, returned by a Classifier, as one that may succeed
// when tried again; after is how long the platform asked to wait (0: use
// the backoff).
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, retryable: true, retryAfter: after}
}

// Permanent marks err, returned by a Classifier, as one retrying cannot
// fix. An unmarked error from a Classifier is permanent too.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err}
}

// classification reads the marks of a Classifier's error.
func classification(err error) (retryable bool, after time.Duration) {
	var c *classified
	if errors.As(err, &c) {
		return c.retryable, c.retryAfter
	}
	return false, 0
}

// StatusError is the cause of an *Error when the response's status alone
// made the call fail (see StatusClassifier).
type StatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Snippet is the start of the body, credentials redacted, for people.
	Snippet string
}

// Error is "http <status>: <start of the body>".
func (e *StatusError) Error() string {
	if e.Snippet == "" {
		return "http " + strconv.Itoa(e.StatusCode)
	}
	return "http " + strconv.Itoa(e.StatusCode) + ": " + e.Snippet
}
