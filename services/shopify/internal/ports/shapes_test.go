package ports_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/ports"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

// TestShapesWeDoNotUse delivers bodies in shapes the connector does not
// rely on — unused topics, null where an object belongs, numbers sent as
// strings and strings as numbers, ids above 2^53, fields missing — and
// checks that each gets a 2xx outcome (events or ignored) or a reasoned
// read-back, never a refusal, unless nothing in the body names what it is
// about; a refusal is counted.
func TestShapesWeDoNotUse(t *testing.T) {
	paid, err := os.ReadFile(filepath.Join("testdata", "webhooks", "order_paid.json"))
	if err != nil {
		t.Fatal(err)
	}
	// swap replaces one exact piece of the paid order body.
	swap := func(old, repl string) string {
		t.Helper()
		if !strings.Contains(string(paid), old) {
			t.Fatalf("order_paid.json has no %q", old)
		}
		return strings.Replace(string(paid), old, repl, 1)
	}
	const (
		events   = "events"
		ignored  = "ignored"
		readBack = "read back"
		refused  = "refused"
	)
	cases := []struct {
		name, topic, body string
		want              string
		// check, when set, looks at the events.
		check func(t *testing.T, d webhook.Delivery)
	}{
		// Topics the connector does not use: ignored whatever the body.
		{"unused topic products/update", "products/update", `{"id": 1}`, ignored, nil},
		{"unused topic with a body that is not JSON", "customers/create", `not json`, ignored, nil},
		{"unused topic app/uninstalled", "app/uninstalled", `{}`, ignored, nil},
		{"unused topic orders/delete", "orders/delete", `{"id": 5800000123}`, ignored, nil},
		{"unused topic inventory_levels/update", "inventory_levels/update", `{"inventory_item_id": 1, "available": "3"}`, ignored, nil},

		// null where an object or a list belongs.
		{"shipping_address null", "orders/paid", swap(`"shipping_address": {`, `"shipping_address": null, "x_shipping_address": {`), events,
			func(t *testing.T, d webhook.Delivery) {
				if d.Envelopes[0].GetStorePaymentCaptured().GetOrder().GetShippingAddress() != nil {
					t.Fatal("an address from null")
				}
			}},
		{"line_items null", "orders/updated", swap(`"line_items": [`, `"line_items": null, "x_line_items": [`), events, nil},
		{"fulfillments null", "orders/updated", swap(`"fulfillments": [`, `"fulfillments": null, "x_fulfillments": [`), events, nil},
		{"price_set and total_price_set null", "orders/paid", strings.ReplaceAll(swap(`"total_price_set": {`, `"total_price_set": null, "x": {`), `"price_set": {`, `"price_set": null, "y": {`), events, nil},
		{"shipping_address a string", "orders/paid", swap(`"shipping_address": {`, `"shipping_address": "", "x_shipping_address": {`), events, nil},
		{"order_edit null", "orders/edited", `{"order_edit": null}`, refused, nil},
		{"refund transactions null", "refunds/create", `{"id": 990000001, "order_id": 5800000123, "created_at": null, "refund_line_items": [{"line_item_id": 13000000001, "quantity": 1}], "transactions": null}`, events, nil},
		{"fulfillment tracking null", "fulfillments/update", `{"id": 4400000001, "order_id": 5800000123, "status": "success", "created_at": null, "tracking_company": null, "tracking_number": null, "tracking_numbers": null, "tracking_urls": null, "line_items": null}`, events, nil},

		// Numbers sent as strings.
		{"order id as a string", "orders/paid", swap(`"id": 5800000123,`, `"id": "5800000123",`), events, nil},
		{"quantity as a string", "orders/paid", swap(`"quantity": 2,`, `"quantity": "2",`), events,
			func(t *testing.T, d webhook.Delivery) {
				if q := d.Envelopes[0].GetStorePaymentCaptured().GetOrder().GetLineItems()[0].GetQuantity(); q != 2 {
					t.Fatalf("quantity %d", q)
				}
			}},
		{"fulfillment order_id as a global id", "fulfillments/create", `{"id": 4400000001, "order_id": "gid://shopify/Order/5800000123", "status": "success", "created_at": "2026-11-21T10:00:00-05:00", "line_items": [{"id": "13000000001", "quantity": "2"}]}`, events, nil},
		{"refund ids as strings", "refunds/create", `{"id": "990000001", "order_id": "5800000123", "created_at": "2026-11-20T05:30:00-05:00", "refund_line_items": [{"line_item_id": "13000000001", "quantity": "1"}], "transactions": []}`, events, nil},

		// Strings sent as numbers.
		{"total_price as a number", "orders/paid", swap(`"total_price": "39.80",`, `"total_price": 39.80,`), events, nil},
		{"price as a number", "orders/paid", swap(`"price": "9.95",`, `"price": 9.95,`), events,
			func(t *testing.T, d webhook.Delivery) {
				if p := d.Envelopes[0].GetStorePaymentCaptured().GetOrder().GetLineItems()[0].GetUnitPrice().GetMinorUnits(); p != 995 {
					t.Fatalf("price %d", p)
				}
			}},
		{"name and sku as numbers", "orders/paid", strings.Replace(swap(`"name": "#1001",`, `"name": 1001,`), `"sku": "MUG-WHITE",`, `"sku": 4006381333931,`, 1), events, nil},
		{"zip as a number", "orders/paid", swap(`"zip": "1000-001"`, `"zip": 10001`), events, nil},
		{"quantity 2.0", "orders/paid", swap(`"quantity": 2,`, `"quantity": 2.0,`), events, nil},

		// Ids above 2^53 stay exact.
		{"order id above 2^53", "orders/paid", swap(`"id": 5800000123,`, `"id": 9007199254740993,`), events,
			func(t *testing.T, d webhook.Delivery) {
				if id := d.Envelopes[0].GetOrderId(); id != "shopify:demo:9007199254740993" {
					t.Fatalf("order id %s", id)
				}
			}},
		{"line id at 2^64-1", "orders/paid", swap(`"id": 13000000001,`, `"id": 18446744073709551615,`), events, nil},
		{"order id only as admin_graphql_api_id", "orders/paid", swap(`"id": 5800000123,`, ``), events, nil},

		// Bodies that are not usable orders but name one: read back.
		{"an order body with only its id", "orders/updated", `{"id": 5800000123}`, readBack, nil},
		{"updated_at in another format", "orders/updated", swap(`"updated_at": "2026-11-20T04:01:10-05:00"`, `"updated_at": "2026-11-20 04:01:10"`), readBack, nil},
		{"quantity with a fraction", "orders/paid", swap(`"quantity": 2,`, `"quantity": 2.5,`), readBack, nil},
		{"orders/fulfilled without fulfillments", "orders/fulfilled", swap(`"fulfillments": [],`, `"fulfillments": [],`), readBack, nil},

		// Nothing names what the body is about: refused, counted.
		{"empty object", "orders/create", `{}`, refused, nil},
		{"null body", "orders/create", `null`, refused, nil},
		{"a list", "orders/create", `[]`, refused, nil},
		{"order id beyond 64 bits", "orders/create", `{"id": 18446744073709551616}`, refused, nil},
		{"fulfillment without order_id", "fulfillments/update", `{"id": 4400000001, "status": "cancelled"}`, refused, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reads := &countingReader{fileReader: fileReader{"order_paid.json"}}
			d := &ports.Decoder{Stores: registry(t), Orders: reads, Log: slog.New(slog.DiscardHandler)}
			h := http.Header{}
			h.Set(ports.HeaderTopic, c.topic)
			h.Set(ports.HeaderShopDomain, "demo.myshopify.com")
			h.Set(ports.HeaderEventID, "e-1")
			del, err := d.Decode(context.Background(), &webhook.Request{Header: h, Payload: []byte(c.body)})
			got := events
			switch {
			case errors.Is(err, webhook.ErrIgnored):
				got = ignored
			case err != nil:
				got = refused
			case reads.n > 0:
				got = readBack
			}
			if got != c.want {
				t.Fatalf("%s (%v), want %s", got, err, c.want)
			}
			if got == events || got == readBack {
				if len(del.Envelopes) == 0 {
					t.Fatal("no events")
				}
				for _, e := range del.Envelopes {
					if e.GetEventId() == "" || !strings.HasPrefix(e.GetOrderId(), "shopify:demo:") {
						t.Fatalf("event %v", e)
					}
				}
			}
			if st := d.Stats(); (st.Unusable == 1) != (got == refused) || (st.ReadBack == 1) != (got == readBack) {
				t.Fatalf("stats %+v for %s", st, got)
			}
			if c.check != nil {
				c.check(t, del)
			}
		})
	}
}

