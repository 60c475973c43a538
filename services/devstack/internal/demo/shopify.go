package demo

import (
	"fmt"
	"strconv"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/shopifysim"
)

// shopifyStore is a simulated Shopify shop.
type shopifyStore struct {
	sim          *shopifysim.Sim
	slug, domain string
}

// NewShopifyStore returns the demo's view of a simulated Shopify shop.
func NewShopifyStore(sim *shopifysim.Sim, slug, domain string) Store {
	return &shopifyStore{sim: sim, slug: slug, domain: domain}
}

// Variant ids of the simulated Shopify shop's products.
const (
	ShopifyMug = "44000000001"
	ShopifyTee = "44000000002"
)

func (s *shopifyStore) Key() string { return "shopify:" + s.slug }

func (s *shopifyStore) Variants() map[string]aliexpresssim.Product {
	cat := SupplierCatalog()
	return map[string]aliexpresssim.Product{
		ShopifyMug: cat[0],
		ShopifyTee: cat[1],
	}
}

func (s *shopifyStore) PlaceOrder(variants []string, paid bool) (string, func() error, error) {
	n := shopifysim.NewOrder{
		Email: "customer@example.com", Paid: paid,
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "Example", Address1: "1 Demo Street", City: "Lisbon", Province: "Lisboa", Zip: "1000-001", Country: "Portugal", CountryCode: "PT", Phone: "+351 912 345 678"},
	}
	for _, v := range variants {
		id, _ := strconv.ParseInt(v, 10, 64)
		line := shopifysim.NewLine{Title: "Ceramic mug", SKU: "MUG-WHITE", Quantity: 1, Price: "14.90", VariantID: id, ProductID: id / 10}
		if v == ShopifyTee {
			line = shopifysim.NewLine{Title: "Cotton T-shirt", SKU: "TEE-M", Quantity: 2, Price: "19.90", VariantID: id, ProductID: id / 10}
		}
		n.Lines = append(n.Lines, line)
	}
	o, err := s.sim.CreateOrder(s.domain, n)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("shopify:%s:%d", s.slug, o.ID), func() error { return s.sim.MarkPaid(s.domain, o.ID) }, nil
}
