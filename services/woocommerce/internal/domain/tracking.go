package domain

import (
	"net/url"
	"strings"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// DefaultCarriers maps AliExpress logistics service names to the carrier
// name written to WooCommerce: a Shipment Tracking provider where the
// extension knows the carrier (USPS, UPS, Fedex, DHL US, ...), a plain
// name otherwise (written as a custom provider with a tracking link). A
// store's carrier mapping setting overrides it.
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
	"DHLECOM":                   "DHL US",
	"DHL":                       "DHL",
	"USPS":                      "USPS",
	"UPS":                       "UPS",
	"FEDEX":                     "Fedex",
	"FEDEX_IE":                  "Fedex",
}

// DefaultTrackingURL is the tracking page of a carrier the Shipment
// Tracking extension does not know: {number} is replaced by the number.
const DefaultTrackingURL = "https://t.17track.net/en#nums={number}"

// Carrier returns the carrier name for a supplier logistics name: the
// store's mapping, else the default table, else the supplier's own name.
func Carrier(supplier string, mapping map[string]string) string {
	if c, ok := mapping[supplier]; ok && c != "" {
		return c
	}
	if c, ok := DefaultCarriers[strings.ToUpper(strings.TrimSpace(supplier))]; ok {
		return c
	}
	if strings.TrimSpace(supplier) == "" {
		return "Other"
	}
	return supplier
}

// SanitizeTitle is WordPress's sanitize_title as the Shipment Tracking
// extension applies it to provider names ("DPD.de" -> "dpd-de"), so names
// compare the way the extension compares them.
func SanitizeTitle(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r == ' ' || r == '-' || r == '_' || r == '.':
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// Providers is the set of providers a store's Shipment Tracking extension
// knows, by sanitized name, with their display names.
type Providers map[string]string

// Known returns the extension's name of a carrier, if it knows it.
func (p Providers) Known(carrier string) (string, bool) {
	n, ok := p[SanitizeTitle(carrier)]
	return n, ok
}

// TrackingWrite is one tracking number as it is written to WooCommerce.
type TrackingWrite struct {
	Number string
	// Provider is a provider the extension knows; empty for a custom one.
	Provider string
	// CustomProvider and CustomLink are used when Provider is empty.
	CustomProvider, CustomLink string
	// DateShipped is "YYYY-MM-DD".
	DateShipped string
}

// Carrier is the provider's name, known or custom.
func (w TrackingWrite) Carrier() string {
	if w.Provider != "" {
		return w.Provider
	}
	return w.CustomProvider
}

// PlanTracking maps a shipment's tracking numbers to what is written:
// the carrier from Carrier; a known provider when the extension knows it,
// else a custom provider with the tracking event's URL or urlTemplate
// ({number} replaced). Duplicate and empty numbers are dropped.
func PlanTracking(tracking []*eventsv1.Tracking, mapping map[string]string, known Providers, urlTemplate string, shipped time.Time) []TrackingWrite {
	if urlTemplate == "" {
		urlTemplate = DefaultTrackingURL
	}
	var out []TrackingWrite
	seen := map[string]bool{}
	for _, t := range tracking {
		n := strings.TrimSpace(t.GetNumber())
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		w := TrackingWrite{Number: n, DateShipped: shipped.UTC().Format("2006-01-02")}
		c := Carrier(t.GetCarrier(), mapping)
		if name, ok := known.Known(c); ok {
			w.Provider = name
		} else {
			w.CustomProvider = c
			w.CustomLink = t.GetUrl()
			if w.CustomLink == "" {
				w.CustomLink = strings.ReplaceAll(urlTemplate, "{number}", url.QueryEscape(n))
			}
		}
		out = append(out, w)
	}
	return out
}

// Missing lists the writes whose number the store does not show yet:
// what a retried fulfilment still has to write. have holds the numbers
// already there.
func Missing(plan []TrackingWrite, have []string) []TrackingWrite {
	var out []TrackingWrite
	for _, w := range plan {
		found := false
		for _, h := range have {
			if SameNumber(h, w.Number) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// SameNumber reports whether two tracking numbers are the same, as a
// merchant would read them (case and surrounding space aside).
func SameNumber(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// NotePrefix starts the private order note dropsync writes for a tracking
// number when the store has no Shipment Tracking extension; the number
// follows it, so a retry finds the note (NoteNumbers).
const NotePrefix = "Tracking number: "

// NoteText is the private order note of a tracking number.
func NoteText(w TrackingWrite) string {
	s := NotePrefix + w.Number + "\nCarrier: " + w.Carrier()
	if w.CustomLink != "" {
		s += "\nTrack: " + w.CustomLink
	}
	return s + "\n(added by dropsync)"
}

// Note is an order note as the REST API lists it.
type Note struct {
	ID   int64
	Text string
}

// NoteNumbers reads the tracking numbers of dropsync's notes among an
// order's notes.
func NoteNumbers(notes []Note) []string {
	var out []string
	for _, n := range notes {
		out = append(out, noteNumbers(n.Text)...)
	}
	return out
}

// NotesOf returns the ids of dropsync's notes that name number: what a
// tracking update replacing number deletes.
func NotesOf(notes []Note, number string) []int64 {
	var out []int64
	for _, n := range notes {
		for _, v := range noteNumbers(n.Text) {
			if SameNumber(v, number) {
				out = append(out, n.ID)
				break
			}
		}
	}
	return out
}

func noteNumbers(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), NotePrefix); ok && v != "" {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
