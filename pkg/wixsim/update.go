package wixsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// CodeFulfillmentNotFound: the order has no fulfilment with that id.
const CodeFulfillmentNotFound = "FULFILLMENT_NOT_FOUND"

// updateFulfillment serves PATCH /fulfillments/{fulfillmentId}/orders/{orderId}:
// Wix's Update Fulfillment, which changes a fulfilment's trackingInfo (its
// lines cannot change). The new tracking is checked as on creation; no
// shipping e-mail is sent for an update.
func (s *Sim) updateFulfillment(site *simSite, r *http.Request, body []byte) reply {
	var req struct {
		Fulfillment *struct {
			TrackingInfo *TrackingInfo `json:"trackingInfo"`
		} `json:"fulfillment"`
	}
	if err := decodeStrict(body, &req); err != nil {
		return invalid("fulfillment", "malformed: "+err.Error())
	}
	if req.Fulfillment == nil || req.Fulfillment.TrackingInfo == nil {
		return invalid("fulfillment.trackingInfo", "required: only a fulfillment's tracking info can be updated")
	}
	o, found := s.orders[r.PathValue("orderId")]
	if !found || o.site != site {
		return fail(http.StatusNotFound, CodeOrderNotFound, "order not found")
	}
	c := *req.Fulfillment.TrackingInfo
	if c.TrackingNumber == "" {
		return invalid("fulfillment.trackingInfo.trackingNumber", "required with trackingInfo")
	}
	if c.ShippingProvider == "" {
		return invalid("fulfillment.trackingInfo.shippingProvider", "required with trackingInfo")
	}
	if tmpl, predefined := Providers[c.ShippingProvider]; predefined {
		if c.TrackingLink == "" {
			c.TrackingLink = fmt.Sprintf(tmpl, url.QueryEscape(c.TrackingNumber))
		}
	} else if c.TrackingLink == "" {
		return fail(http.StatusBadRequest, CodeTrackingLinkNeeded,
			"shipping provider "+strconv.Quote(c.ShippingProvider)+" is not predefined: trackingLink is required")
	}
	id := r.PathValue("fulfillmentId")
	for i := range o.fulfillments {
		if o.fulfillments[i].ID != id {
			continue
		}
		o.fulfillments[i].TrackingInfo = &c
		s.touch(o)
		s.emit(o, "fulfillments", "updated", map[string]any{"updatedEvent": map[string]any{"currentEntity": o.withFulfillments()}})
		s.emitUpdated(o)
		return ok(map[string]any{"orderWithFulfillments": o.withFulfillments()})
	}
	return fail(http.StatusNotFound, CodeFulfillmentNotFound, "fulfillment "+id+" not found in order "+o.o.ID)
}
