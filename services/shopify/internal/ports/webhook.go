package ports

import (
	"context"
	"fmt"
	"net/http"

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

// Decoder maps Shopify webhooks to store events:
//
//	orders/create                   StoreOrderCreated
//	orders/paid                     StorePaymentCaptured
//	orders/updated                  StoreOrderUpdated (its snapshot says whether payment is captured)
//	orders/edited                   StoreOrderUpdated, with the order read from the API
//	orders/cancelled                StoreOrderCanceled
//	refunds/create                  StoreOrderRefunded for the lines it names (none: money only, ignored)
//	fulfillments/create             StoreOrderFulfilled
//	orders/fulfilled                StoreOrderFulfilled for each fulfilment in the order
//	orders/partially_fulfilled      (the same event ids as fulfillments/create)
//
// Every other topic is ignored. The dedupe key is the shop, the topic and
// X-Shopify-Event-Id.
type Decoder struct {
	Stores *stores.Registry
	// Orders reads orders for orders/edited; nil ignores that topic.
	Orders OrderReader
}

var _ webhook.Decoder = (*Decoder)(nil)

// Decode implements webhook.Decoder.
func (d *Decoder) Decode(ctx context.Context, req *webhook.Request) (webhook.Delivery, error) {
	h := req.Header
	topic := h.Get(HeaderTopic)
	if topic == "" {
		return webhook.Delivery{}, fmt.Errorf("no %s header", HeaderTopic)
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
		return webhook.Delivery{}, fmt.Errorf("no %s or %s header", HeaderEventID, HeaderWebhookID)
	}
	store := st.Ref()
	d0 := webhook.Delivery{Key: "shopify/" + st.Domain + "/" + topic + "/" + eventID, Topic: topic}
	body := req.Payload

	one := func(env *eventsv1.Envelope, err error) (webhook.Delivery, error) {
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		d0.Envelopes = []*eventsv1.Envelope{env}
		return d0, nil
	}
	switch topic {
	case "orders/create", "orders/paid", "orders/updated", "orders/cancelled":
		o, err := domain.ParseOrder(body)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		switch topic {
		case "orders/create":
			return one(store.OrderEvent(domain.KindCreated, store.WebhookEventID(eventID, topic, domain.KindCreated), o))
		case "orders/paid":
			return one(store.OrderEvent(domain.KindPaid, store.WebhookEventID(eventID, topic, domain.KindPaid), o))
		case "orders/updated":
			return one(store.OrderEvent(domain.KindUpdated, store.WebhookEventID(eventID, topic, domain.KindUpdated), o))
		default:
			return one(store.OrderEvent(domain.KindCanceled, store.CanceledEventID(o.ID), o))
		}

	case "orders/edited":
		orderID, err := domain.ParseOrderEdit(body)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		if d.Orders == nil {
			return webhook.Delivery{}, fmt.Errorf("%w: %s without an API client", webhook.ErrIgnored, topic)
		}
		o, err := d.Orders.Order(ctx, st, orderID)
		if err != nil {
			// Shopify delivers it again; orders/updated carries the
			// change meanwhile.
			return webhook.Delivery{}, webhook.Unavailable(fmt.Errorf("%s: %w", topic, err))
		}
		return one(store.OrderEvent(domain.KindUpdated, store.WebhookEventID(eventID, topic, domain.KindUpdated), o))

	case "refunds/create":
		orderID, r, err := domain.ParseRefund(body)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		// The refund body has no currency: the amount is left out rather
		// than guessed (the order's snapshots carry the totals).
		env, err := store.RefundedEvent(orderID, "", r)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		if env == nil {
			return webhook.Delivery{}, fmt.Errorf("%w: refund %s names no line items", webhook.ErrIgnored, r.ID)
		}
		return one(env, nil)

	case "fulfillments/create":
		orderID, f, err := domain.ParseFulfillment(body)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		if !f.Active() {
			return webhook.Delivery{}, fmt.Errorf("%w: fulfillment %s is %s", webhook.ErrIgnored, f.ID, f.Status)
		}
		return one(store.FulfilledEvent(orderID, f))

	case "orders/fulfilled", "orders/partially_fulfilled":
		o, err := domain.ParseOrder(body)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		for _, f := range o.Fulfillments {
			if !f.Active() {
				continue
			}
			env, err := store.FulfilledEvent(o.ID, f)
			if err != nil {
				return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
			}
			d0.Envelopes = append(d0.Envelopes, env)
		}
		if len(d0.Envelopes) == 0 {
			return webhook.Delivery{}, fmt.Errorf("%s: %w: no fulfillment in the order", topic, domain.ErrInvalidOrder)
		}
		return d0, nil
	}
	return webhook.Delivery{}, fmt.Errorf("%w: topic %s", webhook.ErrIgnored, topic)
}
