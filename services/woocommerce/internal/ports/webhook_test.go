package ports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dropsync/dropsync/pkg/config"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/services/woocommerce/internal/adapters/wcapi"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
	"github.com/dropsync/dropsync/services/woocommerce/internal/ports"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func registry(t testing.TB) *stores.Registry {
	t.Helper()
	reg, err := stores.New([]stores.Store{{
		Slug: "acme", SiteURL: "https://acme.example", WebhookSecret: config.NewSecret("whsec"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestDecodeGolden maps every webhook body in testdata (named
// "<topic>-<case>.json") to events and compares them with the golden
// "<name>.golden". Run with -update to rewrite the golden files.
func TestDecodeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	dec := &ports.Decoder{Stores: registry(t), Orders: readBack(t), Log: quietLog()}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			topic, _, _ := strings.Cut(name, "-")
			h := http.Header{}
			h.Set(ports.HeaderSource, "https://acme.example/")
			h.Set(ports.HeaderTopic, topic)
			h.Set(ports.HeaderWebhookID, "12")
			h.Set(ports.HeaderDeliveryID, "5d41402abc4b2a76b9719d911017c592")
			d, err := dec.Decode(context.Background(), &webhook.Request{
				Header: h, Payload: body, Received: time.Date(2025, 3, 1, 14, 0, 0, 0, time.UTC),
			})
			if err != nil {
				t.Fatal(err)
			}
			var events []json.RawMessage
			for _, e := range d.Envelopes {
				b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				events = append(events, b)
			}
			raw, _ := json.Marshal(map[string]any{"key": d.Key, "topic": d.Topic, "events": events})
			var got bytes.Buffer
			// protojson's spacing is unstable on purpose; Indent settles it.
			if err := json.Indent(&got, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			golden := strings.TrimSuffix(f, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(normalize(t, want), normalize(t, got.Bytes())) {
				t.Fatalf("events differ from %s (run with -update to accept):\n%s", golden, got.String())
			}
		})
	}
}

func normalize(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// fakeOrders is the REST API v3 of the golden tests' store: order 702 is
// deleted for good (404), 703 is in the trash, 705 is live (processing).
type fakeOrders struct {
	orders map[int64]domain.Order
	err    error
	reads  int
}

func (f *fakeOrders) Order(_ context.Context, _ *stores.Store, id int64) (domain.Order, error) {
	f.reads++
	if f.err != nil {
		return domain.Order{}, f.err
	}
	o, ok := f.orders[id]
	if !ok {
		return domain.Order{}, &wcapi.APIError{Status: http.StatusNotFound, Code: "woocommerce_rest_shop_order_invalid_id", Message: "Invalid ID."}
	}
	return o, nil
}

func readBack(t testing.TB) *fakeOrders {
	t.Helper()
	body, err := os.ReadFile("testdata/order.updated-processing.json")
	if err != nil {
		t.Fatal(err)
	}
	live, err := domain.ParseWebhookOrder(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	live.ID = 705
	trashed := live
	trashed.ID, trashed.Status = 703, domain.StatusTrash
	return &fakeOrders{orders: map[int64]domain.Order{705: live, 703: trashed}}
}

func header(topic string) http.Header {
	h := http.Header{}
	h.Set(ports.HeaderSource, "https://acme.example/")
	h.Set(ports.HeaderTopic, topic)
	h.Set(ports.HeaderWebhookID, "12")
	h.Set(ports.HeaderDeliveryID, "5d41402abc4b2a76b9719d911017c592")
	return h
}

func eventTypes(d webhook.Delivery) []string {
	var out []string
	for _, e := range d.Envelopes {
		out = append(out, envelope.Type(e))
	}
	return out
}

// TestShapesWeDoNotUse delivers, correctly signed (the decoder runs after
// the verifier), bodies in shapes the connector does not map as such:
// unused topics, old versions, null where an object is expected, numbers
// as strings and strings as numbers, ids above 2^53. Each is mapped, or
// read back by its id, or ignored (200): never refused, unless it names
// no order at all.
func TestShapesWeDoNotUse(t *testing.T) {
	const modified = `"date_modified_gmt":"2025-03-01T10:00:00"`
	cases := []struct {
		name, topic, body string
		// want is the event types, "ignored", or "refused".
		want string
		// reads is the read-backs expected.
		reads int
	}{
		{"unused topic, body not an order", "product.updated", `{"id":"sku-1","name":null}`, "ignored", 0},
		{"unused topic, not json", "coupon.created", `{{{`, "ignored", 0},
		{"unused topic action.*", "action.woocommerce_order_status_changed", `{"action":"x","arg":5}`, "ignored", 0},
		{"wc/v1 site-local dates only", "order.updated", `{"id":705,"status":"processing","date_created":"2025-03-01T12:00:00","date_modified":"2025-03-01T12:02:00","line_items":[]}`, "StorePaymentCaptured,StoreOrderUpdated", 0},
		{"legacy wrapper", "order.updated", `{"order":{"id":705,"order_number":705,"status":"on-hold","created_at":"2025-03-01T10:00:00Z","updated_at":"2025-03-01T10:02:00Z","payment_details":{"paid":false},"billing_address":null,"shipping_address":null,"line_items":null}}`, "StoreOrderUpdated", 0},
		{"legacy, site-local dates without Z", "order.created", `{"order":{"id":"705","order_number":"705","status":"pending","created_at":"2025-03-01 10:00:00","updated_at":"2025-03-01 10:00:00"}}`, "StoreOrderCreated", 0},
		{"null objects", "order.updated", `{"id":705,"status":"processing",` + modified + `,"billing":null,"shipping":null,"line_items":null,"refunds":null,"meta_data":null,"date_paid_gmt":null}`, "StoreOrderUpdated", 0},
		{"numbers as strings", "order.updated", `{"id":"705","status":"processing",` + modified + `,"currency":"USD","total":"29.90","line_items":[{"id":"1","product_id":"11","variation_id":"0","quantity":"2","price":"14.95"}]}`, "StoreOrderUpdated", 0},
		{"strings as numbers", "order.updated", `{"id":705,"number":705,"status":"processing",` + modified + `,"currency":"USD","total":29.9,"line_items":[{"id":1,"product_id":11,"quantity":2,"price":14.95,"sku":123}]}`, "StoreOrderUpdated", 0},
		{"id above 2^53", "order.updated", `{"id":9007199254740993,"status":"processing",` + modified + `}`, "StoreOrderUpdated", 0},
		{"id above 2^53 as a string", "order.deleted", `{"id":"9007199254740993"}`, "StoreOrderCanceled", 1},
		{"object where a string is expected: read back", "order.updated", `{"id":705,"status":{"slug":"processing"},` + modified + `}`, "StorePaymentCaptured,StoreOrderUpdated", 1},
		{"no modification date: read back", "order.updated", `{"id":705,"status":"processing"}`, "StorePaymentCaptured,StoreOrderUpdated", 1},
		{"negative quantity: read back", "order.updated", `{"id":705,"status":"processing",` + modified + `,"line_items":[{"id":1,"quantity":-1}]}`, "StorePaymentCaptured,StoreOrderUpdated", 1},
		{"bad date: read back", "order.updated", `{"id":705,"status":"processing","date_modified_gmt":"yesterday"}`, "StorePaymentCaptured,StoreOrderUpdated", 1},
		{"gone when read back", "order.updated", `{"id":999,"status":"processing"}`, "ignored", 1},
		{"order.deleted of a live order (topic swapped)", "order.deleted", `{"id":705,"status":"processing",` + modified + `}`, "StorePaymentCaptured,StoreOrderUpdated", 1},
		{"order.deleted of a trashed order", "order.deleted", `{"id":703}`, "StorePaymentCaptured,StoreOrderUpdated,StoreOrderCanceled", 1},
		{"order.deleted legacy wrapper", "order.deleted", `{"order":{"id":702}}`, "StoreOrderCanceled", 1},
		{"no id", "order.updated", `{"status":"processing",` + modified + `}`, "refused", 0},
		{"id zero", "order.deleted", `{"id":0}`, "refused", 0},
		{"not json", "order.updated", `{"id": 7, "status": `, "refused", 0},
		{"array", "order.updated", `[1,2]`, "refused", 0},
		{"fractional id", "order.deleted", `{"id":7.5}`, "refused", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orders := readBack(t)
			dec := &ports.Decoder{Stores: registry(t), Orders: orders, Log: quietLog()}
			d, err := dec.Decode(context.Background(), &webhook.Request{Header: header(tc.topic), Payload: []byte(tc.body), Received: time.Date(2025, 3, 1, 14, 0, 0, 0, time.UTC)})
			got := strings.Join(eventTypes(d), ",")
			switch {
			case errors.Is(err, webhook.ErrIgnored):
				got = "ignored"
			case err != nil:
				got = "refused"
			}
			if got != tc.want {
				t.Errorf("got %s (%v), want %s", got, err, tc.want)
			}
			if orders.reads != tc.reads {
				t.Errorf("%d read-backs, want %d", orders.reads, tc.reads)
			}
		})
	}
}

// TestTopicSwapReplay is issue 12's replay: a correctly signed
// order.updated body re-sent under order.deleted must not cancel a live
// order; and with the store unreachable the deletion is not taken on the
// body's word either.
func TestTopicSwapReplay(t *testing.T) {
	body, err := os.ReadFile("testdata/order.deleted-replayed-live-body.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		orders *fakeOrders
	}{
		{"order live", readBack(t)},
		{"store unreachable", &fakeOrders{err: errors.New("connection refused")}},
		{"product.deleted body", readBack(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &ports.Decoder{Stores: registry(t), Orders: tc.orders, Log: quietLog()}
			payload := body
			if tc.name == "product.deleted body" {
				payload = []byte(`{"id":705}`)
			}
			d, err := dec.Decode(context.Background(), &webhook.Request{Header: header("order.deleted"), Payload: payload, Received: time.Now()})
			if err != nil && !errors.Is(err, webhook.ErrIgnored) {
				t.Fatalf("refused: %v", err)
			}
			for _, e := range d.Envelopes {
				if e.GetStoreOrderCanceled() != nil {
					t.Fatalf("replayed body canceled the order: %v", eventTypes(d))
				}
			}
			if tc.orders.reads != 1 {
				t.Fatalf("%d read-backs, want 1", tc.orders.reads)
			}
		})
	}
	// Without a reader nothing is cancelled either.
	dec := &ports.Decoder{Stores: registry(t), Log: quietLog()}
	if _, err := dec.Decode(context.Background(), &webhook.Request{Header: header("order.deleted"), Payload: []byte(`{"id":705}`)}); !errors.Is(err, webhook.ErrIgnored) {
		t.Fatalf("no reader: %v, want ignored", err)
	}
	ping := http.Header{}
	if _, err := dec.Decode(context.Background(), &webhook.Request{Header: ping, Payload: []byte("webhook_id=12")}); !errors.Is(err, webhook.ErrIgnored) {
		t.Errorf("ping: %v", err)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
