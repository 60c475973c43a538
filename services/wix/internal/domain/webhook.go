package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Event types the connector maps.
const (
	EventOrderCreated         = "wix.ecom.v1.order_created"
	EventOrderUpdated         = "wix.ecom.v1.order_updated"
	EventOrderApproved        = "wix.ecom.v1.order_approved"
	EventOrderCanceled        = "wix.ecom.v1.order_canceled"
	EventPaymentStatusUpdated = "wix.ecom.v1.order_payment_status_updated"
	EventFulfillmentsUpdated  = "wix.ecom.v1.fulfillments_updated"
)

// ErrMalformed: a verified webhook's claims do not hold a Wix event.
var ErrMalformed = errors.New("malformed wix event")

// ErrUnhandled: the event is valid but of a type the connector does not
// map.
var ErrUnhandled = errors.New("wix event type not mapped")

// Message is a webhook after its JWT was verified and its two JSON string
// layers decoded: claims {"data": "<json>"} -> {eventType, instanceId,
// data: "<json>"} -> the event.
type Message struct {
	EventType  string
	InstanceID string
	Event      Event
}

// Event is the innermost layer: Wix's event envelope.
type Event struct {
	// ID is Wix's event id, unique per event: receivers dedupe on it.
	ID         string
	Slug       string
	EntityFqdn string
	EntityID   string
	EventTime  time.Time
	// Entity is createdEvent.entity, updatedEvent.currentEntity or
	// actionEvent.body, whichever the event has (raw JSON).
	Entity json.RawMessage
}

// entityJSON holds one of an event's payload forms: the object itself, or
// (as Wix's wire format also writes it) the object as a JSON string.
type entityJSON struct {
	Entity              json.RawMessage `json:"entity"`
	EntityAsJSON        string          `json:"entityAsJson"`
	CurrentEntity       json.RawMessage `json:"currentEntity"`
	CurrentEntityAsJSON string          `json:"currentEntityAsJson"`
	Body                json.RawMessage `json:"body"`
	BodyAsJSON          string          `json:"bodyAsJson"`
}

func (e *entityJSON) raw() json.RawMessage {
	for _, r := range []json.RawMessage{e.Entity, e.CurrentEntity, e.Body} {
		if len(r) > 0 && string(r) != "null" {
			return r
		}
	}
	for _, s := range []string{e.EntityAsJSON, e.CurrentEntityAsJSON, e.BodyAsJSON} {
		if s != "" {
			return json.RawMessage(s)
		}
	}
	return nil
}

// Mapped reports whether the connector maps events of type eventType.
func Mapped(eventType string) bool {
	switch eventType {
	case EventOrderCreated, EventOrderUpdated, EventOrderApproved, EventOrderCanceled,
		EventPaymentStatusUpdated, EventFulfillmentsUpdated:
		return true
	}
	return false
}

// jsonLayer reads one of the layers Wix nests: a JSON string holding an
// object (what Wix sends), or the object itself (as Wix's SDK samples and
// some recorders write it). ok is false when the layer is absent or null.
func jsonLayer(raw json.RawMessage) (obj json.RawMessage, ok bool, err error) {
	raw = json.RawMessage(bytes.TrimSpace(raw))
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, false, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, err
		}
		b := bytes.TrimSpace([]byte(s))
		if len(b) == 0 || b[0] != '{' {
			return nil, false, errors.New("not a JSON object")
		}
		return b, true, nil
	case raw[0] == '{':
		return raw, true, nil
	}
	return nil, false, errors.New("neither an object nor a JSON string")
}

