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

// StoreConfig is one registered Wix store.
type StoreConfig struct {
	domain.Store
	// Site is how calls act on the store's site (credentials included).
	Site wixapi.Site
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
		if st.Site.Credential.Empty() {
			errs = append(errs, fmt.Errorf("store %s: no credential", st.Slug))
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
		st.Site.SiteID, st.Site.InstanceID, st.Site.Slug = st.SiteID, st.InstanceID, st.Slug
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
