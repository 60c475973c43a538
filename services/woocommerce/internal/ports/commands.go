package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/peers"
	"github.com/dropsync/dropsync/pkg/connector/storehealth"
	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

// CommandsDurable is the durable consumer of the order events addressed to
// WooCommerce stores. JetStream keeps the connector's position under this
// name: renaming it replays every command ever sent (harmless, handlers
// are idempotent, but slow).
const CommandsDurable = "woocommerce-commands"

// CommandFilters are the order events the connector carries out.
func CommandFilters() []string {
	return []string{
		bus.OrderFilter(order.WordWooCommerce, "FulfillmentRequested"),
		bus.OrderFilter(order.WordWooCommerce, "TrackingUpdateRequested"),
		bus.OrderFilter(order.WordWooCommerce, "ResyncRequested"),
	}
}

// Channel is how WooCommerce delivers a shipping confirmation: its
// Completed order e-mail, named in every request to the notifier.
const Channel = order.ChannelWooCommerce

// Failure codes of FulfillmentFailed.
const (
	CodeStoreRejected    = "STORE_REJECTED"
	CodeStoreAuth        = "STORE_AUTH_FAILED"
	CodeOrderCanceled    = "STORE_ORDER_CANCELED"
	CodeOrderNotFound    = "STORE_ORDER_NOT_FOUND"
	CodeStoreUnavailable = "STORE_UNAVAILABLE"
	// CodePeerUnavailable: a dropsync service the fulfilment needs (the
	// orders service's store settings, the notifier) could not be reached
	// through every delivery of the command.
	CodePeerUnavailable = "PEER_UNAVAILABLE"
)

// peerError marks a failure of a dropsync peer (the orders service, the
// notifier) rather than of the store.
type peerError struct{ err error }

func (e *peerError) Error() string { return e.err.Error() }
func (e *peerError) Unwrap() error { return e.err }

// API is one store's REST API as the commands use it (*wcapi.Client).
type API interface {
	Order(ctx context.Context, id int64) (domain.Order, error)
	Refunds(ctx context.Context, id int64) ([]domain.RefundDetail, error)
	Providers(ctx context.Context, orderID int64) (domain.Providers, bool, error)
	Trackings(ctx context.Context, orderID int64) ([]domain.TrackingItem, error)
	AddTracking(ctx context.Context, orderID int64, w domain.TrackingWrite) error
	Notes(ctx context.Context, orderID int64) ([]domain.Note, error)
	AddNote(ctx context.Context, orderID int64, text string, customer bool) error
	DeleteTracking(ctx context.Context, orderID int64, trackingID string) error
	DeleteNote(ctx context.Context, orderID, noteID int64) error
	SetStatus(ctx context.Context, orderID int64, status string) (domain.Order, error)
	CompletedEmailEnabled(ctx context.Context) (bool, error)
}

