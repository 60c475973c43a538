package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/envelope"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/aliexpress/internal/domain"
)

func TestFailureMapping(t *testing.T) {
	for _, tc := range []struct {
		codes     []string
		want      string
		retryable bool
	}{
		{[]string{"INVENTORY_HOLD_ERROR"}, domain.ReasonOutOfStock, false},
		{[]string{"SKU_NOT_EXIST"}, domain.ReasonSKUUnavailable, false},
		{[]string{"PRODUCT_NOT_EXIST"}, domain.ReasonSKUUnavailable, false},
		{[]string{"B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"}, domain.ReasonAddressRejected, false},
		{[]string{"B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_NOT_MATCH"}, domain.ReasonAddressRejected, false},
		{[]string{"A005_INVALID_COUNTRIES"}, domain.ReasonAddressRejected, false},
		{[]string{"DELIVERY_METHOD_NOT_EXIST"}, domain.ReasonShippingMethod, false},
		{[]string{"A003_SUSPICIOUS_BUYER"}, domain.ReasonRiskControl, false},
		{[]string{"BLACKLIST_BUYER_IN_LIST"}, domain.ReasonRiskControl, false},
		{[]string{"A001_ORDER_CANNOT_BE_PLACED"}, domain.ReasonRiskControl, false},
		{[]string{"USER_ACCOUNT_DISABLED"}, domain.ReasonAccountDisabled, false},
		{[]string{"PRICE_PAY_CURRENCY_ERROR"}, domain.ReasonPaymentCurrency, false},
		{[]string{"REPEATED_ORDER_ERROR"}, domain.ReasonDuplicate, false},
		{[]string{"ERROR_WHEN_BUILD_FOR_PLACE_ORDER"}, domain.ReasonUnavailable, true},
		{[]string{"", "IllegalAccessToken"}, domain.ReasonConnection, true},
		{[]string{"session-expired", "27"}, domain.ReasonConnection, true},
		{[]string{"IncompleteSignature"}, domain.ReasonConnection, true},
		{[]string{"accesscontrol.limited-by-app-access-count", "7"}, domain.ReasonQuota, true},
		{[]string{"isp.remote-service-timeout", "15"}, domain.ReasonUnavailable, true},
		{[]string{"MissingParameter"}, domain.ReasonInvalidPlacement, false},
		{[]string{"SOMETHING_NEW"}, domain.ReasonSupplierError, false},
	} {
		t.Run(fmt.Sprint(tc.codes), func(t *testing.T) {
			r := domain.Failure("msg", tc.codes...)
			if r.GetCode() != tc.want || r.GetRetryable() != tc.retryable || r.GetMessage() == "" {
				t.Errorf("Failure(%v) = %v, want %s retryable=%v", tc.codes, r, tc.want, tc.retryable)
			}
		})
	}
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// tracked is an order of two lines: 2 mugs (li-1), 1 coaster (li-2).
func tracked() domain.Tracked {
	return domain.Tracked{
		AEOrderID: "8190000000000001", OrderID: "shopify:acme:1001", RequestID: "req-1", PlacedAt: t0,
		Lines: []domain.Line{
			{LineItemID: "li-1", ProductID: "1005001", SkuID: "120001", Quantity: 2},
			{LineItemID: "li-2", ProductID: "1005003", SkuID: "120003", Quantity: 1},
		},
	}
}

var children = []domain.Child{{ProductID: "1005001", SkuID: "120001", Count: 2}, {ProductID: "1005003", SkuID: "120003", Count: 1}}

func types(evs []*eventsv1.Envelope) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = envelope.Type(e)
	}
	return out
}

