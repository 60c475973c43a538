package aeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Address is a logistics_address. It is customer data: never log it.
type Address struct {
	ContactPerson string `json:"contact_person"`
	FullName      string `json:"full_name"`
	Address       string `json:"address"`
	Address2      string `json:"address2,omitempty"`
	City          string `json:"city"`
	Province      string `json:"province"`
	Zip           string `json:"zip"`
	Country       string `json:"country"`
	MobileNo      string `json:"mobile_no"`
	PhoneCountry  string `json:"phone_country"`
	CPF           string `json:"cpf,omitempty"`
	TaxNumber     string `json:"tax_number,omitempty"`
}

// PlaceItem is one product_items entry.
type PlaceItem struct {
	ProductID        string
	Count            int
	SkuAttr          string
	LogisticsService string
	Memo             string
}

// PlaceRequest is an aliexpress.ds.order.create call.
type PlaceRequest struct {
	// OutOrderID is the idempotency handle: the same id places once.
	OutOrderID string
	Address    Address
	Items      []PlaceItem
	// PayCurrency of ds_extend_request.payment; default USD.
	PayCurrency string
}

// PlacedProduct says which AliExpress order holds which item.
type PlacedProduct struct {
	OrderID, ProductID, SkuID, SkuAttr string
	Count                              int
}

// PlaceResult is ds.order.create's result. When Success is false,
// ErrorCode and ErrorMsg say why (B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL, ...).
type PlaceResult struct {
	Success             bool
	OrderIDs            []string
	Products            []PlacedProduct
	ErrorCode, ErrorMsg string
}

// idNumber sends a digit id as a JSON number, as AliExpress expects.
func idNumber(s string) any {
	if _, err := strconv.ParseUint(s, 10, 64); err == nil {
		return json.Number(s)
	}
	return s
}

// CreateOrder places an order: aliexpress.ds.order.create.
func (c *Client) CreateOrder(ctx context.Context, req PlaceRequest) (*PlaceResult, error) {
	items := make([]map[string]any, len(req.Items))
	for i, it := range req.Items {
		m := map[string]any{"product_id": idNumber(it.ProductID), "product_count": it.Count, "sku_attr": it.SkuAttr,
			"logistics_service_name": it.LogisticsService}
		if it.Memo != "" {
			m["order_memo"] = it.Memo
		}
		items[i] = m
	}
	param, err := json.Marshal(map[string]any{"out_order_id": req.OutOrderID, "logistics_address": req.Address, "product_items": items})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MethodOrderCreate, err)
	}
	cur := req.PayCurrency
	if cur == "" {
		cur = "USD"
	}
	ext, _ := json.Marshal(map[string]any{"payment": map[string]any{"pay_currency": cur, "try_to_pay": "false"}})
	body, err := c.call(ctx, MethodOrderCreate, "", url.Values{
		"param_place_order_request4_open_api_d_t_o": {string(param)},
		"ds_extend_request":                         {string(ext)},
	})
	if err != nil {
		return nil, err
	}
	return ParseCreateOrder(body)
}

