package app_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
	"github.com/dropsync/dropsync/services/orders/internal/app"
)

// TestStoreCommandsRecordWhoAsked: a settings or mapping change given with
// WithRequestedBy names the caller in its event.
func TestStoreCommandsRecordWhoAsked(t *testing.T) {
	s := newStore(t)
	a := newApp(s)
	who := &eventsv1.Principal{Name: "ops-1", Kind: "token"}
	ctx := app.WithRequestedBy(context.Background(), who)
	if _, err := a.UpdateSettings(ctx, "r1", "shopify:s", &eventsv1.StoreSettings{ShippingConfirmation: false}); err != nil {
		t.Fatal(err)
	}
	m := &eventsv1.SupplierMapping{VariantId: "v-1", ProductId: "100", ShippingMethod: "CAINIAO_STANDARD"}
	if _, err := a.UpdateMapping(ctx, "r2", "shopify:s", m, false); err != nil {
		t.Fatal(err)
	}
	n := 0
	for rec, err := range s.ReadAll(context.Background(), eventstore.Start, eventstore.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rec.Stream, "store-") {
			continue
		}
		env, err := envelope.Unmarshal(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !proto.Equal(env.GetRequestedBy(), who) {
			t.Errorf("%s requested_by %v, want %v", rec.Type, env.GetRequestedBy(), who)
		}
	}
	if n != 2 {
		t.Fatalf("%d store events, want 2", n)
	}
}
