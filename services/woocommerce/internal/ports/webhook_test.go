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

	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/services/woocommerce/internal/ports"
	"github.com/dropsync/dropsync/services/woocommerce/internal/stores"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func registry(t testing.TB) *stores.Registry {
	t.Helper()
	reg, err := stores.New([]stores.Store{{
		Slug: "acme", SiteURL: "https://acme.example", WebhookSecret: stores.NewSecret("whsec"),
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
	dec := &ports.Decoder{Stores: registry(t)}
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

func TestDecodeRefusesAndIgnores(t *testing.T) {
	dec := &ports.Decoder{Stores: registry(t)}
	h := http.Header{}
	h.Set(ports.HeaderSource, "https://acme.example/")
	h.Set(ports.HeaderTopic, "order.updated")
	for name, body := range map[string]string{
		"not json":     `{"id": 7, "status": `,
		"no id":        `{"status":"processing","date_modified_gmt":"2025-03-01T10:00:00"}`,
		"no modified":  `{"id": 7, "status":"processing"}`,
		"bad date":     `{"id": 7, "status":"processing","date_modified_gmt":"yesterday"}`,
		"array":        `[1,2]`,
		"bad line qty": `{"id": 7, "status":"processing","date_modified_gmt":"2025-03-01T10:00:00","line_items":[{"id":1,"quantity":-1}]}`,
	} {
		if _, err := dec.Decode(context.Background(), &webhook.Request{Header: h, Payload: []byte(body)}); err == nil || errors.Is(err, webhook.ErrIgnored) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	h.Set(ports.HeaderTopic, "product.updated")
	if _, err := dec.Decode(context.Background(), &webhook.Request{Header: h, Payload: []byte(`{"id":1}`)}); !errors.Is(err, webhook.ErrIgnored) {
		t.Errorf("other topic: %v", err)
	}
	ping := http.Header{}
	if _, err := dec.Decode(context.Background(), &webhook.Request{Header: ping, Payload: []byte("webhook_id=12")}); !errors.Is(err, webhook.ErrIgnored) {
		t.Errorf("ping: %v", err)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
