package harness

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
)

// Platforms of the simulated stores, in the order orders go round them.
var platforms = []string{"shopify", "woocommerce", "wix"}

// Each store sells a mug and a tee (qty 2), mapped to the two AliExpress
// sellers' products; variant ids by platform.
var variants = map[string][2]string{
	"shopify":     {"44000000001", "44000000002"},
	"woocommerce": {"101", "1021"},
	"wix":         {"00000000-0000-0000-0000-00000000a001", "00000000-0000-0000-0000-00000000a002"},
}

// tracked is one store order of the workload.
type tracked struct {
	ID       string // dropsync order id
	Platform string
	StoreID  string // the platform's own id
	// Unpaid orders are never paid: they belong in Pending.
	Unpaid bool

	placedAt  time.Time // when the store created it
	payAt     time.Time // zero: paid (or never) at creation
	lastPlace time.Time
	places    int
}

// workload plays the customers, the merchant and the AliExpress sellers.
type workload struct {
	c      *cluster
	plan   Plan
	client ordersv1.OrderServiceClient
	out    io.Writer

	// shipDelay, if set, bounds the sellers' random wait from payment to
	// the first parcel of an AliExpress order (the recovery mode's
	// steady trickle of tracking); zero ships 2 s after payment.
	shipDelay [2]time.Duration

	mu      sync.Mutex
	orders  []*tracked
	aeSeen  map[int64]time.Time
	shipAt  map[int64]time.Time // AliExpress order -> when its seller ships
	shipped map[string]shipment // by tracking number
	parcels int
	errs    map[string]int // harness-side failures by kind, for the report
}

// shipment is one parcel the sellers shipped at AliExpress.
type shipment struct {
	AEOrder int64
	// At is when the harness asked the simulator to ship it: the moment
	// the tracking shows at AliExpress.
	At time.Time
}

func newWorkload(c *cluster, plan Plan, client ordersv1.OrderServiceClient, out io.Writer) *workload {
	return &workload{c: c, plan: plan, client: client, out: out,
		aeSeen: map[int64]time.Time{}, shipAt: map[int64]time.Time{}, shipped: map[string]shipment{}, errs: map[string]int{}}
}

func (w *workload) logf(format string, args ...any) {
	fmt.Fprintf(w.out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (w *workload) fail(kind string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.errs[kind] == 0 {
		w.logf("workload: %s: %v (counted, not logged again)", kind, err)
	}
	w.errs[kind]++
}

// mapSupplier maps every store's variants to the AliExpress catalog,
// retrying while the orders service starts.
func (w *workload) mapSupplier(ctx context.Context) error {
	var products []aliexpresssim.Product
	if err := getJSON(ctx, w.c.url("aliexpresssim")+"/_sim/products", &products, 30*time.Second); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if len(products) < 2 {
		return fmt.Errorf("catalog: %d products, want 2", len(products))
	}
	for _, p := range platforms {
		for i, v := range variants[p] {
			pr := products[i]
			req := &ordersv1.UpdateSupplierMappingRequest{
				RequestId: "chaos-map-" + p + "-" + v, Store: p + ":" + storeSlug,
				Mapping: &eventsv1.SupplierMapping{VariantId: v, ProductId: pr.ID, SkuAttr: pr.SKUs[0].Attr, ShippingMethod: pr.ShippingMethods[0]},
			}
			err := poll(ctx, time.Minute, func() error {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				_, err := w.client.UpdateSupplierMapping(cctx, req)
				return err
			})
			if err != nil {
				return fmt.Errorf("map %s %s: %w", p, v, err)
			}
		}
	}
	return nil
}

// customers places plan.Orders orders evenly over plan.Duration and pays
// the late payers when their time comes; it returns when every order is
// placed and paid.
func (w *workload) customers(ctx context.Context) {
	start := time.Now()
	every := w.plan.Duration / time.Duration(w.plan.Orders)
	for i := range w.plan.Orders {
		if !sleepUntil(ctx, start.Add(time.Duration(i)*every)) {
			return
		}
		w.payDue(ctx)
		w.placeOne(ctx, platforms[i%len(platforms)])
	}
	w.payRest(ctx)
}

// maxSteadyOrders bounds the orders of a steady workload.
const maxSteadyOrders = 5000

// steady places orders at rate a second round the three stores, paying
// the late payers when due, until stop is closed (or ctx ends); then it
// pays the last ones.
func (w *workload) steady(ctx context.Context, rate float64, stop <-chan struct{}) {
	start, every := time.Now(), time.Duration(float64(time.Second)/rate)
	for i := range maxSteadyOrders {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			w.payRest(ctx)
			return
		case <-time.After(time.Until(start.Add(time.Duration(i) * every))):
		}
		w.payDue(ctx)
		w.placeOne(ctx, platforms[i%len(platforms)])
	}
	w.payRest(ctx)
}

// payRest pays the late payers (due at most 6 s after their order).
func (w *workload) payRest(ctx context.Context) {
	for range 60 {
		if w.payDue(ctx) == 0 || !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			return
		}
	}
}

