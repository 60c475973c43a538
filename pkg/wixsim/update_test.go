package wixsim_test

import (
	"strings"
	"testing"

	"github.com/dropsync/dropsync/pkg/wixsim"
)

func TestUpdateFulfillment(t *testing.T) {
	s, srv := newSim(t, wixsim.Config{})
	o := order(t, s, 1)
	f, err := s.Fulfill(o.ID, []wixsim.FulfillmentLineItem{{ID: o.LineItems[0].ID, Quantity: 1}}, &wixsim.TrackingInfo{TrackingNumber: "T1", ShippingProvider: "fedex"})
	if err != nil {
		t.Fatal(err)
	}
	update := func(fid string, body any) (int, []byte) {
		st, _, b := call(t, srv, "PATCH", "/fulfillments/"+fid+"/orders/"+o.ID, body, auth)
		return st, b
	}
	tracking := func(tr map[string]string) any {
		return map[string]any{"fulfillment": map[string]any{"trackingInfo": tr}}
	}
	steps := []struct {
		name string
		fid  string
		body any
		want int
		code string
	}{
		{"unknown fulfilment", "nope", tracking(map[string]string{"trackingNumber": "T2", "shippingProvider": "ups"}), 404, wixsim.CodeFulfillmentNotFound},
		{"lines cannot change", f.ID, map[string]any{"fulfillment": map[string]any{"lineItems": []any{}}}, 400, ""},
		{"custom provider without link", f.ID, tracking(map[string]string{"trackingNumber": "T2", "shippingProvider": "Cainiao"}), 400, wixsim.CodeTrackingLinkNeeded},
		{"new number", f.ID, tracking(map[string]string{"trackingNumber": "T2", "shippingProvider": "ups"}), 200, ""},
		{"same again", f.ID, tracking(map[string]string{"trackingNumber": "T2", "shippingProvider": "ups"}), 200, ""},
	}
	for _, step := range steps {
		st, b := update(step.fid, step.body)
		if st != step.want {
			t.Fatalf("%s: status %d, want %d: %s", step.name, st, step.want, b)
		}
		if step.code != "" && !strings.Contains(string(b), `"code":"`+step.code+`"`) {
			t.Errorf("%s: body %s, want code %s", step.name, b, step.code)
		}
	}
	fs, _ := s.Fulfillments(o.ID)
	if len(fs) != 1 || fs[0].TrackingInfo.TrackingNumber != "T2" || !strings.Contains(fs[0].TrackingInfo.TrackingLink, "ups.com") {
		t.Fatalf("fulfillments %+v, want one with T2 and ups's link", fs)
	}
	if e := s.Emails(); len(e) != 1 {
		t.Errorf("emails %+v, want only the creation's: an update sends none", e)
	}
}
