package aliexpresssim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	sim "github.com/dropsync/dropsync/pkg/aliexpresssim"
)

const (
	appKey    = "500123"
	appSecret = "s3cr3t-app"
	account   = "buyer-1"
)

var start = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// env is a simulator on a loopback server with one app, one token and a
// small catalog: two sellers.
type env struct {
	t     *testing.T
	sim   *sim.Sim
	clock *sim.Clock
	srv   *httptest.Server
	tok   sim.Token
}

func newEnv(t *testing.T, cfg sim.Config) *env {
	t.Helper()
	clock := sim.NewClock(start)
	cfg.Now = clock.Now
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 30 * 24 * time.Hour
	}
	s := sim.New(cfg)
	s.AddApp(appKey, appSecret)
	tok, err := s.IssueToken(appKey, account)
	if err != nil {
		t.Fatal(err)
	}
	s.AddProduct(sim.Product{ID: "1005001", SellerID: "9001", StoreName: "Mug World", Title: "Mug",
		SKUs:            []sim.SKU{{ID: "12000037255569170", Attr: "14:200013901#White", Stock: 10, PriceCents: 350}, {ID: "12000037255569171", Attr: "14:193#Black", Stock: 1, PriceCents: 350}},
		ShippingMethods: []string{"CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD"}})
	s.AddProduct(sim.Product{ID: "1005002", SellerID: "9002", StoreName: "Tee Land", Title: "Tee",
		SKUs:            []sim.SKU{{ID: "12000040000000001", Attr: "5:361386", Stock: 10, PriceCents: 800}},
		ShippingMethods: []string{"CAINIAO_STANDARD"}, ShipsTo: []string{"PT", "US"}})
	s.AddProduct(sim.Product{ID: "1005003", SellerID: "9001", StoreName: "Mug World", Title: "Coaster",
		ShippingMethods: []string{"CAINIAO_STANDARD"}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{t: t, sim: s, clock: clock, srv: srv, tok: tok}
}

// params are the signed parameters of a business call.
func (e *env) params(method string, biz map[string]string) url.Values {
	p := url.Values{}
	p.Set("app_key", appKey)
	p.Set("access_token", e.tok.AccessToken)
	p.Set("timestamp", strconv.FormatInt(e.clock.Now().UnixMilli(), 10))
	p.Set("sign_method", "sha256")
	p.Set("format", "json")
	p.Set("v", "2.0")
	p.Set("method", method)
	for k, v := range biz {
		p.Set(k, v)
	}
	p.Set("sign", sim.Sign(appSecret, "", p))
	return p
}

// post sends p to path as a form and decodes the answer.
func (e *env) post(path string, p url.Values) map[string]any {
	e.t.Helper()
	resp, err := postForm(e.srv.URL+path, p)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		e.t.Fatalf("decode %s: %v", b, err)
	}
	return out
}

// postForm posts p as a form.
func postForm(u string, p url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(p.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return http.DefaultClient.Do(req)
}

func (e *env) call(method string, biz map[string]string) map[string]any {
	e.t.Helper()
	return e.post("/sync", e.params(method, biz))
}

// result returns the success body's result, failing on error_response.
func (e *env) result(out map[string]any, method string) map[string]any {
	e.t.Helper()
	if er, ok := out["error_response"]; ok {
		e.t.Fatalf("%s: error_response %v", method, er)
	}
	r, ok := out[strings.ReplaceAll(method, ".", "_")+"_response"].(map[string]any)
	if !ok {
		e.t.Fatalf("%s: no %s_response in %v", method, strings.ReplaceAll(method, ".", "_"), out)
	}
	return r["result"].(map[string]any)
}

// errorCode returns error_response.code as text, "" when absent.
func errorCode(out map[string]any) string {
	er, ok := out["error_response"].(map[string]any)
	if !ok {
		return ""
	}
	return fmt.Sprint(er["code"])
}

// list reads a wrapped list: {name: [...]} or {name: {...}}.
func list(v any, name string) []any {
	m, _ := v.(map[string]any)
	switch x := m[name].(type) {
	case []any:
		return x
	case map[string]any:
		return []any{x}
	case nil:
		return nil
	default:
		return []any{x}
	}
}

func placeParam(out string, items ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"out_order_id": out,
		"logistics_address": map[string]string{
			"contact_person": "Ada Lovelace", "full_name": "Ada Lovelace", "address": "1 Rua Augusta", "city": "Lisboa",
			"province": "Lisboa", "zip": "1100-048", "country": "PT", "mobile_no": "912345678", "phone_country": "+351",
		},
		"product_items": items,
	})
	return string(b)
}

