package order_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    order.ID
		wantErr bool
	}{
		{name: "shopify", in: "shopify:acme:5012345678", want: order.ID{Platform: shopify, Store: "acme", StoreOrderID: "5012345678"}},
		{name: "woocommerce", in: "woocommerce:my-shop:1234", want: order.ID{Platform: woo, Store: "my-shop", StoreOrderID: "1234"}},
		{name: "wix guid", in: "wix:site_1:3f2c1b7e-9a4d-4c2e-8f1a-2b3c4d5e6f70", want: order.ID{Platform: wix, Store: "site_1", StoreOrderID: "3f2c1b7e-9a4d-4c2e-8f1a-2b3c4d5e6f70"}},
		{name: "unknown platform", in: "etsy:acme:1", wantErr: true},
		{name: "aliexpress is not a store platform", in: "aliexpress:acme:1", wantErr: true},
		{name: "missing store order id", in: "shopify:acme", wantErr: true},
		{name: "empty store", in: "shopify::1", wantErr: true},
		{name: "empty store order id", in: "shopify:acme:", wantErr: true},
		{name: "colon in store order id", in: "shopify:acme:1:2", wantErr: true},
		{name: "dot in store", in: "shopify:acme.myshopify.com:1", wantErr: true},
		{name: "space", in: "shopify:acme:1 2", wantErr: true},
		{name: "upper-case platform word", in: "Shopify:acme:1", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := order.ParseID(tt.in)
			if tt.wantErr {
				if !errors.Is(err, order.ErrInvalidID) {
					t.Fatalf("ParseID(%q) error = %v, want ErrInvalidID", tt.in, err)
				}
				if order.Code(err) != order.CodeInvalidID {
					t.Fatalf("code %s", order.Code(err))
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseID(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestIDNames(t *testing.T) {
	id, err := order.NewID(eventsv1.Platform_PLATFORM_WOOCOMMERCE, "shop", "77")
	if err != nil {
		t.Fatal(err)
	}
	if id.StreamName() != "order-woocommerce:shop:77" || order.StreamName(id.String()) != id.StreamName() {
		t.Fatalf("stream name %q", id.StreamName())
	}
	if id.StoreKey() != "woocommerce:shop" {
		t.Fatalf("store key %q", id.StoreKey())
	}
	p, s, err := order.ParseStoreKey("wix:site")
	if err != nil || p != wix || s != "site" {
		t.Fatalf("ParseStoreKey = %v %q %v", p, s, err)
	}
	if _, _, err := order.ParseStoreKey("wix"); !errors.Is(err, order.ErrInvalidID) {
		t.Fatalf("ParseStoreKey(wix) error = %v", err)
	}
	if _, err := order.NewID(eventsv1.Platform_PLATFORM_ALIEXPRESS, "a", "1"); !errors.Is(err, order.ErrInvalidID) {
		t.Fatalf("NewID(aliexpress) error = %v", err)
	}
	long := fmt.Sprintf("%0129d", 1)
	if _, err := order.NewID(shopify, "a", long); !errors.Is(err, order.ErrInvalidID) {
		t.Fatalf("NewID(long) error = %v", err)
	}
}

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{order.ErrUnknownOrder, order.CodeNotFound},
		{fmt.Errorf("wrapped: %w", order.ErrConflict), order.CodeConflict},
		{&order.RuleError{OrderID: "x", Code: order.CodeFulfilledManually, Err: order.ErrAlreadyFulfilled}, order.CodeFulfilledManually},
		{errors.New("other"), "UNKNOWN"},
	} {
		if c.err != nil && c.err.Error() == "" {
			t.Errorf("%#v: empty message", c.err)
		}
		if got := order.Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	for _, c := range []struct {
		p    eventsv1.Platform
		s    *eventsv1.StoreSettings
		want eventsv1.FulfillmentPolicy
	}{
		{shopify, nil, eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART},
		{shopify, wholeOrder, eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER},
		{shopify, eachPart, eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART},
		{woo, eachPart, eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER},
		{wix, wholeOrder, eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART},
	} {
		if got := order.Policy(c.p, c.s); got != c.want {
			t.Errorf("Policy(%v, %v) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}
