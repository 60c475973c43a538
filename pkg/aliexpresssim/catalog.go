package aliexpresssim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Product is a product in the simulator's catalog.
type Product struct {
	// ID is the AliExpress product id (digits, e.g. "1005006454451334").
	ID string
	// SellerID is the seller (store) that sells it: items of different
	// sellers become different AliExpress orders.
	SellerID string
	// StoreName is the seller's store name.
	StoreName string
	// Title is the product's title.
	Title string
	// SKUs are its variants; a product without variants has one SKU with
	// an empty Attr.
	SKUs []SKU
	// ShippingMethods are the logistics service names it ships with
	// (e.g. CAINIAO_FULFILLMENT_STD); the first is the default.
	ShippingMethods []string
	// ShipsTo lists the countries it ships to (ISO 3166-1 alpha-2); empty
	// is everywhere.
	ShipsTo []string
}

// SKU is one variant of a product.
type SKU struct {
	// ID is the SKU id (digits; often above 2^53).
	ID string
	// Attr is the sku_attr a placement names, e.g. "14:200013901#Color;5:361386".
	Attr string
	// Stock is how many can be ordered.
	Stock int
	// PriceCents is the unit price in US cents.
	PriceCents int64
}

// AddProduct adds p to the catalog, or replaces the product with its id.
func (s *Sim) AddProduct(p Product) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := p
	cp.SKUs = append([]SKU(nil), p.SKUs...)
	if len(cp.SKUs) == 0 {
		cp.SKUs = []SKU{{ID: p.ID + "0", Stock: 1000, PriceCents: 999}}
	}
	s.products[p.ID] = &cp
}

// SetStock sets a SKU's stock.
func (s *Sim) SetStock(productID, skuAttr string, stock int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products[productID]
	if !ok {
		return fmt.Errorf("%w product %s", ErrUnknown, productID)
	}
	for i := range p.SKUs {
		if p.SKUs[i].Attr == skuAttr {
			p.SKUs[i].Stock = stock
			return nil
		}
	}
	return fmt.Errorf("%w sku %q of product %s", ErrUnknown, skuAttr, productID)
}

// Stock returns a SKU's stock, or -1.
func (s *Sim) Stock(productID, skuAttr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.products[productID]; ok {
		for _, k := range p.SKUs {
			if k.Attr == skuAttr {
				return k.Stock
			}
		}
	}
	return -1
}

// sku finds the SKU an item names: the exact sku_attr, or the only SKU
// when the item names none.
func (p *Product) sku(attr string) *SKU {
	for i := range p.SKUs {
		if p.SKUs[i].Attr == attr {
			return &p.SKUs[i]
		}
	}
	if attr == "" && len(p.SKUs) == 1 {
		return &p.SKUs[0]
	}
	return nil
}

func (p *Product) shipsWith(method string) bool {
	for _, m := range p.ShippingMethods {
		if m == method {
			return true
		}
	}
	return false
}

func (p *Product) shipsTo(country string) bool {
	if len(p.ShipsTo) == 0 {
		return true
	}
	for _, c := range p.ShipsTo {
		if strings.EqualFold(c, country) {
			return true
		}
	}
	return false
}

// flexID is an id sent as a JSON number or string.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexID(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexID(n.String())
	return nil
}

// num encodes a digit string as a JSON number, anything else as a string.
func num(s string) any {
	if _, err := strconv.ParseUint(s, 10, 64); err == nil && s != "" && (s == "0" || s[0] != '0') {
		return json.Number(s)
	}
	return s
}

// money formats cents as "12.34".
func money(cents int64) map[string]any {
	return map[string]any{"amount": fmt.Sprintf("%d.%02d", cents/100, cents%100), "currency_code": "USD"}
}

// carrierName is what tracking shows for a logistics service.
func carrierName(service string) string {
	switch service {
	case "CAINIAO_STANDARD":
		return "AliExpress Standard Shipping"
	case "CAINIAO_FULFILLMENT_STD":
		return "AliExpress Selection Standard"
	case "CAINIAO_ECONOMY":
		return "AliExpress Saver Shipping"
	case "YANWEN_JYT":
		return "Yanwen"
	}
	return service
}