func item(product, attr string, n int) map[string]any {
	return map[string]any{"product_id": json.Number(product), "sku_attr": attr, "product_count": n, "logistics_service_name": "CAINIAO_STANDARD"}
}

func (e *env) place(out string, items ...map[string]any) map[string]any {
	e.t.Helper()
	return e.result(e.call(sim.MethodOrderCreate, map[string]string{
		"param_place_order_request4_open_api_d_t_o": placeParam(out, items...),
		"ds_extend_request":                         `{"payment":{"pay_currency":"USD","try_to_pay":"false"}}`,
	}), sim.MethodOrderCreate)
}

func orderIDs(res map[string]any) []int64 {
	var ids []int64
	for _, n := range list(res["order_list"], "number") {
		id, _ := strconv.ParseInt(fmt.Sprint(n), 10, 64)
		ids = append(ids, id)
	}
	return ids
}

func TestSignMatchesHandComputedVector(t *testing.T) {
	// By the rule in PLATFORMS.md, computed by hand (Python's hmac):
	//   sorted: access_token app_key format method sign_method single_order_query timestamp v
	//   string: access_tokentokapp_key12345formatjsonmethodaliexpress.trade.ds.order.get
	//           sign_methodsha256single_order_query{"order_id":8190000000000001}timestamp1700000000000v2.0
	p := url.Values{
		"app_key": {"12345"}, "timestamp": {"1700000000000"}, "sign_method": {"sha256"},
		"method": {"aliexpress.trade.ds.order.get"}, "access_token": {"tok"}, "format": {"json"}, "v": {"2.0"},
		"single_order_query": {`{"order_id":8190000000000001}`}, "sign": {"ignored"},
	}
	if got, want := sim.Sign("secret", "", p), "7DAA1A62ABD5AE805D6AE320D7638A6DBDFC67694E061062113B95BF1D953EFA"; got != want {
		t.Errorf("/sync sign = %s, want %s", got, want)
	}
	// /rest: the API path goes in front.
	q := url.Values{"app_key": {"12345"}, "timestamp": {"1700000000000"}, "sign_method": {"sha256"}, "code": {"3_abc"}, "format": {"json"}, "v": {"2.0"}}
	if got, want := sim.Sign("secret", "/auth/token/create", q), "CF504965C84FE76B3767A4FD5A7998E4EF53A57CAE914F11E441645AE672DA3E"; got != want {
		t.Errorf("/rest sign = %s, want %s", got, want)
	}
}

func TestRejectsBadSystemParams(t *testing.T) {
	e := newEnv(t, sim.Config{})
	biz := map[string]string{"single_order_query": `{"order_id":1}`}
	for _, tc := range []struct {
		name   string
		change func(p url.Values)
		resign bool
		code   string
	}{
		{"bad sign", func(p url.Values) { p.Set("sign", strings.Repeat("A", 64)) }, false, "IncompleteSignature"},
		{"lower-case sign", func(p url.Values) { p.Set("sign", strings.ToLower(p.Get("sign"))) }, false, "IncompleteSignature"},
		{"param changed after signing", func(p url.Values) { p.Set("single_order_query", `{"order_id":2}`) }, false, "IncompleteSignature"},
		{"unknown app key", func(p url.Values) { p.Set("app_key", "999") }, true, "InvalidAppKey"},
		{"missing app_key", func(p url.Values) { p.Del("app_key") }, true, "MissingParameter"},
		{"missing timestamp", func(p url.Values) { p.Del("timestamp") }, true, "MissingParameter"},
		{"missing sign", func(p url.Values) { p.Del("sign") }, false, "MissingParameter"},
		{"missing access_token", func(p url.Values) { p.Del("access_token") }, true, "MissingParameter"},
		{"missing format", func(p url.Values) { p.Del("format") }, true, "MissingParameter"},
		{"missing v", func(p url.Values) { p.Del("v") }, true, "MissingParameter"},
		{"md5", func(p url.Values) { p.Set("sign_method", "md5") }, true, "InvalidSignMethod"},
		{"xml", func(p url.Values) { p.Set("format", "xml") }, true, "InvalidParameter"},
		{"stale timestamp", func(p url.Values) { p.Set("timestamp", strconv.FormatInt(start.Add(-11*time.Minute).UnixMilli(), 10)) }, true, "InvalidTimestamp"},
		{"timestamp in seconds", func(p url.Values) { p.Set("timestamp", strconv.FormatInt(start.Unix(), 10)) }, true, "InvalidTimestamp"},
		{"unknown token", func(p url.Values) { p.Set("access_token", "nope") }, true, "IllegalAccessToken"},
		{"unknown method", func(p url.Values) { p.Set("method", "aliexpress.nope") }, true, "InvalidApiPath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.params(sim.MethodOrderGet, biz)
			tc.change(p)
			if tc.resign && p.Get("sign") != "" {
				p.Set("sign", sim.Sign(appSecret, "", p))
			}
			out := e.post("/sync", p)
			if got := errorCode(out); got != tc.code {
				t.Errorf("code = %q, want %q (%v)", got, tc.code, out)
			}
			er := out["error_response"].(map[string]any)
			if er["msg"] == "" || er["request_id"] == "" {
				t.Errorf("error_response without msg or request_id: %v", er)
			}
		})
	}
}

