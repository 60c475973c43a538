// Package ports holds what the WooCommerce connector is asked: the webhook
// verifier and decoder (for the shared pkg/connector/webhook handler), the
// command handler (FulfillmentRequested, TrackingUpdateRequested,
// ResyncRequested) and the reconciliation lister (for the shared
// pkg/connector/reconcile).
package ports

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

// WooCommerce webhook headers.
const (
	HeaderSource     = "X-WC-Webhook-Source"
	HeaderTopic      = "X-WC-Webhook-Topic"
	HeaderResource   = "X-WC-Webhook-Resource"
	HeaderEvent      = "X-WC-Webhook-Event"
	HeaderSignature  = "X-WC-Webhook-Signature"
	HeaderWebhookID  = "X-WC-Webhook-ID"
	HeaderDeliveryID = "X-WC-Webhook-Delivery-ID"
)

// pingBody is WooCommerce's activation ping: "webhook_id=N", form-encoded.
var pingBody = regexp.MustCompile(`^webhook_id=[0-9]+$`)

// IsPing reports whether a delivery is WooCommerce's activation ping: no
// topic and no signature header, a body "webhook_id=N". WooCommerce sends
// it unsigned when a webhook is saved active, and keeps the webhook
// pending until it gets exactly 200.
func IsPing(h http.Header, body []byte) bool {
	return h.Get(HeaderTopic) == "" && h.Get(HeaderSignature) == "" && pingBody.Match(bytes.TrimSpace(body))
}

// Verifier checks X-WC-Webhook-Signature (base64 HMAC-SHA256 of the raw
// body) with the webhook secret of the store named by X-WC-Webhook-Source,
// and its previous secret during a rotation. An unknown store is refused
// like a bad signature. The unsigned activation ping passes, untouched:
// it carries no data, and the Decoder answers it 200 (ignored) without
// publishing anything.
func Verifier(reg *stores.Registry) webhook.Verifier {
	hmacV := webhook.HMACVerifier{
		Header: HeaderSignature,
		Secrets: func(h http.Header) ([][]byte, error) {
			s, err := reg.BySource(h.Get(HeaderSource))
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
	return verifierFunc(func(h http.Header, body []byte) ([]byte, error) {
		if IsPing(h, body) {
			return body, nil
		}
		return hmacV.Verify(h, body)
	})
}

type verifierFunc func(h http.Header, body []byte) ([]byte, error)

func (f verifierFunc) Verify(h http.Header, body []byte) ([]byte, error) { return f(h, body) }

// RefundReader reads an order's refunds with their lines.
type RefundReader interface {
	Refunds(ctx context.Context, s *stores.Store, orderID int64) ([]domain.RefundDetail, error)
}

// Decoder maps WooCommerce webhooks to store events (see the domain
// package for the status mapping):
//
//	ping (webhook_id=N)                 nothing: 200, counted as ignored
//	order.created                       the order's events, snapshot StoreOrderCreated
//	order.updated, order.restored       the order's events, snapshot StoreOrderUpdated
//	order.deleted ({"id": N})           StoreOrderCanceled, reason "deleted"
//
// Any other topic is ignored. Event ids come from the order's own state
// (date_modified_gmt and the snapshot's digest), so the same state twice —
// WooCommerce firing twice for one save, two webhooks on one topic, a
// webhook and reconciliation — is one event.
//
// The dedupe key joins the store, X-WC-Webhook-ID and
// X-WC-Webhook-Delivery-ID with the order id and its date_modified_gmt:
// WooCommerce's delivery id is wp_hash(webhook id . time()), the same for
// every delivery of a webhook within one second, so on its own it would
// drop the second of two orders changed in the same second.
//
// An order with refunds (not refunded whole) needs the refunds endpoint to
// tell which lines they name. When that read fails the delivery is still
// accepted with the rest of its events and the refunds are left to
// reconciliation: WooCommerce never retries a failed delivery, and counts
// every failure towards disabling the webhook.
type Decoder struct {
	// Stores are the registered stores, found by X-WC-Webhook-Source.
	Stores *stores.Registry
	// Refunds reads refund lines; nil leaves refunds to reconciliation.
	Refunds RefundReader
	// Log receives the refund reads that failed; default slog.Default().
	Log *slog.Logger
}

var _ webhook.Decoder = (*Decoder)(nil)

// Decode implements webhook.Decoder.
func (d *Decoder) Decode(ctx context.Context, req *webhook.Request) (webhook.Delivery, error) {
	h := req.Header
	if IsPing(h, req.Payload) {
		return webhook.Delivery{}, fmt.Errorf("%w: activation ping", webhook.ErrIgnored)
	}
	topic := h.Get(HeaderTopic)
	if topic == "" {
		return webhook.Delivery{}, fmt.Errorf("no %s header", HeaderTopic)
	}
	st, err := d.Stores.BySource(h.Get(HeaderSource))
	if err != nil {
		return webhook.Delivery{}, err // verified already: only a config change in between
	}
	store := st.Ref()
	key := func(orderID int64, state string) string {
		return strings.Join([]string{"woocommerce", store.Site, h.Get(HeaderWebhookID), h.Get(HeaderDeliveryID),
			fmt.Sprint(orderID), state}, "/")
	}
	switch topic {
	case "order.deleted":
		id, err := domain.ParseDeleted(req.Payload)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		env, err := store.Deleted(id, req.Received)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		return webhook.Delivery{Key: key(id, "deleted"), Topic: topic, Envelopes: []*eventsv1.Envelope{env}}, nil

	case "order.created", "order.updated", "order.restored":
		o, err := domain.ParseOrder(req.Payload)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		kind := domain.KindUpdated
		if topic == "order.created" {
			kind = domain.KindCreated
		}
		var refunds []domain.Refund
		if o.NeedsRefunds() && d.Refunds != nil {
			details, err := d.Refunds.Refunds(ctx, st, o.ID)
			if err != nil {
				log := d.Log
				if log == nil {
					log = slog.Default()
				}
				log.WarnContext(ctx, "refund lines not read; reconciliation will", "store", st.Slug, "order", o.ID, "err", err)
			} else {
				refunds = o.ResolveRefunds(details)
			}
		}
		envs, err := store.Events(o, kind, refunds)
		if err != nil {
			return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
		}
		return webhook.Delivery{Key: key(o.ID, *o.DateModifiedGMT), Topic: topic, Envelopes: envs}, nil
	}
	return webhook.Delivery{}, fmt.Errorf("%w: topic %s", webhook.ErrIgnored, topic)
}
