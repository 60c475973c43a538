package domain

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// Fulfillment is one fulfilment of a Wix order.
type Fulfillment struct {
	ID        string
	CreatedAt time.Time
	Lines     []LineQty
	// Tracking is nil for a fulfilment without tracking info.
	Tracking *Tracking
}

// LineQty is a quantity of one line item.
type LineQty struct {
	LineItemID string
	Quantity   int
}

// Tracking is a fulfilment's trackingInfo.
type Tracking struct {
	Number, Provider, Link string
}

// fulfillmentJSON is a fulfilment's wire shape.
type fulfillmentJSON struct {
	ID          string `json:"id"`
	CreatedDate string `json:"createdDate"`
	LineItems   []struct {
		ID       string `json:"id"`
		Quantity int    `json:"quantity"`
	} `json:"lineItems"`
	TrackingInfo *struct {
		TrackingNumber   string `json:"trackingNumber"`
		ShippingProvider string `json:"shippingProvider"`
		TrackingLink     string `json:"trackingLink"`
	} `json:"trackingInfo"`
}

// OrderWithFulfillments is an order id with all its fulfilments, as the
// fulfilments API and the fulfillments_updated event carry them.
type OrderWithFulfillments struct {
	OrderID      string
	Fulfillments []Fulfillment
}

