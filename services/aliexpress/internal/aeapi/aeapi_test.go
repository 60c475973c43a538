package aeapi_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"

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
