package shopifysim

import (
	"encoding/json"
	"testing"
)

// appendJSON writes what json.Marshal writes.
func TestAppendJSON(t *testing.T) {
	for _, v := range []any{
		nil, "plain", "a<b&c>", "quote \" and \\ backslash", "line\nbreak\t", "ünïcode ✓", "\u2028", "bad \xff utf-8",
		true, false, 0, 42, int64(-7), 1.5, 1e21, []any{"x", nil, 3, []any{}}, []any(nil), []string{"a", "<b>"}, []string(nil),
		map[string]any{"k": "v"}, &ordered{keys: []string{"b", "a"}, vals: []any{1, &ordered{}}},
	} {
		got, err := appendJSON(nil, v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		want, _ := json.Marshal(v)
		if o, ok := v.(*ordered); ok && len(o.keys) == 2 {
			want = []byte(`{"b":1,"a":{}}`)
		}
		if string(got) != string(want) {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
	}
}
