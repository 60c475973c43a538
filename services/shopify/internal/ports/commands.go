package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// CommandsDurable is the durable consumer of the order events addressed to
// Shopify stores. JetStream keeps the connector's position under this
// name: renaming it replays every command ever sent (harmless, handlers
// are idempotent, but slow).
const CommandsDurable = "shopify-commands"

// CommandFilters are the order events the connector carries out.
func CommandFilters() []string {
	return []string{
		bus.OrderFilter(order.WordShopify, "FulfillmentRequested"),
		bus.OrderFilter(order.WordShopify, "TrackingUpdateRequested"),
		bus.OrderFilter(order.WordShopify, "ResyncRequested"),
	}
}

// Channel is how Shopify delivers a shipping confirmation: the notify flag
// of the fulfilment, named in every request to the notifier.
const Channel = order.ChannelShopify

// Failure codes of FulfillmentFailed.
const (
	CodeStoreRejected    = "STORE_REJECTED"
	CodeOrderCanceled    = "STORE_ORDER_CANCELED"
	CodeNothingToFulfil  = "NOTHING_TO_FULFILL"
	CodeOrderNotFound    = "STORE_ORDER_NOT_FOUND"
	CodeStoreUnavailable = "STORE_UNAVAILABLE"
	CodeStoreError       = "STORE_ERROR"
	// CodePeerUnavailable: a dropsync service the fulfilment needs (the
	// orders service's store settings, the notifier) could not be reached
	// through every delivery of the command.
	CodePeerUnavailable = "PEER_UNAVAILABLE"
)

// peerError marks a failure of a dropsync peer (the orders service, the
// notifier) rather than of Shopify.
type peerError struct{ err error }

func (e *peerError) Error() string { return e.err.Error() }
func (e *peerError) Unwrap() error { return e.err }

// factTimeout bounds publishing the fact of a command's last delivery.
const factTimeout = 10 * time.Second

// Admin is the Shopify Admin API as the commands use it.
type Admin interface {
	FulfilmentState(ctx context.Context, s *stores.Store, orderID string) (domain.FulfilmentState, error)
	CreateFulfillment(ctx context.Context, s *stores.Store, alloc []domain.Allocation, tracking domain.TrackingInput, notify bool) (string, error)
	UpdateTracking(ctx context.Context, s *stores.Store, fulfillmentID string, tracking domain.TrackingInput, notify bool) error
	Order(ctx context.Context, s *stores.Store, orderID string) (domain.Order, error)
}

