package bus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Subject prefixes: the first token of every subject, one per stream.
const (
	// KindStore prefixes store events: "store.<platform>.<store>.<order>".
	KindStore = "store"
	// KindSupplier prefixes supplier events: "supplier.<platform>.<store>.<order>".
	KindSupplier = "supplier"
	// KindOrder prefixes order events: "order.<platform>.<store>.<order>.<EventType>".
	KindOrder = "order"
	// KindDeadLetter prefixes dead letters: "dlq.<original stream>".
	KindDeadLetter = "dlq"
)

// escape starts an escaped byte in a subject token ("~2E" is '.'), and the
// token made of escape alone stands for the empty string.
const escape = '~'

// ErrBadToken: a subject token is not one EncodeToken can have produced.
var ErrBadToken = errors.New("bus: malformed subject token")

// ErrBadSubject: a subject does not follow the dropsync subject scheme.
var ErrBadSubject = errors.New("bus: malformed subject")

// safe reports whether b may stand for itself in a token. The set is kept
// narrow on purpose (NATS allows more) so that tokens never carry wildcards,
// separators, whitespace, '$' or non-ASCII bytes.
func safe(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

const hexDigits = "0123456789ABCDEF"

// EncodeToken turns any string into one valid NATS subject token, reversibly.
// Letters, digits, '-' and '_' stand for themselves; every other byte
// (including '.', '*', '>', whitespace and '~' itself) becomes '~' followed
// by two upper-case hex digits; the empty string becomes "~". So
// "acme.myshopify.com" is "acme~2Emyshopify~2Ecom" and a filter on a plain
// store slug such as "acme" reads as written.
func EncodeToken(s string) string {
	if s == "" {
		return string(escape)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !safe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if safe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(escape)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// DecodeToken reverses EncodeToken. It accepts only the canonical form, so
// each string has exactly one token and each token one string.
func DecodeToken(tok string) (string, error) {
	if tok == string(escape) {
		return "", nil
	}
	if tok == "" {
		return "", fmt.Errorf("%w: empty", ErrBadToken)
	}
	if strings.IndexByte(tok, escape) < 0 {
		for i := 0; i < len(tok); i++ {
			if !safe(tok[i]) {
				return "", fmt.Errorf("%w: %q has byte %q", ErrBadToken, tok, tok[i])
			}
		}
		return tok, nil
	}
	var b strings.Builder
	b.Grow(len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case safe(c):
			b.WriteByte(c)
		case c == escape && i+2 < len(tok) && unhex(tok[i+1]) >= 0 && unhex(tok[i+2]) >= 0:
			v := byte(unhex(tok[i+1])<<4 | unhex(tok[i+2]))
			if safe(v) {
				return "", fmt.Errorf("%w: %q escapes a safe byte", ErrBadToken, tok)
			}
			b.WriteByte(v)
			i += 2
		default:
			return "", fmt.Errorf("%w: %q at byte %d", ErrBadToken, tok, i)
		}
	}
	return b.String(), nil
}

// unhex returns the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// splitOrderID splits "<platform>:<store>:<store order id>" into its three
// parts; missing parts are empty (a store-level id "<platform>:<store>" has
// no order part). The store order id keeps any further ':'.
func splitOrderID(orderID string) (platform, store, order string) {
	platform, rest, _ := strings.Cut(orderID, ":")
	store, order, _ = strings.Cut(rest, ":")
	return platform, store, order
}

// orderTokens is "<platform>.<store>.<order>" with each part encoded.
func orderTokens(orderID string) string {
	p, s, o := splitOrderID(orderID)
	return EncodeToken(p) + "." + EncodeToken(s) + "." + EncodeToken(o)
}

// StoreSubject is the subject of a store event about orderID:
// "store.<platform>.<store>.<order>".
func StoreSubject(orderID string) string {
	return KindStore + "." + orderTokens(orderID)
}

// SupplierSubject is the subject of a supplier event about orderID:
// "supplier.<platform>.<store>.<order>".
func SupplierSubject(orderID string) string {
	return KindSupplier + "." + orderTokens(orderID)
}

// OrderSubject is the subject of an order event about orderID:
// "order.<platform>.<store>.<order>.<EventType>", so a connector filters the
// commands meant for it, e.g. "order.shopify.*.*.FulfillmentRequested". A
// store-level event (orderID "<platform>:<store>") has the order token "~".
func OrderSubject(orderID, eventType string) string {
	return KindOrder + "." + orderTokens(orderID) + "." + EncodeToken(eventType)
}

// OrderFilter is a filter subject for order events of one platform and type;
// an empty platform or type matches any.
func OrderFilter(platform, eventType string) string {
	p, t := "*", "*"
	if platform != "" {
		p = EncodeToken(platform)
	}
	if eventType != "" {
		t = EncodeToken(eventType)
	}
	return KindOrder + "." + p + ".*.*." + t
}

// DeadLetterSubject is the subject dead letters from stream go to:
// "dlq.<stream>".
func DeadLetterSubject(stream string) string {
	return KindDeadLetter + "." + stream
}

// SubjectFor is the subject env is published on, chosen by its event's
// field number range in the Envelope: store 10-29, supplier 30-49, order
// 50-89.
func SubjectFor(env *eventsv1.Envelope) (string, error) {
	typ := envelope.Type(env)
	if typ == "" {
		return "", envelope.ErrNoEvent
	}
	switch n := envelope.FieldNumber(typ); {
	case n >= 10 && n < 30:
		return StoreSubject(env.GetOrderId()), nil
	case n >= 30 && n < 50:
		return SupplierSubject(env.GetOrderId()), nil
	case n >= 50 && n < 90:
		return OrderSubject(env.GetOrderId(), typ), nil
	default:
		return "", fmt.Errorf("bus: event %s has field number %d outside every stream's range", typ, n)
	}
}

// SubjectInfo is a parsed event subject.
type SubjectInfo struct {
	// Kind is KindStore, KindSupplier or KindOrder.
	Kind string
	// Platform, Store and StoreOrderID are the decoded order id parts.
	Platform, Store, StoreOrderID string
	// EventType is set for order events only.
	EventType string
}

// OrderID joins the parts back into "<platform>:<store>:<store order id>",
// or "<platform>:<store>" for a store-level event.
func (s SubjectInfo) OrderID() string {
	if s.StoreOrderID == "" {
		return s.Platform + ":" + s.Store
	}
	return s.Platform + ":" + s.Store + ":" + s.StoreOrderID
}

// ParseSubject reverses StoreSubject, SupplierSubject and OrderSubject.
func ParseSubject(subject string) (SubjectInfo, error) {
	toks := strings.Split(subject, ".")
	var info SubjectInfo
	switch {
	case len(toks) == 4 && (toks[0] == KindStore || toks[0] == KindSupplier):
	case len(toks) == 5 && toks[0] == KindOrder:
	default:
		return info, fmt.Errorf("%w: %q", ErrBadSubject, subject)
	}
	info.Kind = toks[0]
	parts := make([]string, len(toks)-1)
	for i, t := range toks[1:] {
		v, err := DecodeToken(t)
		if err != nil {
			return SubjectInfo{}, fmt.Errorf("%w: %q: %w", ErrBadSubject, subject, err)
		}
		parts[i] = v
	}
	info.Platform, info.Store, info.StoreOrderID = parts[0], parts[1], parts[2]
	if info.Kind == KindOrder {
		info.EventType = parts[3]
	}
	return info, nil
}

// partitionKey is the part of a subject that names one order (the first four
// tokens), so that all events of an order, whatever their type, share a key.
func partitionKey(subject string) string {
	dots := 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == '.' {
			dots++
			if dots == 4 {
				return subject[:i]
			}
		}
	}
	return subject
}
