package domain_test

import (
	"testing"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	"github.com/dropsync/dropsync/services/shopify/internal/domain"
)

func TestAllocate(t *testing.T) {
	fos := []domain.FulfillmentOrder{
		{ID: "fo-closed", Status: "CLOSED", Lines: []domain.FulfillmentOrderLine{{ID: "x", LineItemID: "1", Remaining: 5}}},
		{ID: "fo-1", Status: "IN_PROGRESS", Lines: []domain.FulfillmentOrderLine{{ID: "a", LineItemID: "1", Remaining: 1}, {ID: "b", LineItemID: "2", Remaining: 3}}},
		{ID: "fo-2", Status: "OPEN", Lines: []domain.FulfillmentOrderLine{{ID: "c", LineItemID: "1", Remaining: 2}}},
	}
	cases := []struct {
		name      string
		want      []*eventsv1.LineQuantity
		alloc     string
		shortSize int
	}{
		{"spread over fulfillment orders", []*eventsv1.LineQuantity{{LineItemId: "1", Quantity: 3}}, "fo-1:a=1 fo-2:c=2", 0},
		{"several lines", []*eventsv1.LineQuantity{{LineItemId: "2", Quantity: 2}, {LineItemId: "1", Quantity: 1}}, "fo-1:a=1,b=2", 0},
		{"more than remains", []*eventsv1.LineQuantity{{LineItemId: "2", Quantity: 5}}, "fo-1:b=3", 1},
		{"unknown line", []*eventsv1.LineQuantity{{LineItemId: "9", Quantity: 1}}, "", 1},
		{"nothing asked", nil, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			alloc, short := domain.Allocate(fos, c.want)
			got := ""
			for i, a := range alloc {
				if i > 0 {
					got += " "
				}
				got += a.FulfillmentOrderID + ":"
				for j, l := range a.Lines {
					if j > 0 {
						got += ","
					}
					got += l.ID + "=" + itoa(l.Quantity)
				}
			}
			if got != c.alloc || len(short) != c.shortSize {
				t.Fatalf("alloc %q short %v, want %q and %d short", got, short, c.alloc, c.shortSize)
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}

func TestTrackingFor(t *testing.T) {
	const tmpl = "https://track.example/{number}"
	cases := []struct {
		name    string
		in      []*eventsv1.Tracking
		mapping map[string]string
		want    domain.TrackingInput
	}{
		{"recognised company, no url", []*eventsv1.Tracking{{Number: "LP1", Carrier: "CAINIAO_STANDARD"}}, nil,
			domain.TrackingInput{Company: "Cainiao", Numbers: []string{"LP1"}}},
		{"store mapping wins", []*eventsv1.Tracking{{Number: "LP1", Carrier: "CAINIAO_STANDARD"}}, map[string]string{"CAINIAO_STANDARD": "4PX"},
			domain.TrackingInput{Company: "4PX", Numbers: []string{"LP1"}}},
		{"unknown company gets a url", []*eventsv1.Tracking{{Number: "YW 1", Carrier: "YANWEN_JYT"}}, map[string]string{"YANWEN_JYT": "Yanwen"},
			domain.TrackingInput{Company: "Yanwen", Numbers: []string{"YW 1"}, URLs: []string{"https://track.example/YW+1"}}},
		{"unmapped supplier name kept", []*eventsv1.Tracking{{Number: "X1", Carrier: "SUNYOU_ECONOMY"}}, nil,
			domain.TrackingInput{Company: "SUNYOU_ECONOMY", Numbers: []string{"X1"}, URLs: []string{"https://track.example/X1"}}},
		{"the event's url is kept", []*eventsv1.Tracking{{Number: "LP1", Carrier: "CAINIAO_STANDARD", Url: "https://c.example/LP1"}}, nil,
			domain.TrackingInput{Company: "Cainiao", Numbers: []string{"LP1"}, URLs: []string{"https://c.example/LP1"}}},
		{"case matters for shopify, not for the table", []*eventsv1.Tracking{{Number: "1", Carrier: "fedex"}}, nil,
			domain.TrackingInput{Company: "FedEx", Numbers: []string{"1"}}},
		{"empty numbers skipped", []*eventsv1.Tracking{{Carrier: "UPS"}}, nil, domain.TrackingInput{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := domain.TrackingFor(c.in, c.mapping, tmpl)
			if got.Company != c.want.Company || join(got.Numbers) != join(c.want.Numbers) || join(got.URLs) != join(c.want.URLs) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for _, x := range s {
		out += x + "|"
	}
	return out
}

func TestExisting(t *testing.T) {
	fs := []domain.Fulfillment{
		{ID: "1", Status: "cancelled", Tracking: []domain.Tracking{{Number: "LP1"}}},
		{ID: "2", Status: "success", Tracking: []domain.Tracking{{Number: "LP2"}}},
	}
	if _, ok := domain.Existing(fs, []string{"LP1"}); ok {
		t.Fatal("a cancelled fulfilment counted")
	}
	if f, ok := domain.Existing(fs, []string{"LPX", "LP2"}); !ok || f.ID != "2" {
		t.Fatalf("got %v %v", f, ok)
	}
	if _, ok := domain.Existing(fs, nil); ok {
		t.Fatal("no tracking matched something")
	}
}
