package shopifysim

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// adminSDL is the part of the Admin GraphQL schema the simulator serves,
// with the names, types, nullability and arguments of Shopify's (2025-10).
// Connections have nodes, edges {cursor node} and pageInfo.
//
//go:embed schema/admin.graphql
var adminSDL string

var adminSchema = loadSchema("admin.graphql", adminSDL)

// gqlTime formats a GraphQL DateTime: UTC, second resolution.
func gqlTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// parseGID returns the numeric id of "gid://shopify/<kind>/<id>".
func parseGID(s, kind string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, "gid://shopify/"+kind+"/")
	if !ok {
		return 0, false
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// cursor is Shopify-like: base64 of {"last_id":N,"last_value":"..."}.
func cursor(id int64, value string) string {
	b, _ := json.Marshal(map[string]any{"last_id": id, "last_value": value})
	return base64.StdEncoding.EncodeToString(b)
}

func cursorID(c string) (int64, error) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	var v struct {
		LastID int64 `json:"last_id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, err
	}
	return v.LastID, nil
}

// page applies first/after/last/before to items identified by ids.
func page(items []any, ids []int64, values []string, args map[string]any) (*conn, error) {
	start, end := 0, len(items)
	if a, ok := args["after"].(string); ok && a != "" {
		id, err := cursorID(a)
		if err != nil {
			return nil, newGQLError(gqlLocation{}, "invalidCursor", "Invalid cursor for current pagination sort.")
		}
		for i := range ids {
			if ids[i] == id {
				start = i + 1
			}
		}
	}
	if b, ok := args["before"].(string); ok && b != "" {
		id, err := cursorID(b)
		if err != nil {
			return nil, newGQLError(gqlLocation{}, "invalidCursor", "Invalid cursor for current pagination sort.")
		}
		for i := range ids {
			if ids[i] == id {
				end = i
			}
		}
	}
	if start > end {
		start = end
	}
	hasPrev, hasNext := start > 0, end < len(items)
	if n, ok := args["first"].(int64); ok {
		if n < 0 {
			return nil, fmt.Errorf("first must be non-negative")
		}
		if start+int(n) < end {
			end, hasNext = start+int(n), true
		}
	}
	if n, ok := args["last"].(int64); ok {
		if n < 0 {
			return nil, fmt.Errorf("last must be non-negative")
		}
		if end-int(n) > start {
			start, hasPrev = end-int(n), true
		}
	}
	c := &conn{nodes: items[start:end], hasNext: hasNext, hasPrev: hasPrev}
	for i := start; i < end; i++ {
		c.cursors = append(c.cursors, cursor(ids[i], values[i]))
	}
	return c, nil
}

func listFirst(items []any, args map[string]any) []any {
	if n, ok := args["first"].(int64); ok && int(n) < len(items) && n >= 0 {
		return items[:n]
	}
	return items
}

type money struct {
	amount   string
	currency string
}

type userError struct {
	field   []string
	message string
}

type payload struct {
	fulfillment *simFulfillment
	errs        []userError
}

type trackingView struct{ Tracking }

// resolvers returns the field resolvers of one request on shop sh; s.mu is
// held while they run.
func (s *Sim) resolvers(sh *simShop) map[string]map[string]resolver {
	r := map[string]map[string]resolver{}
	set := func(t string, m map[string]resolver) { r[t] = m }
	get := func(v any) (any, error) { return v, nil }

	set("QueryRoot", map[string]resolver{
		"shop": func(any, map[string]any) (any, error) { return sh, nil },
		"order": func(_ any, a map[string]any) (any, error) {
			id, ok := parseGID(a["id"].(string), "Order")
			if !ok {
				return nil, newGQLError(gqlLocation{}, "invalidGlobalId", "Invalid global id '%s'", a["id"])
			}
			if o := sh.orders[id]; o != nil {
				return o, nil
			}
			return nil, nil
		},
		"fulfillmentOrder": func(_ any, a map[string]any) (any, error) {
			id, ok := parseGID(a["id"].(string), "FulfillmentOrder")
			if !ok {
				return nil, newGQLError(gqlLocation{}, "invalidGlobalId", "Invalid global id '%s'", a["id"])
			}
			if fo := sh.findFO(id); fo != nil {
				return fo, nil
			}
			return nil, nil
		},
		"fulfillment": func(_ any, a map[string]any) (any, error) {
			id, ok := parseGID(a["id"].(string), "Fulfillment")
			if !ok {
				return nil, newGQLError(gqlLocation{}, "invalidGlobalId", "Invalid global id '%s'", a["id"])
			}
			if f := sh.findFulfillment(id); f != nil {
				return f, nil
			}
			return nil, nil
		},
		"orders": func(_ any, a map[string]any) (any, error) { return s.ordersConn(sh, a) },
	})
	set("Mutation", map[string]resolver{
		"fulfillmentCreate": func(_ any, a map[string]any) (any, error) {
			return s.fulfillmentCreate(sh, a["fulfillment"].(map[string]any)), nil
		},
		"fulfillmentTrackingInfoUpdate": func(_ any, a map[string]any) (any, error) { return s.trackingInfoUpdate(sh, a), nil },
	})
	set("Shop", map[string]resolver{
		"id": func(any, map[string]any) (any, error) { return gid("Shop", 1), nil },
		"name": func(any, map[string]any) (any, error) {
			return strings.TrimSuffix(sh.cfg.Domain, ".myshopify.com"), nil
		},
		"myshopifyDomain": func(any, map[string]any) (any, error) { return sh.cfg.Domain, nil },
		"currencyCode":    func(any, map[string]any) (any, error) { return sh.cfg.Currency, nil },
	})
	ord := func(f func(o *simOrder, a map[string]any) (any, error)) resolver {
		return func(src any, a map[string]any) (any, error) { return f(src.(*simOrder), a) }
	}
	set("Order", map[string]resolver{
		"id":               ord(func(o *simOrder, _ map[string]any) (any, error) { return gid("Order", o.id), nil }),
		"legacyResourceId": ord(func(o *simOrder, _ map[string]any) (any, error) { return strconv.FormatInt(o.id, 10), nil }),
		"name":             ord(func(o *simOrder, _ map[string]any) (any, error) { return o.name(), nil }),
		"email":            ord(func(o *simOrder, _ map[string]any) (any, error) { return nullable(o.email), nil }),
		"note":             ord(func(o *simOrder, _ map[string]any) (any, error) { return nullable(o.note), nil }),
		"createdAt":        ord(func(o *simOrder, _ map[string]any) (any, error) { return gqlTime(o.createdAt), nil }),
		"updatedAt":        ord(func(o *simOrder, _ map[string]any) (any, error) { return gqlTime(o.updatedAt), nil }),
		"processedAt":      ord(func(o *simOrder, _ map[string]any) (any, error) { return gqlTime(o.createdAt), nil }),
		"cancelledAt":      ord(func(o *simOrder, _ map[string]any) (any, error) { return gqlTime(o.cancelledAt), nil }),
		"cancelReason": ord(func(o *simOrder, _ map[string]any) (any, error) {
			return nullable(strings.ToUpper(o.cancelReason)), nil
		}),
		"closed":   ord(func(o *simOrder, _ map[string]any) (any, error) { return !o.closedAt.IsZero(), nil }),
		"closedAt": ord(func(o *simOrder, _ map[string]any) (any, error) { return gqlTime(o.closedAt), nil }),
		"displayFinancialStatus": ord(func(o *simOrder, _ map[string]any) (any, error) {
			return strings.ToUpper(o.financial), nil
		}),
		"displayFulfillmentStatus": ord(func(o *simOrder, _ map[string]any) (any, error) {
			switch o.fulfillmentStatus() {
			case "fulfilled":
				return "FULFILLED", nil
			case "partial":
				return "PARTIALLY_FULFILLED", nil
			}
			return "UNFULFILLED", nil
		}),
		"fullyPaid":    ord(func(o *simOrder, _ map[string]any) (any, error) { return o.financial == "paid", nil }),
		"currencyCode": ord(func(o *simOrder, _ map[string]any) (any, error) { return o.currency, nil }),
		"totalPriceSet": ord(func(o *simOrder, _ map[string]any) (any, error) {
			return money{decimal(o.total()), o.currency}, nil
		}),
		"currentTotalPriceSet": ord(func(o *simOrder, _ map[string]any) (any, error) {
			return money{decimal(o.total()), o.currency}, nil
		}),
		"shippingAddress": ord(func(o *simOrder, _ map[string]any) (any, error) {
			if o.shipping == (Address{}) {
				return nil, nil
			}
			return &o.shipping, nil
		}),
		"lineItems": ord(func(o *simOrder, a map[string]any) (any, error) {
			items, ids, vals := make([]any, len(o.lines)), make([]int64, len(o.lines)), make([]string, len(o.lines))
			for i, l := range o.lines {
				items[i], ids[i], vals[i] = l, l.id, strconv.FormatInt(l.id, 10)
			}
			return page(items, ids, vals, a)
		}),
		"fulfillmentOrders": ord(func(o *simOrder, a map[string]any) (any, error) {
			var items []any
			var ids []int64
			var vals []string
			for _, fo := range o.fos {
				if d, _ := a["displayable"].(bool); d && (fo.status == "CLOSED" || fo.status == "CANCELLED") {
					continue
				}
				items, ids, vals = append(items, fo), append(ids, fo.id), append(vals, strconv.FormatInt(fo.id, 10))
			}
			return page(items, ids, vals, a)
		}),
		"fulfillments": ord(func(o *simOrder, a map[string]any) (any, error) {
			items := make([]any, len(o.fulfillments))
			for i, f := range o.fulfillments {
				items[i] = f
			}
			return listFirst(items, a), nil
		}),
		"refunds": ord(func(o *simOrder, a map[string]any) (any, error) {
			items := make([]any, len(o.refunds))
			for i, rf := range o.refunds {
				items[i] = rf
			}
			return listFirst(items, a), nil
		}),
	})
	line := func(f func(l *simLine) any) resolver {
		return func(src any, _ map[string]any) (any, error) { return f(src.(*simLine)), nil }
	}
	set("LineItem", map[string]resolver{
		"id":                  line(func(l *simLine) any { return gid("LineItem", l.id) }),
		"sku":                 line(func(l *simLine) any { return nullable(l.sku) }),
		"title":               line(func(l *simLine) any { return l.title }),
		"name":                line(func(l *simLine) any { return l.title }),
		"quantity":            line(func(l *simLine) any { return l.quantity }),
		"currentQuantity":     line(func(l *simLine) any { return l.current() }),
		"unfulfilledQuantity": line(func(l *simLine) any { return l.fulfillable() }),
		"requiresShipping":    line(func(l *simLine) any { return true }),
		"variant": line(func(l *simLine) any {
			if l.variantID == 0 {
				return nil
			}
			return &variantRef{id: l.variantID, sku: l.sku}
		}),
		"product": line(func(l *simLine) any {
			if l.productID == 0 {
				return nil
			}
			return &productRef{id: l.productID, title: l.title}
		}),
		"originalUnitPriceSet": func(src any, _ map[string]any) (any, error) {
			return money{src.(*simLine).price, sh.cfg.Currency}, nil
		},
	})
	set("ProductVariant", map[string]resolver{
		"id":               func(src any, _ map[string]any) (any, error) { return gid("ProductVariant", src.(*variantRef).id), nil },
		"legacyResourceId": func(src any, _ map[string]any) (any, error) { return strconv.FormatInt(src.(*variantRef).id, 10), nil },
		"sku":              func(src any, _ map[string]any) (any, error) { return nullable(src.(*variantRef).sku), nil },
	})
	set("Product", map[string]resolver{
		"id":               func(src any, _ map[string]any) (any, error) { return gid("Product", src.(*productRef).id), nil },
		"legacyResourceId": func(src any, _ map[string]any) (any, error) { return strconv.FormatInt(src.(*productRef).id, 10), nil },
		"title":            func(src any, _ map[string]any) (any, error) { return src.(*productRef).title, nil },
	})
	set("MoneyBag", map[string]resolver{
		"shopMoney":        get2(func(src any) any { return src }),
		"presentmentMoney": get2(func(src any) any { return src }),
	})
	set("MoneyV2", map[string]resolver{
		"amount":       get2(func(src any) any { return src.(money).amount }),
		"currencyCode": get2(func(src any) any { return src.(money).currency }),
	})
	addr := func(f func(a *Address) string) resolver {
		return get2(func(src any) any { return nullable(f(src.(*Address))) })
	}
	set("MailingAddress", map[string]resolver{
		"firstName":     addr(func(a *Address) string { return a.FirstName }),
		"lastName":      addr(func(a *Address) string { return a.LastName }),
		"name":          addr(func(a *Address) string { return strings.TrimSpace(a.FirstName + " " + a.LastName) }),
		"company":       addr(func(*Address) string { return "" }),
		"address1":      addr(func(a *Address) string { return a.Address1 }),
		"address2":      addr(func(a *Address) string { return a.Address2 }),
		"city":          addr(func(a *Address) string { return a.City }),
		"province":      addr(func(a *Address) string { return a.Province }),
		"provinceCode":  addr(func(a *Address) string { return a.ProvinceCode }),
		"zip":           addr(func(a *Address) string { return a.Zip }),
		"country":       addr(func(a *Address) string { return a.Country }),
		"countryCodeV2": addr(func(a *Address) string { return a.CountryCode }),
		"phone":         addr(func(a *Address) string { return a.Phone }),
	})
	fo := func(f func(fo *simFO, a map[string]any) (any, error)) resolver {
		return func(src any, a map[string]any) (any, error) { return f(src.(*simFO), a) }
	}
	set("FulfillmentOrder", map[string]resolver{
		"id":            fo(func(fo *simFO, _ map[string]any) (any, error) { return gid("FulfillmentOrder", fo.id), nil }),
		"status":        fo(func(fo *simFO, _ map[string]any) (any, error) { return fo.status, nil }),
		"requestStatus": fo(func(*simFO, map[string]any) (any, error) { return "UNSUBMITTED", nil }),
		"createdAt":     fo(func(fo *simFO, _ map[string]any) (any, error) { return gqlTime(fo.createdAt), nil }),
		"updatedAt":     fo(func(fo *simFO, _ map[string]any) (any, error) { return gqlTime(fo.updatedAt), nil }),
		"orderId":       fo(func(fo *simFO, _ map[string]any) (any, error) { return gid("Order", fo.order.id), nil }),
		"order":         fo(func(fo *simFO, _ map[string]any) (any, error) { return fo.order, nil }),
		"lineItems": fo(func(fo *simFO, a map[string]any) (any, error) {
			items, ids, vals := make([]any, len(fo.lines)), make([]int64, len(fo.lines)), make([]string, len(fo.lines))
			for i, l := range fo.lines {
				items[i], ids[i], vals[i] = l, l.id, strconv.FormatInt(l.id, 10)
			}
			return page(items, ids, vals, a)
		}),
	})
	set("FulfillmentOrderLineItem", map[string]resolver{
		"id":                get2(func(src any) any { return gid("FulfillmentOrderLineItem", src.(*simFOLine).id) }),
		"totalQuantity":     get2(func(src any) any { return src.(*simFOLine).total }),
		"remainingQuantity": get2(func(src any) any { return src.(*simFOLine).remaining }),
		"sku":               get2(func(src any) any { return nullable(src.(*simFOLine).line.sku) }),
		"lineItem":          get2(func(src any) any { return src.(*simFOLine).line }),
	})
	ful := func(f func(f *simFulfillment, a map[string]any) any) resolver {
		return func(src any, a map[string]any) (any, error) { return f(src.(*simFulfillment), a), nil }
	}
	set("Fulfillment", map[string]resolver{
		"id":               ful(func(f *simFulfillment, _ map[string]any) any { return gid("Fulfillment", f.id) }),
		"legacyResourceId": ful(func(f *simFulfillment, _ map[string]any) any { return strconv.FormatInt(f.id, 10) }),
		"name":             ful(func(f *simFulfillment, _ map[string]any) any { return f.name }),
		"status":           ful(func(f *simFulfillment, _ map[string]any) any { return strings.ToUpper(f.status) }),
		"createdAt":        ful(func(f *simFulfillment, _ map[string]any) any { return gqlTime(f.createdAt) }),
		"updatedAt":        ful(func(f *simFulfillment, _ map[string]any) any { return gqlTime(f.updatedAt) }),
		"order":            ful(func(f *simFulfillment, _ map[string]any) any { return f.order }),
		"trackingInfo": ful(func(f *simFulfillment, a map[string]any) any {
			items := make([]any, len(f.tracking))
			for i, t := range f.tracking {
				items[i] = trackingView{t}
			}
			return listFirst(items, a)
		}),
		"fulfillmentLineItems": func(src any, a map[string]any) (any, error) {
			f := src.(*simFulfillment)
			items, ids, vals := make([]any, len(f.lines)), make([]int64, len(f.lines)), make([]string, len(f.lines))
			for i := range f.lines {
				items[i], ids[i], vals[i] = &f.lines[i], f.lines[i].id, strconv.FormatInt(f.lines[i].id, 10)
			}
			return page(items, ids, vals, a)
		},
	})
	set("FulfillmentTrackingInfo", map[string]resolver{
		"company": get2(func(src any) any { return nullable(src.(trackingView).Company) }),
		"number":  get2(func(src any) any { return nullable(src.(trackingView).Number) }),
		"url":     get2(func(src any) any { return nullable(src.(trackingView).URL) }),
	})
	set("FulfillmentLineItem", map[string]resolver{
		"id":       get2(func(src any) any { return gid("FulfillmentLineItem", src.(*fulfilledLine).id) }),
		"quantity": get2(func(src any) any { return src.(*fulfilledLine).qty }),
		"lineItem": get2(func(src any) any { return src.(*fulfilledLine).line }),
	})
	set("Refund", map[string]resolver{
		"id":               get2(func(src any) any { return gid("Refund", src.(*simRefund).id) }),
		"legacyResourceId": get2(func(src any) any { return strconv.FormatInt(src.(*simRefund).id, 10) }),
		"createdAt":        get2(func(src any) any { return gqlTime(src.(*simRefund).createdAt) }),
		"note":             get2(func(src any) any { return nullable(src.(*simRefund).note) }),
		"totalRefundedSet": get2(func(src any) any {
			r := src.(*simRefund)
			return money{decimal(r.amount), r.order.currency}
		}),
		"refundLineItems": func(src any, a map[string]any) (any, error) {
			rf := src.(*simRefund)
			items, ids, vals := make([]any, len(rf.lines)), make([]int64, len(rf.lines)), make([]string, len(rf.lines))
			for i := range rf.lines {
				items[i], ids[i], vals[i] = &rf.lines[i], rf.lines[i].id, strconv.FormatInt(rf.lines[i].id, 10)
			}
			return page(items, ids, vals, a)
		},
	})
	set("RefundLineItem", map[string]resolver{
		"id":          get2(func(src any) any { return gid("RefundLineItem", src.(*refundedLine).id) }),
		"quantity":    get2(func(src any) any { return src.(*refundedLine).qty }),
		"restockType": get2(func(any) any { return "CANCEL" }),
		"lineItem":    get2(func(src any) any { return src.(*refundedLine).line }),
	})
	set("UserError", map[string]resolver{
		"field":   get2(func(src any) any { return src.(userError).field }),
		"message": get2(func(src any) any { return src.(userError).message }),
	})
	pl := map[string]resolver{
		"fulfillment": get2(func(src any) any {
			if f := src.(*payload).fulfillment; f != nil {
				return f
			}
			return nil
		}),
		"userErrors": get2(func(src any) any {
			out := make([]any, len(src.(*payload).errs))
			for i, e := range src.(*payload).errs {
				out[i] = e
			}
			return out
		}),
	}
	set("FulfillmentCreatePayload", pl)
	set("FulfillmentTrackingInfoUpdatePayload", pl)
	_ = get
	return r
}

type variantRef struct {
	id  int64
	sku string
}

type productRef struct {
	id    int64
	title string
}

func get2(f func(src any) any) resolver {
	return func(src any, _ map[string]any) (any, error) { return f(src), nil }
}

func (sh *simShop) findFO(id int64) *simFO {
	for _, o := range sh.list {
		for _, fo := range o.fos {
			if fo.id == id {
				return fo
			}
		}
	}
	return nil
}

func (sh *simShop) findFulfillment(id int64) *simFulfillment {
	for _, o := range sh.list {
		for _, f := range o.fulfillments {
			if f.id == id {
				return f
			}
		}
	}
	return nil
}

// ordersConn answers the orders query: search filter, sort, page.
func (s *Sim) ordersConn(sh *simShop, a map[string]any) (*conn, error) {
	q, _ := a["query"].(string)
	filters, err := parseSearch(q)
	if err != nil {
		return nil, err
	}
	var list []*simOrder
	for _, o := range sh.list {
		if filters.match(o) {
			list = append(list, o)
		}
	}
	key, _ := a["sortKey"].(string)
	value := func(o *simOrder) string { return strconv.FormatInt(o.id, 10) }
	less := func(x, y *simOrder) bool { return x.id < y.id }
	switch key {
	case "UPDATED_AT":
		value = func(o *simOrder) string { return o.updatedAt.UTC().Format(time.RFC3339) }
		less = func(x, y *simOrder) bool {
			if !x.updatedAt.Equal(y.updatedAt) {
				return x.updatedAt.Before(y.updatedAt)
			}
			return x.id < y.id
		}
	case "CREATED_AT", "PROCESSED_AT":
		value = func(o *simOrder) string { return o.createdAt.UTC().Format(time.RFC3339) }
		less = func(x, y *simOrder) bool {
			if !x.createdAt.Equal(y.createdAt) {
				return x.createdAt.Before(y.createdAt)
			}
			return x.id < y.id
		}
	case "ORDER_NUMBER":
		value = func(o *simOrder) string { return strconv.Itoa(o.number) }
		less = func(x, y *simOrder) bool { return x.number < y.number }
	}
	sort.SliceStable(list, func(i, j int) bool { return less(list[i], list[j]) })
	if rev, _ := a["reverse"].(bool); rev {
		for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
			list[i], list[j] = list[j], list[i]
		}
	}
	items, ids, vals := make([]any, len(list)), make([]int64, len(list)), make([]string, len(list))
	for i, o := range list {
		items[i], ids[i], vals[i] = o, o.id, value(o)
	}
	return page(items, ids, vals, a)
}

// searchFilter is a parsed search query: terms joined by AND.
type searchFilter []searchTerm

type searchTerm struct {
	field, op, value string
}

// parseSearch parses Shopify's search syntax as far as the simulator
// supports it: "field:value" and "field:>value" (>, >=, <, <=) terms joined
// by spaces or AND, values optionally quoted. Supported fields: updated_at,
// created_at, financial_status, fulfillment_status, status, name, id.
func parseSearch(q string) (searchFilter, error) {
	var out searchFilter
	for _, tok := range splitSearch(q) {
		if strings.EqualFold(tok, "AND") {
			continue
		}
		field, rest, ok := strings.Cut(tok, ":")
		if !ok {
			return nil, newGQLError(gqlLocation{}, "invalidSearch", "Unsupported search term '%s' (this simulator supports field:value terms)", tok)
		}
		op := "="
		for _, p := range []string{">=", "<=", ">", "<"} {
			if strings.HasPrefix(rest, p) {
				op, rest = p, rest[len(p):]
				break
			}
		}
		rest = strings.Trim(rest, `'"`)
		switch field {
		case "updated_at", "created_at":
			if _, err := parseSearchTime(rest); err != nil {
				return nil, newGQLError(gqlLocation{}, "invalidSearch", "Invalid date '%s' for %s", rest, field)
			}
		case "financial_status", "fulfillment_status", "status", "name", "id":
		default:
			return nil, newGQLError(gqlLocation{}, "invalidSearch", "Unsupported search field '%s'", field)
		}
		out = append(out, searchTerm{field: field, op: op, value: rest})
	}
	return out, nil
}