func TestExpiredAndRevokedTokens(t *testing.T) {
	e := newEnv(t, sim.Config{TokenTTL: time.Hour})
	biz := map[string]string{"single_order_query": `{"order_id":1}`}
	e.clock.Advance(time.Hour)
	out := e.call(sim.MethodOrderGet, biz)
	er := out["error_response"].(map[string]any)
	if code, ok := er["code"].(json.Number); !ok || code != "27" || er["sub_code"] != "session-expired" {
		t.Errorf("expired token: %v, want numeric code 27 with sub_code session-expired", er)
	}
	tok, _ := e.sim.IssueToken(appKey, account)
	e.tok = tok
	if err := e.sim.RevokeToken(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if got := errorCode(e.call(sim.MethodOrderGet, biz)); got != "IllegalAccessToken" {
		t.Errorf("revoked token: code %q, want IllegalAccessToken", got)
	}
}

func TestTokenCreateAndRefresh(t *testing.T) {
	e := newEnv(t, sim.Config{})
	rest := func(path string, extra map[string]string) map[string]any {
		p := url.Values{"app_key": {appKey}, "timestamp": {strconv.FormatInt(e.clock.Now().UnixMilli(), 10)},
			"sign_method": {"sha256"}, "format": {"json"}, "v": {"2.0"}}
		for k, v := range extra {
			p.Set(k, v)
		}
		p.Set("sign", sim.Sign(appSecret, path, p))
		return e.post("/rest"+path, p)
	}
	out := rest(sim.PathTokenCreate, map[string]string{"code": e.sim.AuthCode(appKey, account)})
	at, _ := out["access_token"].(string)
	rt, _ := out["refresh_token"].(string)
	if at == "" || rt == "" || out["code"] != "0" || out["account"] != account {
		t.Fatalf("token create: %v", out)
	}
	// Signed without the path in front: refused.
	p := url.Values{"app_key": {appKey}, "timestamp": {strconv.FormatInt(e.clock.Now().UnixMilli(), 10)},
		"sign_method": {"sha256"}, "format": {"json"}, "v": {"2.0"}, "refresh_token": {rt}}
	p.Set("sign", sim.Sign(appSecret, "", p))
	if got := errorCode(e.post("/rest"+sim.PathTokenRefresh, p)); got != "IncompleteSignature" {
		t.Errorf("refresh signed without path: code %q, want IncompleteSignature", got)
	}
	out = rest(sim.PathTokenRefresh, map[string]string{"refresh_token": rt})
	at2, _ := out["access_token"].(string)
	if at2 == "" || at2 == at {
		t.Fatalf("refresh: %v", out)
	}
	if got := errorCode(rest(sim.PathTokenRefresh, map[string]string{"refresh_token": rt})); got != "IllegalRefreshToken" {
		t.Errorf("refresh token used twice: code %q, want IllegalRefreshToken", got)
	}
	e.tok.AccessToken = at2
	if got := errorCode(e.call(sim.MethodOrderList, nil)); got != "" {
		t.Errorf("call with refreshed token: %q", got)
	}
}

func TestPlaceSplitsBySellerAndIsIdempotent(t *testing.T) {
	e := newEnv(t, sim.Config{Singletons: sim.SingletonsList})
	res := e.place("out-1", item("1005001", "14:200013901#White", 2), item("1005002", "5:361386", 1), item("1005003", "", 3))
	if res["is_success"] != true {
		t.Fatalf("placement: %v", res)
	}
	ids := orderIDs(res)
	if len(ids) != 2 {
		t.Fatalf("orders %v, want 2 (one per seller)", ids)
	}
	products := list(res["order_product_list"], "aeop_order_product")
	if len(products) != 3 {
		t.Fatalf("order_product_list %v, want 3 items", products)
	}
	holds := map[string]string{}
	for _, p := range products {
		m := p.(map[string]any)
		holds[fmt.Sprint(m["product_id"])] = fmt.Sprint(m["order_id"])
		if fmt.Sprint(m["product_id"]) == "1005001" && fmt.Sprint(m["sku_id"]) != "12000037255569170" {
			t.Errorf("sku id %v lost precision", m["sku_id"])
		}
	}
	if holds["1005001"] != holds["1005003"] || holds["1005001"] == holds["1005002"] {
		t.Errorf("items by order %v: mug and coaster (seller 9001) together, tee apart", holds)
	}
	if got := e.sim.Stock("1005001", "14:200013901#White"); got != 8 {
		t.Errorf("stock %d, want 8", got)
	}

	again := e.place("out-1", item("1005001", "14:200013901#White", 2), item("1005002", "5:361386", 1), item("1005003", "", 3))
	if fmt.Sprint(orderIDs(again)) != fmt.Sprint(ids) {
		t.Errorf("same out_order_id gave %v, want %v", orderIDs(again), ids)
	}
	if n := len(e.sim.Orders()); n != 2 {
		t.Errorf("%d orders after a repeated placement, want 2", n)
	}
	if got := e.sim.Stock("1005001", "14:200013901#White"); got != 8 {
		t.Errorf("stock %d after a repeated placement, want 8", got)
	}
	if got := e.sim.OrdersByOutOrderID(account, "out-1"); len(got) != 2 {
		t.Errorf("OrdersByOutOrderID = %v", got)
	}
}

func TestPlacementRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*sim.Sim)
		items []map[string]any
		param func(string) string
		code  string
	}{
		{"unknown product", nil, []map[string]any{item("999", "", 1)}, nil, sim.CodeProductNotExist},
		{"unknown sku", nil, []map[string]any{item("1005001", "14:0#Pink", 1)}, nil, sim.CodeSKUNotExist},
		{"out of stock", nil, []map[string]any{item("1005001", "14:193#Black", 2)}, nil, sim.CodeInventory},
		{"shipping method", nil, []map[string]any{{"product_id": 1005002, "sku_attr": "5:361386", "product_count": 1, "logistics_service_name": "DHL"}}, nil, sim.CodeDeliveryMethod},
		{"country not served", nil, []map[string]any{item("1005002", "5:361386", 1)}, func(s string) string { return strings.Replace(s, `"country":"PT"`, `"country":"FR"`, 1) }, sim.CodeDeliveryMethod},
		{"address without city", nil, []map[string]any{item("1005001", "14:200013901#White", 1)}, func(s string) string { return strings.Replace(s, `"city":"Lisboa"`, `"city":""`, 1) }, sim.CodeAddressInvalid},
		{"risk control", func(s *sim.Sim) {
			s.FailPlacement(sim.Failure{Code: sim.CodeSuspiciousBuyer, Msg: "Suspicious buyer."})
		}, []map[string]any{item("1005001", "14:200013901#White", 1)}, nil, sim.CodeSuspiciousBuyer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sim.Config{})
			if tc.setup != nil {
				tc.setup(e.sim)
			}
			param := placeParam("out-x", tc.items...)
			if tc.param != nil {
				param = tc.param(param)
			}
			res := e.result(e.call(sim.MethodOrderCreate, map[string]string{"param_place_order_request4_open_api_d_t_o": param}), sim.MethodOrderCreate)
			if res["is_success"] != false || res["error_code"] != tc.code || res["error_msg"] == "" {
				t.Errorf("result %v, want is_success false with %s", res, tc.code)
			}
			if n := len(e.sim.Orders()); n != 0 {
				t.Errorf("%d orders after a refusal", n)
			}
		})
	}
}

