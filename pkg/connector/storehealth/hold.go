package storehealth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
)

// Delays of Hold: the first redelivery of a held command comes after
// HoldBase, each next one after twice the last, at most HoldMax apart.
const (
	HoldBase = time.Second
	HoldMax  = 5 * time.Minute
)

// HoldDelay is the wait before the next delivery of a command held for
// the deliveries-th time (1 the first).
func HoldDelay(deliveries uint64) time.Duration {
	d := HoldBase
	for i := uint64(1); i < deliveries && d < HoldMax; i++ {
		d *= 2
	}
	return min(d, HoldMax)
}

// Hold is what a command handler returns for err when the platform
// refused the store's credentials (client.IsCredential), even when err
// was marked bus.Permanent: the command is held, not failed. It is
// logged, redelivered after HoldDelay, never counted towards
// dead-lettering (bus.RetryLater), and carried out by itself once the
// platform takes the credentials again (the store's Secret replaced and
// reloaded, or restored). Any other err, and nil, is returned as it is.
func Hold(ctx context.Context, log *slog.Logger, m *bus.Message, err error) error {
	var e *client.Error
	if err == nil || !errors.As(err, &e) || !client.IsCredential(e) {
		return err
	}
	d := HoldDelay(m.Deliveries)
	log.WarnContext(ctx, "command held: the store's platform refuses its credentials; it comes again until they are taken",
		"command", m.EventType(), "order", m.Envelope.GetOrderId(), "deliveries", m.Deliveries, "retry_in", d, "reason", e.Error())
	return bus.RetryLater(fmt.Errorf("held: store credentials refused: %w", e), d)
}
