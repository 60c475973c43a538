package domain_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

// FuzzParseWebhookOrder feeds the webhook decoder arbitrary bodies, seeded
// with every testdata body: it must never panic, and an order it accepts
// must map to events.
func FuzzParseWebhookOrder(f *testing.F) {
	files, _ := filepath.Glob("../ports/testdata/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id":"9007199254740993"}`))
	f.Add([]byte(`{"order":{"id":1,"updated_at":"2025-03-01 10:00:00","status":"processing"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = domain.WebhookOrderID(body)
		o, err := domain.ParseWebhookOrder(body, nil)
		if err != nil {
			return
		}
		if _, err := store.Events(o, domain.KindUpdated, nil); err != nil {
			t.Fatalf("parsed order does not map: %v", err)
		}
	})
}
