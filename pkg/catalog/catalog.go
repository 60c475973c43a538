// Package catalog folds a store's settings and supplier mapping from the
// events of its stream ("store-<platform>:<store>"). Like the order
// aggregate it is pure: no I/O, no clock; commands check, then return the
// events to append.
package catalog

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// StreamPrefix is the prefix of store streams in the event store.
const StreamPrefix = "store-"

// StreamName is the event stream of a store key "<platform>:<store>".
func StreamName(storeKey string) string { return StreamPrefix + storeKey }

// ErrInvalidSettings: settings or a mapping that cannot be used.
var ErrInvalidSettings = errors.New("catalog: invalid settings")

// ErrUnsupportedSetting: a setting the store's platform cannot honour
// through its API (see order.PlatformFacts.CannotSkipConfirmation). The
// error names the platform's limit.
var ErrUnsupportedSetting = errors.New("catalog: setting not supported by the platform")

// Store is one store's settings and mapping.
type Store struct {
	key      string
	settings *eventsv1.StoreSettings
	mappings map[string]*eventsv1.SupplierMapping
	requests map[string]bool
	revision uint64 // events applied
}

// New returns the state of a store with no events: default settings.
func New(storeKey string) *Store {
	return &Store{key: storeKey, mappings: map[string]*eventsv1.SupplierMapping{}, requests: map[string]bool{}}
}

// Revision is the number of events applied: the next event's revision.
func (s *Store) Revision() uint64 { return s.revision }

// Settings returns the store's settings (order.DefaultSettings until set).
func (s *Store) Settings() *eventsv1.StoreSettings {
	if s.settings == nil {
		return order.DefaultSettings()
	}
	return s.settings
}

// Mapping returns the mapping of a variant id, or nil.
func (s *Store) Mapping(variantID string) *eventsv1.SupplierMapping { return s.mappings[variantID] }

// Mappings returns every mapping, sorted by variant id.
func (s *Store) Mappings() []*eventsv1.SupplierMapping {
	keys := slices.Sorted(maps.Keys(s.mappings))
	out := make([]*eventsv1.SupplierMapping, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.mappings[k])
	}
	return out
}

// Apply folds one event of the store's stream. It never fails.
func (s *Store) Apply(e *eventsv1.Envelope) {
	s.revision++
	if r := requestOf(e); r != "" {
		s.requests[r] = true
	}
	switch ev := e.GetEvent().(type) {
	case *eventsv1.Envelope_StoreSettingsChanged:
		s.settings = ev.StoreSettingsChanged.GetSettings()
	case *eventsv1.Envelope_SupplierMappingChanged:
		m := ev.SupplierMappingChanged.GetMapping()
		if ev.SupplierMappingChanged.GetRemoved() {
			delete(s.mappings, m.GetVariantId())
		} else {
			s.mappings[m.GetVariantId()] = m
		}
	}
}

// requestOf is the request id a command event was recorded for, kept in
// its causation id as "request:<id>".
func requestOf(e *eventsv1.Envelope) string {
	const p = "request:"
	if c := e.GetCausationId(); len(c) > len(p) && c[:len(p)] == p {
		return c[len(p):]
	}
	return ""
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// ValidateSettings reports every problem of settings at once.
func ValidateSettings(st *eventsv1.StoreSettings) error {
	var errs []error
	if _, ok := eventsv1.FulfillmentPolicy_name[int32(st.GetFulfillmentPolicy())]; !ok {
		errs = append(errs, fmt.Errorf("%w: fulfillment_policy: unknown value %d", ErrInvalidSettings, st.GetFulfillmentPolicy()))
	}
	for k, v := range st.GetCarrierMapping() {
		if k == "" || v == "" {
			errs = append(errs, fmt.Errorf("%w: carrier_mapping: empty name in %q -> %q", ErrInvalidSettings, k, v))
		}
	}
	for _, t := range st.GetSupplierSyncTimes() {
		if !hhmm.MatchString(t) {
			errs = append(errs, fmt.Errorf("%w: supplier_sync_times: %q is not HH:MM", ErrInvalidSettings, t))
		}
	}
	return errors.Join(errs...)
}

// supported refuses settings the store's platform cannot honour: the
// shipping confirmation off where the platform e-mails every fulfilment.
func (s *Store) supported(st *eventsv1.StoreSettings) error {
	// A key that names no known platform has no facts to check against
	// (order ids and store keys are validated where they come in).
	platform, _, _ := order.ParseStoreKey(s.key)
	f, _ := order.Facts(platform)
	if !st.GetShippingConfirmation() && f.CannotSkipConfirmation != "" {
		return fmt.Errorf("%w: shipping_confirmation off on %s: %s", ErrUnsupportedSetting, f.Name, f.CannotSkipConfirmation)
	}
	return nil
}

// UpdateSettings returns the event that replaces the settings, or none when
// the request was already carried out or the settings are unchanged.
func (s *Store) UpdateSettings(requestID string, st *eventsv1.StoreSettings, now time.Time) ([]*eventsv1.Envelope, error) {
	if err := ValidateSettings(st); err != nil {
		return nil, err
	}
	if err := s.supported(st); err != nil {
		return nil, err
	}
	if s.requests[requestID] || proto.Equal(st, s.settings) {
		return nil, nil
	}
	e := s.event(requestID, "settings", now)
	e.Event = &eventsv1.Envelope_StoreSettingsChanged{
		StoreSettingsChanged: &eventsv1.StoreSettingsChanged{StoreId: s.key, Settings: st},
	}
	return []*eventsv1.Envelope{e}, nil
}

// UpdateMapping returns the event that sets or removes a variant's mapping,
// or none when the request was already carried out or nothing changes.
func (s *Store) UpdateMapping(requestID string, m *eventsv1.SupplierMapping, remove bool, now time.Time) ([]*eventsv1.Envelope, error) {
	if m.GetVariantId() == "" {
		return nil, fmt.Errorf("%w: mapping.variant_id: required", ErrInvalidSettings)
	}
	if !remove && (m.GetProductId() == "" || m.GetShippingMethod() == "") {
		return nil, fmt.Errorf("%w: mapping: product_id and shipping_method are required", ErrInvalidSettings)
	}
	cur, exists := s.mappings[m.GetVariantId()]
	if s.requests[requestID] || (remove && !exists) || (!remove && proto.Equal(cur, m)) {
		return nil, nil
	}
	e := s.event(requestID, "mapping", now)
	e.Event = &eventsv1.Envelope_SupplierMappingChanged{
		SupplierMappingChanged: &eventsv1.SupplierMappingChanged{StoreId: s.key, Mapping: m, Removed: remove},
	}
	return []*eventsv1.Envelope{e}, nil
}

// event is the envelope of a command's event, without the event.
func (s *Store) event(requestID, kind string, now time.Time) *eventsv1.Envelope {
	platform, store, _ := order.ParseStoreKey(s.key)
	return &eventsv1.Envelope{
		EventId:       envelope.ID("dropsync", "store", s.key, "request", requestID, kind),
		OrderId:       s.key,
		OccurredAt:    timestamppb.New(now),
		RecordedAt:    timestamppb.New(now),
		CausationId:   "request:" + requestID,
		CorrelationId: requestID,
		Source:        &eventsv1.Source{Platform: platform, StoreId: store, Service: order.Service},
	}
}