func splitSearch(q string) []string {
	var out []string
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			b.WriteByte(c)
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
			b.WriteByte(c)
		case c == ' ':
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func parseSearchTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

func (f searchFilter) match(o *simOrder) bool {
	for _, t := range f {
		switch t.field {
		case "updated_at", "created_at":
			v := o.updatedAt
			if t.field == "created_at" {
				v = o.createdAt
			}
			want, _ := parseSearchTime(t.value)
			var ok bool
			switch t.op {
			case ">":
				ok = v.After(want)
			case ">=":
				ok = !v.Before(want)
			case "<":
				ok = v.Before(want)
			case "<=":
				ok = !v.After(want)
			default:
				ok = v.Equal(want)
			}
			if !ok {
				return false
			}
		case "financial_status":
			if o.financial != t.value {
				return false
			}
		case "fulfillment_status":
			fs := o.fulfillmentStatus()
			if fs == "" {
				fs = "unfulfilled"
			}
			if fs != t.value && (t.value != "unshipped" || fs != "unfulfilled") {
				return false
			}
		case "status":
			switch t.value {
			case "open":
				if !o.closedAt.IsZero() {
					return false
				}
			case "closed":
				if o.closedAt.IsZero() {
					return false
				}
			case "cancelled":
				if !o.cancelled() {
					return false
				}
			}
		case "name":
			if strings.TrimPrefix(o.name(), "#") != strings.TrimPrefix(t.value, "#") {
				return false
			}
		case "id":
			if strconv.FormatInt(o.id, 10) != t.value {
				return false
			}
		}
	}
	return true
}

// fulfillmentCreate carries out the mutation, with Shopify's checks.
func (s *Sim) fulfillmentCreate(sh *simShop, in map[string]any) *payload {
	fail := func(msg string, field ...string) *payload {
		if field == nil {
			field = []string{"fulfillment"}
		}
		return &payload{errs: []userError{{field: field, message: msg}}}
	}
	if m := s.faults.RefuseFulfillments; m != "" {
		return fail(m)
	}
	groups, _ := in["lineItemsByFulfillmentOrder"].([]any)
	if len(groups) == 0 {
		return fail("Line items by fulfillment order must contain at least one fulfillment order.", "fulfillment", "lineItemsByFulfillmentOrder")
	}
	var order *simOrder
	var req []foRequest
	seen := map[*simFOLine]bool{}
	for _, g := range groups {
		g := g.(map[string]any)
		foID, ok := parseGID(g["fulfillmentOrderId"].(string), "FulfillmentOrder")
		var fo *simFO
		if ok {
			fo = sh.findFO(foID)
		}
		if fo == nil {
			return fail("Fulfillment order does not exist.")
		}
		if order != nil && fo.order != order {
			return fail("All fulfillment orders must belong to the same order.")
		}
		order = fo.order
		if fo.status != "OPEN" && fo.status != "IN_PROGRESS" {
			return fail(fmt.Sprintf("Fulfillment order %s has an unfulfillable status= %s.", gid("FulfillmentOrder", fo.id), strings.ToLower(fo.status)))
		}
		items, present := g["fulfillmentOrderLineItems"].([]any)
		if !present || len(items) == 0 {
			for _, fl := range fo.lines {
				if fl.remaining > 0 {
					req = append(req, foRequest{fo: fo, line: fl, qty: fl.remaining})
				}
			}
			continue
		}
		for _, it := range items {
			it := it.(map[string]any)
			lid, ok := parseGID(it["id"].(string), "FulfillmentOrderLineItem")
			var fl *simFOLine
			for _, x := range fo.lines {
				if ok && x.id == lid {
					fl = x
				}
			}
			if fl == nil {
				return fail("Fulfillment order line item does not exist.")
			}
			q := int(it["quantity"].(int64))
			if q <= 0 || q > fl.remaining || seen[fl] {
				return fail("Invalid fulfillment order line item quantity requested.")
			}
			seen[fl] = true
			req = append(req, foRequest{fo: fo, line: fl, qty: q})
		}
	}
	if len(req) == 0 {
		return fail("Fulfillment order has no line items to fulfill.")
	}
	var tracking []Tracking
	if ti, ok := in["trackingInfo"].(map[string]any); ok {
		var err string
		tracking, err = trackingInput(ti)
		if err != "" {
			return fail(err, "fulfillment", "trackingInfo")
		}
	}
	notify, _ := in["notifyCustomer"].(bool)
	f := s.fulfil(order, req, tracking, notify, true)
	return &payload{fulfillment: f}
}

// trackingInput reads a FulfillmentTrackingInput.
func trackingInput(ti map[string]any) ([]Tracking, string) {
	company, _ := ti["company"].(string)
	var numbers, urls []string
	if n, ok := ti["number"].(string); ok && n != "" {
		numbers = append(numbers, n)
	}
	numbers = append(numbers, asStrings(ti["numbers"])...)
	if u, ok := ti["url"].(string); ok && u != "" {
		urls = append(urls, u)
	}
	urls = append(urls, asStrings(ti["urls"])...)
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, "Tracking url is invalid."
		}
	}
	var out []Tracking
	for i, n := range numbers {
		t := Tracking{Company: company, Number: n}
		if i < len(urls) {
			t.URL = urls[i]
		}
		out = append(out, t)
	}
	if len(out) == 0 && (company != "" || len(urls) > 0) {
		t := Tracking{Company: company}
		if len(urls) > 0 {
			t.URL = urls[0]
		}
		out = append(out, t)
	}
	return out, ""
}

