package aeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/services/aliexpress/internal/aeapi"
)

func TestSignMatchesHandComputedVector(t *testing.T) {
	// PLATFORMS.md's rule, computed by hand (Python's hmac) over
	// access_tokentokapp_key12345formatjsonmethodaliexpress.trade.ds.order.get
	// sign_methodsha256single_order_query{"order_id":8190000000000001}timestamp1700000000000v2.0
	p := url.Values{
		"app_key": {"12345"}, "timestamp": {"1700000000000"}, "sign_method": {"sha256"},
		"method": {"aliexpress.trade.ds.order.get"}, "access_token": {"tok"}, "format": {"json"}, "v": {"2.0"},
		"single_order_query": {`{"order_id":8190000000000001}`},
	}
	if got, want := aeapi.Sign("secret", "", p), "7DAA1A62ABD5AE805D6AE320D7638A6DBDFC67694E061062113B95BF1D953EFA"; got != want {
		t.Errorf("sign = %s, want %s", got, want)
	}
	p.Set("sign", "whatever") // sign itself is never signed
	if got := aeapi.Sign("secret", "", p); got != "7DAA1A62ABD5AE805D6AE320D7638A6DBDFC67694E061062113B95BF1D953EFA" {
		t.Errorf("sign changed with the sign param: %s", got)
	}
	q := url.Values{"app_key": {"12345"}, "timestamp": {"1700000000000"}, "sign_method": {"sha256"}, "code": {"3_abc"}, "format": {"json"}, "v": {"2.0"}}
	if got, want := aeapi.Sign("secret", "/auth/token/create", q), "CF504965C84FE76B3767A4FD5A7998E4EF53A57CAE914F11E441645AE672DA3E"; got != want {
		t.Errorf("/rest sign = %s, want %s", got, want)
	}
}

func TestIDKeepsDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`12000037255569170`, "12000037255569170"}, // above 2^53: float64 would make it ...168
		{`"12000037255569170"`, "12000037255569170"},
		{`8190000000000001`, "8190000000000001"},
		{`null`, ""},
	} {
		var id aeapi.ID
		if err := json.Unmarshal([]byte(tc.in), &id); err != nil || string(id) != tc.want {
			t.Errorf("ID(%s) = %q, %v; want %q", tc.in, id, err, tc.want)
		}
	}
}

