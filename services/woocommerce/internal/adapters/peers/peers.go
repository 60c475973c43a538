// Package peers calls the other dropsync services the WooCommerce
// connector needs: the orders service for store settings (carrier
// mapping) and the notifier for the once-per-shipment shipping
// confirmation decision. Both are gRPC; without an address the connector
// falls back to defaults (DefaultSettings, SettingsDecider).
package peers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

// Channel is how WooCommerce delivers a shipping confirmation: its
// Completed order e-mail.
const Channel = "woocommerce.completed_email"

// Settings reads store settings from the orders service's
// GetStoreSettings, keeping each for TTL: settings change rarely, and a
// fulfilment should not wait on a second service every time.
type Settings struct {
	// Client is the orders service.
	Client ordersv1.OrderServiceClient
	// TTL is how long a store's settings are reused; default 1 minute.
	TTL time.Duration

	mu    sync.Mutex
	cache map[string]cachedSettings
}

type cachedSettings struct {
	s  *eventsv1.StoreSettings
	at time.Time
}

// StoreSettings implements ports.Settings.
func (s *Settings) StoreSettings(ctx context.Context, storeKey string) (*eventsv1.StoreSettings, error) {
	ttl := s.TTL
	if ttl <= 0 {
		ttl = time.Minute
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

// StaticSettings gives every store the same settings (order.DefaultSettings
// when nil), for a connector run without the orders service.
type StaticSettings struct {
	// Settings are every store's; nil is order.DefaultSettings.
	Settings *eventsv1.StoreSettings
}

// StoreSettings implements ports.Settings.
func (s StaticSettings) StoreSettings(context.Context, string) (*eventsv1.StoreSettings, error) {
	if s.Settings == nil {
		return order.DefaultSettings(), nil
	}
	return s.Settings, nil
}

// Notifier asks the notifier's ShippingConfirmationService. The decision is
// recorded once per shipment there, so asking again (a retry, a restart)
// returns it unchanged.
type Notifier struct {
	// Client is the notifier.
	Client notifierv1.ShippingConfirmationServiceClient
}

// Issue implements ports.Confirmations.
func (n *Notifier) Issue(ctx context.Context, orderID, shipmentID, storeKey, requestID string) (domain.Decision, error) {
	resp, err := n.Client.IssueConfirmation(ctx, &notifierv1.IssueConfirmationRequest{
		OrderId: orderID, ShipmentId: shipmentID, Store: storeKey, Channel: Channel, RequestId: requestID,
	})
	if err != nil {
		err = fmt.Errorf("issue confirmation: %w", err)
		if status.Code(err) == codes.InvalidArgument {
			return 0, bus.Permanent(err)
		}
		// NOT_FOUND, FAILED_PRECONDITION (the notifier's view of the
		// order lags behind), UNAVAILABLE: later.
		return 0, err
	}
	return Decision(resp.GetConfirmation().GetDecision())
}

// Decision maps the notifier's decision to the connector's.
func Decision(d notifierv1.Decision) (domain.Decision, error) {
	switch d {
	case notifierv1.Decision_DECISION_NOTIFY:
		return domain.Notify, nil
	case notifierv1.Decision_DECISION_SKIP_SETTING_OFF, notifierv1.Decision_DECISION_SKIP_ALREADY_ISSUED:
		return domain.Quiet, nil
	case notifierv1.Decision_DECISION_SKIP_NOT_SYNCED:
		return domain.NotSynced, nil
	}
	return 0, fmt.Errorf("issue confirmation: unknown decision %v", d)
}

// SettingsDecider decides from the store's shipping-confirmation setting
// alone, for a connector run without the notifier. The connector still
// completes an order once (it reads the order first), so the customer gets
// WooCommerce's Completed e-mail at most once; but the decision is not
// recorded, and no ShippingConfirmationIssued is published.
type SettingsDecider struct {
	// Settings give the store's shipping-confirmation setting.
	Settings interface {
		StoreSettings(ctx context.Context, storeKey string) (*eventsv1.StoreSettings, error)
	}
}

// Issue implements ports.Confirmations.
func (d SettingsDecider) Issue(ctx context.Context, _, _, storeKey, _ string) (domain.Decision, error) {
	s, err := d.Settings.StoreSettings(ctx, storeKey)
	if err != nil {
		return 0, err
	}
	if s.GetShippingConfirmation() {
		return domain.Notify, nil
	}
	return domain.Quiet, nil
}
