package shopifysim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Webhook bodies are REST resources (Admin API 2025-10 shapes): orders,
// refunds, fulfillments and order edits, as JSON with numeric ids, decimal
// amounts as strings and ISO-8601 times with the shop's UTC offset.

const restTime = "2006-01-02T15:04:05-07:00"

func (s *Sim) restTime(sh *simShop, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.In(sh.cfg.Location).Format(restTime)
}

func gid(kind string, id int64) string {
	return "gid://shopify/" + kind + "/" + strconv.FormatInt(id, 10)
}

func moneySet(amount, currency string) map[string]any {
	m := map[string]any{"amount": amount, "currency_code": currency}
	return map[string]any{"shop_money": m, "presentment_money": m}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Sim) restLine(o *simOrder, l *simLine, qty int) map[string]any {
	var status any
	switch {
	case l.fulfilled > 0 && l.fulfillable() == 0:
		status = "fulfilled"
	case l.fulfilled > 0:
		status = "partial"
	}
	return map[string]any{
		"id":                   l.id,
		"admin_graphql_api_id": gid("LineItem", l.id),
		"variant_id":           l.variantID,
		"product_id":           l.productID,
		"sku":                  nullable(l.sku),
		"title":                l.title,
		"name":                 l.title,
		"variant_title":        nil,
		"vendor":               nil,
		"quantity":             qty,
		"current_quantity":     l.current(),
		"fulfillable_quantity": l.fulfillable(),
		"fulfillment_status":   status,
		"fulfillment_service":  "manual",
		"requires_shipping":    true,
		"taxable":              true,
		"gift_card":            false,
		"grams":                0,
		"price":                l.price,
		"price_set":            moneySet(l.price, o.currency),
		"total_discount":       "0.00",
		"total_discount_set":   moneySet("0.00", o.currency),
		"tax_lines":            []any{},
		"discount_allocations": []any{},
		"properties":           []any{},
	}
}

func restAddress(a Address) any {
	if a == (Address{}) {
		return nil
	}
	name := a.FirstName
	if a.LastName != "" {
		name += " " + a.LastName
	}
	return map[string]any{
		"first_name":    a.FirstName,
		"last_name":     a.LastName,
		"name":          name,
		"address1":      a.Address1,
		"address2":      nullable(a.Address2),
		"city":          a.City,
		"province":      nullable(a.Province),
		"province_code": nullable(a.ProvinceCode),
		"zip":           a.Zip,
		"country":       a.Country,
		"country_code":  a.CountryCode,
		"phone":         nullable(a.Phone),
		"company":       nil,
		"latitude":      nil,
		"longitude":     nil,
	}
}

func (s *Sim) restFulfillment(f *simFulfillment) map[string]any {
	o := f.order
	sh := o.shop
	var lines []any
	for _, fl := range f.lines {
		lines = append(lines, s.restLine(o, fl.line, fl.qty))
	}
	numbers, urls := []string{}, []string{}
	var company any
	for _, t := range f.tracking {
		numbers = append(numbers, t.Number)
		if t.URL != "" {
			urls = append(urls, t.URL)
		}
		if company == nil && t.Company != "" {
			company = t.Company
		}
	}
	var number, url any
	if len(numbers) > 0 {
		number = numbers[0]
	}
	if len(urls) > 0 {
		url = urls[0]
	}
	return map[string]any{
		"id":                   f.id,
		"admin_graphql_api_id": gid("Fulfillment", f.id),
		"order_id":             o.id,
		"name":                 f.name,
		"status":               f.status,
		"service":              "manual",
		"location_id":          1,
		"shipment_status":      nil,
		"created_at":           s.restTime(sh, f.createdAt),
		"updated_at":           s.restTime(sh, f.updatedAt),
		"tracking_company":     company,
		"tracking_number":      number,
		"tracking_numbers":     numbers,
		"tracking_url":         url,
		"tracking_urls":        urls,
		"receipt":              map[string]any{},
		"line_items":           lines,
	}
}