// ParseCreateOrder decodes a ds.order.create response body. order_list
// and order_product_list may come in any List shape, ids and counts as
// numbers or strings, is_success as a boolean or a string. The result is
// consistent: a success has at least one order id, each once, and every
// product names one of them (a product without order_id belongs to the
// only order; one naming no listed order is dropped, and the connector
// reads the orders back instead). A success without is_success but with
// order ids and no error_code is a success: the orders exist.
func ParseCreateOrder(body []byte) (*PlaceResult, error) {
	var r struct {
		IsSuccess        *Bool `json:"is_success"`
		OrderList        List  `json:"order_list"`
		OrderProductList List  `json:"order_product_list"`
		ErrorCode        Code  `json:"error_code"`
		ErrorMsg         Text  `json:"error_msg"`
	}
	if err := result(MethodOrderCreate, body, &r); err != nil {
		return nil, err
	}
	var ids []ID
	if err := r.OrderList.Items("number", &ids); err != nil {
		return nil, malformed(MethodOrderCreate, err.Error())
	}
	out := &PlaceResult{ErrorCode: string(r.ErrorCode), ErrorMsg: string(r.ErrorMsg)}
	switch {
	case r.IsSuccess != nil:
		out.Success = bool(*r.IsSuccess)
	default:
		out.Success = len(ids) > 0 && out.ErrorCode == ""
	}
	if !out.Success {
		return out, nil
	}
	for _, id := range ids {
		if id != "" && !slices.Contains(out.OrderIDs, string(id)) {
			out.OrderIDs = append(out.OrderIDs, string(id))
		}
	}
	if len(out.OrderIDs) == 0 {
		return nil, malformed(MethodOrderCreate, "success without order ids")
	}
	var prods []struct {
		OrderID      ID   `json:"order_id"`
		ProductID    ID   `json:"product_id"`
		SkuID        ID   `json:"sku_id"`
		SkuAttr      Text `json:"sku_attr"`
		ProductCount Int  `json:"product_count"`
	}
	if err := r.OrderProductList.Items("aeop_order_product", &prods); err != nil {
		return nil, malformed(MethodOrderCreate, err.Error())
	}
	for _, p := range prods {
		if p.ProductCount < 0 {
			return nil, malformed(MethodOrderCreate, "negative product_count")
		}
		oid := string(p.OrderID)
		if oid == "" && len(out.OrderIDs) == 1 {
			oid = out.OrderIDs[0]
		}
		if !slices.Contains(out.OrderIDs, oid) {
			continue
		}
		out.Products = append(out.Products, PlacedProduct{OrderID: oid, ProductID: string(p.ProductID), SkuID: string(p.SkuID), SkuAttr: string(p.SkuAttr), Count: int(p.ProductCount)})
	}
	return out, nil
}

// Child is a child order: one product of an AliExpress order.
type Child struct {
	ProductID, SkuID string
	Count            int
	EndReason        string
}

// Logistics is an order-level tracking number.
type Logistics struct {
	LogisticsNo, Service string
}

// OrderInfo is trade.ds.order.get's result.
type OrderInfo struct {
	Status, LogisticsStatus string
	// Created is gmt_create, read in China Standard Time (UTC+8).
	Created   time.Time
	Children  []Child
	Logistics []Logistics
}

// Zone is the time zone of AliExpress's gmt_* fields, which carry none.
var Zone = time.FixedZone("CST", 8*3600)

// GetOrder reads an order: aliexpress.trade.ds.order.get.
func (c *Client) GetOrder(ctx context.Context, aeOrderID string) (*OrderInfo, error) {
	q, _ := json.Marshal(map[string]any{"order_id": idNumber(aeOrderID)})
	body, err := c.call(ctx, MethodOrderGet, "", url.Values{"single_order_query": {string(q)}})
	if err != nil {
		return nil, err
	}
	return ParseOrder(body)
}

