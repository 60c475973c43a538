package peers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

// DefaultSettingsTTL is how long OrdersSettings reuses a store's settings
// when its TTL is not set.
const DefaultSettingsTTL = time.Minute

// Settings gives a store's settings; storeKey is order.StoreKey's
// "<platform>:<slug>".
type Settings interface {
	StoreSettings(ctx context.Context, storeKey string) (*eventsv1.StoreSettings, error)
}

// OrdersSettings reads store settings from the orders service's
// GetStoreSettings, keeping each for TTL: settings change rarely, and a
// fulfilment should not wait on a second service every time. When the
// orders service fails, settings read earlier are used however old they
// are. It is safe for concurrent use.
type OrdersSettings struct {
	// Client is the orders service.
	Client ordersv1.OrderServiceClient
	// TTL is how long a store's settings are reused; default
	// DefaultSettingsTTL.
	TTL time.Duration

	mu    sync.Mutex
	cache map[string]cachedSettings
}

type cachedSettings struct {
	s  *eventsv1.StoreSettings
	at time.Time
}

// StoreSettings implements Settings. A store the orders service has no
// settings for gets order.DefaultSettings.
func (s *OrdersSettings) StoreSettings(ctx context.Context, storeKey string) (*eventsv1.StoreSettings, error) {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = DefaultSettingsTTL
	}
	s.mu.Lock()
	c, ok := s.cache[storeKey]
	s.mu.Unlock()
	if ok && time.Since(c.at) < ttl {
		return c.s, nil
	}
	resp, err := s.Client.GetStoreSettings(ctx, &ordersv1.GetStoreSettingsRequest{Store: storeKey})
	if err != nil {
		if ok { // stale settings beat no fulfilment
			return c.s, nil
		}
		return nil, fmt.Errorf("get store settings %s: %w", storeKey, err)
	}
	st := resp.GetSettings()
	if st == nil {
		st = order.DefaultSettings()
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]cachedSettings{}
	}
	s.cache[storeKey] = cachedSettings{s: st, at: time.Now()}
	s.mu.Unlock()
	return st, nil
}

// StaticSettings gives every store the same settings, for a connector run
// without the orders service.
type StaticSettings struct {
	// Settings are every store's; nil is order.DefaultSettings.
	Settings *eventsv1.StoreSettings
}

// StoreSettings implements Settings.
func (s StaticSettings) StoreSettings(context.Context, string) (*eventsv1.StoreSettings, error) {
	if s.Settings == nil {
		return order.DefaultSettings(), nil
	}
	return s.Settings, nil
}
