// Package ordersclient reads orders and store settings from the orders
// service over gRPC (dropsync.orders.v1.OrderService), and translates its
// errors at the edge: NOT_FOUND to app.ErrOrderNotFound, anything that
// says the service is away or failing to app.ErrOrdersUnavailable.
package ordersclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/grpcauth"

	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Config says where the orders service is.
type Config struct {
	// Addr is the orders service's gRPC address, host:port.
	Addr string
	// Timeout bounds each call.
	Timeout time.Duration
	// GRPC secures the calls: TLS, the client certificate, a token.
	GRPC config.GRPCClient
}

// Client implements app.Orders over an OrderService client.
type Client struct {
	conn    *grpc.ClientConn
	orders  ordersv1.OrderServiceClient
	timeout time.Duration
}

var _ app.Orders = (*Client)(nil)

// Dial returns a client of the orders service at cfg.Addr. It connects
// lazily: an unreachable service shows as ErrOrdersUnavailable on each call.
// Close it when done.
func Dial(cfg Config, opts ...grpc.DialOption) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	secure, err := grpcauth.DialOptions(cfg.GRPC)
	if err != nil {
		return nil, fmt.Errorf("orders client %s: %w", cfg.Addr, err)
	}
	conn, err := grpc.NewClient(cfg.Addr, append(secure, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("orders client %s: %w", cfg.Addr, err)
	}
	return &Client{conn: conn, orders: ordersv1.NewOrderServiceClient(conn), timeout: cfg.Timeout}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Order implements app.Orders with GetOrder.
func (c *Client) Order(ctx context.Context, orderID string) (*ordersv1.Order, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.orders.GetOrder(ctx, &ordersv1.GetOrderRequest{OrderId: orderID})
	if err != nil {
		return nil, translate(ctx, "get order "+orderID, err)
	}
	return r.GetOrder(), nil
}

// Settings implements app.Orders with GetStoreSettings.
func (c *Client) Settings(ctx context.Context, store string) (*eventsv1.StoreSettings, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.orders.GetStoreSettings(ctx, &ordersv1.GetStoreSettingsRequest{Store: store})
	if err != nil {
		return nil, translate(ctx, "get settings of "+store, err)
	}
	return r.GetSettings(), nil
}

// translate maps an OrderService error. The caller's own cancellation
// stays a context error; NOT_FOUND is ErrOrderNotFound; everything else
// (unreachable, timed out, overloaded, failing, or refusing what the
// notifier validated) is ErrOrdersUnavailable: nothing was decided, and
// asking again later is the remedy.
func translate(ctx context.Context, op string, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", op, context.Canceled)
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: %s: %s", app.ErrOrderNotFound, op, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%s: %w", op, context.Canceled)
	}
	return fmt.Errorf("%w: %s: %s: %s", app.ErrOrdersUnavailable, op, st.Code(), st.Message())
}
