package ports_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
	"github.com/dropsync/dropsync/services/shopify/internal/ports"
	"github.com/dropsync/dropsync/services/shopify/internal/stores"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func registry(t *testing.T) *stores.Registry {
	t.Helper()
	reg, err := stores.New([]stores.Store{{
		Slug: "demo", Domain: "demo.myshopify.com",
		AccessToken: config.NewSecret("shpat_x"), WebhookSecret: config.NewSecret("whsec"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// fileReader answers reads of an order with a webhook body from testdata
// (orders/edited, read-backs); with no file the order is not on the store.
type fileReader struct{ file string }

func (f fileReader) Order(_ context.Context, _ *stores.Store, id string) (domain.Order, error) {
	if f.file == "" {
		return domain.Order{}, fmt.Errorf("%w: %s", domain.ErrNotFound, id)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", f.file))
	if err != nil {
		return domain.Order{}, err
	}
	return domain.ParseOrder(b)
}

type golden struct {
	Topic     string            `json:"topic"`
	Outcome   string            `json:"outcome"`
	Key       string            `json:"key,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Envelopes []json.RawMessage `json:"envelopes,omitempty"`
}

// TestGolden decodes the webhook bodies in testdata/webhooks (written from
// Shopify's documented REST shapes) and compares the events with
// testdata/golden; -update rewrites them.
func TestGolden(t *testing.T) {
	const edited = "order_partially_refunded.json"
	cases := []struct {
		name, topic, file string
		// reads is what the Admin API answers for the order (default
		// edited; "-": not on the store).
		reads string
	}{
		{"orders_create", "orders/create", "order_pending.json", ""},
		{"orders_paid", "orders/paid", "order_paid.json", ""},
		{"orders_updated_refunded", "orders/updated", "order_partially_refunded.json", ""},
		{"orders_edited", "orders/edited", "order_edit.json", ""},
		{"orders_edited_not_on_store", "orders/edited", "order_edit.json", "-"},
		{"orders_cancelled", "orders/cancelled", "order_cancelled.json", ""},
		{"refunds_create", "refunds/create", "refund.json", ""},
		{"refunds_create_2025_10", "refunds/create", "refund_2025_10.json", ""},
		{"refunds_create_money_only", "refunds/create", "refund_money_only.json", ""},
		{"fulfillments_create", "fulfillments/create", "fulfillment.json", ""},
		{"fulfillments_create_cancelled", "fulfillments/create", "fulfillment_cancelled.json", ""},
		{"fulfillments_update_tracking", "fulfillments/update", "fulfillment_tracking_changed.json", ""},
		{"fulfillments_update_cancelled", "fulfillments/update", "fulfillment_update_cancelled.json", ""},
		{"fulfillments_update_failure", "fulfillments/update", "fulfillment_failure.json", ""},
		{"orders_partially_fulfilled", "orders/partially_fulfilled", "order_partially_fulfilled.json", ""},
		{"orders_fulfilled", "orders/fulfilled", "order_fulfilled.json", ""},
		// Shopify's test notifications: no fulfilment in the body, read back.
		{"orders_fulfilled_empty", "orders/fulfilled", "order_fulfilled_empty.json", "order_fulfilled.json"},
		{"orders_partially_fulfilled_empty_not_on_store", "orders/partially_fulfilled", "order_fulfilled_empty.json", "-"},
		// An order never seen: the body's snapshot creates it.
		{"orders_partially_fulfilled_unseen", "orders/partially_fulfilled", "order_partially_fulfilled_unseen.json", ""},
		// Facts in the body count whatever the topic.
		{"orders_create_voided_cancelled", "orders/create", "order_voided_cancelled.json", ""},
		{"orders_updated_voided_cancelled", "orders/updated", "order_voided_cancelled.json", ""},
		// Issue 12: a signed body replayed under another topic means what it meant.
		{"orders_cancelled_replayed_paid_body", "orders/cancelled", "order_paid.json", ""},
		{"orders_paid_replayed_pending_body", "orders/paid", "order_pending.json", ""},
		// API versions.
		{"orders_paid_2024_01", "orders/paid", "order_paid_2024_01.json", ""},
		{"orders_paid_2025_10", "orders/paid", "order_paid_2025_10.json", ""},
		{"orders_paid_string_ids", "orders/paid", "order_paid_string_ids.json", ""},
		{"orders_paid_sets_only", "orders/paid", "order_paid_sets_only.json", ""},
		{"products_update", "products/update", "product.json", ""},
		{"malformed_json", "orders/create", "not_json.json", ""},
		{"order_without_id", "orders/paid", "order_without_id.json", ""},
	}
	reg := registry(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reads := cmp.Or(c.reads, edited)
			if reads == "-" {
				reads = ""
			}
			d := &ports.Decoder{Stores: reg, Orders: fileReader{reads}, Log: slog.New(slog.DiscardHandler)}
			body, err := os.ReadFile(filepath.Join("testdata", "webhooks", c.file))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(ports.HeaderTopic, c.topic)
			h.Set(ports.HeaderShopDomain, "demo.myshopify.com")
			h.Set(ports.HeaderEventID, "9f0c6b8e-"+strings.ReplaceAll(c.name, "_", "-"))
			del, err := d.Decode(context.Background(), &webhook.Request{Header: h, Payload: body, Received: time.Unix(0, 0)})
			g := golden{Topic: c.topic, Key: del.Key}
			switch {
			case errors.Is(err, webhook.ErrIgnored):
				g.Outcome, g.Reason = "ignored", err.Error()
			case err != nil:
				g.Outcome, g.Reason = "bad_body", err.Error()
			default:
				g.Outcome = "events"
				for _, e := range del.Envelopes {
					b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(e)
					if err != nil {
						t.Fatal(err)
					}
					g.Envelopes = append(g.Envelopes, normalise(t, b))
				}
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", c.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run with -update if the change is meant):\n%s", c.name, got)
			}
		})
	}
}

// normalise re-encodes protojson output, whose whitespace is randomised on
// purpose, so golden files are stable.
func normalise(t *testing.T, b []byte) json.RawMessage {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every event of one webhook and its redelivery has the same id; the
// orders/fulfilled body and the fulfillments/create body of one
// fulfilment give the same event.
func TestIDsFollowShopifyIDs(t *testing.T) {
	d := &ports.Decoder{Stores: registry(t)}
	decode := func(topic, file, eventID string) webhook.Delivery {
		t.Helper()
		body, err := os.ReadFile(filepath.Join("testdata", "webhooks", file))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(ports.HeaderTopic, topic)
		h.Set(ports.HeaderShopDomain, "demo.myshopify.com")
		h.Set(ports.HeaderEventID, eventID)
		del, err := d.Decode(context.Background(), &webhook.Request{Header: h, Payload: body})
		if err != nil {
			t.Fatal(err)
		}
		return del
	}
	a, b := decode("orders/paid", "order_paid.json", "e-1"), decode("orders/paid", "order_paid.json", "e-1")
	if a.Key != b.Key || a.Envelopes[0].GetEventId() != b.Envelopes[0].GetEventId() {
		t.Fatal("a redelivery has another key or event id")
	}
	if c := decode("orders/paid", "order_paid.json", "e-2"); c.Envelopes[0].GetEventId() == a.Envelopes[0].GetEventId() {
		t.Fatal("another event has the same event id")
	}
	f1 := decode("fulfillments/create", "fulfillment.json", "e-3")
	f2 := decode("orders/partially_fulfilled", "order_partially_fulfilled.json", "e-4")
	fulfilled := func(d webhook.Delivery) string {
		for _, e := range d.Envelopes {
			if e.GetStoreOrderFulfilled() != nil {
				return e.GetEventId()
			}
		}
		t.Fatalf("no StoreOrderFulfilled in %v", d.Envelopes)
		return ""
	}
	if fulfilled(f1) != fulfilled(f2) {
		t.Fatal("one fulfilment gives two event ids")
	}
	if f1.Envelopes[0].GetStoreOrderFulfilled().GetStoreFulfillmentId() != "4400000001" {
		t.Fatalf("fulfillment id not carried: %v", f1.Envelopes[0])
	}
}
