package aliexpresssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// wrap encodes a list the AliExpress way: {name: [...]}, or {name: {...}}
// for one element when Config.Singletons says so; a bare array when
// Config.BareLists. Callers hold mu.
func (s *Sim) wrap(name string, items []any) any {
	if items == nil {
		items = []any{}
	}
	if s.cfg.BareLists {
		return items
	}
	if len(items) == 1 {
		bare := false
		switch s.cfg.Singletons {
		case SingletonsObject:
			bare = true
		case SingletonsAlternate:
			s.flip = !s.flip
			bare = s.flip
		}
		if bare {
			return map[string]any{name: items[0]}
		}
	}
	return map[string]any{name: items}
}

// decodeParam decodes a JSON-string parameter strictly.
func decodeParam(p url.Values, name string, v any) *apiError {
	raw := p.Get(name)
	if raw == "" {
		return errMissing(name)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	if err := dec.Decode(v); err != nil {
		return errInvalid(name, "not a JSON object: "+err.Error())
	}
	return nil
}

type placeRequest struct {
	OutOrderID       string            `json:"out_order_id"`
	LogisticsAddress map[string]string `json:"logistics_address"`
	ProductItems     []struct {
		ProductID            flexID `json:"product_id"`
		ProductCount         int    `json:"product_count"`
		SkuAttr              string `json:"sku_attr"`
		LogisticsServiceName string `json:"logistics_service_name"`
		OrderMemo            string `json:"order_memo"`
	} `json:"product_items"`
}

type extendRequest struct {
	Payment struct {
		PayCurrency string `json:"pay_currency"`
		TryToPay    any    `json:"try_to_pay"`
	} `json:"payment"`
}

func placeFailure(code, msg string) map[string]any {
	return map[string]any{"result": map[string]any{"is_success": false, "error_code": code, "error_msg": msg}}
}

// addressProblem names the first thing wrong with a logistics address,
// with AliExpress's wording.
func addressProblem(a map[string]string) string {
	switch {
	case a["contact_person"] == "" && a["full_name"] == "":
		return "Please enter a contact name"
	case a["address"] == "":
		return "Please enter a street address"
	case a["country"] == "" || len(a["country"]) != 2 || strings.ToUpper(a["country"]) != a["country"]:
		return "Please select a Country/Region"
	case a["province"] == "":
		return "Please select a State/Province/County"
	case a["city"] == "":
		return "Please enter a City"
	case a["zip"] == "":
		return "Please enter a ZIP code"
	case a["mobile_no"] == "" || a["phone_country"] == "":
		return "Please enter a mobile number"
	case a["country"] == "BR" && a["cpf"] == "" && a["tax_number"] == "":
		return "Please enter the CPF number"
	}
	return ""
}

func (s *Sim) orderCreate(now time.Time, tok *token, p url.Values) (map[string]any, *apiError) {
	var req placeRequest
	if err := decodeParam(p, "param_place_order_request4_open_api_d_t_o", &req); err != nil {
		return nil, err
	}
	if raw := p.Get("ds_extend_request"); raw != "" {
		var ext extendRequest
		if err := json.Unmarshal([]byte(raw), &ext); err != nil {
			return nil, errInvalid("ds_extend_request", "not a JSON object")
		}
		switch ext.Payment.PayCurrency {
		case "", "USD", "EUR", "GBP", "BRL", "CAD", "AUD":
		default:
			return placeFailure(CodeCurrency, "Order products should be declared in the same currency."), nil
		}
	}
	outKey := tok.account + "\x00" + req.OutOrderID
	if req.OutOrderID != "" {
		if ids, ok := s.byOut[outKey]; ok {
			return s.placed(ids), nil
		}
	}
	if len(s.failures) > 0 {
		f := &s.failures[0]
		code, msg := f.Code, f.Msg
		if f.Times--; f.Times <= 0 {
			s.failures = s.failures[1:]
		}
		return placeFailure(code, msg), nil
	}
	if len(req.ProductItems) == 0 {
		return nil, errInvalid("product_items", "at least one item is required")
	}
	if msg := addressProblem(req.LogisticsAddress); msg != "" {
		return placeFailure(CodeAddressInvalid, msg), nil
	}
	country := req.LogisticsAddress["country"]
	type line struct {
		product *Product
		sku     *SKU
		count   int
		method  string
	}
	lines := make([]line, 0, len(req.ProductItems))
	want := map[*SKU]int{}
	for _, it := range req.ProductItems {
		pr, ok := s.products[string(it.ProductID)]
		if !ok {
			return placeFailure(CodeProductNotExist, fmt.Sprintf("Product %s does not exist or is no longer available.", it.ProductID)), nil
		}
		if it.ProductCount < 1 || it.ProductCount > 9999 {
			return nil, errInvalid("product_count", "must be 1 to 9999")
		}
		k := pr.sku(it.SkuAttr)
		if k == nil {
			return placeFailure(CodeSKUNotExist, fmt.Sprintf("SKU %q of product %s does not exist.", it.SkuAttr, pr.ID)), nil
		}
		method := it.LogisticsServiceName
		if method == "" && len(pr.ShippingMethods) > 0 {
			method = pr.ShippingMethods[0]
		}
		if !pr.shipsWith(method) || !pr.shipsTo(country) {
			return placeFailure(CodeDeliveryMethod, "Delivery method is not valid."), nil
		}
		want[k] += it.ProductCount
		lines = append(lines, line{product: pr, sku: k, count: it.ProductCount, method: method})
	}
	for k, n := range want {
		if k.Stock < n {
			return placeFailure(CodeInventory, "Product inventory is insufficient."), nil
		}
	}
	bySeller := map[string]*order{}
	var ids []int64
	for _, l := range lines {
		o := bySeller[l.product.SellerID]
		if o == nil {
			o = &order{id: s.nextOrder, account: tok.account, outOrderID: req.OutOrderID, sellerID: l.product.SellerID,
				storeName: l.product.StoreName, created: now, status: StatusPlaced, logistics: LogisticsDefault}
			s.nextOrder++
			bySeller[l.product.SellerID] = o
			s.orders[o.id] = o
			s.orderIDs = append(s.orderIDs, o.id)
			ids = append(ids, o.id)
		}
		l.sku.Stock -= l.count
		o.children = append(o.children, &child{
			id: o.id*100 + int64(len(o.children)+1), productID: l.product.ID, skuID: l.sku.ID, attr: l.sku.Attr,
			title: l.product.Title, count: l.count, priceCents: l.sku.PriceCents,
		})
	}
	if req.OutOrderID != "" {
		s.byOut[outKey] = ids
	}
	return s.placed(ids), nil
}

// placed is the success result for the orders of one placement.
func (s *Sim) placed(ids []int64) map[string]any {
	numbers := make([]any, len(ids))
	var products []any
	for i, id := range ids {
		numbers[i] = id
		for _, c := range s.orders[id].children {
			products = append(products, map[string]any{
				"order_id": id, "product_id": num(c.productID), "sku_id": num(c.skuID), "sku_attr": c.attr, "product_count": c.count,
			})
		}
	}
	res := map[string]any{"is_success": true, "order_list": s.wrap("number", numbers)}
	if !s.cfg.OrderIDsOnly {
		res["order_product_list"] = s.wrap("aeop_order_product", products)
	}
	return map[string]any{"result": res}
}

// visible finds an order of the token's account that trade.ds.order.get
// may show. Callers hold mu.
func (s *Sim) visible(now time.Time, tok *token, raw string) (*order, *apiError) {
	id, err := strconv.ParseInt(raw, 10, 64)
	o, ok := s.orders[id]
	if err != nil || !ok || o.account != tok.account || now.Before(o.created.Add(s.cfg.VisibleAfter)) {
		return nil, &apiError{code: 15, msg: "Remote service error", subCode: "isv.order-not-exist", subMsg: fmt.Sprintf("order %s not found", raw)}
	}
	s.advance(o, now)
	return o, nil
}

func (s *Sim) orderGet(now time.Time, tok *token, p url.Values) (map[string]any, *apiError) {
	var q struct {
		OrderID flexID `json:"order_id"`
	}
	if err := decodeParam(p, "single_order_query", &q); err != nil {
		return nil, err
	}
	if q.OrderID == "" {
		return nil, errMissing("single_order_query.order_id")
	}
	o, aerr := s.visible(now, tok, string(q.OrderID))
	if aerr != nil {
		return nil, aerr
	}
	var total int64
	children := make([]any, 0, len(o.children))
	for _, c := range o.children {
		total += c.priceCents * int64(c.count)
		ch := map[string]any{
			"sku_id": num(c.skuID), "product_count": c.count,
			"product_name": c.title, "product_price": money(c.priceCents),
		}
		if !s.cfg.ChildrenWithoutProductID {
			ch["product_id"] = num(c.productID)
		}
		if c.endReason != "" {
			ch["end_reason"] = c.endReason
		}
		children = append(children, ch)
	}
	res := map[string]any{
		"gmt_create":       o.created.In(s.cfg.Zone).Format(timestampLayout),
		"order_status":     o.status,
		"logistics_status": o.logistics,
		"order_amount":     money(total),
		"child_order_list": s.wrap("aeop_child_order_info", children),
		"store_info":       map[string]any{"store_id": num(o.sellerID), "store_name": o.storeName},
	}
	if len(o.packages) > 0 {
		infos := make([]any, 0, len(o.packages))
		for _, pk := range o.packages {
			infos = append(infos, map[string]any{"logistics_no": pk.logisticsNo, "logistics_service": pk.service})
		}
		res["logistics_info_list"] = s.wrap("aeop_order_logistics_info", infos)
	}
	return map[string]any{"result": res}, nil
}

func (s *Sim) trackingGet(now time.Time, tok *token, p url.Values) (map[string]any, *apiError) {
	raw := p.Get("ae_order_id")
	if raw == "" {
		return nil, errMissing("ae_order_id")
	}
	if p.Get("language") == "" {
		return nil, errMissing("language")
	}
	o, aerr := s.visible(now, tok, raw)
	if aerr != nil {
		return nil, aerr
	}
	lines := make([]any, 0, len(o.packages))
	for _, pk := range o.packages {
		items := make([]any, 0, len(pk.items))
		for _, it := range pk.items {
			items = append(items, map[string]any{"item_id": num(it.ProductID), "sku_id": num(it.SkuID), "quantity": it.Count})
		}
		nodes := []any{map[string]any{
			"time_stamp": pk.at.UnixMilli(), "tracking_name": "Shipped",
			"tracking_detail_desc": "The seller has shipped the package",
		}}
		for _, c := range pk.checkpoints {
			nodes = append(nodes, map[string]any{"time_stamp": c.at.UnixMilli(), "tracking_name": c.name, "tracking_detail_desc": c.desc})
		}
		lines = append(lines, map[string]any{
			"mail_no":           pk.logisticsNo,
			"carrier_name":      carrierName(pk.service),
			"logistics_service": pk.service,
			"eta_time_stamps":   pk.at.Add(15 * 24 * time.Hour).UnixMilli(),
			"package_item_list": s.wrap("package_item", items),
			"detail_node_list":  s.wrap("detail_node", nodes),
		})
	}
	return map[string]any{"result": map[string]any{
		"ret":  true,
		"code": 0,
		"data": map[string]any{"tracking_detail_line_list": s.wrap("tracking_detail", lines)},
	}}, nil
}

func (s *Sim) orderList(now time.Time, tok *token, p url.Values) (map[string]any, *apiError) {
	parse := func(name string) (time.Time, *apiError) {
		v := p.Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation(timestampLayout, v, s.cfg.Zone)
		if err != nil {
			return time.Time{}, errInvalid(name, "want YYYY-MM-DD HH:MM:SS")
		}
		return t, nil
	}
	from, aerr := parse("create_date_start")
	if aerr != nil {
		return nil, aerr
	}
	to, aerr := parse("create_date_end")
	if aerr != nil {
		return nil, aerr
	}
	page, size := 1, 20
	if v := p.Get("current_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errInvalid("current_page", "want a positive number")
		}
		page = n
	}
	if v := p.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, errInvalid("page_size", "want 1 to 100")
		}
		size = n
	}
	status := p.Get("order_status")
	var match []*order
	for _, id := range s.orderIDs {
		o := s.orders[id]
		s.advance(o, now)
		if o.account != tok.account || now.Before(o.created.Add(s.cfg.VisibleAfter)) ||
			!from.IsZero() && o.created.Before(from) || !to.IsZero() && o.created.After(to) ||
			status != "" && o.status != status {
			continue
		}
		match = append(match, o)
	}
	var items []any
	for i := (page - 1) * size; i < len(match) && i < page*size; i++ {
		o := match[i]
		items = append(items, map[string]any{
			"order_id": o.id, "order_status": o.status, "logistics_status": o.logistics,
			"gmt_create": o.created.In(s.cfg.Zone).Format(timestampLayout), "out_order_id": o.outOrderID,
		})
	}
	return map[string]any{"result": map[string]any{
		"current_page": page, "page_size": size, "total_count": len(match),
		"total_page": (len(match) + size - 1) / size,
		"order_list": s.wrap("ae_order_info", items),
	}}, nil
}
