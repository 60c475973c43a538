package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/order"
)

// Service names the notifier in the Source of the events it publishes.
const Service = "notifier"

// Record is the decision recorded for one shipment. Everything but
// PublishedAt is fixed when it is recorded.
type Record struct {
	// OrderID is "<platform>:<store>:<store order id>".
	OrderID string
	// ShipmentID is the shipment named by the FulfillmentRequested.
	ShipmentID string
	// Store is "<platform>:<store>".
	Store string
	// Decision is what was decided.
	Decision notifierv1.Decision
	// Channel is how the store delivers the confirmation; NOTIFY only.
	Channel string
	// Reason is the rule code the decision follows from.
	Reason string
	// RequestID is the request id of the call that decided.
	RequestID string
	// DecidedAt is when the decision was made.
	DecidedAt time.Time
	// OrderRevision is the revision of the order the decision was made on.
	OrderRevision uint64
	// EventID is the ShippingConfirmationIssued event id; NOTIFY only.
	EventID string
	// PublishedAt is when the event was seen stored on the bus; zero
	// until then (and always for SKIP decisions, which publish nothing).
	PublishedAt time.Time
}

// Proto returns r as the API's Confirmation.
func (r Record) Proto() *notifierv1.Confirmation {
	return &notifierv1.Confirmation{
		OrderId:       r.OrderID,
		ShipmentId:    r.ShipmentID,
		Store:         r.Store,
		Decision:      r.Decision,
		Channel:       r.Channel,
		DecidedAt:     timestamppb.New(r.DecidedAt),
		Reason:        r.Reason,
		RequestId:     r.RequestID,
		OrderRevision: r.OrderRevision,
		EventId:       r.EventID,
		Published:     !r.PublishedAt.IsZero(),
	}
}

// needsPublishing reports whether r's event is still to be stored on the bus.
func (r Record) needsPublishing() bool {
	return r.Decision == notifierv1.Decision_DECISION_NOTIFY && r.PublishedAt.IsZero()
}

// EventID is the id of a shipment's ShippingConfirmationIssued event: the
// same for every attempt, so re-publishing it is a duplicate.
func EventID(orderID, shipmentID string) string {
	return envelope.ID(Service, orderID, shipmentID)
}

// Event returns the ShippingConfirmationIssued envelope of a NOTIFY record.
// It depends only on the fixed fields of r, so every attempt publishes the
// same bytes.
func Event(r Record) *eventsv1.Envelope {
	at := timestamppb.New(r.DecidedAt)
	src := &eventsv1.Source{Service: Service}
	if id, err := order.ParseID(r.OrderID); err == nil {
		src.Platform, src.StoreId = id.Platform, id.Store
	}
	return &eventsv1.Envelope{
		EventId:       r.EventID,
		OrderId:       r.OrderID,
		OccurredAt:    at,
		RecordedAt:    at,
		CorrelationId: r.RequestID,
		Source:        src,
		Event: &eventsv1.Envelope_ShippingConfirmationIssued{ShippingConfirmationIssued: &eventsv1.ShippingConfirmationIssued{
			ShipmentId: r.ShipmentID,
			Channel:    r.Channel,
		}},
	}
}

// Filter selects records for List; empty fields match all.
type Filter struct {
	// Store is "<platform>:<store>".
	Store string
	// OrderID is "<platform>:<store>:<store order id>".
	OrderID string
}

// Ledger keeps one Record per shipment (order id + shipment id), written
// once. Implementations are safe for concurrent use by several processes.
type Ledger interface {
	// Create stores r unless a record for its shipment exists. It returns
	// the stored record (r, or the earlier one) and whether r was stored.
	Create(ctx context.Context, r Record) (Record, bool, error)
	// Get returns a shipment's record, or an error wrapping ErrNotFound.
	Get(ctx context.Context, orderID, shipmentID string) (Record, error)
	// MarkPublished sets PublishedAt to at unless it is set, and returns
	// the record.
	MarkPublished(ctx context.Context, orderID, shipmentID string, at time.Time) (Record, error)
	// List returns up to n records matching f that come after pageToken
	// ("" for the first page), and the token of the next page ("" on the
	// last); a token from another filter gives ErrBadPageToken.
	List(ctx context.Context, f Filter, pageToken string, n int) ([]Record, string, error)
	// Watch calls fn with every record, then with every change, from one
	// goroutine, until ctx ends.
	Watch(ctx context.Context, fn func(Record)) error
}

// Orders is what the notifier reads from the orders service. Errors wrap
// ErrOrderNotFound or ErrOrdersUnavailable.
type Orders interface {
	// Order returns an order as folded from its events.
	Order(ctx context.Context, orderID string) (*ordersv1.Order, error)
	// Settings returns a store's settings (its defaults when never set).
	Settings(ctx context.Context, store string) (*eventsv1.StoreSettings, error)
}

// Config holds what the application needs besides its ports.
type Config struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// App decides shipping confirmations. It is safe for concurrent use, and
// several App values (replicas) may share one ledger.
type App struct {
	ledger Ledger
	orders Orders
	pub    bus.EventPublisher
	now    func() time.Time
	log    *slog.Logger
}

