package aeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// ID is an id AliExpress sends as a JSON number or a string. Order, product
// and SKU ids are kept as text end to end: order ids have 16 digits and
// SKU ids exceed 2^53, so float64 would lose digits. An integer written
// with a fraction or an exponent (8.19e15) is read as its digits.
type ID string

// UnmarshalJSON accepts a number, a string or null (the empty id).
func (id *ID) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return fmt.Errorf("id %.40s: %w", b, err)
	}
	*id = ID(s)
	return nil
}

// scalarText is a JSON string, number or boolean as text: "" for null; a
// number keeps its digits (an integer with a fraction or exponent is
// written out as an integer). Objects and arrays are an error.
func scalarText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		return "", nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		return string(b), nil
	case b[0] == '{' || b[0] == '[':
		return "", fmt.Errorf("want a string or a number, got a value starting %q", b[0])
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return "", err
	}
	s := n.String()
	if strings.ContainsAny(s, ".eE") && len(s) < 64 {
		if r, ok := new(big.Rat).SetString(s); ok && r.IsInt() {
			return r.Num().String(), nil
		}
	}
	return s, nil
}

// Code is a code field (error_response.code, sub_code, error_code): a
// string ("IllegalAccessToken") or a number (27); kept as text either way.
type Code = ID

// Text is a text field that may come as a string, a number or a boolean;
// null is "".
type Text = ID

// Int is a count AliExpress sends as a JSON number or a string ("2");
// null and "" are 0. An integer written with a fraction (2.0) is read.
type Int int

// UnmarshalJSON accepts a number, a numeric string or null.
func (n *Int) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return fmt.Errorf("number %.40s: %w", b, err)
	}
	if s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("number %.40s: not an integer", b)
	}
	*n = Int(v)
	return nil
}

// Bool is a flag AliExpress sends as true, "true", 1 or "1" (or their
// opposites); null is false.
type Bool bool

// UnmarshalJSON accepts a boolean, "true"/"false" in any case, 1/0 or null.
func (v *Bool) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return fmt.Errorf("flag %.40s: %w", b, err)
	}
	switch strings.ToLower(s) {
	case "true", "1", "y", "yes":
		*v = true
	case "false", "0", "n", "no", "":
		*v = false
	default:
		return fmt.Errorf("flag %.40s: not a boolean", b)
	}
	return nil
}

// List is a list field in any of the shapes AliExpress sends it:
//
//   - wrapped in an object named after its element, as most responses do:
//     {"aeop_child_order_info": [...]};
//   - such a wrapper around one element without its array:
//     {"aeop_child_order_info": {...}};
//   - a bare array, as the methods' field tables document
//     ("tracking_detail_line_list": [...]);
//   - one element on its own, an object or a scalar ("order_list": 81...);
//   - a wrapper whose single key is not the element's name, around an
//     array ({"tracking_detail": [...]} read as "detail_line");
//   - null, {}, [] or absent: no elements.
//
// Decode it with Items.
type List json.RawMessage

// UnmarshalJSON keeps the raw value for Items.
func (l *List) UnmarshalJSON(b []byte) error {
	*l = append((*l)[:0], b...)
	return nil
}

// MarshalJSON writes the raw value back (null when empty).
func (l List) MarshalJSON() ([]byte, error) {
	if len(bytes.TrimSpace(l)) == 0 {
		return []byte("null"), nil
	}
	return l, nil
}

// Items decodes the list's elements, named name when wrapped, into out (a
// pointer to a slice).
func (l List) Items(name string, out any) error {
	raw, err := unwrapList(l, name)
	if err != nil {
		return fmt.Errorf("list %s: %w", name, err)
	}
	if raw == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("list %s: %w", name, err)
	}
	return nil
}

// unwrapList returns the list's elements as a JSON array, or nil for none.
func unwrapList(b []byte, name string) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	switch b[0] {
	case '[':
		return b, nil
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, nil
		}
		if v, ok := m[name]; ok {
			return element(v), nil
		}
		if len(m) == 1 {
			for _, v := range m {
				if v = bytes.TrimSpace(v); len(v) > 0 && v[0] == '[' {
					return v, nil
				}
			}
		}
	}
	return element(b), nil
}

// element is one wrapped value as an array: an array as is, null as
// nothing, anything else as a one-element array.
func element(v []byte) []byte {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || bytes.Equal(v, []byte("null")):
		return nil
	case v[0] == '[':
		return v
	}
	out := make([]byte, 0, len(v)+2)
	return append(append(append(out, '['), v...), ']')
}

// responseKey is the success envelope's key of a method:
// "aliexpress.ds.order.create" -> "aliexpress_ds_order_create_response".
func responseKey(method string) string {
	return strings.ReplaceAll(method, ".", "_") + "_response"
}
