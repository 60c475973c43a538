package wixsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Providers are the predefined shipping providers: a fulfilment naming one
// gets its tracking link from Wix (this template, %s the tracking number).
// Any other provider name is a custom provider and needs a trackingLink.
// Names are case-sensitive, as Wix lists them.
var Providers = map[string]string{
	"fedex":      "https://www.fedex.com/apps/fedextrack/?action=track&trackingnumber=%s",
	"ups":        "https://www.ups.com/track?tracknum=%s",
	"usps":       "https://tools.usps.com/go/TrackConfirmAction.action?tLabels=%s",
	"dhl":        "https://www.dhl.com/en/express/tracking.html?AWB=%s",
	"canadaPost": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s",
	"royalMail":  "https://www.royalmail.com/track-your-item#/tracking-results/%s",
}

// MaxFulfillmentLines bounds the line items of one fulfilment.
const MaxFulfillmentLines = 300

// MaxBulkOrders bounds the orders of one bulk call.
const MaxBulkOrders = 100

// fulfillmentInput is the fulfillment of a create call.
type fulfillmentInput struct {
	LineItems    []FulfillmentLineItem `json:"lineItems"`
	TrackingInfo *TrackingInfo         `json:"trackingInfo,omitempty"`
}

// fulfil validates a fulfilment of o and creates it, as every way of
// creating one does (the API, bulk, the merchant's dashboard). A zero
// reply status means success. s.mu is held.
func (s *Sim) fulfil(o *simOrder, in fulfillmentInput, field string) (Fulfillment, reply) {
	if o.o.Status != StatusApproved {
		return Fulfillment{}, fail(http.StatusBadRequest, CodeOrderNotApproved, "fulfillments can only be created for approved orders; order is "+o.o.Status)
	}
	if len(in.LineItems) == 0 {
		return Fulfillment{}, invalid(field+".lineItems", "at least one line item is required")
	}
	if len(in.LineItems) > MaxFulfillmentLines {
		return Fulfillment{}, invalid(field+".lineItems", fmt.Sprintf("at most %d line items", MaxFulfillmentLines))
	}
	want := make([]FulfillmentLineItem, 0, len(in.LineItems))
	seen := map[string]bool{}
	allDone := true
	for i, l := range in.LineItems {
		f := fmt.Sprintf("%s.lineItems[%d]", field, i)
		if l.ID == "" {
			return Fulfillment{}, invalid(f+".id", "required")
		}
		if seen[l.ID] {
			return Fulfillment{}, invalid(f+".id", "line item named twice")
		}
		seen[l.ID] = true
		if l.Quantity < 0 {
			return Fulfillment{}, invalid(f+".quantity", "must not be negative")
		}
		li := o.line(l.ID)
		if li == nil {
			return Fulfillment{}, fail(http.StatusBadRequest, CodeLineItemNotFound, "line item "+l.ID+" is not in order "+o.o.ID)
		}
		remaining := li.Quantity - o.fulfilled(l.ID)
		if remaining > 0 {
			allDone = false
		}
		if l.Quantity == 0 {
			l.Quantity = remaining
		}
		want = append(want, l)
	}
	var tracking *TrackingInfo
	if t := in.TrackingInfo; t != nil {
		c := *t
		if c.TrackingNumber == "" {
			return Fulfillment{}, invalid(field+".trackingInfo.trackingNumber", "required with trackingInfo")
		}
		if c.ShippingProvider == "" {
			return Fulfillment{}, invalid(field+".trackingInfo.shippingProvider", "required with trackingInfo")
		}
		if tmpl, predefined := Providers[c.ShippingProvider]; predefined {
			if c.TrackingLink == "" {
				c.TrackingLink = fmt.Sprintf(tmpl, url.QueryEscape(c.TrackingNumber))
			}
		} else if c.TrackingLink == "" {
			return Fulfillment{}, fail(http.StatusBadRequest, CodeTrackingLinkNeeded,
				"shipping provider "+strconv.Quote(c.ShippingProvider)+" is not predefined: trackingLink is required")
		}
		tracking = &c
	}
	if tracking != nil {
		for _, f := range o.fulfillments {
			if f.TrackingInfo == nil || f.TrackingInfo.TrackingNumber != tracking.TrackingNumber {
				continue
			}
			for _, l := range f.LineItems {
				if seen[l.ID] {
					return Fulfillment{}, fail(http.StatusConflict, CodeAlreadyExists,
						"a fulfillment with tracking number "+tracking.TrackingNumber+" already exists for these line items")
				}
			}
		}
	}
	if allDone {
		return Fulfillment{}, fail(http.StatusConflict, CodeAlreadyExists, "the line items are already fulfilled")
	}
	for _, l := range want {
		li := o.line(l.ID)
		if l.Quantity > li.Quantity-o.fulfilled(l.ID) {
			return Fulfillment{}, fail(http.StatusBadRequest, CodeQuantityExceeded,
				fmt.Sprintf("line item %s: %d to fulfil, %d not fulfilled yet", l.ID, l.Quantity, li.Quantity-o.fulfilled(l.ID)))
		}
	}
	f := Fulfillment{ID: s.uuid(), CreatedDate: formatDate(s.cfg.Now()), LineItems: want, TrackingInfo: tracking}
	o.fulfillments = append(o.fulfillments, f)
	s.touch(o)
	if tracking != nil && !o.site.cfg.ShippingEmailOff {
		s.emails.Append(Email{SiteID: o.site.cfg.SiteID, OrderID: o.o.ID, FulfillmentID: f.ID, TrackingNumber: tracking.TrackingNumber})
	}
	s.emit(o, "fulfillments", "updated", map[string]any{"updatedEvent": map[string]any{"currentEntity": o.withFulfillments()}})
	s.emitUpdated(o)
	return f, reply{}
}

