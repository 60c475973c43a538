// Package demo drives orders through the simulated platforms of `make run`:
// customers order in the simulated stores, the merchant (the demo) places
// what is awaiting order, and the simulated AliExpress sellers are paid and
// ship, some in two parcels. dropsync does everything in between.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"

	"github.com/dropsync/dropsync/pkg/aliexpresssim"
)

// Store is a simulated store the demo orders from.
type Store interface {
	// Key is the store key, "<platform>:<store id>".
	Key() string
	// Variants are the store's variant ids, each with the supplier product it maps to.
	Variants() map[string]aliexpresssim.Product
	// PlaceOrder has a customer order lines of the given variants; paid
	// tells whether the payment is captured at once. It returns the order's
	// dropsync id and a function that captures the payment later.
	PlaceOrder(variants []string, paid bool) (orderID string, capture func() error, err error)
}

// Demo drives the simulated platforms.
type Demo struct {
	// OrdersAddr is the orders service's gRPC address.
	OrdersAddr string
	// Dial are the options it is dialled with: TLS and an operator's
	// credentials (the demo plays the merchant placing orders).
	Dial []grpc.DialOption
	// Every is how often each store gets an order; 0 turns the demo off.
	Every time.Duration
	// Stores are the simulated stores; Supplier the simulated AliExpress (or nil).
	Stores   []Store
	Supplier *aliexpresssim.Sim
	Log      *slog.Logger

	mu   sync.Mutex
	seen map[int64]time.Time // AliExpress order -> when the demo last moved it
}

// SupplierCatalog is the simulated AliExpress catalog: two sellers, so an
// order of both products becomes two AliExpress orders.
func SupplierCatalog() []aliexpresssim.Product {
	return []aliexpresssim.Product{
		{ID: "1005001000000001", SellerID: "9001", StoreName: "Demo Mugs", Title: "Ceramic mug",
			SKUs:            []aliexpresssim.SKU{{ID: "12000037255569170", Attr: "14:200013901#White", Stock: 100000, PriceCents: 350}},
			ShippingMethods: []string{"CAINIAO_STANDARD", "CAINIAO_FULFILLMENT_STD"}},
		{ID: "1005001000000002", SellerID: "9002", StoreName: "Demo Tees", Title: "Cotton T-shirt",
			SKUs:            []aliexpresssim.SKU{{ID: "12000040000000001", Attr: "5:361386", Stock: 100000, PriceCents: 800}},
			ShippingMethods: []string{"CAINIAO_STANDARD", "YANWEN_JYT"}},
	}
}

// Run drives the demo until ctx ends.
func (d *Demo) Run(ctx context.Context) error {
	if d.Every <= 0 || (len(d.Stores) == 0 && d.Supplier == nil) {
		<-ctx.Done()
		return nil
	}
	d.seen = map[int64]time.Time{}
	conn, err := grpc.NewClient(d.OrdersAddr, d.Dial...)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	client := ordersv1.NewOrderServiceClient(conn)
	if err := waitServing(ctx, healthpb.NewHealthClient(conn)); err != nil {
		return nil
	}
	if err := d.MapSupplier(ctx, client); err != nil {
		return err
	}
	go d.placeAwaiting(ctx, client)
	orders := time.NewTicker(d.Every)
	defer orders.Stop()
	supplier := time.NewTicker(time.Second)
	defer supplier.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-orders.C:
			for _, s := range d.Stores {
				d.order(ctx, s)
			}
		case <-supplier.C:
			d.supply()
		}
	}
}

// MapSupplier maps every simulated store's variants to the simulated
// AliExpress catalog (idempotent).
func (d *Demo) MapSupplier(ctx context.Context, client ordersv1.OrderServiceClient) error {
	for _, s := range d.Stores {
		for variant, p := range s.Variants() {
			_, err := client.UpdateSupplierMapping(ctx, &ordersv1.UpdateSupplierMappingRequest{
				RequestId: "devstack-map-" + s.Key() + "-" + variant, Store: s.Key(),
				Mapping: &eventsv1.SupplierMapping{VariantId: variant, ProductId: p.ID, SkuAttr: p.SKUs[0].Attr, ShippingMethod: p.ShippingMethods[0]},
			})
			if err != nil {
				return fmt.Errorf("demo: map %s %s: %w", s.Key(), variant, err)
			}
		}
	}
	return nil
}