// ParseOrder decodes a trade.ds.order.get response body. child_order_list
// and logistics_info_list may come in any List shape; a child may lack
// product_id (the domain matches it by SKU, then by elimination); counts
// and ids may be numbers or strings. An order without order_status is
// malformed.
func ParseOrder(body []byte) (*OrderInfo, error) {
	var r struct {
		GMTCreate       Text `json:"gmt_create"`
		OrderStatus     Text `json:"order_status"`
		LogisticsStatus Text `json:"logistics_status"`
		ChildOrderList  List `json:"child_order_list"`
		LogisticsList   List `json:"logistics_info_list"`
	}
	if err := result(MethodOrderGet, body, &r); err != nil {
		return nil, err
	}
	if r.OrderStatus == "" {
		return nil, malformed(MethodOrderGet, "no order_status")
	}
	info := &OrderInfo{Status: string(r.OrderStatus), LogisticsStatus: string(r.LogisticsStatus)}
	if r.GMTCreate != "" {
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", string(r.GMTCreate), Zone); err == nil {
			info.Created = t
		}
	}
	var kids []struct {
		ProductID    ID   `json:"product_id"`
		SkuID        ID   `json:"sku_id"`
		ProductCount Int  `json:"product_count"`
		EndReason    Text `json:"end_reason"`
	}
	if err := r.ChildOrderList.Items("aeop_child_order_info", &kids); err != nil {
		return nil, malformed(MethodOrderGet, err.Error())
	}
	for _, k := range kids {
		if k.ProductCount < 0 {
			return nil, malformed(MethodOrderGet, "negative product_count")
		}
		info.Children = append(info.Children, Child{ProductID: string(k.ProductID), SkuID: string(k.SkuID), Count: int(k.ProductCount), EndReason: string(k.EndReason)})
	}
	var logs []struct {
		LogisticsNo      Text `json:"logistics_no"`
		LogisticsService Text `json:"logistics_service"`
	}
	if err := r.LogisticsList.Items("aeop_order_logistics_info", &logs); err != nil {
		return nil, malformed(MethodOrderGet, err.Error())
	}
	for _, l := range logs {
		if l.LogisticsNo != "" {
			info.Logistics = append(info.Logistics, Logistics{LogisticsNo: string(l.LogisticsNo), Service: string(l.LogisticsService)})
		}
	}
	return info, nil
}

// PackageItem is a quantity of one product in a package.
type PackageItem struct {
	ProductID, SkuID string
	Count            int
}

// Checkpoint is one event of a parcel's tracking (a detail_node).
type Checkpoint struct {
	// Name is tracking_name ("Shipped", "In transit", "Delivered").
	Name string
	// Desc is tracking_detail_desc, the carrier's text.
	Desc string
	// At is time_stamp (epoch milliseconds); zero when absent.
	At time.Time
}

// Package is one parcel of an order, from tracking.get.
type Package struct {
	LogisticsNo string
	// Service is the logistics service code when given, else the carrier name.
	Service string
	Carrier string
	Items   []PackageItem
	// Checkpoints are the parcel's tracking events, oldest first.
	Checkpoints []Checkpoint
	// Latest is the newest checkpoint; zero when there is none.
	Latest Checkpoint
	// Delivered: a newest checkpoint says the parcel was delivered
	// ([DeliveredText]).
	Delivered bool
}

// DeliveredText reports whether a checkpoint's name or description says
// the parcel was delivered ("Delivered", "Package delivered, signed by
// ..."), case-insensitively, and neither says that delivery failed or did
// not happen ("Not delivered", "Undelivered", "Delivery attempt failed"),
// nor is a hand-over between carriers ("Delivered to airline"). In doubt
// it says no: a parcel taken for delivered is no longer followed.
func DeliveredText(name, desc string) bool {
	t := strings.ToLower(name + " | " + desc)
	if !strings.Contains(t, "delivered") && !strings.Contains(t, "signed for") && !strings.Contains(t, "signed by") {
		return false
	}
	return !slices.ContainsFunc(notDelivered, func(n string) bool { return strings.Contains(t, n) })
}

// notDelivered are words that, next to "delivered", mean it was not.
var notDelivered = []string{
	"not delivered", "not be delivered", "undelivered", "fail", "unable", "unsuccessful", "attempt",
	"return", "to airline", "to carrier", "to the carrier", "to courier", "to linehaul", "to customs", "to sorting",
}

// latest is the newest of checkpoints sorted oldest first, and whether a
// checkpoint of that same time says delivered.
func latest(nodes []Checkpoint) (Checkpoint, bool) {
	if len(nodes) == 0 {
		return Checkpoint{}, false
	}
	newest := nodes[len(nodes)-1]
	delivered := false
	for _, n := range nodes {
		if n.At.Equal(newest.At) && DeliveredText(n.Name, n.Desc) {
			delivered = true
		}
	}
	return newest, delivered
}

