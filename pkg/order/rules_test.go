package order_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dropsync/dropsync/pkg/order"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	ordersv1 "github.com/dropsync/dropsync/proto/dropsync/orders/v1"
)

const (
	shopify = eventsv1.Platform_PLATFORM_SHOPIFY
	woo     = eventsv1.Platform_PLATFORM_WOOCOMMERCE
	wix     = eventsv1.Platform_PLATFORM_WIX
)

var (
	eachPart   = &eventsv1.StoreSettings{FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART, ShippingConfirmation: true}
	wholeOrder = &eventsv1.StoreSettings{FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_WHOLE_ORDER, ShippingConfirmation: true}
	noConfirm  = &eventsv1.StoreSettings{FulfillmentPolicy: eventsv1.FulfillmentPolicy_FULFILLMENT_POLICY_EACH_PART}
)

// test is one named case: given a history, when a fact or command, want
// these events (described by type and key fields) or this error, and the
// order in this tab afterwards.
type test struct {
	name     string
	platform eventsv1.Platform // shopify when unset
	settings *eventsv1.StoreSettings
	given    func(f *fixture)
	when     func(f *fixture) ([]*eventsv1.Envelope, error)
	want     []string
	wantErr  error
	wantCode string
	wantTab  eventsv1.Tab
	then     func(t *testing.T, f *fixture)
}

func run(t *testing.T, tests []test) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.platform
			if p == 0 {
				p = shopify
			}
			s := tt.settings
			if s == nil {
				s = eachPart
			}
			f := newFixture(t, p, s)
			if tt.given != nil {
				tt.given(f)
			}
			before := f.o.Revision()
			got, err := tt.when(f)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if tt.wantCode != "" && order.Code(err) != tt.wantCode {
					t.Fatalf("code = %s, want %s (%v)", order.Code(err), tt.wantCode, err)
				}
				if got != nil {
					t.Fatalf("events with an error: %v", describeAll(got))
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if d := describeAll(got); !slices.Equal(d, tt.want) && (len(d) != 0 || len(tt.want) != 0) {
				t.Fatalf("events:\n got %q\nwant %q", d, tt.want)
			}
			if f.o.Revision() != before {
				t.Fatal("the decision changed the order")
			}
			f.record(got)
			if tt.wantTab != 0 && f.o.Tab() != tt.wantTab {
				t.Fatalf("tab = %s, want %s", tabName(f.o.Tab()), tabName(tt.wantTab))
			}
			checkRebuild(t, f)
			if tt.then != nil {
				tt.then(t, f)
			}
		})
	}
}

// checkRebuild checks that folding the recorded events from scratch gives
// the same order as the incremental fold.
func checkRebuild(t testing.TB, f *fixture) {
	t.Helper()
	if len(f.events) == 0 {
		return
	}
	r := order.Rebuild(f.events)
	if !proto.Equal(r.ToProto(), f.o.ToProto()) {
		t.Fatalf("rebuild differs:\nrebuilt %v\nfolded  %v", r.ToProto(), f.o.ToProto())
	}
}

func TestRule1Pending(t *testing.T) {
	run(t, []test{
		{
			name:    "created unpaid stays Pending",
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.created(false)) },
			want:    []string{"StoreOrderCreated", "OrderStatusChanged UNSPECIFIED->PENDING"},
			wantTab: eventsv1.Tab_TAB_PENDING,
		},
		{
			name:    "capture moves Pending to Awaiting order",
			given:   func(f *fixture) { f.fact(f.created(false)) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.captured()) },
			want:    []string{"StorePaymentCaptured", "OrderStatusChanged PENDING->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:    "created paid goes straight to Awaiting order",
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.created(true)) },
			want:    []string{"StoreOrderCreated", "OrderStatusChanged UNSPECIFIED->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:  "capture seen in a store update",
			given: func(f *fixture) { f.fact(f.created(false)) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.updated(func(so *eventsv1.StoreOrder) { so.PaymentCaptured, so.FinancialStatus = true, "paid" }))
			},
			want:    []string{"StoreOrderUpdated", "OrderStatusChanged PENDING->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:     "placing a Pending order is refused",
			given:    func(f *fixture) { f.fact(f.created(false)) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrPaymentNotCaptured,
			wantCode: order.CodePaymentNotCaptured,
			wantTab:  eventsv1.Tab_TAB_PENDING,
		},
		{
			name:    "a stuck Pending order can be re-read",
			given:   func(f *fixture) { f.fact(f.created(false)) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.Resync("RS1", f.ctx()) },
			want:    []string{"ResyncRequested RS1"},
			wantTab: eventsv1.Tab_TAB_PENDING,
		},
		{
			name: "the re-read order with its capture moves to Awaiting order",
			given: func(f *fixture) {
				f.fact(f.created(false))
				f.must(f.o.Resync("RS1", f.ctx()))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.reread("RS1", func(so *eventsv1.StoreOrder) { so.PaymentCaptured = true }))
			},
			want:    []string{"StoreOrderReread", "OrderStatusChanged PENDING->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:     "resync of an order never seen is refused",
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.Resync("RS1", f.ctx()) },
			wantErr:  order.ErrUnknownOrder,
			wantCode: order.CodeNotFound,
		},
	})
}

