package demo

import (
	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/wixsim"
)

// wixStore is a simulated Wix site.
type wixStore struct {
	sim          *wixsim.Sim
	slug, siteID string
}

// NewWixStore returns the demo's view of a simulated Wix site.
func NewWixStore(sim *wixsim.Sim, slug, siteID string) Store {
	return &wixStore{sim: sim, slug: slug, siteID: siteID}
}

// Variant ids of the simulated Wix site's products.
const (
	WixMug = "00000000-0000-0000-0000-00000000a001"
	WixTee = "00000000-0000-0000-0000-00000000a002"
)

func (s *wixStore) Key() string { return "wix:" + s.slug }

func (s *wixStore) Variants() map[string]aliexpresssim.Product {
	cat := SupplierCatalog()
	return map[string]aliexpresssim.Product{WixMug: cat[0], WixTee: cat[1]}
}

func (s *wixStore) PlaceOrder(variants []string, paid bool) (string, func() error, error) {
	n := wixsim.NewOrder{
		Email: "customer@example.com",
		Recipient: &wixsim.AddressWithContact{
			Address:        wixsim.Address{Country: "FR", Subdivision: "FR-75", City: "Paris", PostalCode: "75001", AddressLine1: "2 Rue de la Demo"},
			ContactDetails: wixsim.ContactDetails{FirstName: "Blaise", LastName: "Example", Phone: "+33 6 12 34 56 78"},
		},
		PaymentStatus: "NOT_PAID",
	}
	if paid {
		n.PaymentStatus = "PAID"
	}
	for _, v := range variants {
		line := wixsim.NewLine{Name: "Ceramic mug", CatalogItemID: "11111111-0000-0000-0000-000000000001", VariantID: v, SKU: "MUG-WHITE", Quantity: 1, Price: "14.90"}
		if v == WixTee {
			line = wixsim.NewLine{Name: "Cotton T-shirt", CatalogItemID: "11111111-0000-0000-0000-000000000002", VariantID: v, SKU: "TEE-M", Quantity: 2, Price: "19.90"}
		}
		n.Lines = append(n.Lines, line)
	}
	// Approved at once (an unpaid one is an offline payment that comes later).
	o, err := s.sim.CreateOrder(s.siteID, n)
	if err != nil {
		return "", nil, err
	}
	return "wix:" + s.slug + ":" + o.ID, func() error {
		_, err := s.sim.SetPaymentStatus(o.ID, "PAID")
		return err
	}, nil
}