// CommandsConfig configures Commands.
type CommandsConfig struct {
	// TrackingURLTemplate makes tracking links for carriers the Shipment
	// Tracking extension does not know; default domain.DefaultTrackingURL.
	TrackingURLTemplate string
	// Rounds bounds read-then-write rounds in one delivery when WooCommerce
	// fails transiently; then the delivery fails and the bus redelivers it.
	// Default 4.
	Rounds int
	// Backoff is the base wait between rounds (full jitter, doubling).
	// Default 200ms.
	Backoff time.Duration
	// MaxDeliver is the consumer's MaxDeliver: on the last delivery
	// (bus.Message.Last, or Deliveries reaching MaxDeliver) a transient
	// failure, the store's or a peer's, is published as a retryable
	// FulfillmentFailed and the command acked.
	MaxDeliver int
	// TrackingRetryDelay is how long a TrackingUpdateRequested that still
	// fails on its last delivery waits for the next one: it has no failure
	// fact, so it is redelivered rather than dead-lettered. Default 10
	// minutes.
	TrackingRetryDelay time.Duration
	// StoreInfoTTL is how long a store's Shipment Tracking providers and
	// Completed e-mail setting are reused. Default 10 minutes.
	StoreInfoTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Commands carries out the order events addressed to WooCommerce stores.
//
// # FulfillmentRequested
//
// WooCommerce fulfils whole orders (the aggregate asks once every item
// has tracking, completes_order set). For each request the connector:
//
//  1. reads the order (a cancelled, refunded, trashed or failed order is
//     refused: FulfillmentFailed STORE_ORDER_CANCELED);
//  2. asks the notifier for the shipment's decision (IssueConfirmation,
//     channel woocommerce.completed_email); NOT_SYNCED leaves the store
//     untouched;
//  3. writes every tracking number the store does not show yet: a
//     Shipment Tracking item when the store has the extension (a provider
//     the extension knows, else a custom provider and link), a private
//     order note (customer_note false) otherwise;
//  4. sets the order completed, unless it is already;
//  5. publishes FulfillmentPushed with store fulfillment id
//     "woocommerce:order:<id>:completed", the id the completed webhook's
//     StoreOrderFulfilled carries, so the aggregate knows it as its echo.
//
// Every step reads before it writes, so a redelivered command, or one
// retried after a crash between any two steps, adds no tracking twice and
// completes the order once.
//
// # E-mail
//
// The one shipping confirmation of a WooCommerce order is WooCommerce's own
// "Completed order" e-mail, sent when the status becomes completed; the
// Shipment Tracking extension puts the tracking numbers in it. WooCommerce
// has no API flag to complete an order without that e-mail: whether it goes
// out is the store's own setting (WooCommerce > Settings > Emails >
// Completed order). So:
//
//   - NOTIFY: tracking written, then completed: the store sends its
//     Completed e-mail, with the tracking when the extension is there.
//   - SKIP (setting off, or a confirmation already issued): the same
//     writes and the same completion, because the fulfilment still happens
//     (rule 4). dropsync adds nothing that reaches the customer. If the
//     store's Completed e-mail is enabled, WooCommerce still sends it: the
//     connector logs a warning saying so, and a merchant who wants no
//     confirmations on WooCommerce turns that e-mail off in WooCommerce
//     (the connector does not change the store-wide setting itself: it
//     governs every order of the store, not only dropsync's).
//
// FulfillmentPushed.customer_notified tells what happens, not what was
// decided: true when this request completed the order and the store's
// Completed e-mail is enabled (read from GET
// /settings/email_customer_completed_order/enabled; WooCommerce's default,
// enabled, when unreadable).
//
// Never, in either case, a customer note (customer_note true): that is a
// second e-mail. Tracking without the extension goes into a private note.
// A FulfillmentRequested that does not complete the order writes its
// tracking only (no status change, no e-mail).
type Commands struct {
	// Stores are the registered stores.
	Stores *stores.Registry
	// API returns a store's client.
	API func(*stores.Store) API
	// Settings give a store's carrier mapping.
	Settings peers.Settings
	// Confirmations decide the shipping confirmation (the notifier).
	Confirmations peers.Confirmations
	// Publisher stores FulfillmentPushed, FulfillmentFailed and re-reads.
	Publisher bus.EventPublisher
	// Log receives what was done; default slog.Default().
	Log *slog.Logger
	// Config tunes the rounds and caches.
	Config CommandsConfig

	mu   sync.Mutex
	info map[string]storeInfo
}

// storeInfo is what the connector remembers of a store for StoreInfoTTL.
type storeInfo struct {
	providers domain.Providers
	extension bool
	at        time.Time
}

func (c *Commands) cfg() CommandsConfig {
	cfg := c.Config
	if cfg.Rounds <= 0 {
		cfg.Rounds = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.StoreInfoTTL <= 0 {
		cfg.StoreInfoTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TrackingRetryDelay <= 0 {
		cfg.TrackingRetryDelay = 10 * time.Minute
	}
	return cfg
}

func (c *Commands) log() *slog.Logger {
	if c.Log == nil {
		return slog.Default()
	}
	return c.Log
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
	wooID, err := strconv.ParseInt(id.StoreOrderID, 10, 64)
	if err != nil || wooID <= 0 {
		return bus.Permanent(fmt.Errorf("%s for %s: not a woocommerce order id", m.EventType(), id))
	}
	// WooCommerce refusing the store's keys holds the command, whatever
	// it is: it comes again until the keys are taken (storehealth.Hold).
	switch ev := env.GetEvent().(type) {
	case *eventsv1.Envelope_FulfillmentRequested:
		return storehealth.Hold(ctx, c.log(), m, c.fulfil(ctx, m, st, id, wooID, ev.FulfillmentRequested))
	case *eventsv1.Envelope_TrackingUpdateRequested:
		err := c.updateTracking(ctx, st, id, wooID, ev.TrackingUpdateRequested)
		if client.IsCredential(err) {
			return storehealth.Hold(ctx, c.log(), m, err)
		}
		return c.trackingOutcome(ctx, m, id, ev.TrackingUpdateRequested, err)
	case *eventsv1.Envelope_ResyncRequested:
		return storehealth.Hold(ctx, c.log(), m, c.reread(ctx, m, st, wooID, ev.ResyncRequested))
	}
	return nil // another order event the filter let through: nothing to do
}

// outcome is what one fulfilment attempt ended with.
type outcome struct {
	skip          bool // not synced: nothing to do
	fulfillmentID string
	notified      bool
	failCode      string
	failMsg       string
}

// fulfil carries out a FulfillmentRequested, in rounds while WooCommerce
// fails transiently.
func (c *Commands) fulfil(ctx context.Context, m *bus.Message, st *stores.Store, id order.ID, wooID int64, req *eventsv1.FulfillmentRequested) error {
	cfg := c.cfg()
	log := c.log().With("order", id.String(), "shipment", req.GetShipmentId())
	settings, err := c.Settings.StoreSettings(ctx, st.Key())
	if err != nil {
		return c.unavailable(ctx, m, st, wooID, req.GetShipmentId(), &peerError{fmt.Errorf("store settings %s: %w", st.Key(), err)})
	}
	api := c.API(st)
	var decision peers.Decision
	var last error
	for round := 1; round <= cfg.Rounds; round++ {
		out, err := c.attempt(ctx, m, st, api, id, wooID, req, settings, &decision, log)
		if err == nil {
			switch {
			case out.skip:
				log.InfoContext(ctx, "not fulfilled: dropsync no longer syncs this order")
				return nil
			case out.failCode != "":
				return c.failed(ctx, m, st, wooID, req.GetShipmentId(), out.failCode, out.failMsg, false, nil)
			}
			return c.pushed(ctx, m, st, wooID, req.GetShipmentId(), out.fulfillmentID, out.notified)
		}
		if bus.IsPermanent(err) {
			return err
		}
		if permanent(err) {
			return c.failed(ctx, m, st, wooID, req.GetShipmentId(), codeOf(err), err.Error(), false, err)
		}
		last = err
		log.DebugContext(ctx, "woocommerce failed, reading again", "round", round, "err", err)
		if round == cfg.Rounds || !client.Pause(ctx, cfg.Backoff, round, err) {
			break
		}
	}
	return c.unavailable(ctx, m, st, wooID, req.GetShipmentId(), last)
}

// unavailable returns a transient failure for the bus to retry, except on
// the command's last delivery: then it is published as a retryable
// FulfillmentFailed (the order asks for attention), and the command is
// acked.
func (c *Commands) unavailable(ctx context.Context, m *bus.Message, st *stores.Store, wooID int64, shipmentID string, err error) error {
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
	return c.failed(ctx, m, st, wooID, shipmentID, code, err.Error(), true, err)
}

// factTimeout bounds publishing the fact of a command's last delivery.
const factTimeout = 10 * time.Second

// attempt is one idempotent pass over the steps: it reads what the store
// shows and writes only what is missing.
func (c *Commands) attempt(ctx context.Context, m *bus.Message, st *stores.Store, api API, id order.ID, wooID int64,
	req *eventsv1.FulfillmentRequested, settings *eventsv1.StoreSettings, decision *peers.Decision, log *slog.Logger) (outcome, error) {
	cfg := c.cfg()
	o, err := api.Order(ctx, wooID)
	if err != nil {
		return outcome{}, err
	}
	switch o.Status {
	case domain.StatusCancelled, domain.StatusRefunded, domain.StatusTrash, domain.StatusFailed:
		return outcome{failCode: CodeOrderCanceled, failMsg: "the order is " + o.Status + " on WooCommerce"}, nil
	}
	if *decision == 0 {
		nd, err := c.Confirmations.Issue(ctx, id.String(), req.GetShipmentId(), st.Key(), Channel, m.Envelope.GetEventId())
		if err == nil {
			*decision, err = peers.DecisionOf(nd)
		}
		if err != nil {
			if bus.IsPermanent(err) {
				return outcome{}, fmt.Errorf("shipping confirmation decision: %w", err)
			}
			return outcome{}, &peerError{fmt.Errorf("shipping confirmation decision: %w", err)}
		}
	}
	if *decision == peers.NotSynced {
		return outcome{skip: true}, nil
	}

	info, err := c.storeInfo(ctx, st, api, wooID)
	if err != nil {
		return outcome{}, err
	}
	plan := domain.PlanTracking(req.GetTracking(), settings.GetCarrierMapping(), info.providers, cfg.TrackingURLTemplate, cfg.Now())
	if !info.extension && *decision == peers.Notify {
		log.InfoContext(ctx, "the store has no Shipment Tracking extension: tracking goes into private order notes and the Completed e-mail does not show it")
	}
	if err := c.writeTracking(ctx, api, wooID, info.extension, plan); err != nil {
		return outcome{}, err
	}
	if !req.GetCompletesOrder() {
		log.InfoContext(ctx, "tracking written to woocommerce; the order is not complete yet", "numbers", len(plan))
		return outcome{fulfillmentID: domain.TrackingFulfillmentID(wooID, req.GetShipmentId())}, nil
	}

	// Completed before this request was made: the merchant, or an earlier
	// request. WooCommerce does not send its Completed e-mail again.
	requested := m.Envelope.GetOccurredAt().AsTime()
	done, _ := domain.ParseTime(o.DateCompletedGMT)
	earlier := o.Status == domain.StatusCompleted && !done.IsZero() && done.Before(requested.Truncate(time.Second))
	enabled := c.completedEmail(ctx, api, st)
	switch {
	case *decision == peers.Quiet && enabled && o.Status != domain.StatusCompleted:
		log.WarnContext(ctx, "shipping confirmation is off for this shipment, but WooCommerce sends its Completed order e-mail on completion (it has no API flag to skip it): turn that e-mail off in WooCommerce > Settings > Emails to honour the setting")
	case *decision == peers.Notify && !enabled:
		log.WarnContext(ctx, "shipping confirmation is on, but the store's Completed order e-mail is disabled in WooCommerce: the customer gets no confirmation")
	}
	if o.Status != domain.StatusCompleted {
		if _, err := api.SetStatus(ctx, wooID, domain.StatusCompleted); err != nil {
			return outcome{}, err
		}
		log.InfoContext(ctx, "completed on woocommerce", "numbers", len(plan), "extension", info.extension, "decision", decision.String(), "completed_email", enabled)
	}
	return outcome{fulfillmentID: domain.FulfillmentID(wooID), notified: enabled && !earlier}, nil
}

// writeTracking writes the planned numbers the store does not show yet.
func (c *Commands) writeTracking(ctx context.Context, api API, wooID int64, extension bool, plan []domain.TrackingWrite) error {
	var have []string
	if extension {
		items, err := api.Trackings(ctx, wooID)
		if err != nil {
			return err
		}
		for _, it := range items {
			have = append(have, it.Number)
		}
	} else {
		notes, err := api.Notes(ctx, wooID)
		if err != nil {
			return err
		}
		have = domain.NoteNumbers(notes)
	}
	for _, w := range domain.Missing(plan, have) {
		var err error
		if extension {
			err = api.AddTracking(ctx, wooID, w)
		} else {
			err = api.AddNote(ctx, wooID, domain.NoteText(w), false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// storeInfo returns the store's Shipment Tracking providers, read at most
// every StoreInfoTTL.
func (c *Commands) storeInfo(ctx context.Context, st *stores.Store, api API, wooID int64) (storeInfo, error) {
	cfg := c.cfg()
	c.mu.Lock()
	info, ok := c.info[st.Slug]
	c.mu.Unlock()
	if ok && cfg.Now().Sub(info.at) < cfg.StoreInfoTTL {
		return info, nil
	}
	p, installed, err := api.Providers(ctx, wooID)
	if err != nil {
		return storeInfo{}, err
	}
	info = storeInfo{providers: p, extension: installed, at: cfg.Now()}
	c.mu.Lock()
	if c.info == nil {
		c.info = map[string]storeInfo{}
	}
	c.info[st.Slug] = info
	c.mu.Unlock()
	return info, nil
}

// completedEmail reads whether the store sends its Completed e-mail;
// WooCommerce's default (enabled) when it cannot tell.
func (c *Commands) completedEmail(ctx context.Context, api API, st *stores.Store) bool {
	enabled, err := api.CompletedEmailEnabled(ctx)
	if err != nil {
		c.log().DebugContext(ctx, "completed e-mail setting not readable; assuming WooCommerce's default (on)", "store", st.Slug, "err", err)
		return true
	}
	return enabled
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	return errors.Is(err, wcapi.ErrNotFound) || errors.Is(err, wcapi.ErrAuth) || errors.Is(err, wcapi.ErrRefused) ||
		errors.Is(err, domain.ErrInvalidOrder) || client.IsPermanent(err)
}

// codeOf is the FulfillmentFailed code of a permanent error.
func codeOf(err error) string {
	switch {
	case errors.Is(err, wcapi.ErrNotFound):
		return CodeOrderNotFound
	case errors.Is(err, wcapi.ErrAuth):
		return CodeStoreAuth
	}
	return CodeStoreRejected
}

// event fills a new envelope caused by the command m.
func (c *Commands) event(m *bus.Message, st *stores.Store, wooID int64, eventID string) (*eventsv1.Envelope, error) {
	now := c.cfg().Now()
	env, err := st.Ref().Envelope(eventID, wooID, now)
	if err != nil {
		return nil, bus.Permanent(err)
	}
	corr := m.Envelope.GetCorrelationId()
	if corr == "" {
		corr = m.Envelope.GetEventId()
	}
	env.RecordedAt = timestamppb.New(now)
	env.CausationId, env.CorrelationId = m.Envelope.GetEventId(), corr
	return env, nil
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
func (c *Commands) pushed(ctx context.Context, m *bus.Message, st *stores.Store, wooID int64, shipmentID, fulfillmentID string, notified bool) error {
	env, err := c.event(m, st, wooID, st.Ref().PushedEventID(wooID, attemptKey(shipmentID, m.Envelope)))
	if err != nil {
		return err
	}
	env.Event = &eventsv1.Envelope_FulfillmentPushed{FulfillmentPushed: &eventsv1.FulfillmentPushed{
		ShipmentId: shipmentID, StoreFulfillmentId: fulfillmentID, CustomerNotified: notified,
	}}
	return c.publish(ctx, env)
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

// failed publishes FulfillmentFailed and returns what the handler returns:
// nil (ack) for a refusal of the order's state or a transient failure on
// the last delivery (retryable: the fact is the outcome), the cause marked
// permanent for a failure the operator should also see in the dead-letter
// stream.
func (c *Commands) failed(ctx context.Context, m *bus.Message, st *stores.Store, wooID int64, shipmentID, code, msg string, retryable bool, cause error) error {
	if client.IsCredential(cause) {
		return cause // no failure: Handle holds the command
	}
	env, err := c.event(m, st, wooID, st.Ref().FailedEventID(wooID, shipmentID, m.Envelope.GetEventId()+"/"+code))
	if err != nil {
		return err
	}
	env.Event = &eventsv1.Envelope_FulfillmentFailed{FulfillmentFailed: &eventsv1.FulfillmentFailed{
		ShipmentId: shipmentID,
		Reason:     &eventsv1.FailureReason{Code: code, Message: msg, Retryable: retryable},
		Attempt:    m.Envelope.GetFulfillmentRequested().GetAttempt(),
	}}
	if err := c.publish(ctx, env); err != nil {
		return err
	}
	c.log().WarnContext(ctx, "fulfilment failed", "store", st.Slug, "order", wooID, "shipment", shipmentID, "code", code, "reason", msg, "retryable", retryable)
	switch {
	case retryable:
		return nil
	case cause != nil && !errors.Is(cause, wcapi.ErrRefused) && !errors.Is(cause, wcapi.ErrNotFound):
		return bus.Permanent(cause)
	}
	return nil
}

// updateTracking carries out a TrackingUpdateRequested: the new number is
// written like a fulfilment's (a Shipment Tracking item or a private note)
// when the store does not show it yet, then the number it replaces is
// removed, so the customer sees only the right one. New first, old second:
// a failure between the two leaves both for a moment, never neither, and
// the redelivery finishes the job. The order's status does not change, so
// WooCommerce sends no e-mail.
func (c *Commands) updateTracking(ctx context.Context, st *stores.Store, id order.ID, wooID int64, req *eventsv1.TrackingUpdateRequested) error {
	settings, err := c.Settings.StoreSettings(ctx, st.Key())
	if err != nil {
		return fmt.Errorf("store settings %s: %w", st.Key(), err)
	}
	api := c.API(st)
	info, err := c.storeInfo(ctx, st, api, wooID)
	if err == nil {
		plan := domain.PlanTracking([]*eventsv1.Tracking{req.GetTracking()}, settings.GetCarrierMapping(), info.providers, c.cfg().TrackingURLTemplate, c.cfg().Now())
		err = c.writeTracking(ctx, api, wooID, info.extension, plan)
	}
	if err == nil {
		err = c.removeReplaced(ctx, api, wooID, info.extension, req.GetReplaces().GetNumber(), req.GetTracking().GetNumber())
	}
	if err != nil {
		if permanent(err) {
			return bus.Permanent(err)
		}
		return err
	}
	c.log().InfoContext(ctx, "tracking update written to woocommerce", "order", id.String(), "shipment", req.GetShipmentId())
	return nil
}

// removeReplaced deletes what the store shows of the number old that a
// tracking update replaced by current: its Shipment Tracking items, or
// dropsync's private notes naming it. Reading first makes a retry safe.
func (c *Commands) removeReplaced(ctx context.Context, api API, wooID int64, extension bool, old, current string) error {
	if old == "" || domain.SameNumber(old, current) {
		return nil
	}
	if extension {
		items, err := api.Trackings(ctx, wooID)
		if err != nil {
			return err
		}
		for _, it := range items {
			if domain.SameNumber(it.Number, old) {
				if err := api.DeleteTracking(ctx, wooID, it.ID); err != nil {
					return err
				}
			}
		}
		return nil
	}
	notes, err := api.Notes(ctx, wooID)
	if err != nil {
		return err
	}
	for _, id := range domain.NotesOf(notes, old) {
		if err := api.DeleteNote(ctx, wooID, id); err != nil {
			return err
		}
	}
	return nil
}

// trackingOutcome is what the handler of a TrackingUpdateRequested
// returns for err. A transient failure on the last delivery (the orders
// service's store settings or WooCommerce still unreachable) has no fact
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
	c.log().ErrorContext(ctx, "tracking update still failing on its last delivery; will try again later",
		"order", id.String(), "shipment", req.GetShipmentId(), "deliveries", m.Deliveries, "err", err, "delay", cfg.TrackingRetryDelay)
	return bus.RetryLater(err, cfg.TrackingRetryDelay)
}

// reread answers a ResyncRequested with the order as WooCommerce shows it
// now: StoreOrderReread, then the facts its state gives.
func (c *Commands) reread(ctx context.Context, m *bus.Message, st *stores.Store, wooID int64, req *eventsv1.ResyncRequested) error {
	api := c.API(st)
	o, err := api.Order(ctx, wooID)
	if errors.Is(err, wcapi.ErrNotFound) {
		c.log().WarnContext(ctx, "re-read: the order is gone from woocommerce", "store", st.Slug, "order", wooID)
		return nil
	}
	if err != nil {
		if permanent(err) {
			return bus.Permanent(err)
		}
		return err
	}
	var refunds []domain.Refund
	if o.NeedsRefunds() {
		details, err := api.Refunds(ctx, wooID)
		if err != nil {
			if permanent(err) {
				return bus.Permanent(err)
			}
			return err
		}
		refunds = o.ResolveRefunds(details)
	}
	envs, err := st.Ref().Reread(o, req.GetRequestId(), refunds)
	if err != nil {
		return bus.Permanent(err)
	}
	now := timestamppb.New(c.cfg().Now())
	for _, env := range envs {
		env.CausationId = m.Envelope.GetEventId()
		env.CorrelationId = m.Envelope.GetCorrelationId()
		env.RecordedAt = now
		if err := c.publish(ctx, env); err != nil {
			return err
		}
	}
	return nil
}
