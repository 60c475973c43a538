package demo

import (
	"strconv"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
)

// wooStore is a simulated WooCommerce store.
type wooStore struct {
	sim  *woocommercesim.Sim
	slug string
}

// NewWooCommerceStore returns the demo's view of a simulated WooCommerce store.
func NewWooCommerceStore(sim *woocommercesim.Sim, slug string) Store {
	return &wooStore{sim: sim, slug: slug}
}

// Variant ids (product or variation ids) of the simulated WooCommerce
// store's products.
const (
	WooMug = "101"
	WooTee = "1021"
)

func (s *wooStore) Key() string { return "woocommerce:" + s.slug }

func (s *wooStore) Variants() map[string]aliexpresssim.Product {
	cat := SupplierCatalog()
	return map[string]aliexpresssim.Product{WooMug: cat[0], WooTee: cat[1]}
}

func (s *wooStore) PlaceOrder(variants []string, paid bool) (string, func() error, error) {
	addr := woocommercesim.Address{FirstName: "Carla", LastName: "Example", Address1: "3 Demo Strasse", City: "Berlin", State: "BE",
		Postcode: "10115", Country: "DE", Phone: "+49 30 1234567", Email: "customer@example.com"}
	spec := woocommercesim.OrderSpec{Status: "pending", Shipping: addr, Billing: addr, PaymentMethod: "stripe"}
	for _, v := range variants {
		line := woocommercesim.LineSpec{ProductID: 101, Name: "Enamel mug", SKU: "MUG-WHITE", Quantity: 1, PriceCents: 995}
		if v == WooTee {
			line = woocommercesim.LineSpec{ProductID: 102, VariationID: 1021, Name: "Linen tee - M", SKU: "TEE-M", Quantity: 2, PriceCents: 1990}
		}
		spec.Lines = append(spec.Lines, line)
	}
	id, err := s.sim.CreateOrder(spec)
	if err != nil {
		return "", nil, err
	}
	orderID := "woocommerce:" + s.slug + ":" + strconv.FormatInt(id, 10)
	capture := func() error { return s.sim.Pay(id) }
	if paid {
		return orderID, capture, capture()
	}
	return orderID, capture, nil
}
