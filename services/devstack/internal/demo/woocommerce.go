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

const (
	wooMugProduct   = 101
	wooTeeVariation = 1021
)

func (s *wooStore) Key() string { return "woocommerce:" + s.slug }

func (s *wooStore) Variants() map[string]aliexpresssim.Product {
	cat := SupplierCatalog()
	return map[string]aliexpresssim.Product{strconv.Itoa(wooMugProduct): cat[0], strconv.Itoa(wooTeeVariation): cat[1]}
}

func (s *wooStore) PlaceOrder(variants []string, paid bool) (func() error, error) {
	addr := woocommercesim.Address{FirstName: "Carla", LastName: "Example", Address1: "3 Demo Strasse", City: "Berlin", State: "BE",
		Postcode: "10115", Country: "DE", Phone: "+49 30 1234567", Email: "customer@example.com"}
	spec := woocommercesim.OrderSpec{Status: "pending", Shipping: addr, Billing: addr, PaymentMethod: "stripe"}
	for _, v := range variants {
		line := woocommercesim.LineSpec{ProductID: wooMugProduct, Name: "Enamel mug", SKU: "MUG-WHITE", Quantity: 1, PriceCents: 995}
		if v == strconv.Itoa(wooTeeVariation) {
			line = woocommercesim.LineSpec{ProductID: 102, VariationID: wooTeeVariation, Name: "Linen tee - M", SKU: "TEE-M", Quantity: 2, PriceCents: 1990}
		}
		spec.Lines = append(spec.Lines, line)
	}
	id, err := s.sim.CreateOrder(spec)
	if err != nil {
		return nil, err
	}
	capture := func() error { return s.sim.Pay(id) }
	if paid {
		return capture, capture()
	}
	return capture, nil
}
