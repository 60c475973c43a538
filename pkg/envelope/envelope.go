// Package envelope encodes, decodes and identifies domain events
// ([eventsv1.Envelope]) the same way everywhere: on the bus, in the event
// store and in tests.
package envelope

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// ContentType is the content type of an encoded envelope.
const ContentType = "application/x-protobuf"

// Namespace is the UUIDv5 namespace of dropsync event ids.
var Namespace = uuid.MustParse("6f1d9a4e-3c1b-5a7e-9d2f-8b0c4e6a1f30")

// ErrNoEvent: the envelope carries no event.
var ErrNoEvent = errors.New("envelope: no event")

// ID derives a deterministic event id from the parts that identify a fact at
// its source, e.g. ID("shopify", shop, "X-Shopify-Event-Id", id). The same
// parts always give the same id, so a re-delivered fact is dropped as a
// duplicate however late it comes.
func ID(parts ...string) string {
	return uuid.NewSHA1(Namespace, []byte(strings.Join(parts, "\x1f"))).String()
}

// Type returns the name of the envelope's event, e.g. "StoreOrderCreated".
func Type(e *eventsv1.Envelope) string {
	m := Payload(e)
	if m == nil {
		return ""
	}
	return string(m.ProtoReflect().Descriptor().Name())
}

// Payload returns the envelope's event message, or nil.
func Payload(e *eventsv1.Envelope) proto.Message {
	r := e.ProtoReflect()
	od := r.Descriptor().Oneofs().ByName("event")
	fd := r.WhichOneof(od)
	if fd == nil {
		return nil
	}
	return r.Get(fd).Message().Interface()
}

// Types lists every event type name an envelope can carry.
func Types() []string {
	fields := (&eventsv1.Envelope{}).ProtoReflect().Descriptor().Oneofs().ByName("event").Fields()
	out := make([]string, 0, fields.Len())
	for i := range fields.Len() {
		out = append(out, string(fields.Get(i).Message().Name()))
	}
	return out
}

// FieldNumber returns the oneof field number of a type name, or 0.
func FieldNumber(typ string) protoreflect.FieldNumber {
	fields := (&eventsv1.Envelope{}).ProtoReflect().Descriptor().Oneofs().ByName("event").Fields()
	for i := range fields.Len() {
		if string(fields.Get(i).Message().Name()) == typ {
			return fields.Get(i).Number()
		}
	}
	return 0
}

// Marshal encodes an envelope deterministically.
func Marshal(e *eventsv1.Envelope) ([]byte, error) {
	if Payload(e) == nil {
		return nil, ErrNoEvent
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(e)
}

// Unmarshal decodes an envelope and checks it carries an event and an id.
func Unmarshal(b []byte) (*eventsv1.Envelope, error) {
	var e eventsv1.Envelope
	if err := proto.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if Payload(&e) == nil {
		return nil, ErrNoEvent
	}
	if e.GetEventId() == "" {
		return nil, errors.New("envelope: no event id")
	}
	return &e, nil
}

// ForStore starts the envelope of a fact a store connector read from a
// store: eventID (also its correlation id: a store's fact starts its own
// chain), the order it is about, the store and connector as its source,
// and when it occurred (left unset when zero). The caller sets the event.
func ForStore(eventID, orderID string, source *eventsv1.Source, occurred time.Time) *eventsv1.Envelope {
	e := &eventsv1.Envelope{EventId: eventID, OrderId: orderID, CorrelationId: eventID, Source: source}
	if !occurred.IsZero() {
		e.OccurredAt = timestamppb.New(occurred)
	}
	return e
}
