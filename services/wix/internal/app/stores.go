package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

// What a store does with a shipment whose confirmation the notifier
// skipped (StoreConfig.OnSkip). Wix's Create Fulfillment has no "notify
// customer" switch: the site sends its shipping confirmation e-mail for a
// fulfilment that carries tracking, unless the merchant turned that e-mail
// off in the site's settings (a dashboard setting, not in Wix's API).
const (
	// OnSkipOmitTracking (default) creates the fulfilment without tracking
	// info, so Wix has no tracking to e-mail about: the customer gets no
	// confirmation (SPEC rule 4, setting off), the line items are
	// fulfilled, and the tracking number stays in dropsync only.
	OnSkipOmitTracking = "omit_tracking"
	// OnSkipSiteSetting creates the fulfilment with tracking, as for a
	// confirmed shipment, and relies on the merchant having turned off
	// Wix's shipping confirmation e-mail in the site's settings; if it is
	// on, Wix e-mails the customer anyway.
	OnSkipSiteSetting = "site_setting"
)

// StoreConfig is one registered Wix store.
type StoreConfig struct {
	domain.Store
	// Site is how calls act on the store's site (credentials included).
	Site wixapi.Site
	// OnSkip is OnSkipOmitTracking (when empty) or OnSkipSiteSetting.
	OnSkip string
	// TrackingURL is the tracking page template for custom providers
	// ({number}); empty: domain.DefaultTrackingURL.
	TrackingURL string
}

// Stores is the registry of Wix stores, by slug and by app instance.
type Stores struct {
	bySlug     map[string]StoreConfig
	byInstance map[string]StoreConfig
}

// NewStores checks and indexes the stores: slugs, site ids and instance
// ids must be unique, and each store needs a credential.
func NewStores(list []StoreConfig) (*Stores, error) {
	s := &Stores{bySlug: map[string]StoreConfig{}, byInstance: map[string]StoreConfig{}}
	sites := map[string]bool{}
	var errs []error
	for i, st := range list {
		if _, err := order.NewID(eventsv1.Platform_PLATFORM_WIX, st.Slug, "x"); err != nil {
			errs = append(errs, fmt.Errorf("store %d: slug: %w", i, err))
			continue
		}
		if st.SiteID == "" || st.InstanceID == "" {
			errs = append(errs, fmt.Errorf("store %s: site id and instance id are required", st.Slug))
		}
		if st.Site.Credential == "" {
			errs = append(errs, fmt.Errorf("store %s: no credential", st.Slug))
		}
		switch st.OnSkip {
		case "":
			st.OnSkip = OnSkipOmitTracking
		case OnSkipOmitTracking, OnSkipSiteSetting:
		default:
			errs = append(errs, fmt.Errorf("store %s: on_skip %q: want %s or %s", st.Slug, st.OnSkip, OnSkipOmitTracking, OnSkipSiteSetting))
		}
		if _, dup := s.bySlug[st.Slug]; dup {
			errs = append(errs, fmt.Errorf("store %s: registered twice", st.Slug))
		}
		if _, dup := s.byInstance[st.InstanceID]; dup && st.InstanceID != "" {
			errs = append(errs, fmt.Errorf("store %s: instance id used by another store", st.Slug))
		}
		if sites[st.SiteID] && st.SiteID != "" {
			errs = append(errs, fmt.Errorf("store %s: site id used by another store", st.Slug))
		}
		sites[st.SiteID] = true
		st.Site.SiteID, st.Site.InstanceID = st.SiteID, st.InstanceID
		s.bySlug[st.Slug] = st
		s.byInstance[st.InstanceID] = st
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// BySlug returns the store registered under a slug.
func (s *Stores) BySlug(slug string) (StoreConfig, bool) {
	st, ok := s.bySlug[slug]
	return st, ok
}

// ByInstance returns the store whose app instance webhooks name.
func (s *Stores) ByInstance(instanceID string) (StoreConfig, bool) {
	st, ok := s.byInstance[instanceID]
	return st, ok
}

// All returns every store, by slug.
func (s *Stores) All() []StoreConfig {
	out := make([]StoreConfig, 0, len(s.bySlug))
	for _, st := range s.bySlug {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out
}

// Settings holds the latest StoreSettings of each store, kept current from
// StoreSettingsChanged events. It is safe for concurrent use.
type Settings struct {
	mu sync.RWMutex
	m  map[string]*eventsv1.StoreSettings
	// ready is closed once the settings stored so far are loaded.
	ready chan struct{}
	once  sync.Once
}

// NewSettings returns an empty Settings.
func NewSettings() *Settings {
	return &Settings{m: map[string]*eventsv1.StoreSettings{}, ready: make(chan struct{})}
}

// Set records a store's settings.
func (s *Settings) Set(storeKey string, st *eventsv1.StoreSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[storeKey] = st
}

// CarrierMapping returns a store's carrier mapping (supplier logistics
// name -> Wix shipping provider); nil until the store sets one.
func (s *Settings) CarrierMapping(storeKey string) map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[storeKey].GetCarrierMapping()
}

// MarkReady records that the settings stored so far are loaded.
func (s *Settings) MarkReady() { s.once.Do(func() { close(s.ready) }) }

// Wait blocks until MarkReady or ctx ends, and reports whether the
// settings are ready (false: ctx ended first).
func (s *Settings) Wait(ctx context.Context) bool {
	select {
	case <-s.ready:
		return true
	case <-ctx.Done():
		return false
	}
}
