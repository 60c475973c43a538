package bus

import (
	"errors"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

func TestEncodeToken(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain slug", "acme", "acme"},
		{"digits dash underscore", "order-1001_b", "order-1001_b"},
		{"empty", "", "~"},
		{"dots", "acme.myshopify.com", "acme~2Emyshopify~2Ecom"},
		{"wildcards", "a*b>c", "a~2Ab~3Ec"},
		{"whitespace", "a b\tc\nd", "a~20b~09c~0Ad"},
		{"escape itself", "~", "~7E"},
		{"colon", "gid://shopify/Order/1", "gid~3A~2F~2Fshopify~2FOrder~2F1"},
		{"dollar", "$JS", "~24JS"},
		{"non ascii", "é", "~C3~A9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeToken(tt.in)
			if got != tt.want {
				t.Fatalf("EncodeToken(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := DecodeToken(got)
			if err != nil || back != tt.in {
				t.Fatalf("DecodeToken(%q) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestDecodeTokenRejects(t *testing.T) {
	for _, tok := range []string{"", "a.b", "a*", ">", "a b", "~", "~4", "~zz", "~41", "~2e", "é"} {
		if tok == "~" {
			continue // the empty string
		}
		if got, err := DecodeToken(tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("DecodeToken(%q) = %q, %v; want ErrBadToken", tok, got, err)
		}
	}
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"", "acme", "a.b", "~", "~41", "x y*z>", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EncodeToken(s)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("EncodeToken(%q) = %q is not a valid subject token", s, tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] >= 0x80 {
				t.Fatalf("EncodeToken(%q) = %q is not ASCII", s, tok)
			}
		}
		back, err := DecodeToken(tok)
		if err != nil || back != s {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, tok, back, err)
		}
		// Canonical: whatever decodes, encodes back to itself.
		if dec, err := DecodeToken(s); err == nil && EncodeToken(dec) != s {
			t.Fatalf("DecodeToken(%q) = %q, which encodes to %q", s, dec, EncodeToken(dec))
		}
	})
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"store", StoreSubject("shopify:acme:1001"), "store.shopify.acme.1001"},
		{"supplier", SupplierSubject("woocommerce:shop.example.com:42"), "supplier.woocommerce.shop~2Eexample~2Ecom.42"},
		{"order", OrderSubject("shopify:acme:1001", "FulfillmentRequested"), "order.shopify.acme.1001.FulfillmentRequested"},
		{"store order id with colon", StoreSubject("wix:site:a:b"), "store.wix.site.a~3Ab"},
		{"store level", OrderSubject("shopify:acme", "StoreRegistered"), "order.shopify.acme.~.StoreRegistered"},
		{"filter", OrderFilter("shopify", "FulfillmentRequested"), "order.shopify.*.*.FulfillmentRequested"},
		{"filter any", OrderFilter("", ""), "order.*.*.*.*"},
		{"dead letter", DeadLetterSubject(StreamStore), "dlq.STORE_EVENTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		want    SubjectInfo
		orderID string
	}{
		{"store", StoreSubject("shopify:acme.myshopify.com:#1001 x"),
			SubjectInfo{Kind: KindStore, Platform: "shopify", Store: "acme.myshopify.com", StoreOrderID: "#1001 x"},
			"shopify:acme.myshopify.com:#1001 x"},
		{"supplier", SupplierSubject("shopify:acme:1"),
			SubjectInfo{Kind: KindSupplier, Platform: "shopify", Store: "acme", StoreOrderID: "1"}, "shopify:acme:1"},
		{"order", OrderSubject("wix:s:a:b", "OrderStatusChanged"),
			SubjectInfo{Kind: KindOrder, Platform: "wix", Store: "s", StoreOrderID: "a:b", EventType: "OrderStatusChanged"}, "wix:s:a:b"},
		{"store level", OrderSubject("shopify:acme", "StoreRegistered"),
			SubjectInfo{Kind: KindOrder, Platform: "shopify", Store: "acme", EventType: "StoreRegistered"}, "shopify:acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubject(tt.subject)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseSubject(%q) = %+v, want %+v", tt.subject, got, tt.want)
			}
			if got.OrderID() != tt.orderID {
				t.Fatalf("OrderID() = %q, want %q", got.OrderID(), tt.orderID)
			}
		})
	}
	for _, bad := range []string{"", "store.a.b", "order.a.b.c", "dlq.STORE_EVENTS", "foo.a.b.c", "store.a.b.c~zz", "store.a.b.c.d"} {
		if _, err := ParseSubject(bad); !errors.Is(err, ErrBadSubject) {
			t.Errorf("ParseSubject(%q) err = %v, want ErrBadSubject", bad, err)
		}
	}
}

func TestSubjectFor(t *testing.T) {
	tests := []struct {
		name string
		env  *eventsv1.Envelope
		want string
	}{
		{"store event", &eventsv1.Envelope{OrderId: "shopify:acme:1", Event: &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{}}},
			"store.shopify.acme.1"},
		{"supplier event", &eventsv1.Envelope{OrderId: "shopify:acme:1", Event: &eventsv1.Envelope_SupplierOrderPaid{SupplierOrderPaid: &eventsv1.SupplierOrderPaid{}}},
			"supplier.shopify.acme.1"},
		{"order event", &eventsv1.Envelope{OrderId: "shopify:acme:1", Event: &eventsv1.Envelope_FulfillmentRequested{FulfillmentRequested: &eventsv1.FulfillmentRequested{}}},
			"order.shopify.acme.1.FulfillmentRequested"},
		{"store level order event", &eventsv1.Envelope{OrderId: "shopify:acme", Event: &eventsv1.Envelope_StoreRegistered{StoreRegistered: &eventsv1.StoreRegistered{}}},
			"order.shopify.acme.~.StoreRegistered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SubjectFor(tt.env)
			if err != nil || got != tt.want {
				t.Fatalf("SubjectFor = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := SubjectFor(&eventsv1.Envelope{OrderId: "x"}); !errors.Is(err, envelope.ErrNoEvent) {
		t.Fatalf("SubjectFor(no event) err = %v, want envelope.ErrNoEvent", err)
	}
	// Every event type falls in one stream's range.
	for _, typ := range envelope.Types() {
		if n := envelope.FieldNumber(typ); n < 10 || n >= 90 {
			t.Errorf("event %s has field number %d outside every stream's range", typ, n)
		}
	}
}

func TestPartitionKey(t *testing.T) {
	a := partitionKey(OrderSubject("shopify:acme:1", "FulfillmentRequested"))
	b := partitionKey(OrderSubject("shopify:acme:1", "OrderStatusChanged"))
	if a != b || a != "order.shopify.acme.1" {
		t.Fatalf("partition keys %q, %q; want both order.shopify.acme.1", a, b)
	}
	if k := partitionKey("store.shopify.acme.1"); k != "store.shopify.acme.1" {
		t.Fatalf("partitionKey(store subject) = %q", k)
	}
}