// placeOne has a customer order one or both products on a platform.
func (w *workload) placeOne(ctx context.Context, platform string) {
	mug, tee := rand.IntN(3) != 0, rand.IntN(2) == 0
	if !mug && !tee {
		mug = true
	}
	t := &tracked{Platform: platform, Unpaid: rand.Float64() < w.plan.UnpaidShare, placedAt: time.Now()}
	paidNow := !t.Unpaid && rand.IntN(4) != 0
	if !t.Unpaid && !paidNow {
		t.payAt = time.Now().Add(2*time.Second + rand.N(4*time.Second))
	}
	var err error
	switch platform {
	case "shopify":
		err = w.shopifyOrder(ctx, t, mug, tee, paidNow)
	case "woocommerce":
		err = w.wooOrder(ctx, t, mug, tee, paidNow)
	case "wix":
		err = w.wixOrder(ctx, t, mug, tee, paidNow)
	}
	if err != nil {
		w.fail("create "+platform+" order", err)
		return
	}
	t.ID = platform + ":" + storeSlug + ":" + t.StoreID
	w.mu.Lock()
	w.orders = append(w.orders, t)
	w.mu.Unlock()
}

func (w *workload) shopifyOrder(ctx context.Context, t *tracked, mug, tee, paid bool) error {
	n := shopifysim.NewOrder{Email: "customer@example.com", Paid: paid,
		Shipping: shopifysim.Address{FirstName: "Ada", LastName: "Example", Address1: "1 Chaos Street", City: "Lisbon", Province: "Lisboa",
			Zip: "1000-001", Country: "Portugal", CountryCode: "PT", Phone: "+351 912 345 678"}}
	if mug {
		n.Lines = append(n.Lines, shopifysim.NewLine{Title: "Ceramic mug", SKU: "MUG-WHITE", Quantity: 1, Price: "14.90", VariantID: 44000000001, ProductID: 4400000000})
	}
	if tee {
		n.Lines = append(n.Lines, shopifysim.NewLine{Title: "Cotton T-shirt", SKU: "TEE-M", Quantity: 2, Price: "19.90", VariantID: 44000000002, ProductID: 4400000000})
	}
	var o shopifysim.Order
	if err := postJSON(ctx, w.c.url("shopifysim")+"/_sim/shops/"+shopDomain+"/orders", n, &o); err != nil {
		return err
	}
	t.StoreID = itoa(o.ID)
	return nil
}