func TestRule2Placing(t *testing.T) {
	run(t, []test{
		{
			name:    "place asks the supplier for every active line",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			want:    []string{"PlacementRequested P1 items=L1x2,L2x1 retry=false"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
			then: func(t *testing.T, f *fixture) {
				p := f.events[len(f.events)-1].GetPlacementRequested()
				if p.GetShippingAddress().GetCity() != "Lyon" || p.GetItems()[0].GetProductId() != "1005001" || p.GetItems()[0].GetShippingMethod() == "" {
					t.Fatalf("placement = %v", p)
				}
				if f.o.ToProto().GetPlaceable() {
					t.Fatal("placeable while the placement is in flight")
				}
			},
		},
		{
			name: "the supplier order number moves it to Awaiting payment",
			given: func(f *fixture) {
				f.paidOnStore()
				f.must(f.place("P1", mapped))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.placed("P1", so("AE1", lq("L1", 2), lq("L2", 1))))
			},
			want:    []string{"SupplierOrderPlaced", "OrderStatusChanged AWAITING_ORDER->AWAITING_PAYMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
			then: func(t *testing.T, f *fixture) {
				v := f.o.ToProto()
				if len(v.GetSupplierOrders()) != 1 || v.GetSupplierOrders()[0].GetSupplierOrderId() != "AE1" || v.GetLines()[0].GetPlacedQuantity() != 2 {
					t.Fatalf("view = %v", v)
				}
			},
		},
		{
			name:    "paying on AliExpress moves it to Awaiting shipment",
			given:   (*fixture).awaitingPayment,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.paid("AE1")) },
			want:    []string{"SupplierOrderPaid", "OrderStatusChanged AWAITING_PAYMENT->AWAITING_SHIPMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
		},
		{
			name: "one of two supplier orders paid stays Awaiting payment",
			given: func(f *fixture) {
				f.paidOnStore()
				f.must(f.place("P1", mapped))
				f.fact(f.placed("P1", so("AE1", lq("L1", 2)), so("AE2", lq("L2", 1))))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.paid("AE2")) },
			want:    []string{"SupplierOrderPaid"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
		},
		{
			name: "a supplier that places only some lines leaves the rest to place",
			given: func(f *fixture) {
				f.paidOnStore()
				f.must(f.place("P1", mapped))
				f.fact(f.placed("P1", so("AE1", lq("L1", 2))))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P2", mapped) },
			want:    []string{"PlacementRequested P2 items=L2x1 retry=false"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name: "placing while a placement is in flight is refused",
			given: func(f *fixture) {
				f.paidOnStore()
				f.must(f.place("P1", mapped))
			},
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P2", mapped) },
			wantErr:  order.ErrPlacementInFlight,
			wantCode: order.CodePlacementInFlight,
		},
		{
			name:     "placing an order already placed is refused",
			given:    (*fixture).awaitingPayment,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P2", mapped) },
			wantErr:  order.ErrNotPlaceable,
			wantCode: order.CodeAlreadyPlaced,
			wantTab:  eventsv1.Tab_TAB_AWAITING_PAYMENT,
		},
	})
}

func TestRule3Fulfilment(t *testing.T) {
	run(t, []test{
		{
			name:     "shopify each part: a partial shipment is fulfilled at once",
			settings: eachPart,
			given:    (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s1 lines=L1x2 tracking=T1 completes=false EACH_PART"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
		},
		{
			name:     "shopify each part: the last part completes the order",
			settings: eachPart,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s2 lines=L2x1 tracking=T2 completes=true EACH_PART",
				"OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:     "shopify whole order: a partial shipment waits in Awaiting fulfillment",
			settings: wholeOrder,
			given:    (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			want:    []string{"SupplierShipmentCreated", "OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
			then: func(t *testing.T, f *fixture) {
				if st, _ := f.o.ShipmentState("s1"); st.String() != "SHIPMENT_STATE_WAITING" {
					t.Fatalf("shipment state %v", st)
				}
			},
		},
		{
			name:     "shopify whole order: the last shipment fulfils the whole order once",
			settings: wholeOrder,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s2 lines=L1x2,L2x1 tracking=T1,T2 completes=true WHOLE_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:     "shopify whole order: pushing the whole-order fulfilment fulfils every shipment",
			settings: wholeOrder,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushed("s2", "F1")) },
			want:    []string{"FulfillmentPushed", "OrderStatusChanged AWAITING_FULFILLMENT->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				for _, s := range f.o.ToProto().GetShipments() {
					if s.GetState().String() != "SHIPMENT_STATE_PUSHED" || s.GetStoreFulfillmentId() != "F1" {
						t.Fatalf("shipment %v", s)
					}
				}
			},
		},
		{
			name:     "woocommerce ignores an each-part setting: a partial shipment waits",
			platform: woo,
			settings: eachPart,
			given:    (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			want:    []string{"SupplierShipmentCreated", "OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:     "woocommerce completes the order only when every item has tracking",
			platform: woo,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 1)))
				f.fact(f.shipped("AE1", "s2", "T2", lq("L1", 1)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s3", "T3", lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s3 lines=L1x2,L2x1 tracking=T1,T2,T3 completes=true WHOLE_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:     "wix fulfils line item by line item whatever the setting",
			platform: wix,
			settings: wholeOrder,
			given:    (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s1 lines=L2x1 tracking=T1 completes=false EACH_PART"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
		},
		{
			name:     "wix: the last line item completes the order",
			platform: wix,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L2", 1)))
				f.fact(f.pushed("s1", "W1"))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s2", "T2", lq("L1", 2)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s2 lines=L1x2 tracking=T2 completes=true EACH_PART",
				"OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:    "a shipment naming no lines ships its supplier order's lines",
			given:   (*fixture).awaitingShipment,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.shipped("AE1", "s1", "T1")) },
			want:    []string{"SupplierShipmentCreated", "FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART", "OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:     "switching a store to each part fulfils the waiting shipment with the next fact",
			settings: eachPart,
			given: func(f *fixture) {
				f.settings = wholeOrder
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.settings = eachPart
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.finished("AE1")) },
			want: []string{"SupplierOrderFinished",
				"FulfillmentRequested s1 lines=L1x2 tracking=T1 completes=false EACH_PART",
				"OrderStatusChanged AWAITING_FULFILLMENT->AWAITING_SHIPMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
		},
	})
}

func TestRule4StoreAndConfirmation(t *testing.T) {
	run(t, []test{
		{
			name: "the pushed fulfilment moves the order to Fulfilled",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushed("s1", "F1")) },
			want:    []string{"FulfillmentPushed", "OrderStatusChanged AWAITING_FULFILLMENT->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if got := f.o.ConfirmationsDue(eachPart); !slices.Equal(got, []string{"s1"}) {
					t.Fatalf("confirmations due = %v", got)
				}
				if got := f.o.ConfirmationsDue(noConfirm); got != nil {
					t.Fatalf("confirmations due with the setting off = %v", got)
				}
			},
		},
		{
			name:    "a confirmation is issued for a pushed shipment",
			given:   (*fixture).fulfilled,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.confirmed("s1")) },
			want:    []string{"ShippingConfirmationIssued"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if !f.o.ToProto().GetShipments()[0].GetConfirmationIssued() || f.o.ConfirmationsDue(eachPart) != nil {
					t.Fatal("confirmation not recorded")
				}
			},
		},
		{
			name: "a second confirmation for the same shipment is refused",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.confirmed("s1"))
			},
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.confirmed("s1")) },
			wantErr:  order.ErrAlreadyConfirmed,
			wantCode: order.CodeConfirmationIssued,
		},
		{
			name:     "setting off: the fulfilment still happens",
			settings: noConfirm,
			given:    (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART",
				"OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
		},
		{
			name:     "setting off: no confirmation is due",
			settings: noConfirm,
			given:    (*fixture).fulfilled,
			when:     noneDue(noConfirm),
		},
		{
			// The notifier decided while the setting was on, and the store
			// sent it with the fulfilment: a later change does not undo a fact.
			name:     "a recorded confirmation stands after the setting is turned off",
			settings: noConfirm,
			given:    (*fixture).fulfilled,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.confirmed("s1")) },
			want:     []string{"ShippingConfirmationIssued"},
		},
		{
			name:     "no confirmation is due for a shipment not fulfilled on the store",
			settings: wholeOrder,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			when: noneDue(wholeOrder),
		},
		{
			name:     "no confirmation for an unknown shipment",
			given:    (*fixture).fulfilled,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.confirmed("nope")) },
			wantErr:  order.ErrUnknownShipment,
			wantCode: order.CodeUnknownShipment,
		},
		{
			name:  "a changed tracking number of a pushed shipment is sent to the store",
			given: (*fixture).fulfilled,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.trackingChanged("s1", "T9")) },
			want:  []string{"SupplierTrackingChanged", "TrackingUpdateRequested s1 fid=F1 tracking=T9 replaces=T1"},
		},
		{
			name: "a tracking number changed before the push is sent once pushed",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
				f.fact(f.trackingChanged("s1", "T9"))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushed("s1", "F1")) },
			want: []string{"FulfillmentPushed", "TrackingUpdateRequested s1 fid=F1 tracking=T9 replaces=T1",
				"OrderStatusChanged AWAITING_FULFILLMENT->FULFILLED"},
		},
		{
			name: "a tracking number changed before the request goes in the request",
			given: func(f *fixture) {
				f.settings = wholeOrder
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.trackingChanged("s1", "T9"))
			},
			settings: wholeOrder,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s2 lines=L1x2,L2x1 tracking=T9,T2 completes=true WHOLE_ORDER"},
		},
		{
			name: "the store refusing a fulfilment raises attention",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushFailed("s1")) },
			want:    []string{"FulfillmentFailed", "AttentionRaised FULFILLMENT_FAILED"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
			then: func(t *testing.T, f *fixture) {
				v := f.o.ToProto()
				if v.GetShipments()[0].GetState().String() != "SHIPMENT_STATE_FAILED" || len(v.GetAttention()) != 1 {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name: "our own fulfilment echoed by the store (same tracking) is not fulfilled on the store",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeFulfilled("F1", []string{"T1"}, lq("L1", 2)))
			},
			want:    []string{"StoreOrderFulfilled"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
			then: func(t *testing.T, f *fixture) {
				if f.o.FulfilledOnStore() {
					t.Fatal("echo taken for a store fulfilment")
				}
				got := describeAll(f.fact(f.shipped("AE1", "s2", "T2", lq("L2", 1))))
				if !slices.Contains(got, "FulfillmentRequested s2 lines=L2x1 tracking=T2 completes=true EACH_PART") {
					t.Fatalf("after the echo: %q", got)
				}
			},
		},
		{
			name: "our own fulfilment echoed by the store (known fulfillment id) is not fulfilled on the store",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.pushed("s1", "F1"))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfilled("F1", nil)) },
			want:    []string{"StoreOrderFulfilled"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
		},
		{
			name:     "woocommerce completion without tracking after our whole-order request is our echo",
			platform: woo,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfilled("", nil)) },
			want:    []string{"StoreOrderFulfilled"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
		},
		{
			name:     "placing an order dropsync fulfilled is refused",
			given:    (*fixture).fulfilled,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P9", mapped) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeOrderFulfilled,
		},
		{
			name:     "fulfilling by hand an order dropsync fulfilled is refused",
			given:    (*fixture).fulfilled,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeOrderFulfilled,
		},
	})
}