func (s *Sim) restRefund(r *simRefund) map[string]any {
	o := r.order
	var lines []any
	for _, rl := range r.lines {
		sub := decimal(minor(rl.line.price) * int64(rl.qty))
		lines = append(lines, map[string]any{
			"id":           rl.id,
			"line_item_id": rl.line.id,
			"quantity":     rl.qty,
			"restock_type": "cancel",
			"location_id":  1,
			"subtotal":     sub,
			"subtotal_set": moneySet(sub, o.currency),
			"total_tax":    "0.00",
			"line_item":    s.restLine(o, rl.line, rl.line.quantity),
		})
	}
	if lines == nil {
		lines = []any{}
	}
	amount := decimal(r.amount)
	return map[string]any{
		"id":                   r.id,
		"admin_graphql_api_id": gid("Refund", r.id),
		"order_id":             o.id,
		"created_at":           s.restTime(o.shop, r.createdAt),
		"processed_at":         s.restTime(o.shop, r.createdAt),
		"note":                 nullable(r.note),
		"restock":              true,
		"user_id":              nil,
		"refund_line_items":    lines,
		"transactions": []any{map[string]any{
			"id": r.id + 1, "order_id": o.id, "kind": "refund", "status": "success",
			"amount": amount, "currency": o.currency, "gateway": "manual",
		}},
		"order_adjustments": []any{},
	}
}

func (s *Sim) restOrder(o *simOrder) map[string]any {
	sh := o.shop
	lines := make([]any, 0, len(o.lines))
	for _, l := range o.lines {
		lines = append(lines, s.restLine(o, l, l.quantity))
	}
	fulfillments := make([]any, 0, len(o.fulfillments))
	for _, f := range o.fulfillments {
		fulfillments = append(fulfillments, s.restFulfillment(f))
	}
	refunds := make([]any, 0, len(o.refunds))
	for _, r := range o.refunds {
		refunds = append(refunds, s.restRefund(r))
	}
	total := decimal(o.total())
	var cancelReason any
	if o.cancelReason != "" {
		cancelReason = o.cancelReason
	}
	return map[string]any{
		"id":                      o.id,
		"admin_graphql_api_id":    gid("Order", o.id),
		"name":                    o.name(),
		"order_number":            o.number,
		"number":                  o.number - 1000,
		"email":                   nullable(o.email),
		"contact_email":           nullable(o.email),
		"note":                    nullable(o.note),
		"created_at":              s.restTime(sh, o.createdAt),
		"updated_at":              s.restTime(sh, o.updatedAt),
		"processed_at":            s.restTime(sh, o.createdAt),
		"cancelled_at":            s.restTime(sh, o.cancelledAt),
		"cancel_reason":           cancelReason,
		"closed_at":               s.restTime(sh, o.closedAt),
		"currency":                o.currency,
		"presentment_currency":    o.currency,
		"financial_status":        o.financial,
		"fulfillment_status":      nullable(o.fulfillmentStatus()),
		"confirmed":               true,
		"test":                    false,
		"tags":                    "",
		"total_price":             total,
		"subtotal_price":          total,
		"total_tax":               "0.00",
		"total_discounts":         "0.00",
		"total_price_set":         moneySet(total, o.currency),
		"current_total_price":     total,
		"line_items":              lines,
		"shipping_address":        restAddress(o.shipping),
		"billing_address":         restAddress(o.shipping),
		"shipping_lines":          []any{},
		"fulfillments":            fulfillments,
		"refunds":                 refunds,
		"source_name":             "web",
		"taxes_included":          false,
		"buyer_accepts_marketing": false,
	}
}

func (s *Sim) orderEditBody(o *simOrder, changes []map[string]any) []byte {
	var adds, removes []any
	for _, c := range changes {
		d := c["delta"].(int)
		item := map[string]any{"id": c["line_item_id"], "delta": max(d, -d)}
		if d > 0 {
			adds = append(adds, item)
		} else {
			removes = append(removes, item)
		}
	}
	if adds == nil {
		adds = []any{}
	}
	if removes == nil {
		removes = []any{}
	}
	body := map[string]any{"order_edit": map[string]any{
		"id":              s.newID(),
		"app_id":          nil,
		"created_at":      s.restTime(o.shop, o.updatedAt),
		"committed_at":    s.restTime(o.shop, o.updatedAt),
		"notify_customer": false,
		"order_id":        o.id,
		"staff_note":      "",
		"user_id":         nil,
		"line_items":      map[string]any{"additions": adds, "removals": removes},
		"discounts":       map[string]any{"line_item": map[string]any{"additions": []any{}, "removals": []any{}}},
		"shipping_lines":  map[string]any{"additions": []any{}, "removals": []any{}},
	}}
	return mustJSON(body)
}

func (s *Sim) refundBody(r *simRefund) []byte { return mustJSON(s.restRefund(r)) }

func (s *Sim) fulfillmentBody(f *simFulfillment) []byte { return mustJSON(s.restFulfillment(f)) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("shopifysim: marshal: %v", err))
	}
	return b
}

// orderHook queues an order-shaped webhook; s.mu is held.
func (s *Sim) orderHook(o *simOrder, topic string) {
	s.enqueue(o, topic, mustJSON(s.restOrder(o)))
}
