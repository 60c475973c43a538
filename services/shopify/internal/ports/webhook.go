package ports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// Shopify webhook headers.
const (
	HeaderTopic      = "X-Shopify-Topic"
	HeaderHmac       = "X-Shopify-Hmac-Sha256"
	HeaderShopDomain = "X-Shopify-Shop-Domain"
	HeaderEventID    = "X-Shopify-Event-Id"
	HeaderWebhookID  = "X-Shopify-Webhook-Id"
)

// Verifier checks X-Shopify-Hmac-Sha256 with the secret of the shop named
// by X-Shopify-Shop-Domain (and its previous secret during a rotation). An
// unknown shop is refused like a bad signature.
//
// There is no replay window: Shopify signs the body only, and the body
// has no delivery time (X-Shopify-Triggered-At is a header, unsigned, so
// anyone replaying a captured delivery sets it as they like), and Shopify
// itself redelivers the original payload for hours and may deliver a day
// late. A replayed delivery is the same facts again: deduplicated on its
// event id, and a snapshot older than the order's is not applied.
func Verifier(reg *stores.Registry) webhook.Verifier {
	return webhook.HMACVerifier{
		Header: HeaderHmac,
		Secrets: func(h http.Header) ([][]byte, error) {
			s, err := reg.ByDomain(h.Get(HeaderShopDomain))
			if err != nil {
				return nil, err
			}
			out := [][]byte{[]byte(s.WebhookSecret.Reveal())}
			if !s.PreviousWebhookSecret.Empty() {
				out = append(out, []byte(s.PreviousWebhookSecret.Reveal()))
			}
			return out, nil
		},
	}
}

// OrderReader reads an order from Shopify (for orders/edited, whose body
// is the edit, not the order).
type OrderReader interface {
	Order(ctx context.Context, s *stores.Store, orderID string) (domain.Order, error)
}

// Topics are the webhook topics the app subscribes to (its
// shopify.app.toml [webhooks] subscriptions, or webhookSubscriptionCreate
// for each): the Decoder maps every one of them, and ignores any other.
var Topics = []string{
	"orders/create", "orders/updated", "orders/paid", "orders/cancelled",
	"orders/fulfilled", "orders/partially_fulfilled", "orders/edited",
	"refunds/create", "fulfillments/create", "fulfillments/update",
}

// Decoder maps Shopify webhooks to store events. What an event means is
// decided by what the signed body proves, never by the unsigned
// X-Shopify-Topic header alone (a signed body replayed under another topic
// means what it meant):
//
//	orders/create                   StoreOrderCreated, then the body's facts
//	orders/paid                     StorePaymentCaptured when the body's financial_status is captured, else StoreOrderUpdated; then the facts
//	orders/updated                  StoreOrderUpdated, then the facts
//	orders/cancelled                the body's facts: StoreOrderCanceled when cancelled_at is set, else StoreOrderUpdated
//	orders/fulfilled                StoreOrderUpdated, then the facts; with no fulfilment in the body,
//	orders/partially_fulfilled      the order is read from the Admin API (Shopify's test notifications)
//	orders/edited                   StoreOrderUpdated and the facts, with the order read from the API
//	refunds/create                  StoreOrderRefunded for the lines it names (none: money only, ignored)
//	fulfillments/create             StoreOrderFulfilled; StoreFulfillmentCanceled when cancelled, failed or in error
//	fulfillments/update             the same, and StoreTrackingChanged with the tracking the store shows
//
// The facts of an order body (domain.Store.Facts) are its fulfilments, its
// refunds naming lines, and its cancellation when cancelled_at is set, so
// a cancel on orders/create or orders/updated is a cancel too. An order
// body that is not a usable order but names one (an id, or an
// admin_graphql_api_id) is read back from the Admin API; an order that is
// not on the store (a test notification) is ignored (200). Every other
// topic is ignored. The dedupe key is the shop, the topic and
// X-Shopify-Event-Id.
//
// A delivery whose topic and body disagree, one read back, and one refused
// as unusable are logged (without customer data) and counted (Stats).
type Decoder struct {
	Stores *stores.Registry
	// Orders reads orders from the Admin API (orders/edited, bodies that
	// need a read-back); nil ignores orders/edited and decodes the rest
	// from their bodies alone.
	Orders OrderReader
	// Log receives the lines about disagreeing, read-back and unusable
	// deliveries; nil is slog.Default().
	Log *slog.Logger

	mismatch, readBacks, unusable, notOnStore atomic.Uint64
}