func TestRule5FulfilledByHandBeforePlacing(t *testing.T) {
	manual := func(f *fixture) {
		f.paidOnStore()
		f.must(f.o.FulfillManually("M1", "shipped from stock", f.ctx()))
	}
	run(t, []test{
		{
			name:    "fulfilled by hand before placing moves to Fulfilled",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			want:    []string{"OrderFulfilledManually after_placing=false", "OrderStatusChanged AWAITING_ORDER->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				v := f.o.ToProto()
				if !v.GetFulfilledManually() || v.GetPlaceable() || len(v.GetSupplierOrders()) != 0 || len(v.GetShipments()) != 0 {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name:    "a Pending order can be fulfilled by hand",
			given:   func(f *fixture) { f.fact(f.created(false)) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			want:    []string{"OrderFulfilledManually after_placing=false", "OrderStatusChanged PENDING->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
		},
		{
			name:     "it can never be placed again",
			given:    manual,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeFulfilledManually,
		},
		{
			name:     "nor retried",
			given:    manual,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("P1", mapped) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeFulfilledManually,
		},
		{
			name:     "fulfilling it by hand again is refused",
			given:    manual,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M2", "", f.ctx()) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeFulfilledManually,
		},
		{
			name:    "a store payment arriving later changes nothing",
			given:   func(f *fixture) { f.fact(f.created(false)); f.must(f.o.FulfillManually("M1", "", f.ctx())) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.captured()) },
			want:    []string{"StorePaymentCaptured"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
		},
	})
}

func TestRule6FulfilledByHandAfterPlacing(t *testing.T) {
	manual := func(f *fixture) {
		f.awaitingShipment()
		f.must(f.o.FulfillManually("M1", "", f.ctx()))
	}
	run(t, []test{
		{
			name:    "fulfilled by hand after placing keeps its supplier order",
			given:   (*fixture).awaitingPayment,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			want:    []string{"OrderFulfilledManually after_placing=true", "OrderStatusChanged AWAITING_PAYMENT->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if v := f.o.ToProto(); len(v.GetSupplierOrders()) != 1 || v.GetSupplierOrders()[0].GetSupplierOrderId() != "AE1" {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name: "a placement in flight counts as placed",
			given: func(f *fixture) {
				f.paidOnStore()
				f.must(f.place("P1", mapped))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			want: []string{"OrderFulfilledManually after_placing=true", "OrderStatusChanged AWAITING_ORDER->FULFILLED"},
		},
		{
			name:  "a shipment afterwards is not synced",
			given: manual,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			want:    []string{"SupplierShipmentCreated"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if st, _ := f.o.ShipmentState("s1"); st.String() != "SHIPMENT_STATE_NOT_SYNCED" {
					t.Fatalf("shipment state %v", st)
				}
			},
		},
		{
			name: "no tracking update for a shipment pushed before",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.pushed("s1", "F1"))
				f.must(f.o.FulfillManually("M1", "", f.ctx()))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.trackingChanged("s1", "T9")) },
			want: []string{"SupplierTrackingChanged"},
		},
		{
			name: "no confirmation is due",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.pushed("s1", "F1"))
				f.must(f.o.FulfillManually("M1", "", f.ctx()))
			},
			when: noneDue(nil),
		},
		{
			name:     "placing it is refused",
			given:    manual,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P2", mapped) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeFulfilledManuallyPlaced,
		},
	})
}

func TestRule7FulfilledOnStore(t *testing.T) {
	run(t, []test{
		{
			name:  "fulfilled on the store moves to Fulfilled",
			given: (*fixture).paidOnStore,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeFulfilled("F7", []string{"LOCAL1"}))
			},
			want:    []string{"StoreOrderFulfilled", "OrderStatusChanged AWAITING_ORDER->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if v := f.o.ToProto(); !v.GetFulfilledOnStore() || v.GetPlaceable() {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name:     "it can never be placed",
			given:    func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfilled("F7", nil)) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeFulfilledOnStore,
		},
		{
			name:     "nor fulfilled by hand",
			given:    func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfilled("F7", nil)) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			wantErr:  order.ErrAlreadyFulfilled,
			wantCode: order.CodeFulfilledOnStore,
		},
		{
			name:  "fulfilled on the store with other tracking numbers after placing: no tracking sync",
			given: func(f *fixture) { f.awaitingShipment(); f.fact(f.storeFulfilled("F7", []string{"OTHER"})) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			want:    []string{"SupplierShipmentCreated"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
		},
		{
			name: "no confirmation is due once fulfilled on the store",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.pushed("s1", "F1"))
				f.fact(f.storeFulfilled("F8", []string{"OTHER"}))
			},
			when: noneDue(nil),
		},
		{
			name:    "a line fulfilled on the store is never placed; the rest is",
			given:   func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfilled("F7", nil, lq("L1", 2))) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			want:    []string{"PlacementRequested P1 items=L2x1 retry=false"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
	})
}

// A fulfilment cancelled on the store (or ended in failure) undoes what it
// did; a tracking change made on the store is recorded.
func TestStoreFulfilmentChanges(t *testing.T) {
	run(t, []test{
		{
			name:  "a foreign fulfilment of the whole order cancelled: Awaiting order again, placeable",
			given: func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfilled("F7", []string{"LOCAL1"})) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeFulfillmentCanceled("F7"))
			},
			want:    []string{"StoreFulfillmentCanceled", "OrderStatusChanged FULFILLED->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
			then: func(t *testing.T, f *fixture) {
				if f.o.FulfilledOnStore() {
					t.Fatal("still fulfilled on the store")
				}
				got := describeAll(f.must(f.place("P1", mapped)))
				if !slices.Contains(got, "PlacementRequested P1 items=L1x2,L2x1 retry=false") {
					t.Fatalf("placing after the cancel: %q", got)
				}
			},
		},
		{
			name: "a foreign fulfilment of one line cancelled: that line is placed again",
			given: func(f *fixture) {
				f.paidOnStore()
				f.fact(f.storeFulfilled("F7", nil, lq("L1", 2)))
				f.fact(f.storeFulfilled("F8", nil, lq("L2", 1)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeFulfillmentCanceled("F7", lq("L1", 2)))
			},
			want:    []string{"StoreFulfillmentCanceled", "OrderStatusChanged FULFILLED->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
			then: func(t *testing.T, f *fixture) {
				got := describeAll(f.must(f.place("P1", mapped)))
				if !slices.Contains(got, "PlacementRequested P1 items=L1x2 retry=false") {
					t.Fatalf("placing after the cancel: %q", got)
				}
			},
		},
		{
			name: "one of two whole-order fulfilments cancelled: still fulfilled on the store",
			given: func(f *fixture) {
				f.paidOnStore()
				f.fact(f.storeFulfilled("F7", nil))
				f.fact(f.storeFulfilled("F8", nil))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfillmentCanceled("F7")) },
			want:    []string{"StoreFulfillmentCanceled"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
		},
		{
			name: "a cancel seen again under another event id says nothing new",
			given: func(f *fixture) {
				f.paidOnStore()
				f.fact(f.storeFulfilled("F7", nil))
				f.fact(f.storeFulfillmentCanceled("F7"))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfillmentCanceled("F7")) },
		},
		{
			name:    "a cancel before its fulfilment: the late fulfilment changes nothing",
			given:   func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfillmentCanceled("F7")) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfilled("F7", nil)) },
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:  "a fulfilment taken in under another event id is not counted twice",
			given: func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfilled("F7", nil, lq("L1", 1))) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeFulfilled("F7", nil, lq("L1", 1)))
			},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:  "dropsync's own fulfilment cancelled on the store: shipment failed, attention, not Fulfilled",
			given: (*fixture).fulfilled,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfillmentCanceled("F1")) },
			want: []string{"StoreFulfillmentCanceled", "AttentionRaised FULFILLMENT_FAILED",
				"OrderStatusChanged FULFILLED->AWAITING_FULFILLMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
			then: func(t *testing.T, f *fixture) {
				if st := f.o.ToProto().GetShipments()[0].GetState().String(); st != "SHIPMENT_STATE_FAILED" {
					t.Fatalf("shipment state %s", st)
				}
			},
		},
		{
			name:    "a cancel of a fulfilment the order never had is recorded, changes nothing",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfillmentCanceled("F9")) },
			want:    []string{"StoreFulfillmentCanceled"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name:    "a cancel without a fulfillment id is invalid",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfillmentCanceled("")) },
			wantErr: order.ErrInvalidEvent,
		},
		{
			name:    "a cancel for an order never seen is unknown",
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeFulfillmentCanceled("F1")) },
			wantErr: order.ErrUnknownOrder,
		},
		{
			name:  "the store's echo of dropsync's tracking says nothing new",
			given: (*fixture).fulfilled,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeTrackingChanged("F1", "T1")) },
		},
		{
			name:  "tracking changed on the store for dropsync's fulfilment is recorded, nothing sent back",
			given: (*fixture).fulfilled,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeTrackingChanged("F1", "MERCHANT1"))
			},
			want:    []string{"StoreTrackingChanged"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if got := f.fact(f.storeTrackingChanged("F1", "MERCHANT1")); len(got) != 0 {
					t.Fatalf("the same change again: %q", describeAll(got))
				}
			},
		},
		{
			name:  "tracking changed on the store for a foreign fulfilment is recorded",
			given: func(f *fixture) { f.paidOnStore(); f.fact(f.storeFulfilled("F7", []string{"LOCAL1"})) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.storeTrackingChanged("F7", "LOCAL2"))
			},
			want:    []string{"StoreTrackingChanged"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if got := f.fact(f.storeTrackingChanged("F7", "LOCAL2")); len(got) != 0 {
					t.Fatalf("the same change again: %q", describeAll(got))
				}
			},
		},
		{
			name:    "tracking without a fulfillment id is invalid",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.storeTrackingChanged("", "X")) },
			wantErr: order.ErrInvalidEvent,
		},
	})
}