func (w *workload) wooOrder(ctx context.Context, t *tracked, mug, tee, paid bool) error {
	addr := woocommercesim.Address{FirstName: "Carla", LastName: "Example", Address1: "3 Chaos Strasse", City: "Berlin", State: "BE",
		Postcode: "10115", Country: "DE", Phone: "+49 30 1234567", Email: "customer@example.com"}
	spec := woocommercesim.OrderSpec{Status: "pending", Shipping: addr, Billing: addr, PaymentMethod: "stripe"}
	if mug {
		spec.Lines = append(spec.Lines, woocommercesim.LineSpec{ProductID: 101, Name: "Enamel mug", SKU: "MUG-WHITE", Quantity: 1, PriceCents: 995})
	}
	if tee {
		spec.Lines = append(spec.Lines, woocommercesim.LineSpec{ProductID: 102, VariationID: 1021, Name: "Linen tee - M", SKU: "TEE-M", Quantity: 2, PriceCents: 1990})
	}
	var c woocommercesim.Created
	if err := postJSON(ctx, w.c.url("woocommercesim")+"/_sim/orders", spec, &c); err != nil {
		return err
	}
	t.StoreID = itoa(c.ID)
	if paid {
		return w.pay(ctx, t)
	}
	return nil
}

func (w *workload) wixOrder(ctx context.Context, t *tracked, mug, tee, paid bool) error {
	n := wixsim.NewOrder{Email: "customer@example.com", PaymentStatus: "NOT_PAID",
		Recipient: &wixsim.AddressWithContact{
			Address:        wixsim.Address{Country: "FR", Subdivision: "FR-75", City: "Paris", PostalCode: "75001", AddressLine1: "2 Rue du Chaos"},
			ContactDetails: wixsim.ContactDetails{FirstName: "Blaise", LastName: "Example", Phone: "+33 6 12 34 56 78"},
		}}
	if paid {
		n.PaymentStatus = "PAID"
	}
	if mug {
		n.Lines = append(n.Lines, wixsim.NewLine{Name: "Ceramic mug", CatalogItemID: "11111111-0000-0000-0000-000000000001", VariantID: variants["wix"][0], SKU: "MUG-WHITE", Quantity: 1, Price: "14.90"})
	}
	if tee {
		n.Lines = append(n.Lines, wixsim.NewLine{Name: "Cotton T-shirt", CatalogItemID: "11111111-0000-0000-0000-000000000002", VariantID: variants["wix"][1], SKU: "TEE-M", Quantity: 2, Price: "19.90"})
	}
	var o wixsim.Order
	if err := postJSON(ctx, w.c.url("wixsim")+"/_sim/sites/"+wixSiteID+"/orders", n, &o); err != nil {
		return err
	}
	t.StoreID = o.ID
	return nil
}

// pay captures an order's payment on its store.
func (w *workload) pay(ctx context.Context, t *tracked) error {
	switch t.Platform {
	case "shopify":
		return postJSON(ctx, w.c.url("shopifysim")+"/_sim/shops/"+shopDomain+"/orders/"+t.StoreID+"/paid", nil, nil)
	case "woocommerce":
		return postJSON(ctx, w.c.url("woocommercesim")+"/_sim/orders/"+t.StoreID+"/pay", nil, nil)
	default:
		return postJSON(ctx, w.c.url("wixsim")+"/_sim/orders/"+t.StoreID+"/payment", wixsim.PaymentRequest{Status: "PAID"}, nil)
	}
}

// payDue pays the orders whose late payment is due; it returns how many
// are still to pay.
func (w *workload) payDue(ctx context.Context) int {
	w.mu.Lock()
	var due []*tracked
	left := 0
	for _, t := range w.orders {
		if t.payAt.IsZero() {
			continue
		}
		if time.Now().After(t.payAt) {
			due = append(due, t)
			t.payAt = time.Time{}
		} else {
			left++
		}
	}
	w.mu.Unlock()
	for _, t := range due {
		if err := w.pay(ctx, t); err != nil {
			w.fail("pay "+t.Platform+" order", err)
		}
	}
	return left
}