// ParseOrderWithFulfillments reads {"orderId", "fulfillments": [...]}.
func ParseOrderWithFulfillments(raw []byte) (OrderWithFulfillments, error) {
	var j struct {
		OrderID      string            `json:"orderId"`
		Fulfillments []fulfillmentJSON `json:"fulfillments"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return OrderWithFulfillments{}, fmt.Errorf("%w: fulfillments: %s", ErrInvalidOrder, jsonError(err))
	}
	if !isGUID(j.OrderID) {
		return OrderWithFulfillments{}, fmt.Errorf("%w: fulfillments: orderId is not a GUID", ErrInvalidOrder)
	}
	out := OrderWithFulfillments{OrderID: j.OrderID}
	for i, f := range j.Fulfillments {
		if f.ID == "" {
			return OrderWithFulfillments{}, fmt.Errorf("%w: fulfillment %d has no id", ErrInvalidOrder, i)
		}
		x := Fulfillment{ID: f.ID}
		if f.CreatedDate != "" {
			t, err := parseDate(f.CreatedDate)
			if err != nil {
				return OrderWithFulfillments{}, fmt.Errorf("%w: fulfillment %d createdDate: %w", ErrInvalidOrder, i, err)
			}
			x.CreatedAt = t
		}
		for _, l := range f.LineItems {
			x.Lines = append(x.Lines, LineQty{LineItemID: l.ID, Quantity: l.Quantity})
		}
		if t := f.TrackingInfo; t != nil && (t.TrackingNumber != "" || t.ShippingProvider != "") {
			x.Tracking = &Tracking{Number: t.TrackingNumber, Provider: t.ShippingProvider, Link: t.TrackingLink}
		}
		out.Fulfillments = append(out.Fulfillments, x)
	}
	return out, nil
}

// Predefined are Wix's predefined shipping providers, by the exact name
// Wix expects (case-sensitive): a fulfilment naming one gets its tracking
// link from Wix. Any other name is a custom provider that needs a
// trackingLink.
var Predefined = []string{"fedex", "ups", "usps", "dhl", "canadaPost", "royalMail"}

// DefaultProviders maps AliExpress logistics service names to Wix shipping
// providers; a store's carrier mapping setting overrides it. Carriers Wix
// does not predefine keep a readable custom name (with a tracking link).
var DefaultProviders = map[string]string{
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
	"DHLECOM":                   "DHL eCommerce",
	"DHL":                       "dhl",
	"DHL_ES":                    "dhl",
	"UPS":                       "ups",
	"UPS_EXPEDITED":             "ups",
	"USPS":                      "usps",
	"FEDEX":                     "fedex",
	"FEDEX_IE":                  "fedex",
	"CANADA_POST":               "canadaPost",
	"ROYAL_MAIL":                "royalMail",
}

// DefaultTrackingURL is the tracking page given with a custom provider
// when the tracking event carries none: {number} is replaced by the
// tracking number.
const DefaultTrackingURL = "https://t.17track.net/en#nums={number}"

// Provider returns the Wix shipping provider of a supplier logistics name:
// the store's carrier mapping, else the default table, else the supplier's
// own name. A name that matches a predefined provider but for case
// ("FedEx") is given Wix's spelling ("fedex").
func Provider(supplier string, mapping map[string]string) string {
	p, ok := mapping[supplier]
	if !ok || p == "" {
		p, ok = DefaultProviders[strings.ToUpper(strings.TrimSpace(supplier))]
	}
	if !ok || p == "" {
		p = strings.TrimSpace(supplier)
	}
	for _, name := range Predefined {
		if strings.EqualFold(p, name) {
			return name
		}
	}
	return p
}

// IsPredefined reports whether provider is one Wix makes links for.
func IsPredefined(provider string) bool { return slices.Contains(Predefined, provider) }

// FulfillmentInput is what a create-fulfillment call sends.
type FulfillmentInput struct {
	Lines []LineQty
	// Tracking is nil to create the fulfilment without tracking info.
	Tracking *Tracking
}

// Input maps a FulfillmentRequested to the fulfilment to create: its lines,
// and with withTracking the shipment's first tracking number (Wix holds
// one per fulfilment), its provider by Provider and, for a custom
// provider, the tracking event's URL or urlTemplate ({number} replaced;
// DefaultTrackingURL when empty).
func Input(fr *eventsv1.FulfillmentRequested, mapping map[string]string, urlTemplate string) FulfillmentInput {
	var in FulfillmentInput
	for _, l := range fr.GetLines() {
		if l.GetQuantity() > 0 {
			in.Lines = append(in.Lines, LineQty{LineItemID: l.GetLineItemId(), Quantity: int(l.GetQuantity())})
		}
	}
	for _, t := range fr.GetTracking() {
		if t.GetNumber() == "" {
			continue
		}
		tr := &Tracking{Number: t.GetNumber(), Provider: Provider(t.GetCarrier(), mapping)}
		if tr.Provider == "" {
			tr.Provider = "Other"
		}
		if !IsPredefined(tr.Provider) {
			tr.Link = t.GetUrl()
			if tr.Link == "" {
				if urlTemplate == "" {
					urlTemplate = DefaultTrackingURL
				}
				tr.Link = strings.ReplaceAll(urlTemplate, "{number}", url.QueryEscape(t.GetNumber()))
			}
		}
		in.Tracking = tr
		break
	}
	return in
}

// Ours finds the fulfilment a create call with in made: the same tracking
// number (or none on both sides) and the same line items with the same
// quantities. A 409 ALREADY_EXISTS is success only when Ours finds it;
// otherwise someone else fulfilled those lines.
func Ours(fs []Fulfillment, in FulfillmentInput) (Fulfillment, bool) {
	want := map[string]int{}
	for _, l := range in.Lines {
		want[l.LineItemID] += l.Quantity
	}
	number := ""
	if in.Tracking != nil {
		number = in.Tracking.Number
	}
	for _, f := range fs {
		got := ""
		if f.Tracking != nil {
			got = f.Tracking.Number
		}
		if got != number {
			continue
		}
		have := map[string]int{}
		for _, l := range f.Lines {
			have[l.LineItemID] += l.Quantity
		}
		if len(have) != len(want) {
			continue
		}
		same := true
		for id, q := range want {
			if have[id] != q {
				same = false
				break
			}
		}
		if same {
			return f, true
		}
	}
	return Fulfillment{}, false
}