func TestRule8Canceled(t *testing.T) {
	supplierCanceled := func(f *fixture) {
		f.awaitingPayment()
		f.fact(f.supplierCanceled("AE1"))
	}
	run(t, []test{
		{
			name:    "canceled on AliExpress moves to Canceled",
			given:   (*fixture).awaitingPayment,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.supplierCanceled("AE1")) },
			want:    []string{"SupplierOrderCanceled", "OrderStatusChanged AWAITING_PAYMENT->CANCELED"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
			then: func(t *testing.T, f *fixture) {
				if v := f.o.ToProto(); !v.GetPlaceable() || !v.GetSupplierOrders()[0].GetCanceled() {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name:    "canceled on AliExpress can be placed again",
			given:   supplierCanceled,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("R1", mapped) },
			want:    []string{"PlacementRequested R1 items=L1x2,L2x1 retry=true"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:  "placed again it leaves Canceled",
			given: func(f *fixture) { supplierCanceled(f); f.must(f.retry("R1", mapped)) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.placed("R1", so("AE2", lq("L1", 2), lq("L2", 1))))
			},
			want:    []string{"SupplierOrderPlaced", "OrderStatusChanged CANCELED->AWAITING_PAYMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
		},
		{
			name:    "a line canceled at the supplier is the only one placed again",
			given:   func(f *fixture) { f.awaitingShipment(); f.fact(f.supplierCanceled("AE1", lq("L2", 1))) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("R1", mapped) },
			want:    []string{"PlacementRequested R1 items=L2x1 retry=true"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:    "canceled on the store moves to Canceled",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.canceled()) },
			want:    []string{"StoreOrderCanceled", "OrderStatusChanged AWAITING_ORDER->CANCELED"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:     "canceled on the store can not be placed",
			given:    func(f *fixture) { f.paidOnStore(); f.fact(f.canceled()) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrCanceledOnStore,
			wantCode: order.CodeCanceledOnStore,
		},
		{
			name:     "refunded on the store can not be retried",
			given:    func(f *fixture) { supplierCanceled(f); f.fact(f.refunded()) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("R1", mapped) },
			wantErr:  order.ErrCanceledOnStore,
			wantCode: order.CodeCanceledOnStore,
		},
		{
			name:     "canceled on the store can not be fulfilled by hand",
			given:    func(f *fixture) { f.paidOnStore(); f.fact(f.canceled()) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			wantErr:  order.ErrCanceledOnStore,
			wantCode: order.CodeCanceledOnStore,
		},
		{
			name:    "a partial refund moves to Canceled",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.refunded(lq("L2", 1))) },
			want:    []string{"StoreOrderRefunded", "OrderStatusChanged AWAITING_ORDER->CANCELED"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
			then: func(t *testing.T, f *fixture) {
				if v := f.o.ToProto(); v.GetLines()[1].GetCanceledQuantity() != 1 || v.GetLines()[0].GetCanceledQuantity() != 0 {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name:    "a partial refund applies to the named line: the others are still placed",
			given:   func(f *fixture) { f.paidOnStore(); f.fact(f.refunded(lq("L2", 1))) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			want:    []string{"PlacementRequested P1 items=L1x2 retry=false"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:    "a partial cancel of a quantity leaves the rest of the line",
			given:   func(f *fixture) { f.paidOnStore(); f.fact(f.canceled(lq("L1", 1))) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			want:    []string{"PlacementRequested P1 items=L1x1,L2x1 retry=false"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:  "a line canceled on the store after placing is not fulfilled",
			given: func(f *fixture) { f.awaitingShipment(); f.fact(f.canceled(lq("L2", 1))) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s1 lines=L1x2 tracking=T1 completes=true EACH_PART"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:  "an order refunded whole after placing gets no fulfilment",
			given: func(f *fixture) { f.awaitingShipment(); f.fact(f.refunded()) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			want:    []string{"SupplierShipmentCreated"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name:     "every line canceled one by one is canceled as a whole",
			given:    func(f *fixture) { f.paidOnStore(); f.fact(f.canceled(lq("L1", 2))); f.fact(f.canceled(lq("L2", 0))) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrCanceledOnStore,
			wantCode: order.CodeCanceledOnStore,
		},
	})
}

func TestRule9Failed(t *testing.T) {
	inFlight := func(f *fixture) {
		f.paidOnStore()
		f.must(f.place("P1", mapped))
	}
	failed := func(f *fixture) {
		inFlight(f)
		f.fact(f.placementFailed("P1", "OUT_OF_STOCK", true))
	}
	onlyV1 := order.Mappings{"V1": mapped["V1"]}
	run(t, []test{
		{
			name:  "a supplier failure moves to Failed and keeps the reason",
			given: inFlight,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.placementFailed("P1", "OUT_OF_STOCK", true))
			},
			want:    []string{"SupplierPlacementFailed", "OrderStatusChanged AWAITING_ORDER->FAILED"},
			wantTab: eventsv1.Tab_TAB_FAILED,
			then: func(t *testing.T, f *fixture) {
				v := f.o.ToProto()
				if v.GetFailure().GetCode() != "OUT_OF_STOCK" || !v.GetFailure().GetRetryable() || v.GetFailure().GetMessage() == "" || !v.GetPlaceable() {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name:    "an unmapped SKU is rejected with SKU_NOT_MAPPED",
			given:   (*fixture).paidOnStore,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", onlyV1) },
			want:    []string{"PlacementRejected P1 SKU_NOT_MAPPED", "OrderStatusChanged AWAITING_ORDER->FAILED"},
			wantTab: eventsv1.Tab_TAB_FAILED,
			then: func(t *testing.T, f *fixture) {
				if fr := f.o.Failure(); fr.GetRetryable() || fr.GetMessage() != "no supplier mapping for line L2 (variant V2, SKU S2)" {
					t.Fatalf("failure %v", fr)
				}
				if r, ok := f.o.Request("P1"); !ok || r.Rejected.GetCode() != order.ReasonSKUNotMapped {
					t.Fatalf("outcome %v %v", r, ok)
				}
			},
		},
		{
			name:  "a mapping by SKU is used when the variant has none",
			given: (*fixture).paidOnStore,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.place("P1", order.Mappings{"V1": mapped["V1"], "S2": mapped["V2"]})
			},
			want: []string{"PlacementRequested P1 items=L1x2,L2x1 retry=false"},
		},
		{
			name:    "once mapped the failed order is placed again",
			given:   func(f *fixture) { f.paidOnStore(); f.must(f.place("P1", onlyV1)) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("P2", mapped) },
			want:    []string{"PlacementRequested P2 items=L1x2,L2x1 retry=true"},
			wantTab: eventsv1.Tab_TAB_FAILED,
		},
		{
			name:    "still unmapped, a retry is rejected again",
			given:   func(f *fixture) { f.paidOnStore(); f.must(f.place("P1", onlyV1)) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("P2", onlyV1) },
			want:    []string{"PlacementRejected P2 SKU_NOT_MAPPED"},
			wantTab: eventsv1.Tab_TAB_FAILED,
		},
		{
			name:  "placed after a retry it leaves Failed",
			given: func(f *fixture) { failed(f); f.must(f.retry("P2", mapped)) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.placed("P2", so("AE1", lq("L1", 2), lq("L2", 1))))
			},
			want:    []string{"SupplierOrderPlaced", "OrderStatusChanged FAILED->AWAITING_PAYMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
			then: func(t *testing.T, f *fixture) {
				if f.o.Failure() != nil {
					t.Fatal("failure kept")
				}
			},
		},
		{
			name:     "retrying an order that did not fail is refused",
			given:    (*fixture).paidOnStore,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("P1", mapped) },
			wantErr:  order.ErrNotRetryable,
			wantCode: order.CodeNotRetryable,
		},
		{
			name:     "retrying while the retry is in flight is refused",
			given:    func(f *fixture) { failed(f); f.must(f.retry("P2", mapped)) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retry("P3", mapped) },
			wantErr:  order.ErrPlacementInFlight,
			wantCode: order.CodePlacementInFlight,
		},
		{
			name: "a late failure of an older placement is ignored",
			given: func(f *fixture) {
				failed(f)
				f.must(f.retry("P2", mapped))
				f.fact(f.placed("P2", so("AE1", lq("L1", 2), lq("L2", 1))))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.placementFailed("P1", "RISK_CONTROL", false))
			},
			want:    []string{"SupplierPlacementFailed"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
		},
	})
}

func TestRule10Commands(t *testing.T) {
	run(t, []test{
		{
			name:  "the same request id again returns the same outcome and no events",
			given: func(f *fixture) { f.paidOnStore(); f.must(f.place("P1", mapped)) },
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			want:  nil,
		},
		{
			name:    "a rejected placement repeated stays rejected with no events",
			given:   func(f *fixture) { f.paidOnStore(); f.must(f.place("P1", nil)) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			want:    nil,
			wantTab: eventsv1.Tab_TAB_FAILED,
		},
		{
			name:    "fulfilling by hand twice with one request id is one fulfilment",
			given:   func(f *fixture) { f.paidOnStore(); f.must(f.o.FulfillManually("M1", "", f.ctx())) },
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.FulfillManually("M1", "", f.ctx()) },
			want:    nil,
			wantTab: eventsv1.Tab_TAB_FULFILLED,
		},
		{
			name:  "a resync repeated is one resync",
			given: func(f *fixture) { f.fact(f.created(false)); f.must(f.o.Resync("RS1", f.ctx())) },
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.Resync("RS1", f.ctx()) },
			want:  nil,
		},
		{
			name:     "a request id used for another command is refused",
			given:    func(f *fixture) { f.paidOnStore(); f.must(f.o.Resync("X1", f.ctx())) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("X1", mapped) },
			wantErr:  order.ErrRequestReused,
			wantCode: order.CodeRequestReused,
		},
		{
			name:     "a command without request id is refused",
			given:    (*fixture).paidOnStore,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("", mapped) },
			wantErr:  order.ErrInvalidRequest,
			wantCode: order.CodeInvalidRequest,
		},
		{
			name:     "a command on an order never seen is refused",
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrUnknownOrder,
			wantCode: order.CodeNotFound,
		},
	})
}

func TestRule11Conflict(t *testing.T) {
	moreMugs := func(so *eventsv1.StoreOrder) { so.LineItems[0].Quantity = 3 }
	conflicted := func(f *fixture) { f.awaitingPayment(); f.fact(f.updated(moreMugs)) }
	run(t, []test{
		{
			name:    "a quantity changed on the store after sync is a conflict",
			given:   (*fixture).awaitingPayment,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.updated(moreMugs)) },
			want:    []string{"StoreOrderUpdated", "ConflictDetected quantities"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
			then: func(t *testing.T, f *fixture) {
				v := f.o.ToProto()
				if v.GetLines()[0].GetQuantity() != 2 || !slices.Equal(v.GetConflictFields(), []string{"quantities"}) {
					t.Fatalf("view %v", v)
				}
			},
		},
		{
			name:  "an address and a line changed before placing are a conflict",
			given: (*fixture).paidOnStore,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.updated(func(so *eventsv1.StoreOrder) {
					so.ShippingAddress.City = "Paris"
					so.LineItems = append(so.LineItems, &eventsv1.StoreLineItem{Id: "L3", VariantId: "V3", Quantity: 1})
				}))
			},
			want: []string{"StoreOrderUpdated", "ConflictDetected line_items,shipping_address"},
		},
		{
			name:  "a status-only update is no conflict",
			given: (*fixture).awaitingPayment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.updated(func(so *eventsv1.StoreOrder) { so.FulfillmentStatus = "partial" }))
			},
			want: []string{"StoreOrderUpdated"},
		},
		{
			name:  "a snapshot older than the one held is ignored",
			given: (*fixture).awaitingPayment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				e := f.updated(moreMugs)
				e.GetStoreOrderUpdated().GetOrder().StoreUpdatedAt.Seconds -= 86400
				return f.handle(e)
			},
			want: nil,
		},
		{
			name:  "the same change seen again is not reported twice",
			given: conflicted,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.updated(func(so *eventsv1.StoreOrder) { so.FulfillmentStatus = "x" }))
			},
			want: []string{"StoreOrderUpdated"},
		},
		{
			name:     "placing is refused while in conflict",
			given:    func(f *fixture) { f.paidOnStore(); f.fact(f.updated(moreMugs)) },
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.place("P1", mapped) },
			wantErr:  order.ErrConflict,
			wantCode: order.CodeConflict,
		},
		{
			name:    "accepting the store's version takes it, and the extra mug awaits order",
			given:   conflicted,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.ResolveConflict("C1", true, f.ctx()) },
			want:    []string{"ConflictResolved accept=true", "OrderStatusChanged AWAITING_PAYMENT->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
			then: func(t *testing.T, f *fixture) {
				if v := f.o.ToProto(); v.GetLines()[0].GetQuantity() != 3 || v.GetConflictFields() != nil {
					t.Fatalf("view %v", v)
				}
				got := describeAll(f.must(f.place("P2", mapped)))
				if !slices.Equal(got, []string{"PlacementRequested P2 items=L1x1 retry=false"}) {
					t.Fatalf("place after accepting: %q", got)
				}
			},
		},
		{
			name:    "keeping dropsync's version keeps it, and the store's is not reported again",
			given:   conflicted,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.ResolveConflict("C1", false, f.ctx()) },
			want:    []string{"ConflictResolved accept=false"},
			wantTab: eventsv1.Tab_TAB_AWAITING_PAYMENT,
			then: func(t *testing.T, f *fixture) {
				if v := f.o.ToProto(); v.GetLines()[0].GetQuantity() != 2 || v.GetConflictFields() != nil {
					t.Fatalf("view %v", v)
				}
				got := describeAll(f.fact(f.updated(func(so *eventsv1.StoreOrder) { so.FulfillmentStatus = "y" })))
				if !slices.Equal(got, []string{"StoreOrderUpdated"}) {
					t.Fatalf("update after keeping: %q", got)
				}
			},
		},
		{
			name:     "resolving without a conflict is refused",
			given:    (*fixture).awaitingPayment,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.o.ResolveConflict("C1", true, f.ctx()) },
			wantErr:  order.ErrNoConflict,
			wantCode: order.CodeNoConflict,
		},
		{
			name:  "a re-read showing a change is a conflict too",
			given: (*fixture).awaitingPayment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.reread("RS1", func(so *eventsv1.StoreOrder) { so.ShippingAddress.Zip = "69001" }))
			},
			want: []string{"StoreOrderReread", "ConflictDetected shipping_address"},
		},
	})
}