// countingReader counts the reads of a fileReader.
type countingReader struct {
	fileReader
	n int
}

func (c *countingReader) Order(ctx context.Context, s *stores.Store, id string) (domain.Order, error) {
	c.n++
	return c.fileReader.Order(ctx, s, id)
}

// A signed body replayed under another topic header means what it meant
// (issue 12): orders/create's body re-sent as orders/cancelled cancels
// nothing, and is counted.
func TestTopicSwapDoesNothing(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "webhooks", "order_pending.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := &ports.Decoder{Stores: registry(t), Log: slog.New(slog.DiscardHandler)}
	for _, topic := range []string{"orders/cancelled", "orders/paid"} {
		h := http.Header{}
		h.Set(ports.HeaderTopic, topic)
		h.Set(ports.HeaderShopDomain, "demo.myshopify.com")
		h.Set(ports.HeaderEventID, "replayed")
		del, err := d.Decode(context.Background(), &webhook.Request{Header: h, Payload: body})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range del.Envelopes {
			if e.GetStoreOrderCanceled() != nil || e.GetStorePaymentCaptured() != nil || e.GetStoreOrderUpdated() == nil {
				t.Fatalf("%s: replayed body gave %v", topic, e)
			}
		}
	}
	if st := d.Stats(); st.TopicMismatch != 2 {
		t.Fatalf("stats %+v", st)
	}
}