// Tracking reads an order's parcels: aliexpress.ds.order.tracking.get.
func (c *Client) Tracking(ctx context.Context, aeOrderID string) ([]Package, error) {
	body, err := c.call(ctx, MethodTrackingGet, "", url.Values{"ae_order_id": {aeOrderID}, "language": {c.cfg.Language}})
	if err != nil {
		return nil, err
	}
	return ParseTracking(body)
}

// ParseTracking decodes a ds.order.tracking.get response body.
// tracking_detail_line_list, package_item_list and detail_node_list may
// come in any List shape; time_stamp as a number or a string. A result
// whose ret is false and that lists no parcel is AliExpress's refusal, an
// *APIError with its code and msg. Each package has a logistics number,
// its checkpoints oldest first, Latest the newest of them, and Delivered
// only with a checkpoint.
func ParseTracking(body []byte) ([]Package, error) {
	var r struct {
		Ret  *Bool `json:"ret"`
		Code Code  `json:"code"`
		Msg  Text  `json:"msg"`
		Data *struct {
			Lines List `json:"tracking_detail_line_list"`
		} `json:"data"`
	}
	if err := result(MethodTrackingGet, body, &r); err != nil {
		return nil, err
	}
	var lines []struct {
		MailNo           Text `json:"mail_no"`
		CarrierName      Text `json:"carrier_name"`
		LogisticsService Text `json:"logistics_service"`
		PackageItems     List `json:"package_item_list"`
		DetailNodes      List `json:"detail_node_list"`
	}
	if r.Data != nil {
		if err := r.Data.Lines.Items("tracking_detail", &lines); err != nil {
			return nil, malformed(MethodTrackingGet, err.Error())
		}
	}
	if r.Ret != nil && !bool(*r.Ret) && len(lines) == 0 {
		return nil, &APIError{Code: string(r.Code), Msg: string(r.Msg)}
	}
	var out []Package
	for _, l := range lines {
		if l.MailNo == "" {
			continue
		}
		p := Package{LogisticsNo: string(l.MailNo), Carrier: string(l.CarrierName), Service: string(l.LogisticsService)}
		if p.Service == "" {
			p.Service = p.Carrier
		}
		var items []struct {
			ItemID   ID  `json:"item_id"`
			SkuID    ID  `json:"sku_id"`
			Quantity Int `json:"quantity"`
		}
		if err := l.PackageItems.Items("package_item", &items); err != nil {
			return nil, malformed(MethodTrackingGet, err.Error())
		}
		for _, it := range items {
			if it.Quantity < 0 {
				return nil, malformed(MethodTrackingGet, "negative quantity")
			}
			p.Items = append(p.Items, PackageItem{ProductID: string(it.ItemID), SkuID: string(it.SkuID), Count: int(it.Quantity)})
		}
		var nodes []struct {
			TimeStamp ID   `json:"time_stamp"`
			Name      Text `json:"tracking_name"`
			Desc      Text `json:"tracking_detail_desc"`
		}
		if err := l.DetailNodes.Items("detail_node", &nodes); err != nil {
			return nil, malformed(MethodTrackingGet, err.Error())
		}
		for _, n := range nodes {
			c := Checkpoint{Name: string(n.Name), Desc: string(n.Desc)}
			if n.TimeStamp != "" {
				ms, err := strconv.ParseInt(string(n.TimeStamp), 10, 64)
				if err != nil || ms < 0 || ms > maxMillis {
					return nil, malformed(MethodTrackingGet, "time_stamp "+string(n.TimeStamp))
				}
				c.At = time.UnixMilli(ms).UTC()
			}
			p.Checkpoints = append(p.Checkpoints, c)
		}
		slices.SortStableFunc(p.Checkpoints, func(a, b Checkpoint) int { return a.At.Compare(b.At) })
		p.Latest, p.Delivered = latest(p.Checkpoints)
		out = append(out, p)
	}
	return out, nil
}

// maxMillis bounds time_stamp: the year 9999.
const maxMillis = 253402300799999