func TestDuplicates(t *testing.T) {
	run(t, []test{
		{
			name: "a fact with an event id already applied is a no-op",
			given: func(f *fixture) {
				f.awaitingShipment()
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.events[0]) },
			want: nil,
		},
		{
			name: "a redelivered shipment is one fulfilment",
			given: func(f *fixture) {
				f.awaitingShipment()
				e := f.shipped("AE1", "s1", "T1", lq("L1", 2))
				f.fact(e)
				f.fact(e)
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			want: nil,
			then: func(t *testing.T, f *fixture) {
				n := 0
				for _, e := range f.events {
					if e.GetFulfillmentRequested() != nil {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d FulfillmentRequested", n)
				}
			},
		},
		{
			name:  "a supplier payment polled again is a no-op",
			given: (*fixture).awaitingShipment,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.paid("AE1")) },
			want:  nil,
		},
		{
			name:  "an unchanged store order from polling is a no-op",
			given: (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				e := f.updated(nil)
				e.GetStoreOrderUpdated().GetOrder().StoreUpdatedAt = f.events[0].GetStoreOrderCreated().GetOrder().GetStoreUpdatedAt()
				return f.handle(e)
			},
			want: nil,
		},
		{
			name:  "a capture repeated is a no-op",
			given: func(f *fixture) { f.fact(f.created(false)); f.fact(f.captured()) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				e := f.events[len(f.events)-2]
				c := f.env(func(x *eventsv1.Envelope) {
					x.Event = &eventsv1.Envelope_StorePaymentCaptured{StorePaymentCaptured: e.GetStorePaymentCaptured()}
				})
				return f.handle(c)
			},
			want: nil,
		},
		{
			name:  "a redelivered push is a no-op",
			given: (*fixture).fulfilled,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushed("s1", "F1")) },
			want:  nil,
		},
		{
			name: "an attention already raised is not raised again",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.attention(eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.attention(eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING))
			},
			want: nil,
		},
	})
}