// merchant places every order of the workload that shows in Awaiting
// order, again if it is still there 20 s after the last try, until ctx
// ends.
func (w *workload) merchant(ctx context.Context) {
	mine := func() map[string]*tracked {
		w.mu.Lock()
		defer w.mu.Unlock()
		m := make(map[string]*tracked, len(w.orders))
		for _, t := range w.orders {
			m[t.ID] = t
		}
		return m
	}
	for sleepUntil(ctx, time.Now().Add(time.Second)) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := w.client.ListOrders(cctx, &ordersv1.ListOrdersRequest{Tab: eventsv1.Tab_TAB_AWAITING_ORDER, PageSize: 500})
		cancel()
		if err != nil {
			continue // the orders service may be down: it is killed too
		}
		m := mine()
		for _, o := range r.GetOrders() {
			t := m[o.GetOrderId()]
			if t == nil || time.Since(t.lastPlace) < 20*time.Second {
				continue
			}
			t.places++
			t.lastPlace = time.Now()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := w.client.PlaceOrders(cctx, &ordersv1.PlaceOrdersRequest{RequestId: fmt.Sprintf("chaos-place-%s-%d", t.ID, t.places), OrderIds: []string{t.ID}})
			cancel()
			if err != nil {
				t.lastPlace = time.Time{} // try again on the next round
			}
		}
	}
}

// sellers plays the AliExpress sellers until ctx ends: a placed order is
// paid a couple of seconds after it shows, then shipped, a tee line of two
// sometimes in two parcels.
func (w *workload) sellers(ctx context.Context) {
	base := w.c.url("aliexpresssim") + "/_sim/"
	for sleepUntil(ctx, time.Now().Add(time.Second)) {
		var list []aliexpresssim.Order
		if err := getJSON(ctx, base+"orders", &list, 0); err != nil {
			w.fail("list AliExpress orders", err)
			continue
		}
		for _, o := range list {
			if !w.due(o.ID) {
				continue
			}
			form := url.Values{"order_id": {itoa(o.ID)}}
			switch o.Status {
			case aliexpresssim.StatusPlaced:
				if err := postForm(ctx, base+"pay", form); err != nil {
					w.fail("pay at AliExpress", err)
				}
			case aliexpresssim.StatusWaitSend, aliexpresssim.StatusPartSent:
				if !w.readyToShip(o.ID) {
					continue
				}
				for _, ch := range o.Children {
					left := ch.Count - ch.Shipped
					if left <= 0 {
						continue
					}
					if left >= 2 && rand.IntN(3) == 0 {
						left = 1 // the rest in a later parcel
					}
					no := w.parcel()
					form.Set("logistics_no", no)
					form.Set("service", "CAINIAO_STANDARD")
					form["product_id"], form["count"] = []string{ch.ProductID}, []string{strconv.Itoa(left)}
					at := time.Now()
					if err := postForm(ctx, base+"ship", form); err != nil {
						w.fail("ship at AliExpress", err)
						break
					}
					w.mu.Lock()
					w.shipped[no] = shipment{AEOrder: o.ID, At: at}
					w.mu.Unlock()
					break // one parcel per round
				}
			}
		}
	}
}

// due reports whether an AliExpress order may move: 2 s after it was first
// seen or last moved.
func (w *workload) due(id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.aeSeen[id]
	if !ok || time.Since(last) < 2*time.Second {
		if !ok {
			w.aeSeen[id] = time.Now()
		}
		return false
	}
	w.aeSeen[id] = time.Now()
	return true
}

// readyToShip reports whether an AliExpress order's seller is ready to
// ship: at once without a shipDelay, else once a random delay within it
// has passed since the order was first seen paid.
func (w *workload) readyToShip(id int64) bool {
	if w.shipDelay[1] == 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.shipAt[id]
	if !ok {
		at = time.Now().Add(between(w.shipDelay))
		w.shipAt[id] = at
	}
	return time.Now().After(at)
}

func (w *workload) parcel() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parcels++
	return fmt.Sprintf("CX%09dCN", w.parcels)
}

// snapshot returns the orders placed so far.
func (w *workload) snapshot() []*tracked {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*tracked(nil), w.orders...)
}

// sleepUntil sleeps until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