// DecoderStats counts deliveries the Decoder noted.
type DecoderStats struct {
	// TopicMismatch deliveries had a body whose facts disagree with the
	// topic header (orders/cancelled without cancelled_at, orders/paid not
	// paid): decoded by the body.
	TopicMismatch uint64 `json:"topic_mismatch"`
	// ReadBack deliveries needed the order read from the Admin API.
	ReadBack uint64 `json:"read_back"`
	// NotOnStore deliveries named an order the store does not have
	// (Shopify's test notifications): ignored.
	NotOnStore uint64 `json:"not_on_store"`
	// Unusable deliveries were refused (400): nothing in the body names
	// what it is about.
	Unusable uint64 `json:"unusable"`
}

// Stats returns the counters.
func (d *Decoder) Stats() DecoderStats {
	return DecoderStats{
		TopicMismatch: d.mismatch.Load(), ReadBack: d.readBacks.Load(),
		NotOnStore: d.notOnStore.Load(), Unusable: d.unusable.Load(),
	}
}

func (d *Decoder) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

var _ webhook.Decoder = (*Decoder)(nil)

// orderTopics are the topics whose body is a REST order.
var orderTopics = map[string]bool{
	"orders/create": true, "orders/paid": true, "orders/updated": true, "orders/cancelled": true,
	"orders/fulfilled": true, "orders/partially_fulfilled": true,
}

// Decode implements webhook.Decoder.
func (d *Decoder) Decode(ctx context.Context, req *webhook.Request) (webhook.Delivery, error) {
	h := req.Header
	topic := h.Get(HeaderTopic)
	if topic == "" {
		return webhook.Delivery{}, d.refuse(ctx, topic, fmt.Errorf("no %s header", HeaderTopic))
	}
	if !slices.Contains(Topics, topic) {
		// Before anything else: a topic the connector does not use is
		// ignored whatever its body.
		return webhook.Delivery{}, fmt.Errorf("%w: topic %s", webhook.ErrIgnored, topic)
	}
	st, err := d.Stores.ByDomain(h.Get(HeaderShopDomain))
	if err != nil {
		return webhook.Delivery{}, err // verified already: cannot happen but for a race with config
	}
	eventID := h.Get(HeaderEventID)
	if eventID == "" {
		eventID = h.Get(HeaderWebhookID)
	}
	if eventID == "" {
		return webhook.Delivery{}, d.refuse(ctx, topic, fmt.Errorf("no %s or %s header", HeaderEventID, HeaderWebhookID))
	}
	store := st.Ref()
	d0 := webhook.Delivery{Key: "shopify/" + st.Domain + "/" + topic + "/" + eventID, Topic: topic}
	body := req.Payload

	done := func(envs []*eventsv1.Envelope, err error) (webhook.Delivery, error) {
		if err != nil {
			return webhook.Delivery{}, d.refuse(ctx, topic, err)
		}
		d0.Envelopes = envs
		return d0, nil
	}
	switch {
	case orderTopics[topic]:
		o, err := domain.ParseOrder(body)
		if err != nil {
			// Not a usable order, but it may name one: read it back.
			if o, err = d.readBack(ctx, st, topic, o.ID, err); err != nil {
				return webhook.Delivery{}, err
			}
		} else if (topic == "orders/fulfilled" || topic == "orders/partially_fulfilled") && len(o.Fulfillments) == 0 {
			// Shopify's own test notifications send no fulfilment: read
			// the order's fulfilments from the Admin API.
			if d.Orders != nil {
				if o, err = d.readBack(ctx, st, topic, o.ID, errors.New("no fulfillment in the body")); err != nil {
					return webhook.Delivery{}, err
				}
			}
		}
		kind := domain.KindUpdated
		switch topic {
		case "orders/create":
			kind = domain.KindCreated
		case "orders/paid":
			if domain.Captured(o.Financial) {
				kind = domain.KindPaid
			} else {
				d.disagree(ctx, topic, o.ID, "financial_status "+o.Financial+" is not paid: an update")
			}
		case "orders/cancelled":
			if !o.CancelledAt.IsZero() {
				// The cancel itself is among the facts.
				return done(store.Facts(nil, o))
			}
			d.disagree(ctx, topic, o.ID, "cancelled_at is null: an update, not a cancel")
		}
		snap, err := store.OrderEvent(kind, store.WebhookEventID(eventID, topic, kind), o)
		if err != nil {
			return done(nil, err)
		}
		return done(store.Facts([]*eventsv1.Envelope{snap}, o))

	case topic == "orders/edited":
		orderID, err := domain.ParseOrderEdit(body)
		if err != nil {
			return done(nil, err)
		}
		if d.Orders == nil {
			return webhook.Delivery{}, fmt.Errorf("%w: %s without an API client", webhook.ErrIgnored, topic)
		}
		o, err := d.read(ctx, st, topic, orderID)
		if err != nil {
			return webhook.Delivery{}, err
		}
		snap, err := store.OrderEvent(domain.KindUpdated, store.WebhookEventID(eventID, topic, domain.KindUpdated), o)
		if err != nil {
			return done(nil, err)
		}
		return done(store.Facts([]*eventsv1.Envelope{snap}, o))

	case topic == "refunds/create":
		orderID, r, err := domain.ParseRefund(body)
		if err != nil {
			return done(nil, err)
		}
		// The refund body has no currency: the amount is left out rather
		// than guessed (the order's snapshots carry the totals).
		env, err := store.RefundedEvent(orderID, "", r)
		if err != nil {
			return done(nil, err)
		}
		if env == nil {
			return webhook.Delivery{}, fmt.Errorf("%w: refund %s names no line items", webhook.ErrIgnored, r.ID)
		}
		return done([]*eventsv1.Envelope{env}, nil)

	default: // fulfillments/create, fulfillments/update
		orderID, f, err := domain.ParseFulfillment(body)
		if err != nil {
			return done(nil, err)
		}
		env, err := store.FulfillmentEvent(orderID, f)
		if err != nil {
			return done(nil, err)
		}
		envs := []*eventsv1.Envelope{env}
		if topic == "fulfillments/update" && f.Active() {
			// A tracking change made on the store (or the store's echo
			// of one dropsync asked for: the order tells them apart).
			t, err := store.TrackingChangedEvent(orderID, f)
			if err != nil {
				return done(nil, err)
			}
			envs = append(envs, t)
		}
		return done(envs, nil)
	}
}