func TestOutOfOrder(t *testing.T) {
	run(t, []test{
		{
			name:    "payment captured before created creates the order",
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.captured()) },
			want:    []string{"StorePaymentCaptured", "OrderStatusChanged UNSPECIFIED->AWAITING_ORDER"},
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name: "the older created arriving after the capture is a no-op",
			given: func(f *fixture) {
				f.late = f.created(false)
				f.fact(f.captured())
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.late) },
			want:    nil,
			wantTab: eventsv1.Tab_TAB_AWAITING_ORDER,
		},
		{
			name: "a shipment before the payment at the supplier",
			given: func(f *fixture) {
				f.awaitingPayment()
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s1 lines=L1x2 tracking=T1 completes=false EACH_PART",
				"OrderStatusChanged AWAITING_PAYMENT->AWAITING_SHIPMENT"},
			then: func(t *testing.T, f *fixture) {
				got := describeAll(f.fact(f.paid("AE1")))
				if !slices.Equal(got, []string{"SupplierOrderPaid"}) {
					t.Fatalf("late payment: %q", got)
				}
			},
		},
		{
			name:  "a supplier payment before the placement answer",
			given: func(f *fixture) { f.paidOnStore(); f.must(f.place("P1", mapped)); f.fact(f.paid("AE1")) },
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.placed("P1", so("AE1", lq("L1", 2), lq("L2", 1))))
			},
			want:    []string{"SupplierOrderPlaced", "OrderStatusChanged AWAITING_ORDER->AWAITING_SHIPMENT"},
			wantTab: eventsv1.Tab_TAB_AWAITING_SHIPMENT,
		},
		{
			name:    "a store cancel as the first event creates the order canceled",
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.canceled()) },
			want:    []string{"StoreOrderCanceled", "OrderStatusChanged UNSPECIFIED->CANCELED"},
			wantTab: eventsv1.Tab_TAB_CANCELED,
		},
		{
			name: "the store's echo before FulfillmentPushed is recognised by its tracking number",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
				f.fact(f.storeFulfilled("F1", []string{"T1"}))
			},
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushed("s1", "F1")) },
			want:    []string{"FulfillmentPushed", "OrderStatusChanged AWAITING_FULFILLMENT->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if f.o.FulfilledOnStore() {
					t.Fatal("echo taken for a store fulfilment")
				}
			},
		},
		{
			name:     "a supplier event before any store event is refused",
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.paid("AE1")) },
			wantErr:  order.ErrUnknownOrder,
			wantCode: order.CodeNotFound,
		},
	})
}

func TestInvalidFacts(t *testing.T) {
	run(t, []test{
		{
			name:  "a fact without event id",
			given: (*fixture).paidOnStore,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				e := f.paid("AE1")
				e.EventId = ""
				return f.handle(e)
			},
			wantErr:  order.ErrInvalidEvent,
			wantCode: order.CodeInvalidEvent,
		},
		{
			name:  "a fact for another order",
			given: (*fixture).paidOnStore,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				e := f.paid("AE1")
				e.OrderId = "shopify:acme:9999"
				return f.handle(e)
			},
			wantErr: order.ErrInvalidEvent,
		},
		{
			name:  "a decision passed as a fact",
			given: (*fixture).paidOnStore,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.env(func(e *eventsv1.Envelope) {
					e.Event = &eventsv1.Envelope_PlacementRequested{PlacementRequested: &eventsv1.PlacementRequested{RequestId: "X"}}
				}))
			},
			wantErr:  order.ErrUnsupportedEvent,
			wantCode: order.CodeUnsupportedEvent,
		},
		{
			name:  "a shipment without id",
			given: (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "", "T1"))
			},
			wantErr: order.ErrInvalidEvent,
		},
	})
}

// noneDue is a step that fails when any shipment's confirmation is due under
// settings: the notifier asks the order's state, and must find nothing to send.
func noneDue(settings *eventsv1.StoreSettings) func(*fixture) ([]*eventsv1.Envelope, error) {
	return func(f *fixture) ([]*eventsv1.Envelope, error) {
		if due := f.o.ConfirmationsDue(settings); len(due) > 0 {
			return nil, fmt.Errorf("confirmations due for %v", due)
		}
		return nil, nil
	}
}

