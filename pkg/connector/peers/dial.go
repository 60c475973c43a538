package peers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"
	"github.com/dropsync/dropsync/pkg/telemetry"
)

// Config says where a connector's peers are. An empty address means the
// connector runs without that service.
type Config struct {
	// OrdersAddr is the orders service's gRPC address; empty: every store
	// gets the default settings (StaticSettings).
	OrdersAddr string
	// SettingsTTL is how long a store's settings are reused; default
	// DefaultSettingsTTL.
	SettingsTTL time.Duration
	// NotifierAddr is the notifier's gRPC address; empty: confirmations
	// are decided from the store setting, unrecorded (SettingsDecider).
	NotifierAddr string
	// NotifierTimeout bounds one IssueConfirmation; zero leaves it to the
	// caller's context.
	NotifierTimeout time.Duration
	// GRPC secures the calls: TLS, the connector's client certificate, a
	// token (grpcauth.DialOptions).
	GRPC config.GRPCClient
}

// Peers are a connector's clients of the orders service and the notifier,
// or their fallbacks.
type Peers struct {
	// Settings give store settings: OrdersSettings, or StaticSettings
	// with the defaults.
	Settings Settings
	// Confirmations decide shipping confirmations: Notifier, or
	// SettingsDecider over Settings.
	Confirmations Confirmations

	conns []*grpc.ClientConn
}

// Dial returns the clients cfg names, with a fallback for each address not
// set, and logs a warning when there is no notifier. Connections are made
// lazily, on the first call; Close closes them.
func Dial(ctx context.Context, cfg Config, log *slog.Logger) (*Peers, error) {
	p := &Peers{Settings: StaticSettings{}}
	traced := telemetry.FromContext(ctx).GRPCDialOption()
	var secure []grpc.DialOption
	if cfg.OrdersAddr != "" || cfg.NotifierAddr != "" {
		var err error
		if secure, err = grpcauth.DialOptions(cfg.GRPC); err != nil {
			return nil, err
		}
	}
	if cfg.OrdersAddr != "" {
		cc, err := grpc.NewClient(cfg.OrdersAddr, append(secure, traced)...)
		if err != nil {
			return nil, fmt.Errorf("orders service %s: %w", cfg.OrdersAddr, err)
		}
		p.conns = append(p.conns, cc)
		p.Settings = &OrdersSettings{Client: ordersv1.NewOrderServiceClient(cc), TTL: cfg.SettingsTTL}
	}
	p.Confirmations = SettingsDecider{Settings: p.Settings}
	if cfg.NotifierAddr != "" {
		cc, err := grpc.NewClient(cfg.NotifierAddr, append(secure, traced)...)
		if err != nil {
			_ = p.Close() // the orders connection has not been used: nothing to report
			return nil, fmt.Errorf("notifier %s: %w", cfg.NotifierAddr, err)
		}
		p.conns = append(p.conns, cc)
		p.Confirmations = &Notifier{Client: notifierv1.NewShippingConfirmationServiceClient(cc), Timeout: cfg.NotifierTimeout}
	} else {
		log.WarnContext(ctx, "no notifier address: shipping confirmations are decided from the store setting and not recorded")
	}
	return p, nil
}

// Close closes the connections Dial made.
func (p *Peers) Close() error {
	var errs []error
	for _, cc := range p.conns {
		errs = append(errs, cc.Close())
	}
	p.conns = nil
	return errors.Join(errs...)
}
