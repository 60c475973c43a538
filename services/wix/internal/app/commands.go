package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/services/wix/internal/domain"
	"github.com/dropsync/dropsync/services/wix/internal/wixapi"
)

// Channel is how Wix stores deliver a shipping confirmation: the e-mail Wix
// sends when a fulfilment with tracking is created.
const Channel = order.ChannelWix

// Failure codes of FulfillmentFailed.
const (
	// CodeFulfilledElsewhere: Wix has the lines fulfilled by a fulfilment
	// dropsync did not make (409 that is not ours).
	CodeFulfilledElsewhere = "ALREADY_FULFILLED_ON_STORE"
	// CodeStoreRejected: Wix refused the fulfilment (4xx).
	CodeStoreRejected = "STORE_REJECTED"
	// CodeStoreUnavailable: Wix could not be reached or kept failing
	// through every delivery of the command.
	CodeStoreUnavailable = "STORE_UNAVAILABLE"
)

// API is the part of the Wix API the commands use (*wixapi.Client).
type API interface {
	GetOrder(ctx context.Context, site wixapi.Site, orderID string) (domain.Order, error)
	ListFulfillments(ctx context.Context, site wixapi.Site, orderID string) ([]domain.Fulfillment, error)
	CreateFulfillment(ctx context.Context, site wixapi.Site, orderID string, in domain.FulfillmentInput) (string, error)
}

// TrackingAPI is the part of the Wix API a TrackingUpdateRequested uses
// (*wixapi.Client). It is apart from API so that fakes without it still
// serve the other commands; an API without it cannot update tracking.
type TrackingAPI interface {
	UpdateTracking(ctx context.Context, site wixapi.Site, orderID, fulfillmentID string, t domain.Tracking) error
}

