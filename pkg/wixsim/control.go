package wixsim

import (
	"net/http"

	"github.com/dropsync/dropsync/pkg/internal/simctl"
)

// PaymentRequest is the body of POST /_sim/orders/{id}/payment.
type PaymentRequest struct {
	// Status is the new payment status, e.g. PAID.
	Status string
}

// PublicKey is the answer of GET /_sim/public-key.
type PublicKey struct {
	// PEM is the app's webhook public key (see Sim.PublicKeyPEM).
	PEM string
}

// controlMux serves the /_sim/ controls, JSON in and out, for a harness in
// another process (cmd/wixsim):
//
//	POST /_sim/sites/{site}/orders          NewOrder -> Order (a customer orders)
//	POST /_sim/orders/{id}/payment          PaymentRequest -> Order
//	GET  /_sim/orders/{id}/fulfillments     -> []Fulfillment
//	GET  /_sim/emails                       -> []Email (shipping confirmations)
//	GET  /_sim/deliveries                   -> []Delivery (webhooks)
//	POST /_sim/deliveries/{event}/redeliver a late duplicate of a webhook
//	GET  /_sim/public-key                   -> PublicKey, for the connector
//	GET  /_sim/stats                        -> Stats
func (s *Sim) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	simctl.Handle(m, "POST /_sim/sites/{site}/orders", func(r *http.Request) (any, error) {
		var n NewOrder
		if err := simctl.Decode(r, &n); err != nil {
			return nil, err
		}
		return s.CreateOrder(r.PathValue("site"), n)
	})
	simctl.Handle(m, "POST /_sim/orders/{id}/payment", func(r *http.Request) (any, error) {
		var p PaymentRequest
		if err := simctl.Decode(r, &p); err != nil {
			return nil, err
		}
		return s.SetPaymentStatus(r.PathValue("id"), p.Status)
	})
	simctl.Handle(m, "GET /_sim/orders/{id}/fulfillments", func(r *http.Request) (any, error) {
		fs, err := s.Fulfillments(r.PathValue("id"))
		return nonNil(fs), err
	})
	simctl.Handle(m, "GET /_sim/emails", func(*http.Request) (any, error) {
		return nonNil(s.Emails()), nil
	})
	simctl.Handle(m, "GET /_sim/deliveries", func(*http.Request) (any, error) {
		return nonNil(s.Deliveries()), nil
	})
	simctl.Handle(m, "POST /_sim/deliveries/{event}/redeliver", func(r *http.Request) (any, error) {
		return nil, s.Redeliver(r.PathValue("event"))
	})
	simctl.Handle(m, "GET /_sim/public-key", func(*http.Request) (any, error) {
		return PublicKey{PEM: s.PublicKeyPEM()}, nil
	})
	simctl.Handle(m, "GET /_sim/stats", func(*http.Request) (any, error) {
		return s.Stats(), nil
	})
	return m
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
