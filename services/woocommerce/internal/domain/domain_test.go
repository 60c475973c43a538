package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/woocommerce/internal/domain"
)

var store = domain.Store{Slug: "acme", Site: domain.SiteKey("https://Acme.example/")}

func ptr(s string) *string { return &s }

func baseOrder(status string) domain.Order {
	o := domain.Order{
		ID: 727, Number: "727", Status: status, Currency: "USD", Total: "48.90",
		DateCreatedGMT:  ptr("2025-03-01T10:00:00"),
		DateModifiedGMT: ptr("2025-03-01T10:05:00"),
		LineItems: []domain.LineItem{
			{ID: 801, Name: "Mug", ProductID: 11, Quantity: 2, SKU: "MUG-1", Price: "14.95"},
			{ID: 802, Name: "Tee", ProductID: 12, VariationID: 13, Quantity: 1, SKU: "TEE-M", Price: "19"},
		},
		Shipping: domain.Address{FirstName: "Ada", LastName: "L", Address1: "1 Main St", City: "Springfield", Country: "US"},
		Billing:  domain.Address{Email: "ada@example.com"},
	}
	switch status {
	case "processing", "completed", "refunded", "cancelled-paid", "on-hold-paid":
		o.DatePaidGMT = ptr("2025-03-01T10:01:00")
	}
	o.Status = strings.TrimSuffix(o.Status, "-paid")
	if status == "completed" {
		o.DateCompletedGMT = ptr("2025-03-01T10:05:00")
	}
	return o
}

func types(envs []*eventsv1.Envelope) []string {
	var out []string
	for _, e := range envs {
		out = append(out, envelope.Type(e))
	}
	return out
}