// Config configures Commands. Every field but Now, Logger and MaxDeliver
// is required.
type Config struct {
	Stores   *Stores
	Settings *Settings
	API      API
	// Notifier decides shipping confirmations (*peers.Notifier).
	Notifier  peers.Confirmations
	Publisher bus.EventPublisher
	// MaxDeliver is the consumer's MaxDeliver: on the last delivery a
	// transient failure is published as FulfillmentFailed (retryable)
	// instead of being retried. Default bus.DefaultMaxDeliver.
	MaxDeliver int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Commands carries out the order events addressed to Wix stores. Handle is
// idempotent: a command delivered again, or after a restart, finds what
// its first delivery did (the notifier's recorded decision, Wix's 409 for
// a fulfilment that exists) and publishes the same event ids.
type Commands struct {
	cfg Config
}

// NewCommands returns Commands.
func NewCommands(cfg Config) (*Commands, error) {
	if cfg.Stores == nil || cfg.Settings == nil || cfg.API == nil || cfg.Notifier == nil || cfg.Publisher == nil {
		return nil, errors.New("wix commands: stores, settings, api, notifier and publisher are required")
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = bus.DefaultMaxDeliver
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Commands{cfg: cfg}, nil
}

// Handle is a bus.Handler for FulfillmentRequested,
// TrackingUpdateRequested and ResyncRequested of Wix orders; other events
// are acknowledged and ignored.
func (c *Commands) Handle(ctx context.Context, msg *bus.Message) error {
	env := msg.Envelope
	var err error
	switch ev := env.GetEvent().(type) {
	case *eventsv1.Envelope_FulfillmentRequested:
		err = c.fulfil(ctx, msg, ev.FulfillmentRequested)
	case *eventsv1.Envelope_TrackingUpdateRequested:
		err = c.updateTracking(ctx, msg, ev.TrackingUpdateRequested)
	case *eventsv1.Envelope_ResyncRequested:
		err = c.resync(ctx, msg, ev.ResyncRequested)
	}
	// Wix refusing the site's API key holds the command, whatever it is:
	// it comes again until the key is taken (storehealth.Hold).
	return storehealth.Hold(ctx, c.cfg.Logger, msg, err)
}

// storeOf finds the order's store.
func (c *Commands) storeOf(env *eventsv1.Envelope) (StoreConfig, order.ID, error) {
	id, err := order.ParseID(env.GetOrderId())
	if err != nil {
		return StoreConfig{}, order.ID{}, bus.Permanent(err)
	}
	if id.Platform != eventsv1.Platform_PLATFORM_WIX {
		return StoreConfig{}, id, bus.Permanent(fmt.Errorf("order %s is not a wix order", id))
	}
	st, ok := c.cfg.Stores.BySlug(id.Store)
	if !ok {
		return StoreConfig{}, id, bus.Permanent(fmt.Errorf("order %s: store %q is not registered", id, id.Store))
	}
	return st, id, nil
}

func (c *Commands) publish(ctx context.Context, e *eventsv1.Envelope) error {
	subject, err := bus.SubjectFor(e)
	if err != nil {
		return bus.Permanent(err)
	}
	return c.cfg.Publisher.Publish(ctx, subject, e)
}

// fulfil carries out one FulfillmentRequested: Wix fulfils line item by
// line item, so each shipment is one fulfilment of the lines it names.
//
//  1. The notifier decides the shipment's confirmation (idempotent per
//     shipment: a redelivery gets the same decision). SKIP_NOT_SYNCED:
//     nothing is done.
//  2. The fulfilment is created with the shipment's lines and its tracking
//     (provider mapped from the supplier's logistics name), whatever the
//     decision: dropsync never drops a tracking number to avoid an e-mail.
//     Wix e-mails as the site's own setting says (the confirmation setting
//     cannot be turned off in dropsync for Wix stores).
//  3. 409 ALREADY_EXISTS: the order's fulfilments are listed; one with the
//     same tracking number and lines is ours (an earlier attempt whose
//     answer was lost, a redelivery, a restart) and counts as done; any
//     other means the lines were fulfilled elsewhere.
//  4. FulfillmentPushed (Wix's fulfillment id), or FulfillmentFailed when
//     Wix refused, or when the last delivery still met a transient error.
func (c *Commands) fulfil(ctx context.Context, msg *bus.Message, fr *eventsv1.FulfillmentRequested) error {
	env := msg.Envelope
	st, id, err := c.storeOf(env)
	if err != nil {
		return err
	}
	if fr.GetShipmentId() == "" {
		return bus.Permanent(fmt.Errorf("order %s: FulfillmentRequested without shipment id", id))
	}
	log := c.cfg.Logger.With("order_id", id.String(), "shipment_id", fr.GetShipmentId(), "event_id", env.GetEventId())

	decision, err := c.cfg.Notifier.Issue(ctx, id.String(), fr.GetShipmentId(), st.Key(), Channel, env.GetEventId())
	if err != nil {
		if bus.IsPermanent(err) {
			return err
		}
		return c.transient(ctx, msg, st, id, fr, err)
	}
	if decision == notifierv1.Decision_DECISION_SKIP_NOT_SYNCED {
		log.InfoContext(ctx, "wix fulfilment skipped: order not synced")
		return nil
	}
	notify := decision == notifierv1.Decision_DECISION_NOTIFY
	if decision == notifierv1.Decision_DECISION_SKIP_SETTING_OFF {
		log.WarnContext(ctx, "the store's shipping confirmation is off, but Wix e-mails a fulfilment with tracking as the site's own setting says; turn the e-mail off in the Wix dashboard")
	}
	in := domain.Input(fr, c.cfg.Settings.CarrierMapping(st.Key()), st.TrackingURL)
	if len(in.Lines) == 0 {
		return bus.Permanent(fmt.Errorf("order %s shipment %s: no line to fulfil", id, fr.GetShipmentId()))
	}
	if len(fr.GetTracking()) > 1 {
		log.WarnContext(ctx, "wix holds one tracking number per fulfilment: the first is sent", "tracking_numbers", len(fr.GetTracking()))
	}

	fid, err := c.cfg.API.CreateFulfillment(ctx, st.Site, id.StoreOrderID, in)
	switch {
	case err == nil:
	case wixapi.IsStatus(err, http.StatusConflict):
		fs, lerr := c.cfg.API.ListFulfillments(ctx, st.Site, id.StoreOrderID)
		if lerr != nil {
			return c.transient(ctx, msg, st, id, fr, lerr)
		}
		f, ours := domain.Ours(fs, in)
		if !ours {
			log.WarnContext(ctx, "wix lines already fulfilled by someone else")
			return c.failed(ctx, msg, st, id, fr, CodeFulfilledElsewhere, "the line items are fulfilled on Wix by a fulfilment dropsync did not make", false)
		}
		fid = f.ID
	case client.IsCredential(err):
		return err // held by Handle: no failure
	case client.IsPermanent(err):
		log.WarnContext(ctx, "wix refused the fulfilment", "err", err)
		return c.failed(ctx, msg, st, id, fr, CodeStoreRejected, err.Error(), false)
	default:
		return c.transient(ctx, msg, st, id, fr, err)
	}
	pushed, err := st.PushedEvent(id.StoreOrderID, fr.GetShipmentId(), fid, notify && in.Tracking != nil, env, c.cfg.Now())
	if err != nil {
		return bus.Permanent(err)
	}
	if err := c.publish(ctx, pushed); err != nil {
		return err
	}
	log.DebugContext(ctx, "wix fulfilment pushed", "fulfillment_id", fid, "with_tracking", in.Tracking != nil)
	return nil
}

// transient retries a failure through the bus, except on the command's
// last delivery: then it is published as a retryable FulfillmentFailed, so
// the order shows it.
func (c *Commands) transient(ctx context.Context, msg *bus.Message, st StoreConfig, id order.ID, fr *eventsv1.FulfillmentRequested, err error) error {
	if client.IsCredential(err) || !msg.Last && msg.Deliveries < uint64(c.cfg.MaxDeliver) {
		return err
	}
	c.cfg.Logger.WarnContext(ctx, "wix fulfilment failed on the last delivery", "order_id", id.String(), "shipment_id", fr.GetShipmentId(), "err", err)
	return c.failed(ctx, msg, st, id, fr, CodeStoreUnavailable, client.RedactString(err.Error()), true)
}

func (c *Commands) failed(ctx context.Context, msg *bus.Message, st StoreConfig, id order.ID, fr *eventsv1.FulfillmentRequested, code, text string, retryable bool) error {
	reason := &eventsv1.FailureReason{Code: code, Message: text, Retryable: retryable}
	// The cause names the command, so a redelivery gives the same event
	// and a later request for the same shipment a new one.
	e, err := st.FailedEvent(id.StoreOrderID, fr.GetShipmentId(), reason, msg.Envelope, c.cfg.Now())
	if err != nil {
		return bus.Permanent(err)
	}
	e.EventId = envelope.ID(e.GetEventId(), msg.Envelope.GetEventId())
	return c.publish(ctx, e)
}

// updateTracking carries out a TrackingUpdateRequested the Wix way: the
// pushed fulfilment's tracking info is replaced by the new number (Update
// Fulfillment), its provider mapped as on creation. Setting the same
// tracking twice changes nothing, so it is idempotent as it is. Wix sends
// no e-mail for an update: the shipping confirmation went with the
// fulfilment. A refusal (4xx) is permanent (dead-lettered); a transient
// failure is retried by the bus.
func (c *Commands) updateTracking(ctx context.Context, msg *bus.Message, req *eventsv1.TrackingUpdateRequested) error {
	st, id, err := c.storeOf(msg.Envelope)
	if err != nil {
		return err
	}
	if req.GetStoreFulfillmentId() == "" {
		return bus.Permanent(fmt.Errorf("order %s shipment %s: TrackingUpdateRequested without store fulfillment id", id, req.GetShipmentId()))
	}
	api, ok := c.cfg.API.(TrackingAPI)
	if !ok {
		return bus.Permanent(fmt.Errorf("order %s: the wix api in use cannot update tracking", id))
	}
	in := domain.Input(&eventsv1.FulfillmentRequested{Tracking: []*eventsv1.Tracking{req.GetTracking()}},
		c.cfg.Settings.CarrierMapping(st.Key()), st.TrackingURL)
	if in.Tracking == nil {
		return bus.Permanent(fmt.Errorf("order %s shipment %s: TrackingUpdateRequested without tracking number", id, req.GetShipmentId()))
	}
	if err := api.UpdateTracking(ctx, st.Site, id.StoreOrderID, req.GetStoreFulfillmentId(), *in.Tracking); err != nil {
		return client.HandlerError(err)
	}
	c.cfg.Logger.InfoContext(ctx, "wix fulfilment tracking updated", "order_id", id.String(), "shipment_id", req.GetShipmentId(),
		"fulfillment_id", req.GetStoreFulfillmentId())
	return nil
}

// resync answers a ResyncRequested with the order as Wix shows it now.
func (c *Commands) resync(ctx context.Context, msg *bus.Message, rr *eventsv1.ResyncRequested) error {
	env := msg.Envelope
	st, id, err := c.storeOf(env)
	if err != nil {
		return err
	}
	o, err := c.cfg.API.GetOrder(ctx, st.Site, id.StoreOrderID)
	if err != nil {
		return client.HandlerError(err)
	}
	requestID := rr.GetRequestId()
	if requestID == "" {
		requestID = env.GetEventId()
	}
	e, err := st.RereadEvent(requestID, o)
	if err != nil {
		return bus.Permanent(err)
	}
	e.CausationId = env.GetEventId()
	if env.GetCorrelationId() != "" {
		e.CorrelationId = env.GetCorrelationId()
	}
	return c.publish(ctx, e)
}
