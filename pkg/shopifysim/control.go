package shopifysim

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/dropsync/dropsync/pkg/internal/simctl"
)

// controlMux serves the /_sim/ controls, JSON in and out, for a harness in
// another process (cmd/shopifysim):
//
//	POST /_sim/shops/{shop}/orders            NewOrder -> Order (a customer orders)
//	POST /_sim/shops/{shop}/orders/{id}/paid  the payment is captured
//	GET  /_sim/shops/{shop}/orders            -> []Order, fulfilments included
//	GET  /_sim/notifications                  -> []Notification (customer e-mails)
//	GET  /_sim/deliveries                     -> []Delivery (webhooks)
//	POST /_sim/deliveries/{event}/redeliver   a late duplicate of a webhook
//	GET  /_sim/stats                          -> Stats
func (s *Sim) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	simctl.Handle(m, "POST /_sim/shops/{shop}/orders", func(r *http.Request) (any, error) {
		var n NewOrder
		if err := simctl.Decode(r, &n); err != nil {
			return nil, err
		}
		return s.CreateOrder(r.PathValue("shop"), n)
	})
	simctl.Handle(m, "POST /_sim/shops/{shop}/orders/{id}/paid", func(r *http.Request) (any, error) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: order id %q", simctl.ErrBadRequest, r.PathValue("id"))
		}
		return nil, s.MarkPaid(r.PathValue("shop"), id)
	})
	simctl.Handle(m, "GET /_sim/shops/{shop}/orders", func(r *http.Request) (any, error) {
		return s.Orders(r.PathValue("shop"))
	})
	simctl.Handle(m, "GET /_sim/notifications", func(*http.Request) (any, error) {
		return nonNil(s.Notifications()), nil
	})
	simctl.Handle(m, "GET /_sim/deliveries", func(*http.Request) (any, error) {
		return nonNil(s.Deliveries()), nil
	})
	simctl.Handle(m, "POST /_sim/deliveries/{event}/redeliver", func(r *http.Request) (any, error) {
		return nil, s.Redeliver(r.PathValue("event"))
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