// TestStatusMapping is the status mapping table: each WooCommerce status
// and what it becomes.
func TestStatusMapping(t *testing.T) {
	tests := []struct {
		status   string
		topic    string
		want     []string
		captured bool
	}{
		{"pending", domain.KindCreated, []string{"StoreOrderCreated"}, false},
		{"on-hold", domain.KindUpdated, []string{"StoreOrderUpdated"}, false},
		{"checkout-draft", domain.KindCreated, []string{"StoreOrderCreated"}, false},
		{"failed", domain.KindUpdated, []string{"StoreOrderUpdated"}, false},
		{"processing", domain.KindCreated, []string{"StorePaymentCaptured", "StoreOrderCreated"}, true},
		{"on-hold-paid", domain.KindUpdated, []string{"StorePaymentCaptured", "StoreOrderUpdated"}, true},
		{"completed", domain.KindUpdated, []string{"StorePaymentCaptured", "StoreOrderUpdated", "StoreOrderFulfilled"}, true},
		{"cancelled", domain.KindUpdated, []string{"StoreOrderUpdated", "StoreOrderCanceled"}, false},
		{"cancelled-paid", domain.KindUpdated, []string{"StorePaymentCaptured", "StoreOrderUpdated", "StoreOrderCanceled"}, true},
		{"refunded", domain.KindUpdated, []string{"StorePaymentCaptured", "StoreOrderUpdated", "StoreOrderRefunded"}, true},
		{"trash", domain.KindUpdated, []string{"StoreOrderUpdated", "StoreOrderCanceled"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.status, func(t *testing.T) {
			envs, err := store.Events(baseOrder(tc.status), tc.topic, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := types(envs); !slices.Equal(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for _, e := range envs {
				if e.GetOrderId() != "woocommerce:acme:727" || e.GetEventId() == "" || e.GetSource().GetPlatform() != eventsv1.Platform_PLATFORM_WOOCOMMERCE {
					t.Fatalf("envelope %v", e)
				}
			}
			snap := envs[slices.IndexFunc(envs, func(e *eventsv1.Envelope) bool {
				return e.GetStoreOrderCreated() != nil || e.GetStoreOrderUpdated() != nil
			})]
			so := snap.GetStoreOrderCreated().GetOrder()
			if so == nil {
				so = snap.GetStoreOrderUpdated().GetOrder()
			}
			if so.GetPaymentCaptured() != tc.captured {
				t.Fatalf("payment_captured %v", so.GetPaymentCaptured())
			}
			switch e := envs[len(envs)-1]; {
			case e.GetStoreOrderRefunded() != nil && len(e.GetStoreOrderRefunded().GetLines()) != 0:
				t.Fatal("a refunded order is refunded whole")
			case e.GetStoreOrderCanceled() != nil && len(e.GetStoreOrderCanceled().GetLines()) != 0:
				t.Fatal("a cancelled order is cancelled whole")
			case e.GetStoreOrderFulfilled() != nil && e.GetStoreOrderFulfilled().GetStoreFulfillmentId() != "woocommerce:order:727:completed":
				t.Fatalf("fulfillment id %q", e.GetStoreOrderFulfilled().GetStoreFulfillmentId())
			}
		})
	}
}

func TestSameStateSameIDs(t *testing.T) {
	o := baseOrder("processing")
	a, _ := store.Events(o, domain.KindUpdated, nil)
	b, _ := store.Events(o, domain.KindUpdated, nil)
	for i := range a {
		if a[i].GetEventId() != b[i].GetEventId() {
			t.Fatal("same state, different ids")
		}
	}
	// Another change within the same second: same date_modified_gmt, other
	// state, other snapshot id; the payment id stays.
	o2 := o
	o2.Shipping.City = "Shelbyville"
	c, _ := store.Events(o2, domain.KindUpdated, nil)
	if c[0].GetEventId() != a[0].GetEventId() || c[1].GetEventId() == a[1].GetEventId() {
		t.Fatal("a change in the same second must give a new snapshot id, and the same payment id")
	}
}

func TestPartialRefundLines(t *testing.T) {
	o := baseOrder("processing")
	o.Refunds = []domain.RefundRef{{ID: 900, Total: "-14.95"}}
	details := []domain.RefundDetail{
		{ID: 900, Amount: "14.95", Created: time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC),
			Items: []domain.RefundLineItem{{ProductID: 11, Quantity: -1, RefundedItemID: 801}}},
		{ID: 901, Amount: "2.00"}, // money only
		{ID: 902, Amount: "19.00", Items: []domain.RefundLineItem{{ProductID: 12, VariationID: 13, Quantity: -1}}},
	}
	if !o.NeedsRefunds() {
		t.Fatal("needs refunds")
	}
	envs, err := store.Events(o, domain.KindUpdated, o.ResolveRefunds(details))
	if err != nil {
		t.Fatal(err)
	}
	var refunds []*eventsv1.StoreOrderRefunded
	for _, e := range envs {
		if r := e.GetStoreOrderRefunded(); r != nil {
			refunds = append(refunds, r)
		}
	}
	if len(refunds) != 2 || refunds[0].GetLines()[0].GetLineItemId() != "801" || refunds[1].GetLines()[0].GetLineItemId() != "802" ||
		refunds[0].GetAmount().GetMinorUnits() != 1495 {
		t.Fatalf("refunds %v", refunds)
	}
}

func TestPlanTracking(t *testing.T) {
	known := domain.Providers{"usps": "USPS", "fedex": "Fedex"}
	plan := domain.PlanTracking([]*eventsv1.Tracking{
		{Number: "9400", Carrier: "USPS"},
		{Number: "LP1", Carrier: "CAINIAO_FULFILLMENT_STD"},
		{Number: "LP1", Carrier: "CAINIAO_FULFILLMENT_STD"},
		{Number: "YT2", Carrier: "YANWEN", Url: "https://track.yw56.com.cn/en/querydel?nums=YT2"},
		{Number: "FX3", Carrier: "MY_FEDEX"},
	}, map[string]string{"MY_FEDEX": "fedex"}, known, "", time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC))
	want := []domain.TrackingWrite{
		{Number: "9400", Provider: "USPS", DateShipped: "2025-03-02"},
		{Number: "LP1", CustomProvider: "Cainiao", CustomLink: "https://t.17track.net/en#nums=LP1", DateShipped: "2025-03-02"},
		{Number: "YT2", CustomProvider: "YANWEN", CustomLink: "https://track.yw56.com.cn/en/querydel?nums=YT2", DateShipped: "2025-03-02"},
		{Number: "FX3", Provider: "Fedex", DateShipped: "2025-03-02"},
	}
	if !slices.Equal(plan, want) {
		t.Fatalf("plan\n got %+v\nwant %+v", plan, want)
	}
	if m := domain.Missing(plan, []string{"9400", "YT2"}); len(m) != 2 || m[0].Number != "LP1" {
		t.Fatalf("missing %+v", m)
	}
	notes := []domain.Note{{ID: 7, Text: domain.NoteText(plan[1])}, {ID: 8, Text: "Order status changed from Pending payment to Processing."}}
	if got := domain.NoteNumbers(notes); !slices.Equal(got, []string{"LP1"}) {
		t.Fatalf("note numbers %v", got)
	}
	if got := domain.NotesOf(notes, " lp1 "); !slices.Equal(got, []int64{7}) {
		t.Fatalf("notes of LP1: %v", got)
	}
	if got := domain.NotesOf(notes, "LP2"); len(got) != 0 {
		t.Fatalf("notes of LP2: %v", got)
	}
}
