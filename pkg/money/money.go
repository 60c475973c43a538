// Package money reads and writes the decimal amounts the platforms send
// ("19.90", "1500", "12.345") as exact minor units of their ISO 4217
// currency, with no floating point on the way.
//
// Hand-written rather than a decimal library: what is needed is the minor
// unit exponent of each currency and an exact string-to-integer conversion
// that refuses precision it would have to drop; a general decimal type
// would add a dependency to carry two lookups.
package money

import (
	"fmt"
	"strconv"
	"strings"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// zeroDecimal lists the ISO 4217 currencies without minor units.
var zeroDecimal = map[string]bool{
	"BIF": true, "CLP": true, "DJF": true, "GNF": true, "ISK": true, "JPY": true, "KMF": true, "KRW": true,
	"PYG": true, "RWF": true, "UGX": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true,
}

// threeDecimal lists the ISO 4217 currencies with three decimals.
var threeDecimal = map[string]bool{"BHD": true, "IQD": true, "JOD": true, "KWD": true, "LYD": true, "OMR": true, "TND": true}

// Exponent is the number of decimals of currency's minor unit: 0 for JPY,
// 3 for KWD, 2 for the rest.
func Exponent(currency string) int {
	switch {
	case zeroDecimal[currency]:
		return 0
	case threeDecimal[currency]:
		return 3
	}
	return 2
}

// Parse reads a decimal amount ("19.90", "-5", " 12.5 ") into minor units of
// currency, exactly. Trailing zeros past the currency's decimals are
// accepted ("19.900" USD); a digit that would be lost is an error, as is
// anything but an optional minus, digits and one point.
func Parse(amount, currency string) (*eventsv1.Money, error) {
	return parse(amount, currency, false)
}

// ParseRounded reads an amount that may carry more digits than the currency
// has, or be written in exponent notation, the way a PHP float prints
// ("14.950000001", "1e2"): extra digits are rounded half away from zero, as
// PHP's round() does. WooCommerce sends prices so.
func ParseRounded(amount, currency string) (*eventsv1.Money, error) {
	return parse(amount, currency, true)
}

func parse(amount, currency string, round bool) (*eventsv1.Money, error) {
	exp := Exponent(currency)
	s := strings.TrimSpace(amount)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if round && strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("amount %q is not a decimal", amount)
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return nil, fmt.Errorf("amount %q is not a decimal", amount)
	}
	up := false
	if len(frac) > exp {
		if !round && strings.Trim(frac[exp:], "0") != "" {
			return nil, fmt.Errorf("amount %q has more decimals than %s", amount, currency)
		}
		up = round && frac[exp] >= '5'
		frac = frac[:exp]
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("amount %q: %w", amount, err)
	}
	if up {
		n++
	}
	if neg {
		n = -n
	}
	return &eventsv1.Money{Currency: currency, MinorUnits: n}, nil
}

// Format writes minor units of currency as the platforms' decimal string:
// Format(1990, "USD") is "19.90", Format(1500, "JPY") is "1500".
func Format(minor int64, currency string) string {
	exp := Exponent(currency)
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if exp == 0 {
		return fmt.Sprintf("%s%d", sign, minor)
	}
	p := int64(1)
	for range exp {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, minor/p, exp, minor%p)
}
