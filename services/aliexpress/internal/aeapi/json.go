package aeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ID is an id AliExpress sends as a JSON number or a string. Order, product
// and SKU ids are kept as text: SKU ids exceed 2^53 and would lose digits
// as float64.
type ID string

// UnmarshalJSON accepts a number or a string.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return fmt.Errorf("id %s: %w", b, err)
	}
	*id = ID(n.String())
	return nil
}

// Code is error_response.code: a string ("IllegalAccessToken") or a number
// (27); kept as text either way.
type Code = ID

// List is a list AliExpress wraps in an object named after its element,
// {"aeop_child_order_info": [...]}, where one element may come bare,
// {"aeop_child_order_info": {...}}. Decode it with Items.
type List map[string]json.RawMessage

// Items decodes the list's elements named name into out (a pointer to a
// slice), accepting an array, a bare element, or nothing.
func (l List) Items(name string, out any) error {
	raw, ok := l[name]
	if !ok || len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] != '[' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("list %s: %w", name, err)
	}
	return nil
}

// responseKey is the success envelope's key of a method:
// "aliexpress.ds.order.create" -> "aliexpress_ds_order_create_response".
func responseKey(method string) string {
	return strings.ReplaceAll(method, ".", "_") + "_response"
}