// TestTrackingProgress: SupplierTrackingProgressed folds a shipment's
// newest checkpoint and its delivery, and decides nothing.
func TestTrackingProgress(t *testing.T) {
	shipment := func(f *fixture) *ordersv1.Shipment { return f.o.ToProto().GetShipments()[0] }
	run(t, []test{
		{
			name:  "a newer checkpoint is folded into the shipment",
			given: (*fixture).fulfilled,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "In transit", f.clock, false))
			},
			want:    []string{"SupplierTrackingProgressed"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				s := shipment(f)
				if s.GetLatestCheckpoint().GetName() != "In transit" || s.GetDelivered() || !s.GetTrackingUpdatedAt().AsTime().Equal(s.GetLatestCheckpoint().GetOccurredAt().AsTime()) {
					t.Fatalf("shipment %v", s)
				}
			},
		},
		{
			name: "the same checkpoint polled again is a no-op",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.progressed("s1", "In transit", t0.Add(time.Hour), false))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "In transit", t0.Add(time.Hour), false))
			},
			want: nil,
		},
		{
			name: "an older checkpoint is a no-op",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.progressed("s1", "Arrived at destination", t0.Add(2*time.Hour), false))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "In transit", t0.Add(time.Hour), false))
			},
			want: nil,
			then: func(t *testing.T, f *fixture) {
				if n := shipment(f).GetLatestCheckpoint().GetName(); n != "Arrived at destination" {
					t.Fatalf("latest checkpoint %q", n)
				}
			},
		},
		{
			name:  "delivered",
			given: (*fixture).fulfilled,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "Delivered", f.clock, true))
			},
			want:    []string{"SupplierTrackingProgressed"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if !shipment(f).GetDelivered() {
					t.Fatal("not delivered")
				}
			},
		},
		{
			name: "nothing moves a delivered shipment",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.progressed("s1", "Delivered", f.clock, true))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "Returned", f.clock.Add(time.Hour), false))
			},
			want: nil,
			then: func(t *testing.T, f *fixture) {
				if s := shipment(f); !s.GetDelivered() || s.GetLatestCheckpoint().GetName() != "Delivered" {
					t.Fatalf("shipment %v", s)
				}
			},
		},
		{
			name: "progress of a shipment not yet pushed to the store decides nothing",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "In transit", f.clock, false))
			},
			want: []string{"SupplierTrackingProgressed"},
		},
		{
			name:  "an unknown shipment is refused, to be retried",
			given: (*fixture).fulfilled,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s9", "In transit", f.clock, false))
			},
			wantErr:  order.ErrUnknownShipment,
			wantCode: order.CodeUnknownShipment,
		},
		{
			name:  "a progress without shipment id is invalid",
			given: (*fixture).fulfilled,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				e := f.progressed("", "In transit", f.clock, false)
				return f.handle(e)
			},
			wantErr: order.ErrInvalidEvent,
		},
		{
			name: "progress clears a stale-tracking attention",
			given: func(f *fixture) {
				f.fulfilled()
				f.must(f.checkAttention(49 * time.Hour))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.progressed("s1", "In transit", f.clock, false))
			},
			want: []string{"SupplierTrackingProgressed"},
			then: func(t *testing.T, f *fixture) {
				if a := f.o.ToProto().GetAttention(); len(a) != 0 {
					t.Fatalf("attention %v", a)
				}
			},
		},
	})
}

// TestAttention: the watcher's pass (SPEC "Watching"): paid with no
// tracking after N days, a shipment with no tracking update for M hours.
func TestAttention(t *testing.T) {
	run(t, []test{
		{
			name:  "paid, no tracking after 7 days",
			given: (*fixture).awaitingShipment,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(7*24*time.Hour + time.Minute) },
			want:  []string{"AttentionRaised NO_TRACKING"},
		},
		{
			name:  "shipped 47 hours ago: not yet",
			given: (*fixture).fulfilled,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(47 * time.Hour) },
			want:  nil,
		},
		{
			name:    "shipped 48 hours ago with no tracking update",
			given:   (*fixture).fulfilled,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(48 * time.Hour) },
			want:    []string{"AttentionRaised TRACKING_STALE"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				a := f.o.ToProto().GetAttention()
				if len(a) != 1 || !strings.Contains(a[0].GetDetail(), "no tracking update for 48h") || !strings.Contains(a[0].GetDetail(), "shipment s1 (tracking T1)") {
					t.Fatalf("attention %v", a)
				}
			},
		},
		{
			name: "a checkpoint 10 hours ago keeps a shipment of 3 days fresh",
			given: func(f *fixture) {
				f.fulfilled()
				f.clock = f.clock.Add(62 * time.Hour)
				f.fact(f.progressed("s1", "In transit", f.clock, false))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(10 * time.Hour) },
			want: nil,
		},
		{
			name: "the checkpoint's own time counts, not when it was polled",
			given: func(f *fixture) {
				f.fulfilled()
				f.clock = f.clock.Add(10 * time.Hour)
				f.fact(f.progressed("s1", "In transit", f.clock.Add(-5*time.Hour), false))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(44 * time.Hour) },
			want: []string{"AttentionRaised TRACKING_STALE"},
		},
		{
			name: "a renumbered shipment counts from the new number",
			given: func(f *fixture) {
				f.fulfilled()
				f.clock = f.clock.Add(40 * time.Hour)
				f.fact(f.trackingChanged("s1", "T2"))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(40 * time.Hour) },
			want: nil,
		},
		{
			name: "a delivered shipment is never stale",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.progressed("s1", "Delivered", f.clock, true))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(30 * 24 * time.Hour) },
			want: nil,
		},
		{
			name: "only the shipments not delivered are named",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
				f.fact(f.progressed("s1", "Delivered", f.clock, true))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(49 * time.Hour) },
			want: []string{"AttentionRaised TRACKING_STALE"},
			then: func(t *testing.T, f *fixture) {
				d := f.o.ToProto().GetAttention()[0].GetDetail()
				if strings.Contains(d, "s1") || !strings.Contains(d, "shipment s2") {
					t.Fatalf("detail %q", d)
				}
			},
		},
		{
			name: "a finished supplier order is not followed",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.finished("AE1"))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(49 * time.Hour) },
			want: nil,
		},
		{
			name: "fulfilled by hand: dropsync no longer watches",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
				f.must(f.o.FulfillManually("M1", "", f.ctx()))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(49 * time.Hour) },
			want: nil,
		},
		{
			name: "raised once",
			given: func(f *fixture) {
				f.fulfilled()
				f.must(f.checkAttention(49 * time.Hour))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(time.Hour) },
			want: nil,
		},
		{
			name: "raised again after progress, when it goes stale again",
			given: func(f *fixture) {
				f.fulfilled()
				f.must(f.checkAttention(49 * time.Hour))
				f.fact(f.progressed("s1", "In transit", f.clock, false))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(49 * time.Hour) },
			want: []string{"AttentionRaised TRACKING_STALE"},
		},
		{
			name: "both at once: one supplier order not shipped, the other's parcel stale",
			given: func(f *fixture) {
				f.paidOnStore()
				f.must(f.place("P1", mapped))
				f.fact(f.placed("P1", so("AE1", lq("L1", 2)), so("AE2", lq("L2", 1))))
				f.fact(f.paid("AE1"))
				f.fact(f.paid("AE2"))
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(8 * 24 * time.Hour) },
			want: []string{"AttentionRaised NO_TRACKING", "AttentionRaised TRACKING_STALE"},
			then: func(t *testing.T, f *fixture) {
				if n := len(f.o.ToProto().GetAttention()); n != 2 {
					t.Fatalf("%d attentions", n)
				}
			},
		},
		{
			name:     "an order no store event created is unknown",
			given:    func(f *fixture) {},
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.checkAttention(time.Hour) },
			wantErr:  order.ErrUnknownOrder,
			wantCode: order.CodeNotFound,
		},
	})
}

// shipmentView returns the API view of a shipment.
func shipmentView(t *testing.T, f *fixture, sid string) *ordersv1.Shipment {
	t.Helper()
	for _, s := range f.o.ToProto().GetShipments() {
		if s.GetShipmentId() == sid {
			return s
		}
	}
	t.Fatalf("no shipment %s", sid)
	return nil
}