// readBack reads an order whose body was not enough (why) from the Admin
// API. A body that names no order is unusable: 400.
func (d *Decoder) readBack(ctx context.Context, st *stores.Store, topic, orderID string, why error) (domain.Order, error) {
	if d.Orders == nil || !domain.ValidID(orderID) {
		return domain.Order{}, d.refuse(ctx, topic, why)
	}
	d.readBacks.Add(1)
	d.log().InfoContext(ctx, "shopify webhook: reading the order back", "topic", topic, "order", orderID, "reason", why.Error())
	return d.read(ctx, st, topic, orderID)
}

// read reads an order from the Admin API: one not on the store is ignored
// (200), a failure to read is temporary (503, Shopify delivers again).
func (d *Decoder) read(ctx context.Context, st *stores.Store, topic, orderID string) (domain.Order, error) {
	o, err := d.Orders.Order(ctx, st, orderID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		d.notOnStore.Add(1)
		d.log().InfoContext(ctx, "shopify webhook: order not on the store, ignored", "topic", topic, "order", orderID)
		return domain.Order{}, fmt.Errorf("%w: %s: order %s is not on the store", webhook.ErrIgnored, topic, orderID)
	case err != nil:
		return domain.Order{}, webhook.Unavailable(fmt.Errorf("%s: %w", topic, err))
	}
	return o, nil
}

// disagree notes a body whose facts disagree with its topic header.
func (d *Decoder) disagree(ctx context.Context, topic, orderID, what string) {
	d.mismatch.Add(1)
	d.log().WarnContext(ctx, "shopify webhook: body and topic disagree, decoded by the body", "topic", topic, "order", orderID, "reason", what)
}

// refuse notes an unusable delivery (400) and returns its error.
func (d *Decoder) refuse(ctx context.Context, topic string, err error) error {
	d.unusable.Add(1)
	d.log().WarnContext(ctx, "shopify webhook: unusable body", "topic", topic, "reason", err.Error())
	if topic != "" {
		return fmt.Errorf("%s: %w", topic, err)
	}
	return err
}
