package domain

import (
	"errors"
	"net/url"
	"sort"
	"strings"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Recognised lists tracking companies Shopify knows by name (case
// sensitive): a fulfilment with one of them gets a tracking link from
// Shopify; any other company needs a URL. The list changes with API
// versions; these are long-standing entries.
var Recognised = map[string]bool{
	"4PX": true, "China Post": true, "China EMS": true, "Cainiao": true, "YunExpress": true,
	"DHL eCommerce Asia": true, "DHL Express": true, "USPS": true, "UPS": true, "FedEx": true,
	"Royal Mail": true, "Canada Post": true, "Australia Post": true, "PostNL": true, "SF Express": true,
}

// DefaultCarriers maps AliExpress logistics service names to Shopify
// tracking companies; a store's carrier mapping setting overrides it.
var DefaultCarriers = map[string]string{
	"CAINIAO_STANDARD":          "Cainiao",
	"CAINIAO_FULFILLMENT_STD":   "Cainiao",
	"CAINIAO_FULFILLMENT_ECO":   "Cainiao",
	"CAINIAO_ECONOMY":           "Cainiao",
	"CAINIAO_PREMIUM":           "Cainiao",
	"CAINIAO_SUPER_ECONOMY":     "Cainiao",
	"CAINIAO_EXPEDITED_ECONOMY": "Cainiao",
	"AE_CN_SUPER_ECONOMY_G":     "Cainiao",
	"AE_CAINIAO_STANDARD":       "Cainiao",
	"CPAM":                      "China Post",
	"CPAP":                      "China Post",
	"CHINA_POST_AIR_MAIL":       "China Post",
	"EMS":                       "China EMS",
	"EMS_ZX_ZX_US":              "China EMS",
	"E_PACKET":                  "China EMS",
	"YUNEXPRESS":                "YunExpress",
	"YUN_EXPRESS":               "YunExpress",
	"FOURPX_RM":                 "4PX",
	"4PX":                       "4PX",
	"DHLECOM":                   "DHL eCommerce Asia",
	"DHL":                       "DHL Express",
	"USPS":                      "USPS",
	"UPS":                       "UPS",
	"FEDEX":                     "FedEx",
	"FEDEX_IE":                  "FedEx",
}

// DefaultTrackingURL is the tracking page used when Shopify does not know
// the company: {number} is replaced by the tracking number.
const DefaultTrackingURL = "https://t.17track.net/en#nums={number}"

// TrackingInput is what goes into FulfillmentTrackingInput.
type TrackingInput struct {
	Company string
	Numbers []string
	URLs    []string
}

// TrackingFor maps a shipment's tracking numbers to Shopify's tracking
// input: the company from the store's carrier mapping, else the default
// table, else the supplier's own name; a URL for each number when the
// tracking event carries one or when Shopify does not recognise the
// company (urlTemplate, {number} replaced).
func TrackingFor(tracking []*eventsv1.Tracking, mapping map[string]string, urlTemplate string) TrackingInput {
	if urlTemplate == "" {
		urlTemplate = DefaultTrackingURL
	}
	var in TrackingInput
	for _, t := range tracking {
		if t.GetNumber() == "" {
			continue
		}
		company := Company(t.GetCarrier(), mapping)
		if in.Company == "" {
			in.Company = company
		}
		in.Numbers = append(in.Numbers, t.GetNumber())
		u := t.GetUrl()
		if u == "" && !Recognised[in.Company] {
			u = strings.ReplaceAll(urlTemplate, "{number}", url.QueryEscape(t.GetNumber()))
		}
		if u != "" {
			in.URLs = append(in.URLs, u)
		}
	}
	if len(in.URLs) != len(in.Numbers) {
		in.URLs = nil // one URL per number, or Shopify's own links
	}
	return in
}

// Company returns the Shopify tracking company of a supplier logistics
// name.
func Company(supplier string, mapping map[string]string) string {
	if c, ok := mapping[supplier]; ok && c != "" {
		return c
	}
	if c, ok := DefaultCarriers[strings.ToUpper(strings.TrimSpace(supplier))]; ok {
		return c
	}
	return supplier
}

// FulfillmentOrder is an order's fulfillment order with its lines.
type FulfillmentOrder struct {
	// ID is the global id (gid://shopify/FulfillmentOrder/...).
	ID string
	// Status is OPEN, IN_PROGRESS, CLOSED, CANCELLED, ON_HOLD, ...
	Status string
	Lines  []FulfillmentOrderLine
}

// FulfillmentOrderLine is a fulfillment order's line.
type FulfillmentOrderLine struct {
	// ID is the global id (gid://shopify/FulfillmentOrderLineItem/...).
	ID string
	// LineItemID is the order line item's numeric id.
	LineItemID string
	Remaining  int
}

// Fulfillable reports whether fulfilments can be created from it.
func (fo FulfillmentOrder) Fulfillable() bool {
	return fo.Status == "OPEN" || fo.Status == "IN_PROGRESS"
}

// Allocation is one fulfillment order's part of a fulfilment.
type Allocation struct {
	FulfillmentOrderID string
	Lines              []AllocatedLine
}

// AllocatedLine is a quantity of a fulfillment order line.
type AllocatedLine struct {
	ID       string
	Quantity int
}

// Allocate spreads the requested line quantities over the fulfillable
// fulfillment orders, in their order, never beyond a line's remaining
// quantity. short lists what could not be placed (already fulfilled,
// refunded or cancelled on the store).
func Allocate(fos []FulfillmentOrder, want []*eventsv1.LineQuantity) (alloc []Allocation, short []LineQty) {
	need := map[string]int{}
	var order []string
	for _, w := range want {
		if w.GetQuantity() <= 0 {
			continue
		}
		if _, ok := need[w.GetLineItemId()]; !ok {
			order = append(order, w.GetLineItemId())
		}
		need[w.GetLineItemId()] += int(w.GetQuantity())
	}
	for _, fo := range fos {
		if !fo.Fulfillable() {
			continue
		}
		var a Allocation
		for _, l := range fo.Lines {
			q := min(need[l.LineItemID], l.Remaining)
			if q <= 0 {
				continue
			}
			need[l.LineItemID] -= q
			a.Lines = append(a.Lines, AllocatedLine{ID: l.ID, Quantity: q})
		}
		if len(a.Lines) > 0 {
			a.FulfillmentOrderID = fo.ID
			alloc = append(alloc, a)
		}
	}
	for _, id := range order {
		if need[id] > 0 {
			short = append(short, LineQty{LineItemID: id, Quantity: need[id]})
		}
	}
	sort.SliceStable(short, func(i, j int) bool { return short[i].LineItemID < short[j].LineItemID })
	return alloc, short
}

// Existing finds the standing fulfilment that carries one of the tracking
// numbers: the one an earlier attempt at the same shipment created. A
// command retried after a crash finds it instead of creating a second
// fulfilment (and a second customer e-mail).
func Existing(fulfillments []Fulfillment, numbers []string) (Fulfillment, bool) {
	if len(numbers) == 0 {
		return Fulfillment{}, false
	}
	for _, f := range fulfillments {
		if !f.Active() {
			continue
		}
		for _, t := range f.Tracking {
			for _, n := range numbers {
				if t.Number == n {
					return f, true
				}
			}
		}
	}
	return Fulfillment{}, false
}

// ErrAPI: the store's API refused the call itself (a GraphQL error other
// than throttling, an unexpected answer): retrying cannot help.
var ErrAPI = errors.New("store api error")

// ErrNotFound: the order is not on the store (or no longer).
var ErrNotFound = errors.New("store order not found")

// ErrTooLarge: the order has more line items, fulfilments or refunds than
// the connector reads at once.
var ErrTooLarge = errors.New("store order too large for one read")

// ErrRefused: the store refused a fulfilment or tracking change (Shopify
// userErrors). Retrying the same input cannot help.
var ErrRefused = errors.New("store refused")

// FulfilmentState is what a fulfilment needs to know of a store order.
type FulfilmentState struct {
	Cancelled bool
	// Fulfillments are the order's fulfilments (tracking included).
	Fulfillments []Fulfillment
	// FulfillmentOrders with their lines and remaining quantities.
	FulfillmentOrders []FulfillmentOrder
}
