package ledger

import (
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/order"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"

	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		order, shipment, want string
	}{
		{"shopify:acme:1001", "s1", "shopify.acme.1001.s1"},
		{"woocommerce:shop-1:77", "AE 8123/LP.1", "woocommerce.shop-1.77.AE=208123=2FLP=2E1"},
		{"wix:site_9:abc", "a=b*>", "wix.site_9.abc.a=3Db=2A=3E"},
		{"shopify:acme:1", "", "shopify.acme.1.="},
		{"shopify:acme:1", "é", "shopify.acme.1.=C3=A9"},
	} {
		got, err := Key(tc.order, tc.shipment)
		if err != nil || got != tc.want || !validKey(got) {
			t.Errorf("Key(%q, %q) = %q, %v; want %q", tc.order, tc.shipment, got, err, tc.want)
		}
	}
	if _, err := Key("shopify:acme", "s1"); err == nil {
		t.Error("Key accepted an order id without store order id")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 123456789, time.UTC)
	for _, r := range []app.Record{
		{OrderID: "shopify:acme:1", ShipmentID: "s1", Store: "shopify:acme", Decision: notifierv1.Decision_DECISION_NOTIFY,
			Channel: order.ChannelShopify, Reason: app.CodeConfirmationOn, RequestID: "r", DecidedAt: at, OrderRevision: 4,
			EventID: app.EventID("shopify:acme:1", "s1"), PublishedAt: at.Add(time.Second)},
		{OrderID: "wix:site:2", ShipmentID: "s2", Store: "wix:site", Decision: notifierv1.Decision_DECISION_SKIP_SETTING_OFF,
			Reason: "RULE_4_CONFIRMATION_OFF", RequestID: "r", DecidedAt: at},
	} {
		b, err := encode(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(b)
		if err != nil || got != r {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", r, got, err)
		}
	}
	if _, err := decode([]byte(`{"v":2}`)); err == nil {
		t.Error("decoded an unknown format version")
	}
}