func TestDecide(t *testing.T) {
	now := t0.Add(time.Hour)
	mugs := domain.Package{LogisticsNo: "LP1", Service: "CAINIAO_STANDARD", Items: []domain.Item{{ProductID: "1005001", SkuID: "120001", Count: 2}}}
	coaster := domain.Package{LogisticsNo: "LP2", Service: "CAINIAO_STANDARD", Items: []domain.Item{{ProductID: "1005003", SkuID: "120003", Count: 1}}}
	paid := func(t domain.Tracked) domain.Tracked { t.PaidAt = t0; return t }
	shipped := func(t domain.Tracked) domain.Tracked {
		t = paid(t)
		t.Shipments = []domain.Shipment{{ShipmentID: domain.ShipmentID(t.AEOrderID, "LP1"), LogisticsNo: "LP1", LineQty: map[string]int32{"li-1": 2}, Items: "1005001/120001x2"}}
		return t
	}
	// at gives a package its newest checkpoint, d after t0.
	at := func(p domain.Package, name string, d time.Duration, delivered bool) domain.Package {
		p.Latest, p.Delivered = domain.Checkpoint{Name: name, Desc: name + " (carrier)", At: t0.Add(d)}, delivered
		return p
	}
	// checkpointed says the first shipment's checkpoint at t0+d was published.
	checkpointed := func(t domain.Tracked, d time.Duration, delivered bool) domain.Tracked {
		t.Shipments = slices.Clone(t.Shipments)
		t.Shipments[0].LastCheckpoint, t.Shipments[0].Delivered = t0.Add(d), delivered
		return t
	}
	canceledKids := []domain.Child{{ProductID: "1005001", Count: 2, EndReason: "CANCELED"}, {ProductID: "1005003", Count: 1, EndReason: "IN_CANCEL"}}
	for _, tc := range []struct {
		name   string
		t      domain.Tracked
		obs    domain.Observation
		want   []string
		check  func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked)
		closed bool
	}{
		{name: "placed, unpaid: nothing", t: tracked(), obs: domain.Observation{Status: "PLACE_ORDER_SUCCESS", Children: children}},
		{name: "paid", t: tracked(), obs: domain.Observation{Status: "WAIT_SELLER_SEND_GOODS", Children: children}, want: []string{"SupplierOrderPaid"}},
		{name: "risk control counts as paid", t: tracked(), obs: domain.Observation{Status: "RISK_CONTROL", Children: children}, want: []string{"SupplierOrderPaid"}},
		{name: "paid again: nothing", t: paid(tracked()), obs: domain.Observation{Status: "WAIT_SELLER_SEND_GOODS", Children: children}},
		{name: "partial shipment: the shipped lines only", t: paid(tracked()),
			obs:  domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{mugs}, FromTracking: true},
			want: []string{"SupplierShipmentCreated"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				s := evs[0].GetSupplierShipmentCreated()
				if len(s.GetLines()) != 1 || s.GetLines()[0].GetLineItemId() != "li-1" || s.GetLines()[0].GetQuantity() != 2 {
					t.Errorf("lines %v, want li-1 x2", s.GetLines())
				}
				if s.GetShipmentId() != envelope.ID("8190000000000001", "LP1") || s.GetTracking().GetNumber() != "LP1" || s.GetTracking().GetCarrier() != "CAINIAO_STANDARD" {
					t.Errorf("shipment %v", s)
				}
			}},
		{name: "shipped before paid seen: paid first", t: tracked(),
			obs:  domain.Observation{Status: "WAIT_BUYER_ACCEPT_GOODS", Children: children, Packages: []domain.Package{mugs, coaster}, FromTracking: true},
			want: []string{"SupplierOrderPaid", "SupplierShipmentCreated", "SupplierShipmentCreated"}},
		{name: "rest shipped", t: shipped(tracked()),
			obs:  domain.Observation{Status: "WAIT_BUYER_ACCEPT_GOODS", Children: children, Packages: []domain.Package{mugs, coaster}, FromTracking: true},
			want: []string{"SupplierShipmentCreated"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if l := evs[0].GetSupplierShipmentCreated().GetLines(); len(l) != 1 || l[0].GetLineItemId() != "li-2" {
					t.Errorf("lines %v, want li-2", l)
				}
			}},
		{name: "number replaced", t: shipped(tracked()),
			obs:  domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{{LogisticsNo: "LP1B", Service: "CAINIAO_STANDARD", Items: mugs.Items}}, FromTracking: true},
			want: []string{"SupplierTrackingChanged"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				c := evs[0].GetSupplierTrackingChanged()
				if c.GetShipmentId() != envelope.ID("8190000000000001", "LP1") || c.GetTracking().GetNumber() != "LP1B" {
					t.Errorf("change %v", c)
				}
			}},
		{name: "order-level number only, all shipped: whole order", t: paid(tracked()),
			obs:  domain.Observation{Status: "WAIT_BUYER_ACCEPT_GOODS", LogisticsStatus: "SELLER_SEND_GOODS", Children: children, Packages: []domain.Package{{LogisticsNo: "LP9"}}},
			want: []string{"SupplierShipmentCreated"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if l := evs[0].GetSupplierShipmentCreated().GetLines(); len(l) != 2 {
					t.Errorf("lines %v, want both", l)
				}
			}},
		{name: "order-level number only, partly shipped: wait", t: paid(tracked()),
			obs: domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{{LogisticsNo: "LP9"}}}},
		{name: "canceled", t: tracked(), obs: domain.Observation{Status: "FINISH", Children: canceledKids}, want: []string{"SupplierOrderCanceled"}, closed: true,
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if c := evs[0].GetSupplierOrderCanceled(); len(c.GetLines()) != 0 || c.GetSupplierOrderId() != "8190000000000001" {
					t.Errorf("whole cancel %v", c)
				}
			}},
		{name: "closed without shipping, any end reason: canceled, not paid", t: tracked(),
			obs:  domain.Observation{Status: "FINISH", Children: []domain.Child{{ProductID: "1005001", Count: 2, EndReason: "buyer_pay_timeout"}}},
			want: []string{"SupplierOrderCanceled"}, closed: true},
		{name: "one child canceled, rest finished", t: shipped(tracked()),
			obs:  domain.Observation{Status: "FINISH", Children: []domain.Child{{ProductID: "1005001", Count: 2, EndReason: "buyer_accept_goods"}, {ProductID: "1005003", Count: 1, EndReason: "CANCELED"}}, Packages: []domain.Package{mugs}, FromTracking: true},
			want: []string{"SupplierOrderCanceled", "SupplierOrderFinished"}, closed: true,
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if l := evs[0].GetSupplierOrderCanceled().GetLines(); len(l) != 1 || l[0].GetLineItemId() != "li-2" {
					t.Errorf("canceled lines %v, want li-2", l)
				}
			}},
		{name: "finished", t: shipped(tracked()), obs: domain.Observation{Status: "FINISH", Children: children, Packages: []domain.Package{mugs}, FromTracking: true},
			want: []string{"SupplierOrderFinished"}, closed: true},
		{name: "shipped with a first checkpoint: the shipment, then its progress", t: paid(tracked()),
			obs:  domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(mugs, "Shipped", 0, false)}, FromTracking: true},
			want: []string{"SupplierShipmentCreated", "SupplierTrackingProgressed"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				p := evs[1].GetSupplierTrackingProgressed()
				if p.GetShipmentId() != evs[0].GetSupplierShipmentCreated().GetShipmentId() || p.GetTrackingNumber() != "LP1" || p.GetDelivered() ||
					p.GetLatest().GetName() != "Shipped" || p.GetLatest().GetDescription() != "Shipped (carrier)" || !p.GetLatest().GetOccurredAt().AsTime().Equal(t0) {
					t.Errorf("progress %v", p)
				}
				if !evs[1].GetOccurredAt().AsTime().Equal(t0) {
					t.Errorf("occurred_at %v, want the checkpoint's time", evs[1].GetOccurredAt().AsTime())
				}
				if s := next.Shipments[0]; !s.LastCheckpoint.Equal(t0) || s.Delivered {
					t.Errorf("shipment %+v", s)
				}
			}},
		{name: "a newer checkpoint", t: checkpointed(shipped(tracked()), 0, false),
			obs:  domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(mugs, "In transit", 30*time.Minute, false)}, FromTracking: true},
			want: []string{"SupplierTrackingProgressed"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if !next.Shipments[0].LastCheckpoint.Equal(t0.Add(30 * time.Minute)) {
					t.Errorf("last checkpoint %v", next.Shipments[0].LastCheckpoint)
				}
				if want := domain.EventID("8190000000000001", "progress:"+domain.ShipmentID("8190000000000001", "LP1")+":"+fmt.Sprint(t0.Add(30*time.Minute).UnixMilli())); evs[0].GetEventId() != want {
					t.Errorf("event id %s, want one from the shipment and the checkpoint's time", evs[0].GetEventId())
				}
			}},
		{name: "the same checkpoint again: nothing", t: checkpointed(shipped(tracked()), 0, false),
			obs: domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(mugs, "Shipped", 0, false)}, FromTracking: true}},
		{name: "an older checkpoint: nothing", t: checkpointed(shipped(tracked()), time.Hour, false),
			obs: domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(mugs, "Shipped", 0, false)}, FromTracking: true}},
		{name: "delivered, a line still to ship: still followed", t: checkpointed(shipped(tracked()), 0, false),
			obs:  domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(mugs, "Delivered", time.Hour, true)}, FromTracking: true},
			want: []string{"SupplierTrackingProgressed"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if !evs[0].GetSupplierTrackingProgressed().GetDelivered() || !next.Shipments[0].Delivered {
					t.Errorf("not delivered: %v %+v", evs[0], next.Shipments[0])
				}
				if !next.DeliveredAt.IsZero() {
					t.Errorf("delivered at %v with the coaster not shipped", next.DeliveredAt)
				}
			}},
		{name: "every parcel delivered: no longer polled", t: checkpointed(shipped(tracked()), 0, true),
			obs:  domain.Observation{Status: "WAIT_BUYER_ACCEPT_GOODS", Children: children, Packages: []domain.Package{at(mugs, "Delivered", 0, true), at(coaster, "Delivered", 2*time.Hour, true)}, FromTracking: true},
			want: []string{"SupplierShipmentCreated", "SupplierTrackingProgressed"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if !next.DeliveredAt.Equal(now) {
					t.Errorf("delivered at %v, want %v", next.DeliveredAt, now)
				}
			}},
		{name: "delivered, the rest canceled: no longer polled", t: checkpointed(shipped(tracked()), 0, false),
			obs: domain.Observation{Status: "WAIT_BUYER_ACCEPT_GOODS", Children: []domain.Child{children[0], {ProductID: "1005003", SkuID: "120003", Count: 1, EndReason: "CANCELED"}},
				Packages: []domain.Package{at(mugs, "Delivered", time.Hour, true)}, FromTracking: true},
			want: []string{"SupplierOrderCanceled", "SupplierTrackingProgressed"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if next.DeliveredAt.IsZero() {
					t.Error("not done")
				}
			}},
		{name: "nothing after delivery", t: checkpointed(shipped(tracked()), 0, true),
			obs: domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(mugs, "Returned", 5*time.Hour, false)}, FromTracking: true}},
		{name: "a renumbered parcel's checkpoint goes to its shipment", t: checkpointed(shipped(tracked()), 0, false),
			obs: domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children,
				Packages: []domain.Package{at(domain.Package{LogisticsNo: "LP1B", Service: "CAINIAO_STANDARD", Items: mugs.Items}, "In transit", time.Hour, false)}, FromTracking: true},
			want: []string{"SupplierTrackingChanged", "SupplierTrackingProgressed"},
			check: func(t *testing.T, evs []*eventsv1.Envelope, next domain.Tracked) {
				if p := evs[1].GetSupplierTrackingProgressed(); p.GetShipmentId() != domain.ShipmentID("8190000000000001", "LP1") || p.GetTrackingNumber() != "LP1B" {
					t.Errorf("progress %v", p)
				}
			}},
		{name: "checkpoints of a parcel not published as a shipment: nothing", t: paid(tracked()),
			obs: domain.Observation{Status: "SELLER_PART_SEND_GOODS", Children: children, Packages: []domain.Package{at(domain.Package{LogisticsNo: "LP9"}, "Shipped", 0, false)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := domain.Decide(tc.t, tc.obs, now)
			if fmt.Sprint(types(d.Events)) != fmt.Sprint(tc.want) && (len(d.Events) != 0 || len(tc.want) != 0) {
				t.Fatalf("events %v, want %v", types(d.Events), tc.want)
			}
			for _, e := range d.Events {
				if e.GetOrderId() != "shopify:acme:1001" || e.GetEventId() == "" || e.GetSource().GetPlatform() != eventsv1.Platform_PLATFORM_ALIEXPRESS || e.GetSource().GetStoreId() != "acme" {
					t.Errorf("envelope %v", e)
				}
			}
			if d.Next.Closed != tc.closed {
				t.Errorf("closed = %v, want %v", d.Next.Closed, tc.closed)
			}
			if tc.check != nil {
				tc.check(t, d.Events, d.Next)
			}
			// Deciding again on what was learnt publishes nothing new, and
			// deciding again from the old state gives the same ids.
			again := domain.Decide(tc.t, tc.obs, now.Add(time.Minute))
			for i := range again.Events {
				if again.Events[i].GetEventId() != d.Events[i].GetEventId() {
					t.Errorf("event %d id changed on a re-poll", i)
				}
			}
			if !tc.closed {
				if n := domain.Decide(d.Next, tc.obs, now.Add(time.Minute)).Events; len(n) != 0 {
					t.Errorf("re-poll after learning published %v", types(n))
				}
			}
		})
	}
}