// Fulfill creates a fulfilment as the merchant does in the dashboard (or
// another app does through the API), with the same checks and e-mail.
func (s *Sim) Fulfill(orderID string, lines []FulfillmentLineItem, tracking *TrackingInfo) (Fulfillment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.order(orderID)
	if err != nil {
		return Fulfillment{}, err
	}
	f, rep := s.fulfil(o, fulfillmentInput{LineItems: lines, TrackingInfo: tracking}, "fulfillment")
	if rep.status != 0 {
		return Fulfillment{}, fmt.Errorf("%w: %d %s", ErrInvalid, rep.status, rep.body.(ErrorBody).Message)
	}
	return f, nil
}

// createFulfillment serves POST /fulfillments/orders/{orderId}/create-fulfillment.
func (s *Sim) createFulfillment(site *simSite, r *http.Request, body []byte) reply {
	var req struct {
		Fulfillment *fulfillmentInput `json:"fulfillment"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return invalid("fulfillment", "malformed: "+err.Error())
	}
	if req.Fulfillment == nil {
		return invalid("fulfillment", "required")
	}
	o, found := s.orders[r.PathValue("orderId")]
	if !found || o.site != site {
		return fail(http.StatusNotFound, CodeOrderNotFound, "order not found")
	}
	f, rep := s.fulfil(o, *req.Fulfillment, "fulfillment")
	if rep.status != 0 {
		return rep
	}
	return ok(map[string]any{"orderWithFulfillments": o.withFulfillments(), "fulfillmentId": f.ID})
}

// listFulfillments serves GET /fulfillments/orders/{orderId}.
func (s *Sim) listFulfillments(site *simSite, r *http.Request, _ []byte) reply {
	o, found := s.orders[r.PathValue("orderId")]
	if !found || o.site != site {
		return fail(http.StatusNotFound, CodeOrderNotFound, "order not found")
	}
	return ok(map[string]any{"orderWithFulfillments": o.withFulfillments()})
}

// bulkCreateFulfillments serves POST /fulfillments/orders/bulk/create-fulfillments:
// 1 to 100 orders, each with its fulfilments; every one is tried and
// reported, a failure does not stop the others.
func (s *Sim) bulkCreateFulfillments(site *simSite, _ *http.Request, body []byte) reply {
	var req struct {
		OrdersWithFulfillments []struct {
			OrderID      string             `json:"orderId"`
			Fulfillments []fulfillmentInput `json:"fulfillments"`
		} `json:"ordersWithFulfillments"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return invalid("ordersWithFulfillments", "malformed: "+err.Error())
	}
	n := len(req.OrdersWithFulfillments)
	if n < 1 || n > MaxBulkOrders {
		return invalid("ordersWithFulfillments", fmt.Sprintf("between 1 and %d orders", MaxBulkOrders))
	}
	type itemError struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	}
	type metadata struct {
		ID            string     `json:"id,omitempty"`
		OriginalIndex int        `json:"originalIndex"`
		Success       bool       `json:"success"`
		Error         *itemError `json:"error,omitempty"`
	}
	type result struct {
		ItemMetadata metadata               `json:"itemMetadata"`
		Item         *OrderWithFulfillments `json:"item,omitempty"`
	}
	results := make([]result, 0, n)
	successes, failures := 0, 0
	for i, x := range req.OrdersWithFulfillments {
		md := metadata{ID: x.OrderID, OriginalIndex: i}
		o, found := s.orders[x.OrderID]
		var failure *itemError
		switch {
		case !found || o.site != site:
			failure = &itemError{Code: CodeOrderNotFound, Description: "order not found"}
		case len(x.Fulfillments) == 0:
			failure = &itemError{Code: "INVALID_ARGUMENT", Description: "fulfillments: at least one is required"}
		default:
			for j, in := range x.Fulfillments {
				if _, rep := s.fulfil(o, in, fmt.Sprintf("ordersWithFulfillments[%d].fulfillments[%d]", i, j)); rep.status != 0 {
					eb := rep.body.(ErrorBody)
					code := "INVALID_ARGUMENT"
					if eb.Details.ApplicationError != nil {
						code = eb.Details.ApplicationError.Code
					}
					failure = &itemError{Code: code, Description: eb.Message}
					break
				}
			}
		}
		if failure != nil {
			failures++
			md.Error = failure
			results = append(results, result{ItemMetadata: md})
			continue
		}
		successes++
		md.Success = true
		item := o.withFulfillments()
		results = append(results, result{ItemMetadata: md, Item: &item})
	}
	return ok(map[string]any{
		"results":            results,
		"bulkActionMetadata": map[string]int{"totalSuccesses": successes, "totalFailures": failures, "undetailedFailures": 0},
	})
}