// New returns the application over its ports.
func New(ledger Ledger, orders Orders, pub bus.EventPublisher, cfg Config, log *slog.Logger) *App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &App{ledger: ledger, orders: orders, pub: pub, now: cfg.Now, log: log}
}

// IssueRequest asks for a shipment's decision. The port has validated its
// fields: a valid order id, its store key, a channel of its platform or
// empty, a request id.
type IssueRequest struct {
	// OrderID is "<platform>:<store>:<store order id>".
	OrderID string
	// ShipmentID is FulfillmentRequested.shipment_id.
	ShipmentID string
	// Store is the order's store key "<platform>:<store>".
	Store string
	// Channel is "<platform>.<mechanism>", or "" for DefaultChannel.
	Channel string
	// RequestID identifies the call; it is kept in the record it creates.
	RequestID string
}

// Issue returns the decision recorded for the shipment, deciding and
// recording it first when there is none; existing tells that an earlier
// call had recorded it. It is idempotent per shipment: every call returns
// the same decision. For NOTIFY it makes sure the ShippingConfirmationIssued
// event is stored on the bus before answering; when that fails the error
// wraps ErrNotPublished and the decision stays recorded, so the retry
// returns it and publishes again.
func (a *App) Issue(ctx context.Context, req IssueRequest) (r Record, existing bool, err error) {
	r, err = a.ledger.Get(ctx, req.OrderID, req.ShipmentID)
	switch {
	case err == nil:
		r, err = a.ensurePublished(ctx, r)
		return r, true, err
	case !errors.Is(err, ErrNotFound):
		return Record{}, false, err
	}
	r, err = a.decide(ctx, req)
	if err != nil {
		return Record{}, false, err
	}
	r, created, err := a.ledger.Create(ctx, r)
	if err != nil {
		return Record{}, false, err
	}
	platform, _ := metrics.SplitStore(r.Store)
	if created {
		a.log.InfoContext(ctx, "shipping confirmation decided", "order_id", r.OrderID, "shipment_id", r.ShipmentID,
			"decision", r.Decision.String(), "reason", r.Reason, "request_id", r.RequestID)
		outcome := metrics.ConfirmationSkip
		if r.Decision == notifierv1.Decision_DECISION_NOTIFY {
			outcome = metrics.ConfirmationNotify
		}
		metrics.RecordConfirmation(ctx, platform, r.Channel, outcome)
	}
	r, err = a.ensurePublished(ctx, r)
	if errors.Is(err, ErrNotPublished) {
		metrics.RecordConfirmation(ctx, platform, r.Channel, metrics.ConfirmationNotPublished)
	}
	return r, !created, err
}

// decide reads the order and its store's settings and decides.
func (a *App) decide(ctx context.Context, req IssueRequest) (Record, error) {
	id, err := order.ParseID(req.OrderID)
	if err != nil {
		return Record{}, err
	}
	o, err := a.orders.Order(ctx, req.OrderID)
	if err != nil {
		return Record{}, err
	}
	settings, err := a.orders.Settings(ctx, id.StoreKey())
	if err != nil {
		return Record{}, err
	}
	d, reason, err := Decide(o, req.ShipmentID, settings)
	if err != nil {
		return Record{}, err
	}
	r := Record{
		OrderID:       req.OrderID,
		ShipmentID:    req.ShipmentID,
		Store:         id.StoreKey(),
		Decision:      d,
		Reason:        reason,
		RequestID:     req.RequestID,
		DecidedAt:     a.now().UTC(),
		OrderRevision: o.GetRevision(),
	}
	if d == notifierv1.Decision_DECISION_NOTIFY {
		r.Channel = req.Channel
		if r.Channel == "" {
			r.Channel = order.Channel(id.Platform)
		}
		r.EventID = EventID(r.OrderID, r.ShipmentID)
	}
	return r, nil
}

// ensurePublished publishes a NOTIFY record's event unless it is marked
// published, then marks it. A failure to mark is only logged: the event is
// stored, and publishing it again later is a duplicate that is dropped.
func (a *App) ensurePublished(ctx context.Context, r Record) (Record, error) {
	if !r.needsPublishing() {
		return r, nil
	}
	env := Event(r)
	subject, err := bus.SubjectFor(env)
	if err != nil {
		return r, fmt.Errorf("publish confirmation of shipment %s: %w", r.ShipmentID, err)
	}
	if err := a.pub.Publish(ctx, subject, env); err != nil {
		return r, fmt.Errorf("%w: order %s shipment %s: %w", ErrNotPublished, r.OrderID, r.ShipmentID, err)
	}
	marked, err := a.ledger.MarkPublished(ctx, r.OrderID, r.ShipmentID, a.now().UTC())
	if err != nil {
		a.log.WarnContext(ctx, "confirmation published, not marked", "order_id", r.OrderID, "shipment_id", r.ShipmentID, "err", err)
		return r, nil
	}
	return marked, nil
}

// Get returns the decision recorded for a shipment, or ErrNotFound.
func (a *App) Get(ctx context.Context, orderID, shipmentID string) (Record, error) {
	return a.ledger.Get(ctx, orderID, shipmentID)
}

// List returns a page of recorded decisions.
func (a *App) List(ctx context.Context, f Filter, pageToken string, n int) ([]Record, string, error) {
	return a.ledger.List(ctx, f, pageToken, n)
}
