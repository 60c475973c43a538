package ports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

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
		AccessToken: stores.NewSecret("shpat_x"), WebhookSecret: stores.NewSecret("whsec"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// fileReader answers orders/edited's read with a webhook body from testdata.
type fileReader struct{ file string }

func (f fileReader) Order(context.Context, *stores.Store, string) (domain.Order, error) {
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
	cases := []struct {
		name, topic, file string
	}{
		{"orders_create", "orders/create", "order_pending.json"},
		{"orders_paid", "orders/paid", "order_paid.json"},
		{"orders_updated_refunded", "orders/updated", "order_partially_refunded.json"},
		{"orders_edited", "orders/edited", "order_edit.json"},
		{"orders_cancelled", "orders/cancelled", "order_cancelled.json"},
		{"refunds_create", "refunds/create", "refund.json"},
		{"refunds_create_money_only", "refunds/create", "refund_money_only.json"},
		{"fulfillments_create", "fulfillments/create", "fulfillment.json"},
		{"fulfillments_create_cancelled", "fulfillments/create", "fulfillment_cancelled.json"},
		{"orders_partially_fulfilled", "orders/partially_fulfilled", "order_partially_fulfilled.json"},
		{"products_update", "products/update", "product.json"},
		{"malformed_json", "orders/create", "not_json.json"},
		{"order_without_id", "orders/paid", "order_without_id.json"},
	}
	d := &ports.Decoder{Stores: registry(t), Orders: fileReader{"order_partially_refunded.json"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
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
	if f1.Envelopes[0].GetEventId() != f2.Envelopes[0].GetEventId() {
		t.Fatal("one fulfilment gives two event ids")
	}
	if f1.Envelopes[0].GetStoreOrderFulfilled().GetStoreFulfillmentId() != "4400000001" {
		t.Fatalf("fulfillment id not carried: %v", f1.Envelopes[0])
	}
}
