package order

import (
	"fmt"
	"strings"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Platform words, as they appear in order ids and store keys.
const (
	WordShopify     = "shopify"
	WordWooCommerce = "woocommerce"
	WordWix         = "wix"
	// WordAliExpress names the supplier platform in ids of supplier-level
	// facts ("aliexpress:<account>"); no order id starts with it.
	WordAliExpress = "aliexpress"
)

// StreamPrefix starts the name of every order's event stream.
const StreamPrefix = "order-"

// Length limits of the parts of an order id.
const (
	maxStoreLen        = 64
	maxStoreOrderIDLen = 128
)

// ID identifies an order: "<platform>:<store>:<store order id>", e.g.
// "shopify:acme:5012345678". The store is the store id registered in
// dropsync (a slug); the store order id is the platform's own order id.
// Both consist of ASCII letters, digits, '-' and '_' only, so an order id is
// safe as a stream name and as a NATS subject token.
type ID struct {
	Platform     eventsv1.Platform
	Store        string
	StoreOrderID string
}

// NewID builds and validates an order id.
func NewID(platform eventsv1.Platform, store, storeOrderID string) (ID, error) {
	id := ID{Platform: platform, Store: store, StoreOrderID: storeOrderID}
	if err := id.Validate(); err != nil {
		return ID{}, err
	}
	return id, nil
}

// ParseID parses "<platform>:<store>:<store order id>".
func ParseID(s string) (ID, error) {
	word, rest, ok := strings.Cut(s, ":")
	if !ok {
		return ID{}, fmt.Errorf("%w %q: want <platform>:<store>:<store order id>", ErrInvalidID, s)
	}
	store, soid, ok := strings.Cut(rest, ":")
	if !ok {
		return ID{}, fmt.Errorf("%w %q: want <platform>:<store>:<store order id>", ErrInvalidID, s)
	}
	p, err := ParsePlatform(word)
	if err != nil {
		return ID{}, fmt.Errorf("%w %q: %w", ErrInvalidID, s, err)
	}
	return NewID(p, store, soid)
}

// Validate reports whether id names a store platform and has a valid store
// and store order id.
func (id ID) Validate() error {
	if PlatformWord(id.Platform) == "" {
		return fmt.Errorf("%w: platform %v is not a store platform", ErrInvalidID, id.Platform)
	}
	if err := checkPart("store", id.Store, maxStoreLen); err != nil {
		return err
	}
	return checkPart("store order id", id.StoreOrderID, maxStoreOrderIDLen)
}

func checkPart(what, s string, limit int) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidID, what)
	}
	if len(s) > limit {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidID, what, limit)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !idChar(c) {
			return fmt.Errorf("%w: %s %q has character %q (want letters, digits, '-', '_')", ErrInvalidID, what, s, c)
		}
	}
	return nil
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// String formats id as "<platform>:<store>:<store order id>".
func (id ID) String() string {
	return PlatformWord(id.Platform) + ":" + id.Store + ":" + id.StoreOrderID
}

// StoreKey returns "<platform>:<store>", the key of the order's store.
func (id ID) StoreKey() string { return StoreKey(id.Platform, id.Store) }

// StreamName returns the name of the order's event stream, "order-<id>".
func (id ID) StreamName() string { return StreamName(id.String()) }

// StreamName returns the event stream name of an order id: "order-" + id.
func StreamName(orderID string) string { return StreamPrefix + orderID }

// StoreKey returns "<platform>:<store>".
func StoreKey(platform eventsv1.Platform, store string) string {
	return PlatformWord(platform) + ":" + store
}

// ParseStoreKey parses "<platform>:<store>".
func ParseStoreKey(s string) (eventsv1.Platform, string, error) {
	word, store, ok := strings.Cut(s, ":")
	if !ok {
		return 0, "", fmt.Errorf("%w: store key %q: want <platform>:<store>", ErrInvalidID, s)
	}
	p, err := ParsePlatform(word)
	if err != nil {
		return 0, "", fmt.Errorf("%w: store key %q: %w", ErrInvalidID, s, err)
	}
	if err := checkPart("store", store, maxStoreLen); err != nil {
		return 0, "", err
	}
	return p, store, nil
}