// CommandsConfig configures Commands.
type CommandsConfig struct {
	// TrackingURLTemplate makes tracking URLs for companies Shopify does not
	// know; default domain.DefaultTrackingURL.
	TrackingURLTemplate string
	// Rounds bounds read-then-create rounds in one delivery when Shopify
	// fails transiently; then the delivery fails and the bus redelivers it
	// later. Default 4.
	Rounds int
	// Backoff is the base wait between rounds (full jitter, doubling).
	// Default 200ms.
	Backoff time.Duration
	// MaxDeliver is the consumer's MaxDeliver: on the last delivery
	// (bus.Message.Last, or Deliveries reaching MaxDeliver) a transient
	// failure, Shopify's or a peer's, is published as a retryable
	// FulfillmentFailed, so the merchant sees it, and the command acked.
	MaxDeliver int
	// TrackingRetryDelay is how long a TrackingUpdateRequested that still
	// fails on its last delivery waits for the next one: it has no failure
	// fact, so it is redelivered rather than dead-lettered. Default 10
	// minutes.
	TrackingRetryDelay time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Commands carries out the order events addressed to Shopify stores. Every
// handler is idempotent: a command delivered twice, or again after a crash
// at any point, changes Shopify once.
type Commands struct {
	Stores *stores.Registry
	Admin  Admin
	// Settings give a store's settings (carrier mapping).
	Settings peers.Settings
	// Confirmations decide, once per shipment, whether the customer is
	// told: a retried command sets the same notify flag.
	Confirmations peers.Confirmations
	Publisher     bus.EventPublisher
	Log           *slog.Logger
	Config        CommandsConfig
}

func (c *Commands) cfg() CommandsConfig {
	cfg := c.Config
	if cfg.Rounds <= 0 {
		cfg.Rounds = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TrackingRetryDelay <= 0 {
		cfg.TrackingRetryDelay = 10 * time.Minute
	}
	return cfg
}

// Handle is the bus.Handler of the commands consumer.
func (c *Commands) Handle(ctx context.Context, m *bus.Message) error {
	env := m.Envelope
	id, err := order.ParseID(env.GetOrderId())
	if err != nil {
		return bus.Permanent(err)
	}
	st, err := c.Stores.BySlug(id.Store)
	if err != nil {
		return bus.Permanent(fmt.Errorf("%s for %s: %w", m.EventType(), id, err))
	}
	// Shopify refusing the store's token holds the command, whatever it
	// is: it comes again until the token is taken (storehealth.Hold).
	switch ev := env.GetEvent().(type) {
	case *eventsv1.Envelope_FulfillmentRequested:
		return storehealth.Hold(ctx, c.Log, m, c.fulfil(ctx, m, st, id, ev.FulfillmentRequested))
	case *eventsv1.Envelope_TrackingUpdateRequested:
		err := c.updateTracking(ctx, st, id, ev.TrackingUpdateRequested)
		if client.IsCredential(err) {
			return storehealth.Hold(ctx, c.Log, m, err)
		}
		return c.trackingOutcome(ctx, m, id, ev.TrackingUpdateRequested, err)
	case *eventsv1.Envelope_ResyncRequested:
		return storehealth.Hold(ctx, c.Log, m, c.reread(ctx, m, st, id, ev.ResyncRequested))
	}
	return nil // another order event the filter let through: nothing to do
}

// fulfil carries out a FulfillmentRequested. Before creating, it reads the
// order's fulfilments: one carrying the shipment's tracking number is the
// one an earlier attempt created (the answer was lost, or the connector
// stopped before acking), and it is reported instead of created again.
func (c *Commands) fulfil(ctx context.Context, m *bus.Message, st *stores.Store, id order.ID, req *eventsv1.FulfillmentRequested) error {
	cfg := c.cfg()
	log := c.Log.With("order", id.String(), "shipment", req.GetShipmentId())
	settings, err := c.Settings.StoreSettings(ctx, id.StoreKey())
	if err != nil {
		return c.unavailable(ctx, m, st, id, req.GetShipmentId(), &peerError{fmt.Errorf("store settings %s: %w", id.StoreKey(), err)})
	}
	tracking := domain.TrackingFor(req.GetTracking(), settings.GetCarrierMapping(), cfg.TrackingURLTemplate)
	decision := peers.Decision(0)
	decide := func() error {
		if decision != 0 {
			return nil
		}
		nd, err := c.Confirmations.Issue(ctx, id.String(), req.GetShipmentId(), id.StoreKey(), Channel, m.Envelope.GetEventId())
		if err == nil {
			decision, err = peers.DecisionOf(nd)
		}
		if err != nil {
			if bus.IsPermanent(err) {
				return fmt.Errorf("shipping confirmation decision: %w", err)
			}
			return &peerError{fmt.Errorf("shipping confirmation decision: %w", err)}
		}
		return nil
	}

	var last error
	for round := 1; round <= cfg.Rounds; round++ {
		state, err := c.Admin.FulfilmentState(ctx, st, id.StoreOrderID)
		if err != nil {
			if permanent(err) {
				return c.failed(ctx, m, st, id, req.GetShipmentId(), codeOf(err), err.Error(), false, err)
			}
			last = err
			if !client.Pause(ctx, cfg.Backoff, round, err) {
				break
			}
			continue
		}
		if f, ok := domain.Existing(state.Fulfillments, tracking.Numbers); ok {
			if err := decide(); err != nil {
				return c.unavailable(ctx, m, st, id, req.GetShipmentId(), err)
			}
			log.InfoContext(ctx, "fulfilment already on shopify", "fulfillment", f.ID)
			return c.pushed(ctx, m, st, id, req.GetShipmentId(), f.ID, decision == peers.Notify)
		}
		if state.Cancelled {
			return c.failed(ctx, m, st, id, req.GetShipmentId(), CodeOrderCanceled, "the order is cancelled on Shopify", false, nil)
		}
		alloc, short := domain.Allocate(state.FulfillmentOrders, req.GetLines())
		if len(alloc) == 0 {
			return c.failed(ctx, m, st, id, req.GetShipmentId(), CodeNothingToFulfil,
				"no requested line is left to fulfil on Shopify (fulfilled, refunded or removed there)", false, nil)
		}
		if len(short) > 0 {
			log.WarnContext(ctx, "fulfilling fewer items than requested: the rest is no longer open on shopify", "short_lines", len(short))
		}
		if err := decide(); err != nil {
			return c.unavailable(ctx, m, st, id, req.GetShipmentId(), err)
		}
		if decision == peers.NotSynced {
			log.InfoContext(ctx, "not fulfilled: dropsync no longer syncs this order")
			return nil
		}
		fid, err := c.Admin.CreateFulfillment(ctx, st, alloc, tracking, decision == peers.Notify)
		if err == nil {
			log.InfoContext(ctx, "fulfilled on shopify", "fulfillment", fid, "notify", decision == peers.Notify)
			return c.pushed(ctx, m, st, id, req.GetShipmentId(), fid, decision == peers.Notify)
		}
		if permanent(err) {
			return c.failed(ctx, m, st, id, req.GetShipmentId(), codeOf(err), err.Error(), false, err)
		}
		// Transient: the fulfilment may or may not exist now. Read again
		// before deciding anything.
		last = err
		log.DebugContext(ctx, "fulfillmentCreate failed, reading again", "round", round, "err", err)
		if !client.Pause(ctx, cfg.Backoff, round, err) {
			break
		}
	}
	return c.unavailable(ctx, m, st, id, req.GetShipmentId(), last)
}

// unavailable returns a transient failure for the bus to retry, except on
// the command's last delivery: then it is published as a retryable
// FulfillmentFailed (the order asks for attention), and the command is
// acked.
func (c *Commands) unavailable(ctx context.Context, m *bus.Message, st *stores.Store, id order.ID, shipmentID string, err error) error {
	cfg := c.cfg()
	if err == nil || bus.IsPermanent(err) || !m.LastDelivery(cfg.MaxDeliver) {
		return err
	}
	code := CodeStoreUnavailable
	if errors.As(err, new(*peerError)) {
		code = CodePeerUnavailable
	}
	// The delivery's own time may be spent: the fact gets a moment of its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), factTimeout)
	defer cancel()
	return c.failed(ctx, m, st, id, shipmentID, code, err.Error(), true, err)
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	return errors.Is(err, domain.ErrRefused) || errors.Is(err, domain.ErrAPI) || errors.Is(err, domain.ErrNotFound) ||
		errors.Is(err, domain.ErrTooLarge) || client.IsPermanent(err)
}

// codeOf is the FulfillmentFailed code of a permanent error.
func codeOf(err error) string {
	switch {
	case errors.Is(err, domain.ErrRefused):
		return CodeStoreRejected
	case errors.Is(err, domain.ErrNotFound):
		return CodeOrderNotFound
	}
	return CodeStoreError
}

// event fills a new envelope caused by the command m.
func (c *Commands) event(m *bus.Message, st *stores.Store, id order.ID, eventID string) *eventsv1.Envelope {
	now := c.cfg().Now()
	corr := m.Envelope.GetCorrelationId()
	if corr == "" {
		corr = m.Envelope.GetEventId()
	}
	return &eventsv1.Envelope{
		EventId:       eventID,
		OrderId:       id.String(),
		OccurredAt:    timestamppb.New(now),
		RecordedAt:    timestamppb.New(now),
		CausationId:   m.Envelope.GetEventId(),
		CorrelationId: corr,
		Source:        &eventsv1.Source{Platform: eventsv1.Platform_PLATFORM_SHOPIFY, StoreId: st.Slug, Service: domain.Service},
	}
}

func (c *Commands) publish(ctx context.Context, env *eventsv1.Envelope) error {
	subject, err := bus.SubjectFor(env)
	if err != nil {
		return bus.Permanent(err)
	}
	if err := c.Publisher.Publish(ctx, subject, env); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// pushed publishes FulfillmentPushed; its id depends on the shipment and
// the attempt only, so reporting the same fulfilment again is a duplicate.
func (c *Commands) pushed(ctx context.Context, m *bus.Message, st *stores.Store, id order.ID, shipmentID, fulfillmentID string, notified bool) error {
	env := c.event(m, st, id, st.Ref().PushedEventID(id.StoreOrderID, attemptKey(shipmentID, m.Envelope)))
	env.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{
		ShipmentId: shipmentID, StoreFulfillmentId: fulfillmentID, CustomerNotified: notified,
	}}
	return c.publish(ctx, env)
}

// failed publishes FulfillmentFailed and returns what the handler returns:
// nil (ack) for a refusal or a transient failure on the last delivery
// (retryable: the fact is the outcome), cause marked permanent for a
// failure the operator should also see in the dead-letter stream.
func (c *Commands) failed(ctx context.Context, m *bus.Message, st *stores.Store, id order.ID, shipmentID, code, msg string, retryable bool, cause error) error {
	if client.IsCredential(cause) {
		return cause // no failure: Handle holds the command
	}
	env := c.event(m, st, id, st.Ref().FailedEventID(id.StoreOrderID, shipmentID, m.Envelope.GetEventId()+"/"+code))
	env.Event = &eventsv1.Envelope_FulfillmentFailed{FulfillmentFailed: &eventsv1.FulfillmentFailed{
		ShipmentId: shipmentID,
		Reason:     &eventsv1.FailureReason{Code: code, Message: msg, Retryable: retryable},
		Attempt:    m.Envelope.GetFulfillmentRequested().GetAttempt(),
	}}
	if err := c.publish(ctx, env); err != nil {
		return err
	}
	c.Log.WarnContext(ctx, "fulfilment failed", "order", id.String(), "shipment", shipmentID, "code", code, "reason", msg, "retryable", retryable)
	switch {
	case retryable:
		return nil
	case cause != nil && !errors.Is(cause, domain.ErrRefused):
		return bus.Permanent(cause)
	}
	return nil
}

// attemptKey names a shipment's fulfilment attempt in the ids of the facts
// it leads to: the shipment id for the first attempt (the ids the
// connector always gave), "<shipment>#<n>" for a later one, so that a
// later attempt's FulfillmentPushed or FulfillmentFailed is a new fact, not
// a duplicate of the first's.
func attemptKey(shipmentID string, cmd *eventsv1.Envelope) string {
	if a := cmd.GetFulfillmentRequested().GetAttempt(); a > 1 {
		return fmt.Sprintf("%s#%d", shipmentID, a)
	}
	return shipmentID
}

// updateTracking carries out a TrackingUpdateRequested: setting the same
// tracking twice changes nothing, so it is idempotent as it is. The
// customer is not e-mailed again: the shipping confirmation went with the
// fulfilment.
func (c *Commands) updateTracking(ctx context.Context, st *stores.Store, id order.ID, req *eventsv1.TrackingUpdateRequested) error {
	if req.GetStoreFulfillmentId() == "" {
		return bus.Permanent(fmt.Errorf("tracking update for %s without store fulfillment id", id))
	}
	settings, err := c.Settings.StoreSettings(ctx, id.StoreKey())
	if err != nil {
		return fmt.Errorf("store settings %s: %w", id.StoreKey(), err)
	}
	tracking := domain.TrackingFor([]*eventsv1.Tracking{req.GetTracking()}, settings.GetCarrierMapping(), c.cfg().TrackingURLTemplate)
	if err := c.Admin.UpdateTracking(ctx, st, req.GetStoreFulfillmentId(), tracking, false); err != nil {
		if permanent(err) {
			return bus.Permanent(err)
		}
		return err
	}
	c.Log.InfoContext(ctx, "tracking updated on shopify", "order", id.String(), "shipment", req.GetShipmentId())
	return nil
}

// trackingOutcome is what the handler of a TrackingUpdateRequested
// returns for err. A transient failure on the last delivery (the orders
// service's store settings or Shopify still unreachable) has no fact
// to end in: FulfillmentFailed would raise an attention that the
// merchant's retry, which re-requests failed fulfilments, cannot clear,
// for a shipment that is pushed. The update can still be carried out, so
// it is not dead-lettered either: it comes again after
// TrackingRetryDelay, logged at ERROR each time.
func (c *Commands) trackingOutcome(ctx context.Context, m *bus.Message, id order.ID, req *eventsv1.TrackingUpdateRequested, err error) error {
	cfg := c.cfg()
	if err == nil || bus.IsPermanent(err) || !m.LastDelivery(cfg.MaxDeliver) {
		return err
	}
	c.Log.ErrorContext(ctx, "tracking update still failing on its last delivery; will try again later",
		"order", id.String(), "shipment", req.GetShipmentId(), "deliveries", m.Deliveries, "err", err, "delay", cfg.TrackingRetryDelay)
	return bus.RetryLater(err, cfg.TrackingRetryDelay)
}

// reread answers a ResyncRequested with the order as Shopify shows it now.
func (c *Commands) reread(ctx context.Context, m *bus.Message, st *stores.Store, id order.ID, req *eventsv1.ResyncRequested) error {
	o, err := c.Admin.Order(ctx, st, id.StoreOrderID)
	if err != nil {
		if permanent(err) {
			return bus.Permanent(err)
		}
		return err
	}
	env, err := st.Ref().RereadEvent(req.GetRequestId(), o)
	if err != nil {
		return bus.Permanent(err)
	}
	env.CausationId = m.Envelope.GetEventId()
	env.CorrelationId = m.Envelope.GetCorrelationId()
	env.RecordedAt = timestamppb.New(c.cfg().Now())
	return c.publish(ctx, env)
}
