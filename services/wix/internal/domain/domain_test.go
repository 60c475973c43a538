package domain_test

import (
	"errors"
	"strings"
	"testing"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/services/wix/internal/domain"
)

func TestProvider(t *testing.T) {
	mapping := map[string]string{"YANWEN": "Yanwen Express", "SPECIAL": "FedEx"}
	cases := []struct{ supplier, want string }{
		{"CAINIAO_STANDARD", "Cainiao"},
		{"cainiao_standard", "Cainiao"},
		{"DHL", "dhl"},
		{"FEDEX_IE", "fedex"},
		{"YANWEN", "Yanwen Express"},
		{"SPECIAL", "fedex"}, // a mapping to a predefined provider gets Wix's spelling
		{"SOME_NEW_LINE", "SOME_NEW_LINE"},
	}
	for _, tc := range cases {
		if got := domain.Provider(tc.supplier, mapping); got != tc.want {
			t.Errorf("Provider(%q) = %q, want %q", tc.supplier, got, tc.want)
		}
	}
}

func TestInput(t *testing.T) {
	fr := &eventsv1.FulfillmentRequested{
		ShipmentId: "s1",
		Lines:      []*eventsv1.LineQuantity{{LineItemId: "a", Quantity: 2}, {LineItemId: "b", Quantity: 0}},
		Tracking:   []*eventsv1.Tracking{{Number: "LP 1/2", Carrier: "CAINIAO_STANDARD"}, {Number: "second"}},
	}
	cases := []struct {
		name string
		fr   *eventsv1.FulfillmentRequested
		want domain.FulfillmentInput
	}{
		{"custom provider gets a link", fr, domain.FulfillmentInput{
			Lines:    []domain.LineQty{{LineItemID: "a", Quantity: 2}},
			Tracking: &domain.Tracking{Number: "LP 1/2", Provider: "Cainiao", Link: "https://t.17track.net/en#nums=LP+1%2F2"},
		}},
		{"no tracking number", &eventsv1.FulfillmentRequested{
			Lines: []*eventsv1.LineQuantity{{LineItemId: "a", Quantity: 2}},
		}, domain.FulfillmentInput{Lines: []domain.LineQty{{LineItemID: "a", Quantity: 2}}}},
		{"predefined provider, Wix makes the link", &eventsv1.FulfillmentRequested{
			Lines: []*eventsv1.LineQuantity{{LineItemId: "a", Quantity: 1}}, Tracking: []*eventsv1.Tracking{{Number: "1Z", Carrier: "UPS"}},
		}, domain.FulfillmentInput{Lines: []domain.LineQty{{LineItemID: "a", Quantity: 1}}, Tracking: &domain.Tracking{Number: "1Z", Provider: "ups"}}},
		{"the supplier's own link wins", &eventsv1.FulfillmentRequested{
			Lines: []*eventsv1.LineQuantity{{LineItemId: "a", Quantity: 1}}, Tracking: []*eventsv1.Tracking{{Number: "Y1", Carrier: "YUN_EXPRESS", Url: "https://yun.example/Y1"}},
		}, domain.FulfillmentInput{Lines: []domain.LineQty{{LineItemID: "a", Quantity: 1}}, Tracking: &domain.Tracking{Number: "Y1", Provider: "YunExpress", Link: "https://yun.example/Y1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.Input(tc.fr, nil, "")
			if len(got.Lines) != len(tc.want.Lines) || got.Lines[0] != tc.want.Lines[0] {
				t.Errorf("lines %+v, want %+v", got.Lines, tc.want.Lines)
			}
			switch {
			case tc.want.Tracking == nil && got.Tracking != nil:
				t.Errorf("tracking %+v, want none", got.Tracking)
			case tc.want.Tracking != nil && (got.Tracking == nil || *got.Tracking != *tc.want.Tracking):
				t.Errorf("tracking %+v, want %+v", got.Tracking, tc.want.Tracking)
			}
		})
	}
}

func TestOurs(t *testing.T) {
	fs := []domain.Fulfillment{
		{ID: "merchant", Lines: []domain.LineQty{{LineItemID: "a", Quantity: 1}}, Tracking: &domain.Tracking{Number: "M1"}},
		{ID: "ours", Lines: []domain.LineQty{{LineItemID: "a", Quantity: 1}, {LineItemID: "b", Quantity: 2}}, Tracking: &domain.Tracking{Number: "T1"}},
		{ID: "untracked", Lines: []domain.LineQty{{LineItemID: "c", Quantity: 1}}},
	}
	in := func(number string, lines ...domain.LineQty) domain.FulfillmentInput {
		x := domain.FulfillmentInput{Lines: lines}
		if number != "" {
			x.Tracking = &domain.Tracking{Number: number}
		}
		return x
	}
	cases := []struct {
		name string
		in   domain.FulfillmentInput
		want string
	}{
		{"same tracking and lines", in("T1", domain.LineQty{LineItemID: "b", Quantity: 2}, domain.LineQty{LineItemID: "a", Quantity: 1}), "ours"},
		{"same tracking, other quantity", in("T1", domain.LineQty{LineItemID: "a", Quantity: 1}, domain.LineQty{LineItemID: "b", Quantity: 1}), ""},
		{"same tracking, fewer lines", in("T1", domain.LineQty{LineItemID: "a", Quantity: 1}), ""},
		{"other tracking, same line", in("T9", domain.LineQty{LineItemID: "a", Quantity: 1}), ""},
		{"no tracking on both sides", in("", domain.LineQty{LineItemID: "c", Quantity: 1}), "untracked"},
		{"no tracking asked, tracked exists", in("", domain.LineQty{LineItemID: "a", Quantity: 1}), ""},
	}
	for _, tc := range cases {
		f, ok := domain.Ours(fs, tc.in)
		if ok != (tc.want != "") || ok && f.ID != tc.want {
			t.Errorf("%s: Ours = %q %v, want %q", tc.name, f.ID, ok, tc.want)
		}
	}
}

func TestDecodeMessageRefusesBrokenLayers(t *testing.T) {
	const mapped = `wix.ecom.v1.order_created`
	cases := map[string]string{
		"not JSON":         `nope`,
		"no data":          `{"iat":1}`,
		"data not a JSON":  `{"data":"{"}`,
		"inner not a JSON": `{"data":"{\"eventType\":\"` + mapped + `\",\"instanceId\":\"i\",\"data\":\"[\"}"}`,
		"no instance":      `{"data":"{\"eventType\":\"` + mapped + `\",\"data\":\"{}\"}"}`,
	}
	for name, claims := range cases {
		if _, err := domain.DecodeMessage([]byte(claims)); !errors.Is(err, domain.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	// The event type comes first: an unmapped one is ErrUnhandled (200,
	// ignored) whatever it lacks.
	for name, claims := range map[string]string{
		"no event type":              `{"data":"{\"instanceId\":\"i\",\"data\":\"{}\"}"}`,
		"unmapped, inner not JSON":   `{"data":"{\"eventType\":\"e\",\"instanceId\":\"i\",\"data\":\"[\"}"}`,
		"unmapped, event without id": `{"data":"{\"eventType\":\"e\",\"data\":\"{}\"}"}`,
	} {
		if _, err := domain.DecodeMessage([]byte(claims)); !errors.Is(err, domain.ErrUnhandled) {
			t.Errorf("%s: err %v, want ErrUnhandled", name, err)
		}
	}
	// A mapped event without an id gets a stable one; a bad eventTime is
	// dropped.
	claims := `{"data":"{\"eventType\":\"` + mapped + `\",\"instanceId\":\"i\",\"data\":\"{\\\"eventTime\\\":\\\"noon\\\"}\"}"}`
	m1, err := domain.DecodeMessage([]byte(claims))
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := domain.DecodeMessage([]byte(claims))
	if m1.Event.ID == "" || m1.Event.ID != m2.Event.ID || !m1.Event.EventTime.IsZero() {
		t.Fatalf("event %+v, want a stable derived id and no time", m1.Event)
	}
}

func TestParseOrderErrorsDoNotQuoteCustomerData(t *testing.T) {
	_, err := domain.ParseOrder([]byte(`{"id":"not a guid","updatedDate":"2026-01-01T00:00:00Z","status":"APPROVED","buyerInfo":{"email":"secret@example.com"},"lineItems":[{"id":"","quantity":-1}]}`))
	if err == nil || !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("err %v, want ErrInvalidOrder", err)
	}
	if strings.Contains(err.Error(), "secret@example.com") || strings.Contains(err.Error(), "not a guid") {
		t.Errorf("error %q quotes the payload", err)
	}
}

func TestStoreOrder(t *testing.T) {
	o, err := domain.ParseOrder([]byte(`{"id":"58c9a790-27b7-463f-a865-c7cb494f7c29","number":"7","updatedDate":"2026-01-01T00:00:00.5Z",
		"status":"APPROVED","paymentStatus":"PARTIALLY_REFUNDED","fulfillmentStatus":"NOT_FULFILLED","currency":"JPY",
		"lineItems":[{"id":"l1","quantity":1,"price":{"amount":"1200"}}],"priceSummary":{"total":{"amount":"1200.0"}},
		"recipientInfo":{"address":{"country":"JP","subdivision":"JP-13","city":"Tokyo"},"contactDetails":{"firstName":"Aiko"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	so, err := o.StoreOrder()
	if err != nil {
		t.Fatal(err)
	}
	if !so.GetPaymentCaptured() || so.GetName() != "#7" || so.GetTotal().GetMinorUnits() != 1200 ||
		so.GetLineItems()[0].GetUnitPrice().GetMinorUnits() != 1200 || so.GetShippingAddress().GetProvince() != "13" || so.GetShippingAddress().GetFullName() != "Aiko" {
		t.Errorf("store order %v", so)
	}
}
