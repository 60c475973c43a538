package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/wix/internal/app"
)

// CommandsDurable names the durable consumer of the order events addressed
// to Wix stores. Renaming it creates a new consumer that replays the whole
// ORDER_EVENTS stream (harmless, every command is idempotent, but slow).
const CommandsDurable = "wix-commands"

// CommandSubjects are the order events the connector carries out.
var CommandSubjects = []string{
	bus.OrderFilter(order.WordWix, "FulfillmentRequested"),
	bus.OrderFilter(order.WordWix, "TrackingUpdateRequested"),
	bus.OrderFilter(order.WordWix, "ResyncRequested"),
}

// ConsumeCommands runs the command consumer until ctx ends. cfg tunes it;
// stream, durable and subjects are set here.
func ConsumeCommands(ctx context.Context, js jetstream.JetStream, cfg bus.ConsumerConfig, c *app.Commands) error {
	cfg.Stream = bus.StreamOrder
	cfg.Durable = CommandsDurable
	cfg.FilterSubjects = CommandSubjects
	return bus.Consume(ctx, js, cfg, c.Handle)
}

// FollowSettings keeps settings current with the Wix stores'
// StoreSettingsChanged events until ctx ends: an ordered consumer reads
// the last one of each store, then follows new ones. Settings are marked
// ready once the stored ones are read.
func FollowSettings(ctx context.Context, js jetstream.JetStream, settings *app.Settings, log *slog.Logger) error {
	cons, err := js.OrderedConsumer(ctx, bus.StreamOrder, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.OrderFilter(order.WordWix, "StoreSettingsChanged")},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("settings consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("settings consumer: %w", err)
	}
	if info.NumPending == 0 {
		settings.MarkReady()
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("settings consumer: %w", err)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			select {
			case <-ctx.Done():
				// Stopping: the goroutine above stopped the iterator because
				// ctx ended. That is the normal way out, not a failure.
				return nil
			default:
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil // stopped: nothing more will come
			}
			return fmt.Errorf("settings consumer: %w", err)
		}
		env, err := envelope.Unmarshal(msg.Data())
		if err == nil && env.GetStoreSettingsChanged() != nil {
			sc := env.GetStoreSettingsChanged()
			key := sc.GetStoreId()
			if key == "" {
				key = env.GetOrderId()
			}
			settings.Set(key, sc.GetSettings())
		} else if err != nil {
			log.WarnContext(ctx, "undecodable settings event skipped", "subject", msg.Subject(), "err", err)
		}
		if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
			settings.MarkReady()
		}
	}
}
