package jetstream

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		stream string
		want   string
	}{
		{"order-shopify:acme:1001", "es.order.shopify:acme:1001"},
		{"order-a-b-c", "es.order.a-b-c"},
		{"order-a.b", "es.order.~YS5i"},
		{"order-", "es.order.~"},
		{"order--x", "es.order.-x"},
		{"order-~x", "es.order.~fng"},
		{"order", "es.~.order"},
		{"-order", "es.~.-order"},
		{"x y", "es.~.~eCB5"},
		{"a.b-c", "es.~.~YS5iLWM"},
		{"~a-b", "es.~.~fmEtYg"},
		{"*", "es.~.~Kg"},
		{">-x", "es.~.~Pi14"},
		{"$all-x", "es.$all.x"},
		{"ünï-x", "es.~.~w7xuw68teA"},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			got, err := Subject("es", tt.stream)
			if err != nil {
				t.Fatalf("Subject: %v", err)
			}
			if got != tt.want {
				t.Errorf("Subject(%q) = %q, want %q", tt.stream, got, tt.want)
			}
			if !server.IsValidLiteralSubject(got) {
				t.Errorf("%q is not a valid literal subject", got)
			}
			if n := strings.Count(got, "."); n != 2 {
				t.Errorf("%q has %d dots, want 2", got, n)
			}
			back, err := StreamName("es", got)
			if err != nil || back != tt.stream {
				t.Errorf("StreamName(%q) = %q, %v; want %q", got, back, err, tt.stream)
			}
		})
	}
}

func TestSubjectInvalid(t *testing.T) {
	if _, err := Subject("es", ""); err == nil {
		t.Error("empty stream name accepted")
	}
	if _, err := Subject("es", strings.Repeat("x", MaxStreamNameLen+1)); err == nil {
		t.Error("over-long stream name accepted")
	}
	for _, subj := range []string{"other.order.1", "es.order", "es.order.1.2", "es..x", "es.~.~!!", "es"} {
		if name, err := StreamName("es", subj); err == nil {
			t.Errorf("StreamName(%q) = %q, want an error", subj, name)
		}
	}
}

func FuzzSubject(f *testing.F) {
	for _, s := range []string{"order-1", "a.b", "~", "-", "x-~", "ü-ü", "order-a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stream string) {
		subj, err := Subject("dropsync.es", stream)
		if stream == "" || len(stream) > MaxStreamNameLen {
			if err == nil {
				t.Fatalf("Subject(%q) accepted", stream)
			}
			return
		}
		if err != nil {
			t.Fatalf("Subject(%q): %v", stream, err)
		}
		if !server.IsValidLiteralSubject(subj) {
			t.Fatalf("Subject(%q) = %q, not a literal subject", stream, subj)
		}
		back, err := StreamName("dropsync.es", subj)
		if err != nil || back != stream {
			t.Fatalf("StreamName(%q) = %q, %v; want %q", subj, back, err, stream)
		}
	})
}

func TestFilterSubject(t *testing.T) {
	tests := []struct {
		prefix string
		want   string
		// a name the filter must match, when it has the prefix
		names []string
	}{
		{"", "es.>", []string{"x", "order-1"}},
		{"order-", "es.order.>", []string{"order-1", "order-", "order-a.b"}},
		{"order-shop", "es.order.>", []string{"order-shopify:1"}},
		{"order", "es.>", []string{"order", "orders-1", "order-1"}},
		{"a.b-", "es.>", []string{"a.b-1"}},
		{"~x-", "es.>", []string{"~x-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got := filterSubject("es", tt.prefix)
			if got != tt.want {
				t.Errorf("filterSubject(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
			for _, name := range tt.names {
				subj, err := Subject("es", name)
				if err != nil {
					t.Fatal(err)
				}
				if !server.SubjectMatchesFilter(subj, got) {
					t.Errorf("filter %q does not match %q (%s)", got, subj, name)
				}
			}
		})
	}
}
