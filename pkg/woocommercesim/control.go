package woocommercesim

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/dropsync/dropsync/pkg/internal/simctl"
)

// Created is the answer of POST /_sim/orders.
type Created struct {
	// ID is the new order's id.
	ID int64
}

// OrderState is what the store holds of one order that a harness checks:
// GET /_sim/orders and /_sim/orders/{id}.
type OrderState struct {
	ID     int64
	Status string
	// Trackings are the Shipment Tracking items on the order.
	Trackings []TrackingItem
	// Emails are the customer e-mails sent about it.
	Emails []Email
	// ShippingEmails counts those that tell the customer it shipped.
	ShippingEmails int
}

// controlMux serves the /_sim/ controls, JSON in and out, for a harness in
// another process (cmd/woocommercesim):
//
//	POST /_sim/orders          OrderSpec -> Created (a customer orders)
//	POST /_sim/orders/{id}/pay the payment is captured (processing)
//	GET  /_sim/orders/{id}     -> OrderState
//	GET  /_sim/orders          -> []OrderState, every order
//	GET  /_sim/deliveries      -> []Delivery (webhooks)
//	GET  /_sim/stats           -> Stats
func (s *Sim) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	simctl.Handle(m, "POST /_sim/orders", func(r *http.Request) (any, error) {
		var spec OrderSpec
		if err := simctl.Decode(r, &spec); err != nil {
			return nil, err
		}
		id, err := s.CreateOrder(spec)
		return Created{ID: id}, err
	})
	simctl.Handle(m, "POST /_sim/orders/{id}/pay", func(r *http.Request) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return nil, s.Pay(id)
	})
	simctl.Handle(m, "GET /_sim/orders/{id}", func(r *http.Request) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return s.orderState(id)
	})
	simctl.Handle(m, "GET /_sim/orders", func(*http.Request) (any, error) {
		s.mu.Lock()
		ids := make([]int64, len(s.list))
		for i, o := range s.list {
			ids[i] = o.id
		}
		s.mu.Unlock()
		out := make([]OrderState, 0, len(ids))
		for _, id := range ids {
			st, err := s.orderState(id)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
		return out, nil
	})
	simctl.Handle(m, "GET /_sim/deliveries", func(*http.Request) (any, error) {
		d := s.Deliveries()
		if d == nil {
			d = []Delivery{}
		}
		return d, nil
	})
	simctl.Handle(m, "GET /_sim/stats", func(*http.Request) (any, error) {
		return s.Stats(), nil
	})
	return m
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: order id %q", simctl.ErrBadRequest, r.PathValue("id"))
	}
	return id, nil
}

func (s *Sim) orderState(id int64) (OrderState, error) {
	status, err := s.Status(id)
	if err != nil {
		return OrderState{}, err
	}
	return OrderState{ID: id, Status: status, Trackings: s.Trackings(id), Emails: s.Emails(id), ShippingEmails: s.ShippingEmails(id)}, nil
}