func TestPlaceParamMustBeAJSONString(t *testing.T) {
	e := newEnv(t, sim.Config{})
	if got := errorCode(e.call(sim.MethodOrderCreate, map[string]string{"param_place_order_request4_open_api_d_t_o": "out_order_id=1"})); got != "InvalidParameter" {
		t.Errorf("code %q, want InvalidParameter", got)
	}
	if got := errorCode(e.call(sim.MethodOrderCreate, nil)); got != "MissingParameter" {
		t.Errorf("code %q, want MissingParameter", got)
	}
}

func (e *env) get(id int64) map[string]any {
	e.t.Helper()
	return e.result(e.call(sim.MethodOrderGet, map[string]string{"single_order_query": fmt.Sprintf(`{"order_id":%d}`, id)}), sim.MethodOrderGet)
}

func TestOrderLifecycle(t *testing.T) {
	e := newEnv(t, sim.Config{Singletons: sim.SingletonsList})
	id := orderIDs(e.place("out-2", item("1005001", "14:200013901#White", 2), item("1005003", "", 1)))[0]

	out := e.call(sim.MethodOrderGet, map[string]string{"single_order_query": fmt.Sprintf(`{"order_id":"%d"}`, id)})
	if er := out["error_response"].(map[string]any); fmt.Sprint(er["code"]) != "15" || er["sub_code"] != "isv.order-not-exist" {
		t.Errorf("order queried at once: %v, want not found", er)
	}
	e.clock.Advance(10 * time.Second)
	r := e.get(id)
	if r["order_status"] != sim.StatusPlaced || r["gmt_create"] != "2026-11-20 17:00:00" {
		t.Errorf("placed: status %v, gmt_create %v (want China time, no zone)", r["order_status"], r["gmt_create"])
	}
	if err := e.sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	if r := e.get(id); r["order_status"] != sim.StatusWaitSend || r["logistics_info_list"] != nil {
		t.Errorf("paid: %v", r)
	}
	if err := e.sim.Ship(id, "LP001", "CAINIAO_STANDARD", sim.PackageItem{ProductID: "1005001", Count: 2}); err != nil {
		t.Fatal(err)
	}
	r = e.get(id)
	if r["order_status"] != sim.StatusPartSent || r["logistics_status"] != sim.LogisticsPartSent {
		t.Errorf("part shipped: %v / %v", r["order_status"], r["logistics_status"])
	}
	if infos := list(r["logistics_info_list"], "aeop_order_logistics_info"); len(infos) != 1 || infos[0].(map[string]any)["logistics_no"] != "LP001" {
		t.Errorf("logistics %v", infos)
	}
	if err := e.sim.Ship(id, "LP002", "", sim.PackageItem{}); err == nil {
		t.Error("shipping nothing succeeded")
	}
	if err := e.sim.Ship(id, "LP002", "CAINIAO_STANDARD"); err != nil {
		t.Fatal(err)
	}
	if r := e.get(id); r["order_status"] != sim.StatusWaitAccept {
		t.Errorf("all shipped: %v", r["order_status"])
	}
	tr := e.result(e.call(sim.MethodTrackingGet, map[string]string{"ae_order_id": fmt.Sprint(id), "language": "en_US"}), sim.MethodTrackingGet)
	lines := list(tr["data"], "tracking_detail_line_list")
	if len(lines) != 1 {
		t.Fatalf("tracking data %v", tr["data"])
	}
	details := list(lines[0], "tracking_detail")
	if len(details) != 2 {
		t.Fatalf("tracking %v, want 2 packages", details)
	}
	first := details[0].(map[string]any)
	items := list(first["package_item_list"], "package_item")
	if first["mail_no"] != "LP001" || len(items) != 1 || fmt.Sprint(items[0].(map[string]any)["item_id"]) != "1005001" {
		t.Errorf("first package %v", first)
	}
	if err := e.sim.ChangeTracking(id, "LP002", "LP002B"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Finish(id); err != nil {
		t.Fatal(err)
	}
	r = e.get(id)
	if r["order_status"] != sim.StatusFinish {
		t.Errorf("finished: %v", r["order_status"])
	}
	for _, c := range list(r["child_order_list"], "aeop_child_order_info") {
		if c.(map[string]any)["end_reason"] == sim.EndReasonCanceled {
			t.Errorf("finished child ended CANCELED: %v", c)
		}
	}
}

func TestCancelEndsChildrenCanceled(t *testing.T) {
	e := newEnv(t, sim.Config{Singletons: sim.SingletonsObject})
	id := orderIDs(e.place("out-3", item("1005001", "14:200013901#White", 2)))[0]
	if err := e.sim.Cancel(id, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	r := e.get(id)
	kids := r["child_order_list"].(map[string]any)["aeop_child_order_info"]
	kid, ok := kids.(map[string]any)
	if !ok {
		t.Fatalf("one child with SingletonsObject: %T %v, want a bare object", kids, kids)
	}
	if r["order_status"] != sim.StatusFinish || kid["end_reason"] != sim.EndReasonCanceled {
		t.Errorf("canceled: %v", r)
	}
	if got := e.sim.Stock("1005001", "14:200013901#White"); got != 10 {
		t.Errorf("stock %d after cancel, want 10", got)
	}
}

func TestRiskControlClearsWithTime(t *testing.T) {
	e := newEnv(t, sim.Config{RiskControlFor: 24 * time.Hour})
	id := orderIDs(e.place("out-4", item("1005001", "14:200013901#White", 1)))[0]
	if err := e.sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if r := e.get(id); r["order_status"] != sim.StatusRiskControl {
		t.Errorf("status %v, want RISK_CONTROL", r["order_status"])
	}
	e.clock.Advance(24 * time.Hour)
	if r := e.get(id); r["order_status"] != sim.StatusWaitSend {
		t.Errorf("status %v after 25 h, want WAIT_SELLER_SEND_GOODS", r["order_status"])
	}
}

func TestOrderList(t *testing.T) {
	e := newEnv(t, sim.Config{})
	e.place("a", item("1005001", "14:200013901#White", 1))
	e.place("b", item("1005002", "5:361386", 1))
	e.clock.Advance(time.Minute)
	r := e.result(e.call(sim.MethodOrderList, map[string]string{"page_size": "1", "current_page": "2"}), sim.MethodOrderList)
	if fmt.Sprint(r["total_count"]) != "2" || fmt.Sprint(r["total_page"]) != "2" || len(list(r["order_list"], "ae_order_info")) != 1 {
		t.Errorf("list %v", r)
	}
}

func TestDailyQuotaAndRateLimit(t *testing.T) {
	e := newEnv(t, sim.Config{DailyQuota: 3})
	for range 3 {
		if got := errorCode(e.call(sim.MethodOrderList, nil)); got != "" {
			t.Fatalf("within quota: %s", got)
		}
	}
	out := e.call(sim.MethodOrderList, nil)
	er := out["error_response"].(map[string]any)
	if c, ok := er["code"].(json.Number); !ok || c != "7" || er["sub_code"] != "accesscontrol.limited-by-app-access-count" {
		t.Errorf("over quota: %v, want numeric 7", er)
	}
	e.clock.Advance(24 * time.Hour)
	if got := errorCode(e.call(sim.MethodOrderList, nil)); got != "" {
		t.Errorf("next day: %s", got)
	}

	r := newEnv(t, sim.Config{RateLimit: 2})
	for range 2 {
		if got := errorCode(r.call(sim.MethodOrderList, nil)); got != "" {
			t.Fatalf("within rate: %s", got)
		}
	}
	out = r.call(sim.MethodOrderList, nil)
	if er := out["error_response"].(map[string]any); er["code"] != "ApiCallLimit" || !strings.HasPrefix(fmt.Sprint(er["sub_code"]), "isv.") {
		t.Errorf("over rate: %v", er)
	}
	if got := errorCode(r.call(sim.MethodOrderGet, map[string]string{"single_order_query": `{"order_id":1}`})); got == "ApiCallLimit" {
		t.Error("rate limit is per API: another API was limited")
	}
	r.clock.Advance(time.Second)
	if got := errorCode(r.call(sim.MethodOrderList, nil)); got != "" {
		t.Errorf("a second later: %s", got)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, sim.Config{})
	e.sim.InjectFault(sim.Fault{Method: sim.MethodOrderList, Kind: sim.FaultStatus, Status: 502})
	e.sim.InjectFault(sim.Fault{Kind: sim.FaultErrorResponse, Code: "isp.remote-service-timeout", Msg: "timeout"})
	resp, err := postForm(e.srv.URL+"/sync", e.params(sim.MethodOrderList, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if got := errorCode(e.call(sim.MethodOrderList, nil)); got != "isp.remote-service-timeout" {
		t.Errorf("code %q", got)
	}
	if got := errorCode(e.call(sim.MethodOrderList, nil)); got != "" {
		t.Errorf("after the faults: %q", got)
	}
	e.sim.InjectFault(sim.Fault{Kind: sim.FaultTimeout, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/sync", strings.NewReader(e.params(sim.MethodOrderList, nil).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("timeout fault answered in time")
	}
	calls := e.sim.Calls()
	if len(calls) != 4 || calls[0].HTTPStatus != 502 || calls[1].ErrorCode != "isp.remote-service-timeout" || calls[3].HTTPStatus != 504 {
		t.Errorf("calls %+v", calls)
	}
	if e.sim.CallCount(sim.MethodOrderList) != 4 {
		t.Errorf("CallCount = %d", e.sim.CallCount(sim.MethodOrderList))
	}
}

func TestControlsOverHTTP(t *testing.T) {
	e := newEnv(t, sim.Config{})
	id := orderIDs(e.place("out-5", item("1005001", "14:200013901#White", 1)))[0]
	for _, step := range []string{"/_sim/pay", "/_sim/ship?logistics_no=LP9"} {
		u := e.srv.URL + step
		sep := "?"
		if strings.Contains(step, "?") {
			sep = "&"
		}
		resp, err := postForm(u+sep+"order_id="+fmt.Sprint(id), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s: %d", step, resp.StatusCode)
		}
	}
	o, err := e.sim.Order(id)
	if err != nil || o.Status != sim.StatusWaitAccept || o.Packages[0].LogisticsNo != "LP9" {
		t.Errorf("order %+v, %v", o, err)
	}
}

// TestDocumentedShapes: OrderIDsOnly answers ds.order.create with
// order_list only; BareLists sends lists as bare arrays;
// ChildrenWithoutProductID leaves product_id out of the children.
func TestDocumentedShapes(t *testing.T) {
	e := newEnv(t, sim.Config{OrderIDsOnly: true, BareLists: true, ChildrenWithoutProductID: true, VisibleAfter: time.Second})
	res := e.place("out-1", item("1005001", "14:200013901#White", 2), item("1005002", "5:361386", 1))
	if _, ok := res["order_product_list"]; ok || res["is_success"] != true {
		t.Fatalf("placement %v: want is_success and no order_product_list", res)
	}
	ids, ok := res["order_list"].([]any)
	if !ok || len(ids) != 2 {
		t.Fatalf("order_list %v, want a bare array of 2 ids", res["order_list"])
	}
	e.clock.Advance(2 * time.Second)
	got := e.result(e.call(sim.MethodOrderGet, map[string]string{"single_order_query": fmt.Sprintf(`{"order_id":%v}`, ids[0])}), sim.MethodOrderGet)
	kids, ok := got["child_order_list"].([]any)
	if !ok || len(kids) != 1 {
		t.Fatalf("child_order_list %v, want a bare array of 1 child", got["child_order_list"])
	}
	kid := kids[0].(map[string]any)
	if _, ok := kid["product_id"]; ok || fmt.Sprint(kid["sku_id"]) != "12000037255569170" || fmt.Sprint(kid["product_count"]) != "2" {
		t.Errorf("child %v: want sku_id and product_count, no product_id", kid)
	}
}

// TestCallLogIsBounded: a simulator polled for days (make run) keeps only
// the newest Config.CallLog calls, and still counts every call.
func TestCallLogIsBounded(t *testing.T) {
	e := newEnv(t, sim.Config{CallLog: 50})
	const n = 200
	for range n {
		e.call(sim.MethodOrderList, nil)
	}
	calls := e.sim.Calls()
	if len(calls) != 50 {
		t.Fatalf("%d calls kept, want 50", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].At.Before(calls[i-1].At) {
			t.Fatalf("calls out of order at %d", i)
		}
	}
	if got := e.sim.CallCount(sim.MethodOrderList); got != n {
		t.Fatalf("CallCount = %d, want %d", got, n)
	}
	if got := e.sim.CallCount(""); got != n {
		t.Fatalf("CallCount(\"\") = %d, want %d", got, n)
	}
	e.sim.ResetCalls()
	if len(e.sim.Calls()) != 0 || e.sim.CallCount("") != 0 {
		t.Fatal("ResetCalls kept calls")
	}
}
