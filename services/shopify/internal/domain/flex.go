package domain

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Tolerant JSON field types for webhook bodies. Shopify's REST shapes vary
// between API versions and between its own tools (test notifications,
// Flow, apps re-sending bodies): an id is a JSON number, a decimal string
// or an admin_graphql_api_id ("gid://shopify/Order/123"); an amount is a
// string or a number; any field may be null. Each type reads every one of
// these without a float64 in between, so ids above 2^53 and amounts stay
// exact. A value of a shape no version sends (an object where a string
// belongs) reads as empty rather than refusing the whole body: the fields
// the connector needs are then checked by name (Order.Validate).

// kind is the first byte of a JSON value, after white space.
func kind(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// scalarText returns a JSON string's content or a number's or boolean's
// literal text; ok is false for null, objects and arrays.
func scalarText(b []byte) (string, bool, error) {
	switch kind(b) {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case 'n', '{', '[', 0:
		return "", false, nil
	default: // a number, true or false
		return string(bytes.TrimSpace(b)), true, nil
	}
}

// flexString is a string sent as a string, a number or a boolean.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s, _, err := scalarText(b)
	*f = flexString(s)
	return err
}

// flexDecimal is a decimal amount sent as a string or a JSON number; it
// keeps the literal text ("19.90", 19.9), which Money parses exactly.
type flexDecimal string

func (f *flexDecimal) UnmarshalJSON(b []byte) error {
	s, _, err := scalarText(b)
	*f = flexDecimal(strings.TrimSpace(s))
	return err
}

// flexID is a Shopify id sent as a JSON number, a decimal string or a
// global id: it holds the decimal legacy id ("" for null).
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	s, _, err := scalarText(b)
	if err != nil {
		return err
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "gid://") {
		s = legacyFromGID(s)
	}
	*f = flexID(s)
	return nil
}

// legacyFromGID returns the numeric part of "gid://shopify/Order/123" (a
// query string, as some global ids carry, is dropped).
func legacyFromGID(gid string) string {
	gid, _, _ = strings.Cut(gid, "?")
	return gid[strings.LastIndex(gid, "/")+1:]
}

// or returns f, else the other id (an admin_graphql_api_id).
func (f flexID) or(other flexID) string {
	if f != "" {
		return string(f)
	}
	return string(other)
}

// flexInt is a quantity sent as a JSON number or a decimal string. A value
// that is not a whole number reads as -1, which Order.Validate refuses, so
// that the rest of the body (its id) still reads and the order can be read
// back.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s, ok, err := scalarText(b)
	if err != nil || !ok || strings.TrimSpace(s) == "" {
		*f = 0
		return err
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		*f = flexInt(n)
		return nil
	}
	*f = -1 // not a whole number (a value that is not a number at all included)
	if x, err := strconv.ParseFloat(s, 64); err == nil && x == math.Trunc(x) && math.Abs(x) <= math.MaxInt32 {
		*f = flexInt(x)
	}
	return nil
}

// flexList is a list sent as an array, as one object, or as null.
type flexList[T any] []T

func (f *flexList[T]) UnmarshalJSON(b []byte) error {
	switch kind(b) {
	case '[':
		var v []T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = v
	case '{':
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = []T{v}
	default:
		*f = nil
	}
	return nil
}

// flexObj is an object, or nothing when null or of another shape.
type flexObj[T any] struct{ v *T }

func (f *flexObj[T]) UnmarshalJSON(b []byte) error {
	f.v = nil
	if kind(b) != '{' {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f.v = &v
	return nil
}

// get returns the object, or nil.
func (f flexObj[T]) get() *T { return f.v }