func waitServing(ctx context.Context, h healthpb.HealthClient) error {
	for {
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// order has a customer order one or both products; one order in four waits
// a few seconds in Pending before the payment is captured.
func (d *Demo) order(ctx context.Context, s Store) {
	var variants []string
	for v := range s.Variants() {
		if len(variants) == 0 || rand.IntN(2) == 0 {
			variants = append(variants, v)
		}
	}
	paid := rand.IntN(4) != 0
	_, capture, err := s.PlaceOrder(variants, paid)
	if err != nil {
		d.Log.Warn("demo order", "store", s.Key(), "err", err)
		return
	}
	if !paid {
		time.AfterFunc(3*time.Second, func() {
			if ctx.Err() == nil {
				if err := capture(); err != nil {
					d.Log.Warn("demo capture", "store", s.Key(), "err", err)
				}
			}
		})
	}
}

// placeAwaiting plays the merchant: every order that reaches Awaiting
// order is placed with the supplier.
func (d *Demo) placeAwaiting(ctx context.Context, client ordersv1.OrderServiceClient) {
	for ctx.Err() == nil {
		stream, err := client.WatchOrders(ctx, &ordersv1.WatchOrdersRequest{Tabs: []eventsv1.Tab{eventsv1.Tab_TAB_AWAITING_ORDER}})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for {
			c, err := stream.Recv()
			if err != nil {
				break
			}
			if !d.ours(c.GetOrderId()) {
				continue // an order of a real store, or one made by hand: the merchant's call
			}
			_, err = client.PlaceOrders(ctx, &ordersv1.PlaceOrdersRequest{RequestId: fmt.Sprintf("devstack-place-%d", c.GetRevision()), OrderIds: []string{c.GetOrderId()}})
			if err != nil {
				d.Log.Warn("demo place", "order_id", c.GetOrderId(), "err", err)
			}
		}
	}
}

// ours reports whether an order belongs to one of the demo's stores.
func (d *Demo) ours(orderID string) bool {
	for _, s := range d.Stores {
		if strings.HasPrefix(orderID, s.Key()+":") {
			return true
		}
	}
	return false
}

// supply plays the AliExpress sellers and buyers: a placed order is paid
// after a couple of seconds, then shipped; an order of two items ships in
// two parcels half the time; its parcels are delivered half a minute
// later, and the buyer accepts it half a minute after that, which closes
// it, so the open orders stay about as many as a minute's worth, however
// long the demo runs.
func (d *Demo) supply() {
	if d.Supplier == nil {
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.Supplier.Orders() {
		last, ok := d.seen[o.ID]
		if !ok {
			d.seen[o.ID] = now
			continue
		}
		if now.Sub(last) < 2*time.Second {
			continue
		}
		switch o.Status {
		case aliexpresssim.StatusPlaced:
			if err := d.Supplier.Pay(o.ID); err == nil {
				d.seen[o.ID] = now
			}
		case aliexpresssim.StatusWaitAccept:
			if now.Sub(last) < 30*time.Second {
				continue
			}
			d.seen[o.ID] = now
			delivered := true
			for _, p := range o.Packages {
				if !p.Delivered {
					delivered = false
					if err := d.Supplier.Deliver(o.ID, p.LogisticsNo); err != nil {
						d.Log.Warn("demo deliver", "ae_order", o.ID, "err", err)
					}
				}
			}
			if delivered {
				if err := d.Supplier.Finish(o.ID); err != nil {
					d.Log.Warn("demo finish", "ae_order", o.ID, "err", err)
				}
			}
		case aliexpresssim.StatusWaitSend, aliexpresssim.StatusPartSent:
			for _, c := range o.Children {
				if c.Shipped >= c.Count {
					continue
				}
				no := fmt.Sprintf("LP%011dCN", rand.Int64N(1e11))
				if err := d.Supplier.Ship(o.ID, no, "CAINIAO_STANDARD", aliexpresssim.PackageItem{ProductID: c.ProductID, SkuID: c.SkuID, Count: c.Count - c.Shipped}); err != nil {
					d.Log.Warn("demo ship", "ae_order", o.ID, "err", err)
				}
				d.seen[o.ID] = now
				if rand.IntN(2) == 0 {
					break // the rest ships in a later parcel
				}
			}
		}
	}
}