func TestManualQuota(t *testing.T) {
	rule := domain.QuotaRule{Daily: 10, Interval: 10 * time.Minute}
	var q domain.Quota
	now := t0
	for i := range 10 {
		var err error
		if q, err = q.Take("shopify:acme", now, rule); err != nil {
			t.Fatalf("sync %d: %v", i+1, err)
		}
		if _, err := q.Take("shopify:acme", now.Add(9*time.Minute), rule); i < 9 && !errors.Is(err, domain.ErrTooSoon) {
			t.Fatalf("sync 9 minutes later: %v, want ErrTooSoon", err)
		}
		now = now.Add(10 * time.Minute)
	}
	_, err := q.Take("shopify:acme", now, rule)
	var qe *domain.QuotaError
	if !errors.Is(err, domain.ErrQuotaExhausted) || !errors.As(err, &qe) || qe.Scope != "shopify:acme" || !qe.Retry.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("11th sync: %v, want ErrQuotaExhausted until midnight", err)
	}
	if _, err := q.Take("shopify:acme", time.Date(2026, 11, 21, 0, 0, 1, 0, time.UTC), rule); err != nil {
		t.Errorf("next day: %v", err)
	}
}

func TestNextSyncTime(t *testing.T) {
	times, err := domain.ParseSyncTimes([]string{"02:00", " 14:30"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ now, want time.Time }{
		{time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)},
		{time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 14, 30, 0, 0, time.UTC)},
		{time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC)},
	} {
		if got := domain.NextSyncTime(tc.now, times); !got.Equal(tc.want) {
			t.Errorf("NextSyncTime(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
	if _, err := domain.ParseSyncTimes([]string{"25:00"}); err == nil {
		t.Error("25:00 accepted")
	}
}

// TestDecideMapsChildrenToLines: a partial supplier cancellation names
// its store line whether the children carry product_id and sku_id, only
// sku_id (as trade.ds.order.get's sample does), or neither, and whether
// the lines know their SKU ids or not.
func TestDecideMapsChildrenToLines(t *testing.T) {
	now := t0.Add(time.Hour)
	noSKU := func(t domain.Tracked) domain.Tracked {
		t.Lines = slices.Clone(t.Lines)
		for i := range t.Lines {
			t.Lines[i].SkuID = ""
		}
		return t
	}
	// sameProduct is an order of one product in two SKUs: li-1 white x2,
	// li-2 black x1.
	sameProduct := domain.Tracked{AEOrderID: "8190000000000002", OrderID: "shopify:acme:1002", RequestID: "req-2", PlacedAt: t0,
		Lines: []domain.Line{
			{LineItemID: "li-1", ProductID: "1005001", SkuID: "120001", Quantity: 2},
			{LineItemID: "li-2", ProductID: "1005001", SkuID: "120002", Quantity: 1},
		}}
	for _, tc := range []struct {
		name string
		t    domain.Tracked
		kids []domain.Child
		want []string // canceled lines, in order
	}{
		{"product and sku", tracked(), []domain.Child{{ProductID: "1005001", SkuID: "120001", Count: 2}, {ProductID: "1005003", SkuID: "120003", Count: 1, EndReason: "CANCELED"}}, []string{"li-2"}},
		{"product only", tracked(), []domain.Child{{ProductID: "1005001", Count: 2, EndReason: "CANCELED"}, {ProductID: "1005003", Count: 1}}, []string{"li-1"}},
		{"sku only, listed out of order", tracked(), []domain.Child{{SkuID: "120003", Count: 1, EndReason: "CANCELED"}, {SkuID: "120001", Count: 2}}, []string{"li-2"}},
		{"sku only, one product in two skus", sameProduct, []domain.Child{{SkuID: "120002", Count: 1, EndReason: "CANCELED"}, {SkuID: "120001", Count: 2}}, []string{"li-2"}},
		{"product and sku, one product in two skus", sameProduct, []domain.Child{{ProductID: "1005001", SkuID: "120001", Count: 2}, {ProductID: "1005001", SkuID: "120002", Count: 1, EndReason: "CANCELED"}}, []string{"li-2"}},
		{"neither: by quantity", tracked(), []domain.Child{{Count: 1, EndReason: "CANCELED"}, {Count: 2}}, []string{"li-2"}},
		{"neither, same quantities: the remaining line", tracked(), []domain.Child{{SkuID: "999", Count: 2}, {Count: 5, EndReason: "CANCELED"}}, []string{"li-2"}},
		{"sku only, lines without sku ids: by quantity, then what remains", noSKU(tracked()), []domain.Child{{SkuID: "120001", Count: 2}, {SkuID: "120003", Count: 1, EndReason: "CANCELED"}}, []string{"li-2"}},
		{"one matched by sku, the other the remaining line", tracked(), []domain.Child{{Count: 3, EndReason: "CANCELED"}, {SkuID: "120003", Count: 1}}, []string{"li-1"}},
		{"a child of another product never takes a line", tracked(), []domain.Child{{ProductID: "1005009", Count: 2, EndReason: "CANCELED"}, {ProductID: "1005003", Count: 1}}, nil},
		{"more children than lines", tracked(), []domain.Child{{SkuID: "120001", Count: 2}, {SkuID: "120003", Count: 1}, {Count: 1, EndReason: "CANCELED"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.t
			tr.PaidAt = t0
			d := domain.Decide(tr, domain.Observation{Status: "WAIT_SELLER_SEND_GOODS", Children: tc.kids}, now)
			var got []string
			for _, e := range d.Events {
				for _, l := range e.GetSupplierOrderCanceled().GetLines() {
					got = append(got, l.GetLineItemId())
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("canceled lines %v, want %v (events %v)", got, tc.want, types(d.Events))
			}
			if fmt.Sprint(d.Next.CanceledLines) != fmt.Sprint(tc.want) {
				t.Errorf("next.CanceledLines %v, want %v", d.Next.CanceledLines, tc.want)
			}
		})
	}
}
