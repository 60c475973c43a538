// Package ports holds what the WooCommerce connector is asked: the webhook
// verifier and decoder (for the shared pkg/connector/webhook handler), the
// command handler (FulfillmentRequested, TrackingUpdateRequested,
// ResyncRequested) and the reconciliation lister (for the shared
// pkg/connector/reconcile).
package ports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
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
//
// There is no replay window: WooCommerce signs the body only and sends no
// delivery time at all (the body's dates are the order's). A replayed
// delivery is the same order at the same modification time, whose event
// id (from the order id and date_modified_gmt) is deduplicated.
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

// OrderReader reads one order through the REST API v3 (GET
// /orders/{id}); an order that does not exist is an error matching
// wcapi.ErrNotFound.
type OrderReader interface {
	Order(ctx context.Context, s *stores.Store, orderID int64) (domain.Order, error)
}

// Decoder maps WooCommerce webhooks to store events (see the domain
// package for the status mapping):
//
//	ping (webhook_id=N)                 nothing: 200, counted as ignored
//	order.created                       the order's events, snapshot StoreOrderCreated
//	order.updated, order.restored       the order's events, snapshot StoreOrderUpdated
//	order.deleted                       the order read back: 404 is StoreOrderCanceled "deleted",
//	                                    any order found gives its own events (trash cancels)
//
// Any other topic is ignored. Bodies of every webhook API version are
// understood (wc/v3, v2, v1 and the legacy {"order": {...}}:
// domain.ParseWebhookOrder); a body that still does not read as an order
// but names an order id is read back through the REST API v3 by that id,
// so a correctly signed delivery naming an order never gets a 4xx. Only a
// body naming no order at all is refused (400, logged and counted by the
// handler as bad_body).
//
// The signature covers the body, never the topic header, so a topic only
// decides what the body may prove: order.deleted never cancels on the
// body's word (a signed order.updated body re-sent as order.deleted, or a
// product.deleted {"id": N}); the order is read back and only its absence
// (404) or its trash status cancels it.
//
// Event ids come from the order's own state (date_modified_gmt and the
// snapshot's digest), so the same state twice — WooCommerce firing twice
// for one save, two webhooks on one topic, a webhook and reconciliation —
// is one event.
//
// The dedupe key joins the store, X-WC-Webhook-ID and
// X-WC-Webhook-Delivery-ID with the order id and its date_modified_gmt:
// WooCommerce's delivery id is wp_hash(webhook id . time()), the same for
// every delivery of a webhook within one second, so on its own it would
// drop the second of two orders changed in the same second.
//
// WooCommerce never retries a failed delivery, and counts every failure
// towards disabling the webhook. So when a read the decoder needs fails
// (the refunds endpoint, a read-back) the delivery is still answered 200
// with what it could map, the failure is logged, and reconciliation
// reads the order on its next pass.
type Decoder struct {
	// Stores are the registered stores, found by X-WC-Webhook-Source.
	Stores *stores.Registry
	// Refunds reads refund lines; nil leaves refunds to reconciliation.
	Refunds RefundReader
	// Orders reads orders back (order.deleted, bodies that do not read);
	// nil leaves them to reconciliation (ignored, logged).
	Orders OrderReader
	// Log receives the reads that failed and the bodies read back;
	// default slog.Default().
	Log *slog.Logger
}

var _ webhook.Decoder = (*Decoder)(nil)

func (d *Decoder) log() *slog.Logger {
	if d.Log == nil {
		return slog.Default()
	}
	return d.Log
}

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
	switch topic {
	case "order.deleted", "order.created", "order.updated", "order.restored":
	default:
		// Checked before the body: a topic the connector does not use is
		// 200 whatever its body holds.
		return webhook.Delivery{}, fmt.Errorf("%w: topic %s", webhook.ErrIgnored, topic)
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
	id, err := domain.WebhookOrderID(req.Payload)
	if err != nil {
		return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
	}
	kind := domain.KindUpdated
	if topic == "order.created" {
		kind = domain.KindCreated
	}

	var o domain.Order
	if topic == "order.deleted" {
		if d.Orders == nil {
			d.log().WarnContext(ctx, "order.deleted not confirmed (no order reader); reconciliation will", "store", st.Slug, "order", id)
			return webhook.Delivery{}, fmt.Errorf("%w: %s of order %d not confirmed", webhook.ErrIgnored, topic, id)
		}
		got, err := d.Orders.Order(ctx, st, id)
		switch {
		case errors.Is(err, wcapi.ErrNotFound):
			env, err := store.Deleted(id, req.Received)
			if err != nil {
				return webhook.Delivery{}, fmt.Errorf("%s: %w", topic, err)
			}
			return webhook.Delivery{Key: key(id, "deleted"), Topic: topic, Envelopes: []*eventsv1.Envelope{env}}, nil
		case err != nil:
			d.log().WarnContext(ctx, "order.deleted not confirmed: read-back failed; reconciliation sees a trashed order, a deletion for good stays unconfirmed",
				"store", st.Slug, "order", id, "err", err)
			return webhook.Delivery{}, fmt.Errorf("%w: %s of order %d not confirmed: %w", webhook.ErrIgnored, topic, id, err)
		}
		// The order exists: its own state says what happened (trash
		// cancels; a live order is an update, never a cancel).
		o, kind = got, domain.KindUpdated
	} else {
		// Site-local dates without an offset (wc/v1, legacy) are read as
		// UTC: no store time zone is configured (stores.Spec has none).
		// A wrong zone shifts only the snapshot's modification time, never
		// a fact: the next REST v3 read (reconciliation) has the *_gmt dates.
		parsed, perr := domain.ParseWebhookOrder(req.Payload, time.UTC)
		if perr == nil {
			o = parsed
		} else {
			if d.Orders == nil {
				d.log().WarnContext(ctx, "webhook body not understood and no order reader; reconciliation will", "store", st.Slug, "order", id, "topic", topic, "reason", perr.Error())
				return webhook.Delivery{}, fmt.Errorf("%w: %s order %d not read: %w", webhook.ErrIgnored, topic, id, perr)
			}
			got, err := d.Orders.Order(ctx, st, id)
			if err != nil {
				d.log().WarnContext(ctx, "webhook body not understood, read-back failed; reconciliation will", "store", st.Slug, "order", id, "topic", topic, "reason", perr.Error(), "err", err)
				return webhook.Delivery{}, fmt.Errorf("%w: %s order %d not read back: %w", webhook.ErrIgnored, topic, id, err)
			}
			d.log().InfoContext(ctx, "webhook body not understood; order read back", "store", st.Slug, "order", id, "topic", topic, "reason", perr.Error())
			o = got
		}
	}

	var refunds []domain.Refund
	if o.NeedsRefunds() && d.Refunds != nil {
		details, err := d.Refunds.Refunds(ctx, st, o.ID)
		if err != nil {
			d.log().WarnContext(ctx, "refund lines not read; reconciliation will", "store", st.Slug, "order", o.ID, "err", err)
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