func asStrings(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// trackingInfoUpdate carries out fulfillmentTrackingInfoUpdate.
func (s *Sim) trackingInfoUpdate(sh *simShop, a map[string]any) *payload {
	id, ok := parseGID(a["fulfillmentId"].(string), "Fulfillment")
	var f *simFulfillment
	if ok {
		f = sh.findFulfillment(id)
	}
	if f == nil {
		return &payload{errs: []userError{{field: []string{"fulfillmentId"}, message: "Fulfillment does not exist."}}}
	}
	if f.status != "success" {
		return &payload{errs: []userError{{field: []string{"fulfillmentId"}, message: "Cannot update tracking of a " + f.status + " fulfillment."}}}
	}
	tracking, err := trackingInput(a["trackingInfoInput"].(map[string]any))
	if err != "" {
		return &payload{errs: []userError{{field: []string{"trackingInfoInput"}, message: err}}}
	}
	notify, _ := a["notifyCustomer"].(bool)
	f.tracking = tracking
	f.updatedAt = s.cfg.Now().Truncate(time.Second)
	s.trkUps.Append(TrackingUpdate{Shop: sh.cfg.Domain, OrderID: f.order.id, FulfillmentID: f.id, Tracking: tracking, NotifyCustomer: notify})
	if notify {
		s.notes.Append(Notification{Shop: sh.cfg.Domain, OrderID: f.order.id, FulfillmentID: f.id, Kind: "shipping_update"})
	}
	s.enqueue(f.order, "fulfillments/update", s.fulfillmentBody(f))
	return &payload{fulfillment: f}
}
