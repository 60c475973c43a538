package catalog_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/catalog"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

var now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func apply(s *catalog.Store, events []*eventsv1.Envelope) {
	for _, e := range events {
		s.Apply(e)
	}
}

func TestSettingsDefaultUpdateAndIdempotency(t *testing.T) {
	s := catalog.New("shopify:acme")
	if !s.Settings().GetShippingConfirmation() {
		t.Fatal("default settings must have shipping confirmations on")
	}
	want := &eventsv1.StoreSettings{
		FulfillmentPolicy:    eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER,
		CarrierMapping:       map[string]string{"CAINIAO_FULFILLMENT_STD": "Cainiao"},
		SupplierSyncTimes:    []string{"06:00", "18:00"},
		ShippingConfirmation: false,
	}
	evs, err := s.UpdateSettings("r1", want, now)
	if err != nil || len(evs) != 1 || evs[0].GetStoreSettingsChanged() == nil {
		t.Fatalf("UpdateSettings = %v, %v", evs, err)
	}
	apply(s, evs)
	if !proto.Equal(s.Settings(), want) || s.Revision() != 1 {
		t.Fatalf("settings = %v rev %d", s.Settings(), s.Revision())
	}
	again, err := s.UpdateSettings("r1", &eventsv1.StoreSettings{}, now)
	if err != nil || again != nil {
		t.Fatalf("repeated request gave %v, %v; want nothing", again, err)
	}
	same, err := s.UpdateSettings("r2", want, now)
	if err != nil || same != nil {
		t.Fatalf("unchanged settings gave %v, %v; want nothing", same, err)
	}
}

func TestSettingsValidation(t *testing.T) {
	s := catalog.New("shopify:acme")
	_, err := s.UpdateSettings("r1", &eventsv1.StoreSettings{
		FulfillmentPolicy: 42, SupplierSyncTimes: []string{"25:00"}, CarrierMapping: map[string]string{"X": ""},
	}, now)
	if !errors.Is(err, catalog.ErrInvalidSettings) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"fulfillment_policy", "supplier_sync_times", "carrier_mapping"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestMappings(t *testing.T) {
	s := catalog.New("wix:shop")
	m := &eventsv1.SupplierMapping{VariantId: "v1", ProductId: "1005001", SkuAttr: "14:193", ShippingMethod: "CAINIAO_STANDARD"}
	evs, err := s.UpdateMapping("m1", m, false, now)
	if err != nil || len(evs) != 1 {
		t.Fatalf("UpdateMapping = %v, %v", evs, err)
	}
	apply(s, evs)
	if !proto.Equal(s.Mapping("v1"), m) || len(s.Mappings()) != 1 {
		t.Fatalf("mapping = %v", s.Mapping("v1"))
	}
	if _, err := s.UpdateMapping("m2", &eventsv1.SupplierMapping{VariantId: "v2"}, false, now); !errors.Is(err, catalog.ErrInvalidSettings) {
		t.Fatalf("mapping without product accepted: %v", err)
	}
	evs, err = s.UpdateMapping("m3", &eventsv1.SupplierMapping{VariantId: "v1"}, true, now)
	if err != nil || len(evs) != 1 {
		t.Fatalf("remove = %v, %v", evs, err)
	}
	apply(s, evs)
	if s.Mapping("v1") != nil {
		t.Fatal("mapping not removed")
	}
	if evs, _ := s.UpdateMapping("m4", &eventsv1.SupplierMapping{VariantId: "v1"}, true, now); evs != nil {
		t.Fatal("removing a missing mapping recorded an event")
	}
}

func TestConfirmationOffNeedsAPlatformThatCanSkipTheEmail(t *testing.T) {
	off := &eventsv1.StoreSettings{ShippingConfirmation: false}
	for key, refused := range map[string]bool{"shopify:a": false, "woocommerce:a": true, "wix:a": true} {
		evs, err := catalog.New(key).UpdateSettings("r1", off, now)
		if refused != errors.Is(err, catalog.ErrUnsupportedSetting) {
			t.Errorf("%s: UpdateSettings = %v, %v; refused want %v", key, evs, err, refused)
		}
		if refused && len(evs) != 0 {
			t.Errorf("%s: a refused setting recorded %v", key, evs)
		}
	}
	// With the confirmation on, every platform takes the settings.
	for _, key := range []string{"woocommerce:a", "wix:a"} {
		if _, err := catalog.New(key).UpdateSettings("r2", &eventsv1.StoreSettings{ShippingConfirmation: true, SupplierSyncTimes: []string{"06:00"}}, now); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}