func TestFulfilmentAttempts(t *testing.T) {
	retried := func(f *fixture) {
		f.fulfilmentFailed()
		f.must(f.retryFulfillment("R1"))
	}
	run(t, []test{
		{
			name:  "the first fulfilment request is attempt 1",
			given: (*fixture).awaitingShipment,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			want: []string{"SupplierShipmentCreated",
				"FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART",
				"OrderStatusChanged AWAITING_SHIPMENT->AWAITING_FULFILLMENT"},
			then: func(t *testing.T, f *fixture) {
				if a := f.events[len(f.events)-2].GetFulfillmentRequested().GetAttempt(); a != 1 {
					t.Fatalf("attempt = %d, want 1", a)
				}
				if s := shipmentView(t, f, "s1"); s.GetFulfillmentAttempts() != 1 || s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED {
					t.Fatalf("shipment %v", s)
				}
			},
		},
		{
			name: "a permanent refusal leaves the shipment failed with the store's reason and raises attention",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.attemptFailed("s1", 1, "INVALID_TRACKING_COMPANY", false))
			},
			want:    []string{"FulfillmentFailed", "AttentionRaised FULFILLMENT_FAILED"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
			then: func(t *testing.T, f *fixture) {
				s := shipmentView(t, f, "s1")
				if s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_FAILED || s.GetFulfillmentFailure().GetCode() != "INVALID_TRACKING_COMPANY" || s.GetFulfillmentFailure().GetRetryable() {
					t.Fatalf("shipment %v", s)
				}
				a := f.o.ToProto().GetAttention()
				if len(a) != 1 || a[0].GetDetail() != "shipment s1: INVALID_TRACKING_COMPANY: the store said no" {
					t.Fatalf("attention %v", a)
				}
				if f.o.ConfirmationsDue(eachPart) != nil {
					t.Fatal("a confirmation is due for a refused fulfilment")
				}
			},
		},
		{
			name: "a retryable failure past the connector's retry horizon ends failed too",
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2), lq("L2", 1)))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.attemptFailed("s1", 1, "STORE_UNAVAILABLE", true))
			},
			want:    []string{"FulfillmentFailed", "AttentionRaised FULFILLMENT_FAILED"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
			then: func(t *testing.T, f *fixture) {
				if s := shipmentView(t, f, "s1"); !s.GetFulfillmentFailure().GetRetryable() || s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_FAILED {
					t.Fatalf("shipment %v", s)
				}
			},
		},
		{
			name:    "RetryFulfillment requests a new attempt and clears the attention",
			given:   (*fixture).fulfilmentFailed,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
			want:    []string{"FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART attempt=2 R1"},
			wantTab: eventsv1.Tab_TAB_AWAITING_FULFILLMENT,
			then: func(t *testing.T, f *fixture) {
				s := shipmentView(t, f, "s1")
				if s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED || s.GetFulfillmentFailure() != nil || s.GetFulfillmentAttempts() != 2 {
					t.Fatalf("shipment %v", s)
				}
				if a := f.o.ToProto().GetAttention(); len(a) != 0 {
					t.Fatalf("attention %v", a)
				}
				r, ok := f.o.Request("R1")
				if !ok || r.Command != order.CommandRetryFulfillment {
					t.Fatalf("request R1 = %v, %v", r, ok)
				}
				last := f.events[len(f.events)-1]
				if want := order.DeriveEventID(f.id.String(), "fulfillment:s1#2", "FulfillmentRequested", 0); last.GetEventId() != want {
					t.Fatalf("event id %s, want the attempt's %s", last.GetEventId(), want)
				}
			},
		},
		{
			name:  "the same request id again changes nothing",
			given: retried,
			when:  func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
		},
		{
			name: "two requests for the same attempt name the same event",
			given: func(f *fixture) {
				f.fulfilmentFailed()
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				a, err := f.retryFulfillment("R1")
				if err != nil {
					return nil, err
				}
				b, err := f.retryFulfillment("R2")
				if err != nil {
					return nil, err
				}
				if a[0].GetEventId() != b[0].GetEventId() {
					return nil, fmt.Errorf("event ids %s and %s", a[0].GetEventId(), b[0].GetEventId())
				}
				return a, nil
			},
			want: []string{"FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART attempt=2 R1"},
		},
		{
			name:     "a request id used for another command is refused",
			given:    (*fixture).fulfilmentFailed,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("P1") },
			wantErr:  order.ErrRequestReused,
			wantCode: order.CodeRequestReused,
		},
		{
			name:     "an order with nothing failed is refused",
			given:    (*fixture).fulfilled,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
			wantErr:  order.ErrNoFailedFulfillment,
			wantCode: order.CodeNoFailedFulfillment,
		},
		{
			name:     "an order whose retry is in flight has nothing failed",
			given:    retried,
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R2") },
			wantErr:  order.ErrNoFailedFulfillment,
			wantCode: order.CodeNoFailedFulfillment,
		},
		{
			name: "a canceled order is refused",
			given: func(f *fixture) {
				f.fulfilmentFailed()
				f.fact(f.canceled())
			},
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
			wantErr:  order.ErrCanceledOnStore,
			wantCode: order.CodeCanceledOnStore,
		},
		{
			name: "an order fulfilled by hand is refused",
			given: func(f *fixture) {
				f.fulfilmentFailed()
				f.must(f.o.FulfillManually("M1", "", f.ctx()))
			},
			when:     func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
			wantErr:  order.ErrNotSynced,
			wantCode: order.CodeFulfilledManuallyPlaced,
		},
		{
			name: "an unknown order is refused",
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.retryFulfillment("R1")
			},
			wantErr:  order.ErrUnknownOrder,
			wantCode: order.CodeNotFound,
		},
		{
			name:    "the retried attempt pushed fulfils the order, with one confirmation due",
			given:   retried,
			when:    func(f *fixture) ([]*eventsv1.Envelope, error) { return f.handle(f.pushed("s1", "F1")) },
			want:    []string{"FulfillmentPushed", "OrderStatusChanged AWAITING_FULFILLMENT->FULFILLED"},
			wantTab: eventsv1.Tab_TAB_FULFILLED,
			then: func(t *testing.T, f *fixture) {
				if got := f.o.ConfirmationsDue(eachPart); !slices.Equal(got, []string{"s1"}) {
					t.Fatalf("confirmations due = %v", got)
				}
			},
		},
		{
			name: "a failure of the earlier attempt after the retry is stale",
			given: func(f *fixture) {
				retried(f)
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.attemptFailed("s1", 1, "INVALID_TRACKING_COMPANY", false))
			},
			want: []string{"FulfillmentFailed"},
			then: func(t *testing.T, f *fixture) {
				if s := shipmentView(t, f, "s1"); s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED {
					t.Fatalf("shipment %v", s)
				}
			},
		},
		{
			name:  "the retried attempt failing again raises attention again",
			given: retried,
			when: func(f *fixture) ([]*eventsv1.Envelope, error) {
				return f.handle(f.attemptFailed("s1", 2, "INVALID_TRACKING_COMPANY", false))
			},
			want: []string{"FulfillmentFailed", "AttentionRaised FULFILLMENT_FAILED"},
			then: func(t *testing.T, f *fixture) {
				evs := f.must(f.retryFulfillment("R2"))
				if got := describeAll(evs); !slices.Equal(got, []string{"FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART attempt=3 R2"}) {
					t.Fatalf("third attempt: %q", got)
				}
			},
		},
		{
			name:     "a whole-order fulfilment is retried once, for every shipment it covers",
			settings: wholeOrder,
			given: func(f *fixture) {
				f.awaitingShipment()
				f.fact(f.shipped("AE1", "s1", "T1", lq("L1", 2)))
				f.fact(f.shipped("AE1", "s2", "T2", lq("L2", 1)))
				f.fact(f.attemptFailed("s2", 1, "INVALID_TRACKING_COMPANY", false))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
			want: []string{"FulfillmentRequested s2 lines=L1x2,L2x1 tracking=T1,T2 completes=true WHOLE_ORDER attempt=2 R1"},
			then: func(t *testing.T, f *fixture) {
				for _, sid := range []string{"s1", "s2"} {
					if s := shipmentView(t, f, sid); s.GetState() != ordersv1.ShipmentState_SHIPMENT_STATE_REQUESTED {
						t.Fatalf("shipment %v", s)
					}
				}
			},
		},
		{
			name: "a confirmed fulfilment cancelled on the store is retried without a second confirmation",
			given: func(f *fixture) {
				f.fulfilled()
				f.fact(f.confirmed("s1"))
				f.fact(f.storeFulfillmentCanceled("F1"))
			},
			when: func(f *fixture) ([]*eventsv1.Envelope, error) { return f.retryFulfillment("R1") },
			want: []string{"FulfillmentRequested s1 lines=L1x2,L2x1 tracking=T1 completes=true EACH_PART attempt=2 R1"},
			then: func(t *testing.T, f *fixture) {
				f.fact(f.pushed("s1", "F2"))
				if f.o.Tab() != eventsv1.Tab_TAB_FULFILLED || f.o.ConfirmationsDue(eachPart) != nil {
					t.Fatalf("tab %s, confirmations due %v", tabName(f.o.Tab()), f.o.ConfirmationsDue(eachPart))
				}
			},
		},
	})
}