func TestListAcceptsArrayBareObjectAndNothing(t *testing.T) {
	type child struct {
		ProductID aeapi.ID `json:"product_id"`
	}
	for _, tc := range []struct {
		name, in string
		want     int
	}{
		{"array", `{"aeop_child_order_info":[{"product_id":1},{"product_id":2}]}`, 2},
		{"one-element list as a bare object", `{"aeop_child_order_info":{"product_id":1}}`, 1},
		{"empty", `{}`, 0},
		{"null", `{"aeop_child_order_info":null}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l aeapi.List
			if err := json.Unmarshal([]byte(tc.in), &l); err != nil {
				t.Fatal(err)
			}
			var kids []child
			if err := l.Items("aeop_child_order_info", &kids); err != nil || len(kids) != tc.want {
				t.Errorf("got %v, %v; want %d", kids, err, tc.want)
			}
		})
	}
	var l aeapi.List
	_ = json.Unmarshal([]byte(`{"number":8190000000000001}`), &l)
	var ids []aeapi.ID
	if err := l.Items("number", &ids); err != nil || len(ids) != 1 || ids[0] != "8190000000000001" {
		t.Errorf("bare number list: %v, %v", ids, err)
	}
}

func TestClassifyReadsCodeAsStringOrNumber(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       string
		retryable  bool
		auth       bool
	}{
		{"string code", `{"error_response":{"code":"IllegalAccessToken","msg":"The specified access token is invalid or expired.","request_id":"r1"}}`, "IllegalAccessToken", false, true},
		{"number code", `{"error_response":{"code":27,"msg":"Invalid session","sub_code":"session-expired","request_id":"r2"}}`, "27", false, true},
		{"numeric daily quota", `{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count"}}`, "7", false, false},
		{"rate limit", `{"error_response":{"code":"ApiCallLimit","msg":"The request has exceeded the limit of API calls.","sub_code":"isv.api-call-limit"}}`, "ApiCallLimit", true, false},
		{"remote timeout", `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.remote-service-timeout"}}`, "15", true, false},
		{"business refusal", `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isv.order-not-exist"}}`, "15", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := aeapi.Classify(&client.Response{StatusCode: 200, Body: []byte(tc.body)})
			var ae *aeapi.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Fatalf("err = %v, want *APIError with code %q", err, tc.code)
			}
			if ae.Auth() != tc.auth {
				t.Errorf("Auth() = %v, want %v", ae.Auth(), tc.auth)
			}
			// Through a client: the marks decide retries.
			ce := &client.Error{Err: err, Retryable: tc.retryable}
			if client.IsRetryable(ce) != tc.retryable {
				t.Errorf("retryable mismatch")
			}
		})
	}
	if err := aeapi.Classify(&client.Response{StatusCode: 200, Body: []byte(`{"aliexpress_ds_order_list_response":{"result":{}}}`)}); err != nil {
		t.Errorf("success classified as %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// gateway serves one recorded response body to every call.
func gateway(t *testing.T, file string) *aeapi.Client {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return aeapi.New(aeapi.Config{BaseURL: srv.URL, AppKey: "app", AppSecret: "secret", AccessToken: "tok"})
}

// golden compares got, as indented JSON, with testdata/<name> (-update
// rewrites it).
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs (run with -update to accept):\n got %s\nwant %s", name, b, want)
	}
}

// TestTrackingReadsCheckpoints: tracking.get's detail_node_list, as a
// list or a bare object, time_stamp as a number or a string, listed in any
// order, gives each parcel's checkpoints oldest first, its latest one and
// whether it was delivered.
func TestTrackingReadsCheckpoints(t *testing.T) {
	pkgs, err := gateway(t, "tracking_get.json").Tracking(context.Background(), "8190000000000001")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tracking_get.golden.json", pkgs)
	if len(pkgs) != 4 {
		t.Fatalf("%d packages, want 4", len(pkgs))
	}
	for i, want := range []struct {
		latest    string
		delivered bool
		nodes     int
	}{
		{"Delivered", true, 3},
		{"In transit", false, 1},
		{"Delivery failed", false, 1},
		{"", false, 0},
	} {
		p := pkgs[i]
		if p.Latest.Name != want.latest || p.Delivered != want.delivered || len(p.Checkpoints) != want.nodes {
			t.Errorf("package %s: latest %q delivered %v, %d checkpoints; want %q %v %d", p.LogisticsNo, p.Latest.Name, p.Delivered, len(p.Checkpoints), want.latest, want.delivered, want.nodes)
		}
	}
	if at := pkgs[0].Latest.At.UnixMilli(); at != 1764300000000 {
		t.Errorf("latest at %d", at)
	}
	if c := pkgs[0].Checkpoints; !c[0].At.Before(c[1].At) || !c[1].At.Before(c[2].At) {
		t.Errorf("checkpoints not oldest first: %v", c)
	}
}

func TestTrackingRefusesABadTimeStamp(t *testing.T) {
	_, err := gateway(t, "tracking_get_bad_time.json").Tracking(context.Background(), "8190000000000001")
	if err == nil || !strings.Contains(err.Error(), "time_stamp") {
		t.Fatalf("a time_stamp that is not a number: %v", err)
	}
}

func TestDeliveredText(t *testing.T) {
	for _, tc := range []struct {
		name, desc string
		want       bool
	}{
		{"Delivered", "", true},
		{"DELIVERED", "Package delivered", true},
		{"", "Your package has been delivered", true},
		{"Signed", "Signed for by the recipient", true},
		{"In transit", "Delivered to the local post office box of the recipient", true},
		{"Shipped", "The seller has shipped the package", false},
		{"Out for delivery", "Out for delivery", false},
		{"In transit", "Delivered to airline", false},
		{"In transit", "Handed over to carrier: delivered to the carrier", false},
		{"Not delivered", "", false},
		{"Delivery exception", "Undelivered: address incomplete", false},
		{"Delivered", "Delivery attempt failed", false},
		{"", "The parcel could not be delivered", false},
		{"", "Package returned to sender, delivered to the seller", false},
		{"", "", false},
	} {
		if got := aeapi.DeliveredText(tc.name, tc.desc); got != tc.want {
			t.Errorf("DeliveredText(%q, %q) = %v, want %v", tc.name, tc.desc, got, tc.want)
		}
	}
}

// TestTrackingFollowsTheSimulator: checkpoints added to a simulated parcel,
// then its delivery, come back through tracking.get in order.
func TestTrackingFollowsTheSimulator(t *testing.T) {
	clock := aliexpresssim.NewClock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	sim := aliexpresssim.New(aliexpresssim.Config{Now: clock.Now, TokenTTL: 365 * 24 * time.Hour, VisibleAfter: time.Second})
	sim.AddApp("app", "secret")
	tok, err := sim.IssueToken("app", "buyer")
	if err != nil {
		t.Fatal(err)
	}
	sim.AddProduct(aliexpresssim.Product{ID: "1005001", SellerID: "9001", ShippingMethods: []string{"CAINIAO_STANDARD"},
		SKUs: []aliexpresssim.SKU{{ID: "120001", Stock: 10, PriceCents: 100}}})
	gw := httptest.NewServer(sim)
	t.Cleanup(gw.Close)
	api := aeapi.New(aeapi.Config{BaseURL: gw.URL, AppKey: "app", AppSecret: "secret", AccessToken: tok.AccessToken, Now: clock.Now,
		HTTP: client.New(client.Config{MaxAttempts: 1})})
	ctx := context.Background()
	placed, err := api.CreateOrder(ctx, aeapi.PlaceRequest{OutOrderID: "out-1",
		Address: aeapi.Address{ContactPerson: "Ada", FullName: "Ada", Address: "1 Main St", City: "Lyon", Province: "Rhone", Zip: "69001", Country: "FR", MobileNo: "600000000", PhoneCountry: "+33"},
		Items:   []aeapi.PlaceItem{{ProductID: "1005001", Count: 1, LogisticsService: "CAINIAO_STANDARD"}}})
	if err != nil || !placed.Success {
		t.Fatalf("place: %v %+v", err, placed)
	}
	id, _ := strconv.ParseInt(placed.OrderIDs[0], 10, 64)
	clock.Advance(time.Minute)
	if err := sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	if err := sim.Ship(id, "LP1", ""); err != nil {
		t.Fatal(err)
	}
	read := func() aeapi.Package {
		t.Helper()
		pkgs, err := api.Tracking(ctx, placed.OrderIDs[0])
		if err != nil || len(pkgs) != 1 {
			t.Fatalf("tracking: %v %v", pkgs, err)
		}
		return pkgs[0]
	}
	if p := read(); p.Latest.Name != "Shipped" || p.Delivered || !p.Latest.At.Equal(clock.Now()) {
		t.Fatalf("shipped: %+v", p)
	}
	clock.Advance(30 * time.Hour)
	if err := sim.Checkpoint(id, "LP1", "In transit", "Arrived at the destination country"); err != nil {
		t.Fatal(err)
	}
	if p := read(); p.Latest.Name != "In transit" || p.Delivered || !p.Latest.At.Equal(clock.Now()) || len(p.Checkpoints) != 2 {
		t.Fatalf("in transit: %+v", p)
	}
	clock.Advance(50 * time.Hour)
	if err := sim.Deliver(id, "LP1"); err != nil {
		t.Fatal(err)
	}
	if p := read(); !p.Delivered || !p.Latest.At.Equal(clock.Now()) || len(p.Checkpoints) != 3 {
		t.Fatalf("delivered: %+v", p)
	}
	if err := sim.Checkpoint(id, "LP1", "In transit", "again"); !errors.Is(err, aliexpresssim.ErrState) {
		t.Errorf("checkpoint after delivery: %v", err)
	}
	if err := sim.Deliver(id, "LP9"); !errors.Is(err, aliexpresssim.ErrUnknown) {
		t.Errorf("unknown parcel: %v", err)
	}
}

// TestShapesWeDoNotExpect: numbers as strings and strings as numbers, ids
// above 2^53, code fields as strings or numbers, null where an object or a
// list was expected, and every list shape decode to the same result; a
// body that is truly unusable is ErrMalformed (retried, never a refusal).
func TestShapesWeDoNotExpect(t *testing.T) {
	get := func(result string) []byte {
		return []byte(`{"aliexpress_trade_ds_order_get_response":{"result":` + result + `}}`)
	}
	create := func(result string) []byte {
		return []byte(`{"aliexpress_ds_order_create_response":{"result":` + result + `}}`)
	}
	track := func(lines string) []byte {
		return []byte(`{"aliexpress_ds_order_tracking_get_response":{"result":{"ret":true,"data":{"tracking_detail_line_list":` + lines + `}}}}`)
	}
	kid := `{"product_id":1005001000000001,"sku_id":12000037255569170,"product_count":2}`
	for _, tc := range []struct {
		name string
		run  func() (string, error)
		want string // fmt of the result, or the error's text
		bad  bool   // ErrMalformed
	}{
		{"children wrapped", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":{"aeop_child_order_info":[` + kid + `]}}`))
		}, "1005001000000001/12000037255569170x2", false},
		{"children wrapped, one as an object", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":{"aeop_child_order_info":` + kid + `}}`))
		}, "1005001000000001/12000037255569170x2", false},
		{"children as a bare array", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":[` + kid + `]}`))
		}, "1005001000000001/12000037255569170x2", false},
		{"children as one bare object", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":` + kid + `}`))
		}, "1005001000000001/12000037255569170x2", false},
		{"ids and counts as strings", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":[{"product_id":"1005001000000001","sku_id":"12000037255569170","product_count":"2"}]}`))
		}, "1005001000000001/12000037255569170x2", false},
		{"ids with an exponent, counts with a fraction", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":[{"product_id":1.005001000000001e15,"sku_id":12000037255569170.0,"product_count":2.0}]}`))
		}, "1005001000000001/12000037255569170x2", false},
		{"status as a number", func() (string, error) {
			o, err := aeapi.ParseOrder(get(`{"order_status":1,"logistics_status":null}`))
			if err != nil {
				return "", err
			}
			return o.Status, nil
		}, "1", false},
		{"null child list and logistics", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":null,"logistics_info_list":null,"store_info":null}`))
		}, "", false},
		{"empty wrapper and empty array", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":{},"logistics_info_list":[]}`))
		}, "", false},
		{"null result", func() (string, error) { return children(get(`null`)) }, "no result", true},
		{"result is a string", func() (string, error) { return children(get(`"oops"`)) }, "no result", true},
		{"a count that is no number", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":[{"product_count":"two"}]}`))
		}, "not an integer", true},
		{"a child that is an array", func() (string, error) {
			return children(get(`{"order_status":"FINISH","child_order_list":[[1]]}`))
		}, "list aeop_child_order_info", true},
		{"order ids above 2^53, numbers and strings, a duplicate", func() (string, error) {
			r, err := aeapi.ParseCreateOrder(create(`{"is_success":"true","order_list":{"number":[8190000000000001,"8190000000000003",8190000000000001]}}`))
			if err != nil {
				return "", err
			}
			return strings.Join(r.OrderIDs, ","), nil
		}, "8190000000000001,8190000000000003", false},
		{"order list as a bare number", func() (string, error) {
			r, err := aeapi.ParseCreateOrder(create(`{"is_success":true,"order_list":8190000000000001}`))
			if err != nil {
				return "", err
			}
			return strings.Join(r.OrderIDs, ","), nil
		}, "8190000000000001", false},
		{"error_code as a number", func() (string, error) {
			r, err := aeapi.ParseCreateOrder(create(`{"is_success":false,"error_code":4001,"error_msg":null}`))
			if err != nil {
				return "", err
			}
			return fmt.Sprint(r.Success, r.ErrorCode), nil
		}, "false4001", false},
		{"success without an order id", func() (string, error) {
			_, err := aeapi.ParseCreateOrder(create(`{"is_success":true,"order_list":{"number":[]}}`))
			return "", err
		}, "success without order ids", true},
		{"a flag that is no flag", func() (string, error) {
			_, err := aeapi.ParseCreateOrder(create(`{"is_success":"maybe"}`))
			return "", err
		}, "not a boolean", true},
		{"tracking lines wrapped", func() (string, error) {
			return parcels(track(`{"tracking_detail":[{"mail_no":"LP1","package_item_list":{"package_item":[{"item_id":1,"quantity":"1"}]}}]}`))
		}, "LP1:1x1", false},
		{"tracking lines bare, items bare, nodes bare", func() (string, error) {
			return parcels(track(`[{"mail_no":"LP1","package_item_list":[{"item_id":"1","quantity":1}],"detail_node_list":[{"time_stamp":"1763700000000","tracking_name":"Shipped"}]}]`))
		}, "LP1:1x1@1763700000000", false},
		{"tracking line as one object, under another wrapper name", func() (string, error) {
			return parcels(track(`{"detail":[{"mail_no":12345,"package_item_list":{"package_item":{"item_id":1,"quantity":2}}}]}`))
		}, "12345:1x2", false},
		{"tracking data null", func() (string, error) {
			return parcels([]byte(`{"aliexpress_ds_order_tracking_get_response":{"result":{"ret":"true","data":null}}}`))
		}, "", false},
		{"tracking ret false: a refusal", func() (string, error) {
			_, err := aeapi.ParseTracking([]byte(`{"aliexpress_ds_order_tracking_get_response":{"result":{"ret":"false","code":1001,"msg":"no info"}}}`))
			var ae *aeapi.APIError
			if errors.As(err, &ae) {
				return ae.Code + " " + ae.Msg, nil
			}
			return "", err
		}, "1001 no info", false},
		{"an error_response inside a success envelope's place", func() (string, error) {
			_, err := aeapi.ParseOrder([]byte(`{"error_response":{"code":27,"msg":"Invalid session","sub_code":"session-expired"}}`))
			var ae *aeapi.APIError
			if errors.As(err, &ae) {
				return ae.Code + " " + fmt.Sprint(ae.Expired()), nil
			}
			return "", err
		}, "27 true", false},
		{"error_response with a numeric sub_code and request id", func() (string, error) {
			e, err := aeapi.ParseError([]byte(`{"error_response":{"code":"7","sub_code":7,"request_id":12000037255569170}}`))
			if err != nil {
				return "", err
			}
			return e.Code + "/" + e.SubCode + "/" + e.RequestID, nil
		}, "7/7/12000037255569170", false},
		{"error_response empty", func() (string, error) {
			e, err := aeapi.ParseError([]byte(`{"error_response":{}}`))
			if err != nil {
				return "", err
			}
			return e.Code, nil
		}, "error_response", false},
		{"error_response null: none", func() (string, error) {
			e, err := aeapi.ParseError([]byte(`{"error_response":null,"aliexpress_ds_order_list_response":{"result":{}}}`))
			return fmt.Sprint(e == nil), err
		}, "true", false},
		{"a body that is no object", func() (string, error) {
			_, err := aeapi.ParseError([]byte(`<html>502</html>`))
			return "", err
		}, "not a JSON object", true},
		{"/rest error at the top level", func() (string, error) {
			_, err := aeapi.ParseToken(aeapi.PathTokenRefresh, []byte(`{"code":"IllegalRefreshToken","type":"ISV","message":"expired"}`))
			var ae *aeapi.APIError
			if errors.As(err, &ae) {
				return ae.Code + " " + ae.Msg, nil
			}
			return "", err
		}, "IllegalRefreshToken expired", false},
		{"token with code 0 as a number and numbers as strings", func() (string, error) {
			tok, err := aeapi.ParseToken(aeapi.PathTokenRefresh, []byte(`{"code":0,"access_token":"a","expire_time":"1795536000000","user_id":2210000000000001}`))
			if err != nil {
				return "", err
			}
			return tok.AccessToken + " " + strconv.FormatInt(tok.ExpiresAt.UnixMilli(), 10) + " " + tok.UserID, nil
		}, "a 1795536000000 2210000000000001", false},
		{"token without access_token", func() (string, error) {
			_, err := aeapi.ParseToken(aeapi.PathTokenRefresh, []byte(`{"code":"0","access_token":null}`))
			return "", err
		}, "no access_token", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.run()
			switch {
			case tc.bad:
				if !errors.Is(err, aeapi.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want ErrMalformed with %q", err, tc.want)
				}
			case err != nil:
				t.Errorf("err = %v, want %q", err, tc.want)
			case got != tc.want:
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// children is a trade.ds.order.get body's children as
// "product/skuxcount;...".
func children(body []byte) (string, error) {
	o, err := aeapi.ParseOrder(body)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, c := range o.Children {
		parts = append(parts, fmt.Sprintf("%s/%sx%d", c.ProductID, c.SkuID, c.Count))
	}
	return strings.Join(parts, ";"), nil
}

// parcels is a tracking.get body's parcels as "no:itemxcount@latest;...".
func parcels(body []byte) (string, error) {
	pkgs, err := aeapi.ParseTracking(body)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, p := range pkgs {
		s := p.LogisticsNo + ":"
		for _, it := range p.Items {
			s += fmt.Sprintf("%sx%d", it.ProductID, it.Count)
		}
		if !p.Latest.At.IsZero() {
			s += "@" + strconv.FormatInt(p.Latest.At.UnixMilli(), 10)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ";"), nil
}