// DecodeMessage decodes verified JWT claims into a Message. The event type
// is read first: an event of a type the connector does not map gives
// ErrUnhandled whatever else it lacks (older Wix Stores events, events
// without an id), so it is answered 200 and counted as ignored, never
// refused (Wix would retry it for two days). For mapped types, errors
// wrap ErrMalformed and say which layer failed, never quoting the
// payload.
//
// Both nestings Wix's documents show are read: claims {"data": "<json>"}
// -> {eventType, instanceId, data: "<json>"} -> the event envelope {id,
// entityId, eventTime, createdEvent | updatedEvent | actionEvent |
// deletedEvent}; and the SDK's event shape {data: <entity or body>,
// metadata: {id, entityId, eventTime}}. Each JSON string layer may also
// come as the object itself. A mapped event without an id gets one from
// a digest of its bytes, the same on every redelivery.
func DecodeMessage(claims []byte) (Message, error) {
	var c struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return Message{}, fmt.Errorf("%w: claims: %s", ErrMalformed, jsonError(err))
	}
	outerRaw, ok, err := jsonLayer(c.Data)
	if err != nil {
		return Message{}, fmt.Errorf("%w: data: %s", ErrMalformed, jsonError(err))
	}
	if !ok {
		return Message{}, fmt.Errorf("%w: claims have no data", ErrMalformed)
	}
	var outer struct {
		EventType  flexString      `json:"eventType"`
		InstanceID flexString      `json:"instanceId"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(outerRaw, &outer); err != nil {
		return Message{}, fmt.Errorf("%w: data: %s", ErrMalformed, jsonError(err))
	}
	m := Message{EventType: string(outer.EventType), InstanceID: string(outer.InstanceID)}
	if !Mapped(m.EventType) {
		return m, fmt.Errorf("%w: %q", ErrUnhandled, m.EventType)
	}
	innerRaw, ok, err := jsonLayer(outer.Data)
	if err != nil {
		return Message{}, fmt.Errorf("%w: event: %s", ErrMalformed, jsonError(err))
	}
	if m.InstanceID == "" || !ok {
		return Message{}, fmt.Errorf("%w: data needs eventType, instanceId and data", ErrMalformed)
	}
	var inner struct {
		ID           flexString      `json:"id"`
		Slug         flexString      `json:"slug"`
		EntityFqdn   flexString      `json:"entityFqdn"`
		EntityID     flexString      `json:"entityId"`
		EventTime    flexString      `json:"eventTime"`
		CreatedEvent *entityJSON     `json:"createdEvent"`
		UpdatedEvent *entityJSON     `json:"updatedEvent"`
		ActionEvent  *entityJSON     `json:"actionEvent"`
		DeletedEvent *entityJSON     `json:"deletedEvent"`
		Data         json.RawMessage `json:"data"` // SDK shape
		Metadata     *struct {
			ID        flexString `json:"id"`
			EntityID  flexString `json:"entityId"`
			EventTime flexString `json:"eventTime"`
		} `json:"metadata"` // SDK shape
	}
	if err := json.Unmarshal(innerRaw, &inner); err != nil {
		return Message{}, fmt.Errorf("%w: event: %s", ErrMalformed, jsonError(err))
	}
	if md := inner.Metadata; md != nil {
		if inner.ID == "" {
			inner.ID = md.ID
		}
		if inner.EntityID == "" {
			inner.EntityID = md.EntityID
		}
		if inner.EventTime == "" {
			inner.EventTime = md.EventTime
		}
	}
	m.Event = Event{ID: string(inner.ID), Slug: string(inner.Slug), EntityFqdn: string(inner.EntityFqdn), EntityID: string(inner.EntityID)}
	if m.Event.ID == "" {
		sum := sha256.Sum256(innerRaw)
		m.Event.ID = "sha256-" + hex.EncodeToString(sum[:16])
	}
	if inner.EventTime != "" {
		// The time is informative only (the order carries its own dates):
		// an unreadable one is dropped, not refused.
		if t, err := parseDate(string(inner.EventTime)); err == nil {
			m.Event.EventTime = t
		}
	}
	for _, e := range []*entityJSON{inner.CreatedEvent, inner.UpdatedEvent, inner.ActionEvent, inner.DeletedEvent} {
		if e != nil {
			m.Event.Entity = e.raw()
			break
		}
	}
	if len(m.Event.Entity) == 0 {
		if d, ok, err := jsonLayer(inner.Data); err == nil && ok {
			m.Event.Entity = sdkEntity(d)
		}
	}
	return m, nil
}

// sdkEntity is the entity of an SDK-shaped event's data: the entity
// itself, or {entity | currentEntity: ...} around it; action events keep
// their body ({order: ...}) as it is.
func sdkEntity(d json.RawMessage) json.RawMessage {
	var e entityJSON
	if json.Unmarshal(d, &e) == nil {
		if r := e.raw(); len(r) > 0 {
			return r
		}
	}
	return d
}

// Topic is the event type without Wix's prefix, for logs:
// "order_approved".
func (m Message) Topic() string {
	const prefix = "wix.ecom.v1."
	if len(m.EventType) > len(prefix) && m.EventType[:len(prefix)] == prefix {
		return m.EventType[len(prefix):]
	}
	return m.EventType
}

// order reads the order an event carries: the entity itself
// (createdEvent, updatedEvent) or body.order (actionEvent).
func (m Message) order(inBody bool) (Order, error) {
	raw := m.Event.Entity
	if len(raw) == 0 {
		return Order{}, fmt.Errorf("%w: %s has no entity", ErrMalformed, m.Topic())
	}
	if inBody {
		var b struct {
			Order json.RawMessage `json:"order"`
		}
		if err := json.Unmarshal(raw, &b); err != nil || len(b.Order) == 0 {
			return Order{}, fmt.Errorf("%w: %s body has no order", ErrMalformed, m.Topic())
		}
		raw = b.Order
	}
	o, err := ParseOrder(raw)
	if err != nil {
		return Order{}, fmt.Errorf("%s: %w", m.Topic(), err)
	}
	return o, nil
}

// Events maps a webhook event of the store to dropsync events:
//
//	order_created                  StoreOrderCreated (payment_captured when paid)
//	order_updated                  StoreOrderUpdated
//	order_approved                 StorePaymentCaptured when paid, else StoreOrderUpdated (stays Pending)
//	order_payment_status_updated   PAID: StorePaymentCaptured; FULLY_REFUNDED: StoreOrderRefunded
//	                               (the whole order); otherwise StoreOrderUpdated (a partial refund
//	                               names no lines on Wix's order, so it cancels none)
//	order_canceled                 StoreOrderCanceled (the whole order)
//	fulfillments_updated           StoreOrderFulfilled for each of the order's fulfilments, with
//	                               Wix's fulfillment id (the aggregate tells its own echoes)
//
// Any other type gives ErrUnhandled.
func (s Store) Events(m Message) ([]*eventsv1.Envelope, error) {
	one := func(kind, id string, o Order) ([]*eventsv1.Envelope, error) {
		e, err := s.OrderEvent(kind, id, o)
		if err != nil {
			return nil, err
		}
		return []*eventsv1.Envelope{e}, nil
	}
	id := m.Event.ID
	switch m.EventType {
	case EventOrderCreated, EventOrderUpdated:
		o, err := m.order(false)
		if err != nil {
			return nil, err
		}
		kind := KindUpdated
		if m.EventType == EventOrderCreated {
			kind = KindCreated
		}
		return one(kind, s.WebhookEventID(id, kind), o)
	case EventOrderApproved:
		o, err := m.order(true)
		if err != nil {
			return nil, err
		}
		if Captured(o.PaymentStatus) {
			return one(KindPaid, s.WebhookEventID(id, KindPaid), o)
		}
		return one(KindUpdated, s.WebhookEventID(id, KindUpdated), o)
	case EventPaymentStatusUpdated:
		o, err := m.order(true)
		if err != nil {
			return nil, err
		}
		switch o.PaymentStatus {
		case PaymentPaid:
			return one(KindPaid, s.WebhookEventID(id, KindPaid), o)
		case PaymentFullyRefunded:
			return one(KindRefunded, s.RefundEventID(o.ID), o)
		}
		return one(KindUpdated, s.WebhookEventID(id, KindUpdated), o)
	case EventOrderCanceled:
		o, err := m.order(true)
		if err != nil {
			return nil, err
		}
		return one(KindCanceled, s.CanceledEventID(o.ID), o)
	case EventFulfillmentsUpdated:
		if len(m.Event.Entity) == 0 {
			return nil, fmt.Errorf("%w: %s has no entity", ErrMalformed, m.Topic())
		}
		ow, err := ParseOrderWithFulfillments(m.Event.Entity)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Topic(), err)
		}
		out := make([]*eventsv1.Envelope, 0, len(ow.Fulfillments))
		for _, f := range ow.Fulfillments {
			e, err := s.FulfilledEvent(ow.OrderID, f)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnhandled, m.EventType)
}
