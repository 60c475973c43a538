package service_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/order"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
	notifierv1 "github.com/dropsync/dropsync/proto/dropsync/notifier/v1"
)

func TestWebhookSignature(t *testing.T) {
	h := newHarness(t, opts{noHooks: true})
	id := h.order("processing")
	body, _ := h.sim.OrderJSON(id)

	bad := h.signedHeaders("order.updated", body, "d1")
	bad[woocommercesim.HeaderSignature] = woocommercesim.Sign("not-the-secret", body)
	if st := h.post(body, bad); st != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", st)
	}
	missing := h.signedHeaders("order.updated", body, "d2")
	delete(missing, woocommercesim.HeaderSignature)
	if st := h.post(body, missing); st != http.StatusUnauthorized {
		t.Fatalf("missing signature: %d", st)
	}
	unknown := h.signedHeaders("order.updated", body, "d3")
	unknown[woocommercesim.HeaderSource] = "https://evil.example/"
	if st := h.post(body, unknown); st != http.StatusUnauthorized {
		t.Fatalf("unknown store: %d", st)
	}
	if n := len(orderEvents(h.events(bus.StreamStore))); n != 0 {
		t.Fatalf("%d events published for refused webhooks", n)
	}
	if st := h.svc.Webhooks.Stats(); st.BadSignature != 3 {
		t.Fatalf("stats %+v", st)
	}
	if st := h.post(body, h.signedHeaders("order.updated", body, "d4")); st != http.StatusOK {
		t.Fatalf("good signature: %d", st)
	}
	if evs := h.storeEvents(id); !has(evs, "StorePaymentCaptured") || !has(evs, "StoreOrderUpdated") {
		t.Fatalf("events %v", evs)
	}
}

func TestWebhookPingAndMalformed(t *testing.T) {
	h := newHarness(t, opts{})
	// newHarness registered three webhooks: each ping got its 200.
	pings := 0
	for _, d := range h.sim.Deliveries() {
		if d.Ping {
			pings++
			if !d.Delivered || d.Status != http.StatusOK {
				t.Fatalf("ping %+v", d)
			}
		}
	}
	if pings != 3 || h.svc.Webhooks.Stats().Ignored != 3 {
		t.Fatalf("pings %d, stats %+v", pings, h.svc.Webhooks.Stats())
	}
	if st := h.post([]byte("webhook_id=41"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); st != http.StatusOK {
		t.Fatalf("ping: %d", st)
	}
	body := []byte(`{"id": 12, "status": "processing", "line_items": [`)
	if st := h.post(body, h.signedHeaders("order.updated", body, "d1")); st != http.StatusBadRequest {
		t.Fatalf("malformed: %d", st)
	}
	if n := len(orderEvents(h.events(bus.StreamStore))); n != 0 {
		t.Fatalf("%d events published", n)
	}
}

func TestDuplicateDeliveryOneEvent(t *testing.T) {
	h := newHarness(t, opts{noHooks: true})
	id := h.order("processing")
	body, _ := h.sim.OrderJSON(id)
	hdr := h.signedHeaders("order.updated", body, "delivery-1")
	for range 2 {
		if st := h.post(body, hdr); st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
	}
	if st := h.svc.Webhooks.Stats(); st.Accepted != 1 || st.Duplicate != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The same order state under another delivery id (WooCommerce firing
	// twice for one save, a second webhook on the topic): same event ids,
	// JetStream keeps one of each.
	if st := h.post(body, h.signedHeaders("order.updated", body, "delivery-2")); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	evs := h.storeEvents(id)
	if len(evs) != 2 || count(evs, "StorePaymentCaptured") != 1 || count(evs, "StoreOrderUpdated") != 1 {
		t.Fatalf("events %v", evs)
	}
}

// TestOutOfOrderUpdatedBeforeCreated: order.updated (paid) arrives before
// order.created (pending). Both are accepted; the aggregate, fed in
// arrival order, shows the order paid, and the late creation changes
// nothing.
func TestOutOfOrderUpdatedBeforeCreated(t *testing.T) {
	h := newHarness(t, opts{noHooks: true})
	id := h.order("pending")
	created, _ := h.sim.OrderJSON(id)
	time.Sleep(1100 * time.Millisecond) // a later date_modified_gmt
	if err := h.sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	updated, _ := h.sim.OrderJSON(id)
	if st := h.post(updated, h.signedHeaders("order.updated", updated, "d-upd")); st != http.StatusOK {
		t.Fatalf("updated: %d", st)
	}
	if st := h.post(created, h.signedHeaders("order.created", created, "d-new")); st != http.StatusOK {
		t.Fatalf("created: %d", st)
	}
	a := h.aggregate()
	a.pump(id)
	if tab := a.o.Tab(); tab != eventsv1.Tab_TAB_AWAITING_ORDER || !a.o.PaymentCaptured() {
		t.Fatalf("tab %v, captured %v", tab, a.o.PaymentCaptured())
	}
	evs := h.storeEvents(id)
	if envelope.Type(evs[len(evs)-1]) != "StoreOrderCreated" {
		t.Fatalf("events %v", evs)
	}
}

// TestSameSecondDeliveryIDs: WooCommerce gives every delivery of a webhook
// within one second the same X-WC-Webhook-Delivery-ID; two orders paid in
// the same second are still both published.
func TestSameSecondDeliveryIDs(t *testing.T) {
	h := newHarness(t, opts{noHooks: true})
	a, b := h.order("processing"), h.order("processing")
	ba, _ := h.sim.OrderJSON(a)
	bb, _ := h.sim.OrderJSON(b)
	for _, body := range [][]byte{ba, bb} {
		if st := h.post(body, h.signedHeaders("order.updated", body, "same-second")); st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
	}
	if len(h.storeEvents(a)) == 0 || len(h.storeEvents(b)) == 0 || h.svc.Webhooks.Stats().Duplicate != 0 {
		t.Fatalf("one order dropped: stats %+v", h.svc.Webhooks.Stats())
	}
}

// TestLostWebhookCaughtByReconciliation: the store never delivers the
// webhooks (WooCommerce does not retry); the next reconciliation pass
// publishes what they said.
func TestLostWebhookCaughtByReconciliation(t *testing.T) {
	const interval = 400 * time.Millisecond
	h := newHarness(t, opts{reconcile: interval, faults: woocommercesim.Faults{DropWebhooks: 1}})
	id := h.order("pending")
	if err := h.sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// One interval (±10% jitter) plus the pass itself.
	h.eventually(3*interval, "reconciliation to publish the lost order", func() bool {
		evs := h.storeEvents(id)
		return has(evs, "StorePaymentCaptured") && has(evs, "StoreOrderUpdated")
	})
	t.Logf("caught after %v", time.Since(start))
	dropped := 0
	for _, d := range h.sim.Deliveries() {
		if d.Dropped {
			dropped++
		}
	}
	if dropped == 0 || h.svc.Webhooks.Stats().Accepted != 0 {
		t.Fatalf("dropped %d, stats %+v", dropped, h.svc.Webhooks.Stats())
	}
	// A trashed order is found in the trash and canceled.
	if err := h.sim.Trash(id); err != nil {
		t.Fatal(err)
	}
	h.eventually(3*interval, "the trashed order to be canceled", func() bool { return has(h.storeEvents(id), "StoreOrderCanceled") })
}

// TestReconciliationPagination: 250 orders, read 100 a page.
func TestReconciliationPagination(t *testing.T) {
	h := newHarness(t, opts{noHooks: true})
	h.stop()
	ids := make([]int64, 250)
	for i := range ids {
		ids[i] = h.order("processing")
	}
	before := h.sim.Stats().Routes["GET /orders"]
	h.start() // the first pass reads them all
	pass := h.svc.Reconcilers["acme"].Stats()
	if pass.Orders != 250 {
		t.Fatalf("pass read %d orders", pass.Orders)
	}
	if calls := h.sim.Stats().Routes["GET /orders"] - before; calls < 3 {
		t.Fatalf("%d list calls for 250 orders", calls)
	}
	got := map[string]bool{}
	for _, e := range h.events(bus.StreamStore) {
		if envelope.Type(e) == "StorePaymentCaptured" {
			got[e.GetOrderId()] = true
		}
	}
	for _, id := range ids {
		if !got[orderID(id)] {
			t.Fatalf("order %d not reconciled", id)
		}
	}
}

// fulfil drives one order through the aggregate: created and paid on the
// store, shipped in two parts; returns the aggregate.
func fulfil(t *testing.T, h *harness, id int64) *aggregate {
	t.Helper()
	h.eventually(5*time.Second, "the paid order on the bus", func() bool { return has(h.storeEvents(id), "StorePaymentCaptured") })
	a := h.aggregate()
	if d := a.pump(id); len(ofType(d, "FulfillmentRequested")) != 0 {
		t.Fatal("fulfilment before shipping")
	}
	lines, _ := h.sim.LineIDs(id)
	l1, l2 := strconv.FormatInt(lines[0], 10), strconv.FormatInt(lines[1], 10)
	a.feed(placed(id, map[string]map[string]int32{"AE1": {l1: 2}, "AE2": {l2: 1}}))

	// Partial shipment: WooCommerce waits for the whole order.
	d := a.feed(shipment(id, "AE1", "S1", "LP00123456789CN", "CAINIAO_FULFILLMENT_STD", map[string]int32{l1: 2}))
	if len(ofType(d, "FulfillmentRequested")) != 0 || a.o.Tab() != eventsv1.Tab_TAB_AWAITING_FULFILLMENT {
		t.Fatalf("partial shipment: decided %v, tab %v", d, a.o.Tab())
	}
	a.publish(d)
	time.Sleep(100 * time.Millisecond)
	if st, _ := h.sim.Status(id); st != "processing" || len(h.sim.Trackings(id)) != 0 || len(h.sim.Notes(id)) != 0 {
		t.Fatalf("the store changed on a partial shipment: %s %v %v", st, h.sim.Trackings(id), h.sim.Notes(id))
	}

	d = a.feed(shipment(id, "AE2", "S2", "9400111899223197428490", "USPS", map[string]int32{l2: 1}))
	reqs := ofType(d, "FulfillmentRequested")
	if len(reqs) != 1 || !reqs[0].GetFulfillmentRequested().GetCompletesOrder() || len(reqs[0].GetFulfillmentRequested().GetTracking()) != 2 {
		t.Fatalf("whole-order request: %v", d)
	}
	a.publish(d)
	h.eventually(10*time.Second, "FulfillmentPushed", func() bool { return has(h.storeEvents(id), "FulfillmentPushed") })
	return a
}

// TestWholeOrderFulfilment: partial shipment, nothing on the store; all
// shipped, both tracking numbers written once, the order completed once,
// one e-mail carrying them; the completed webhook is recognised by the
// aggregate as its own echo, whichever of it and FulfillmentPushed comes
// first.
func TestWholeOrderFulfilment(t *testing.T) {
	h := newHarness(t, opts{tracking: true})
	id := h.order("processing")
	a := fulfil(t, h, id)

	tr := h.sim.Trackings(id)
	if len(tr) != 2 || tr[0].Number != "LP00123456789CN" || tr[0].CustomProvider != "Cainiao" || !strings.Contains(tr[0].CustomLink, "LP00123456789CN") ||
		tr[1].Number != "9400111899223197428490" || tr[1].Provider != "usps" {
		t.Fatalf("trackings %+v", tr)
	}
	if st, _ := h.sim.Status(id); st != "completed" {
		t.Fatalf("status %s", st)
	}
	emails := h.sim.Emails(id)
	shipping := slices.DeleteFunc(slices.Clone(emails), func(e woocommercesim.Email) bool { return e.Kind == woocommercesim.EmailProcessing })
	if len(shipping) != 1 || shipping[0].Kind != woocommercesim.EmailCompleted || len(shipping[0].Tracking) != 2 {
		t.Fatalf("e-mails %+v", emails)
	}
	if h.notifier.channels[0] != "woocommerce.completed_email" {
		t.Fatalf("channel %v", h.notifier.channels)
	}
	h.eventually(5*time.Second, "the completed webhook", func() bool { return has(h.storeEvents(id), "StoreOrderFulfilled") })
	pushed := ofType(h.storeEvents(id), "FulfillmentPushed")[0].GetFulfillmentPushed()
	if pushed.GetStoreFulfillmentId() != "woocommerce:order:"+strconv.FormatInt(id, 10)+":completed" || !pushed.GetCustomerNotified() {
		t.Fatalf("pushed %v", pushed)
	}

	// The echo, in both orders.
	evs := h.storeEvents(id)
	echo := ofType(evs, "StoreOrderFulfilled")[0]
	pushedEnv := ofType(evs, "FulfillmentPushed")[0]
	for name, order := range map[string][]*eventsv1.Envelope{
		"pushed first": {pushedEnv, echo},
		"echo first":   {echo, pushedEnv},
	} {
		b := &aggregate{h: h, o: a.o.Clone(), fed: map[string]bool{}, settings: a.settings}
		for _, e := range order {
			if !b.o.Seen(e.GetEventId()) {
				b.feed(e)
			}
		}
		if b.o.FulfilledOnStore() || b.o.Tab() != eventsv1.Tab_TAB_FULFILLED {
			t.Fatalf("%s: fulfilled on store %v, tab %v: the echo was taken for the merchant's", name, b.o.FulfilledOnStore(), b.o.Tab())
		}
	}
}

// TestFulfilmentWithoutExtension: no Shipment Tracking: the numbers go
// into private notes, the order is completed once, no customer note; the
// completed webhook (no tracking on it) is still dropsync's echo.
func TestFulfilmentWithoutExtension(t *testing.T) {
	h := newHarness(t, opts{tls: true})
	id := h.order("processing")
	a := fulfil(t, h, id)
	notes := h.sim.Notes(id)
	if len(notes) != 2 {
		t.Fatalf("notes %+v", notes)
	}
	for _, n := range notes {
		if n.CustomerNote {
			t.Fatalf("customer note %+v: a second e-mail", n)
		}
	}
	if n := h.sim.ShippingEmails(id); n != 1 {
		t.Fatalf("%d shipping e-mails", n)
	}
	h.eventually(5*time.Second, "the completed webhook", func() bool { return has(h.storeEvents(id), "StoreOrderFulfilled") })
	a.pump(id)
	if a.o.FulfilledOnStore() || a.o.Tab() != eventsv1.Tab_TAB_FULFILLED {
		t.Fatalf("fulfilled on store %v, tab %v", a.o.FulfilledOnStore(), a.o.Tab())
	}
}

// TestConfirmationOff: the notifier says SKIP. The order is still
// completed, never with a customer note. WooCommerce sends its Completed
// e-mail on completion whatever the API asks: with the store's Completed
// e-mail turned off (what a merchant with confirmations off does) the
// customer gets nothing; with it on, the store's own setting governs.
func TestConfirmationOff(t *testing.T) {
	for _, storeEmail := range []bool{false, true} {
		t.Run("store completed e-mail "+strconv.FormatBool(storeEmail), func(t *testing.T) {
			h := newHarness(t, opts{tracking: true, decision: notifierv1.Decision_DECISION_SKIP_SETTING_OFF})
			h.sim.SetCompletedEmail(storeEmail)
			id := h.order("processing")
			fulfil(t, h, id)
			if st, _ := h.sim.Status(id); st != "completed" || len(h.sim.Trackings(id)) != 2 {
				t.Fatalf("status %s, trackings %v", st, h.sim.Trackings(id))
			}
			for _, n := range h.sim.Notes(id) {
				if n.CustomerNote {
					t.Fatal("customer note with confirmation off")
				}
			}
			want := 0
			if storeEmail {
				want = 1
			}
			if n := h.sim.ShippingEmails(id); n != want {
				t.Fatalf("%d shipping e-mails, want %d", n, want)
			}
			p := ofType(h.storeEvents(id), "FulfillmentPushed")[0].GetFulfillmentPushed()
			if p.GetCustomerNotified() != storeEmail {
				t.Fatalf("customer_notified %v", p.GetCustomerNotified())
			}
		})
	}
}

// TestCommandRedeliveredAndRestart: the same FulfillmentRequested arrives
// again (a redelivery after the duplicate window: same envelope, new
// message id), and again after a restart of the connector: still one
// tracking item per number, one completion, one e-mail.
func TestCommandRedeliveredAndRestart(t *testing.T) {
	h := newHarness(t, opts{tracking: true})
	id := h.order("processing")
	a := fulfil(t, h, id)
	req := ofType(a.decided, "FulfillmentRequested")[0]
	data, _ := envelope.Marshal(req)
	subject, _ := bus.SubjectFor(req)
	redeliver := func(n int) {
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, "redelivery-"+strconv.Itoa(n))
		if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	waitAcked := func() {
		h.eventually(5*time.Second, "the command consumer to ack everything", func() bool {
			c, err := h.js.Consumer(context.Background(), bus.StreamOrder, "woocommerce-commands")
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		})
	}
	redeliver(1)
	waitAcked()
	h.restart()
	redeliver(2)
	waitAcked()
	if n := len(h.sim.Trackings(id)); n != 2 {
		t.Fatalf("%d tracking items", n)
	}
	if n := h.sim.ShippingEmails(id); n != 1 {
		t.Fatalf("%d shipping e-mails", n)
	}
	if n := h.sim.Stats().Routes["PUT /orders/{id}"]; n != 1 {
		t.Fatalf("%d status updates", n)
	}
	if n := count(h.storeEvents(id), "FulfillmentPushed"); n != 1 {
		t.Fatalf("%d FulfillmentPushed on the bus", n)
	}
}

// TestFaultsConverge: 429s, 5xx, lost answers and answers slower than the
// connector waits (timeouts), on a share of every API call; five orders
// still end completed once each, with their tracking once and one e-mail
// each.
func TestFaultsConverge(t *testing.T) {
	h := newHarness(t, opts{tracking: true, callTimeout: 300 * time.Millisecond, faults: woocommercesim.Faults{
		TooManyRequests: 0.1, RetryAfter: -1, ServerErrors: 0.1, LostResponses: 0.05,
		SlowResponses: 0.03, SlowDelay: 600 * time.Millisecond,
	}})
	ids := make([]int64, 5)
	aggs := make([]*aggregate, 5)
	for i := range ids {
		ids[i] = h.order("processing")
	}
	for i, id := range ids {
		h.eventually(5*time.Second, "the paid order", func() bool { return has(h.storeEvents(id), "StorePaymentCaptured") })
		a := h.aggregate()
		a.pump(id)
		lines, _ := h.sim.LineIDs(id)
		s := strconv.FormatInt(id, 10)
		l1, l2 := strconv.FormatInt(lines[0], 10), strconv.FormatInt(lines[1], 10)
		a.feed(placed(id, map[string]map[string]int32{"AE1" + s: {l1: 2}, "AE2" + s: {l2: 1}}))
		a.feed(shipment(id, "AE1"+s, "S1"+s, "LP1-"+s, "CAINIAO_STANDARD", map[string]int32{l1: 2}))
		a.publish(a.feed(shipment(id, "AE2"+s, "S2"+s, "LP2-"+s, "YUNEXPRESS", map[string]int32{l2: 1})))
		aggs[i] = a
	}
	for _, id := range ids {
		h.eventually(20*time.Second, "every order pushed", func() bool { return has(h.storeEvents(id), "FulfillmentPushed") })
	}
	st := h.sim.Stats()
	if st.TooManyRequests+st.ServerErrors+st.LostResponses == 0 {
		t.Fatalf("no fault injected: %+v", st)
	}
	for _, id := range ids {
		if s, _ := h.sim.Status(id); s != "completed" {
			t.Fatalf("order %d is %s", id, s)
		}
		if n := len(h.sim.Trackings(id)); n != 2 {
			t.Fatalf("order %d has %d tracking items", id, n)
		}
		if n := h.sim.ShippingEmails(id); n != 1 {
			t.Fatalf("order %d: %d shipping e-mails", id, n)
		}
	}
	t.Logf("faults: %d x 429, %d x 5xx, %d lost answers, %d timeouts", st.TooManyRequests, st.ServerErrors, st.LostResponses, st.SlowResponses)
}

// TestWebhookAutoDisabled: the connector's endpoint is down (answers
// 503); WooCommerce does not retry and disables the webhook after its
// consecutive failures, which the simulator shows. Reconciliation still
// publishes every order.
func TestWebhookAutoDisabled(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(woocommercesim.HeaderTopic) == "" {
			w.WriteHeader(http.StatusOK) // the ping, while it was up
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	h := newHarness(t, opts{hookURL: down.URL, reconcile: 300 * time.Millisecond})
	var ids []int64
	for range 8 {
		ids = append(ids, h.order("processing"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.sim.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	var created woocommercesim.Webhook
	for _, w := range h.sim.Webhooks() {
		if w.Topic == "order.created" {
			created = w
		}
	}
	if created.Status != woocommercesim.WebhookDisabled {
		t.Fatalf("webhook %+v, want disabled", created)
	}
	for _, id := range ids {
		h.eventually(3*time.Second, "reconciliation of every order", func() bool { return has(h.storeEvents(id), "StorePaymentCaptured") })
	}
}

// TestCompletedByMerchant: the merchant completes an order in wp-admin
// before dropsync asked for anything: the aggregate takes it as fulfilled
// on the store (rule 7), never to be placed.
func TestCompletedByMerchant(t *testing.T) {
	h := newHarness(t, opts{tracking: true})
	id := h.order("processing")
	if err := h.sim.SetStatus(id, "completed"); err != nil {
		t.Fatal(err)
	}
	h.eventually(5*time.Second, "the completed webhook", func() bool { return has(h.storeEvents(id), "StoreOrderFulfilled") })
	a := h.aggregate()
	a.pump(id)
	if !a.o.FulfilledOnStore() || a.o.Tab() != eventsv1.Tab_TAB_FULFILLED || a.o.CanPlace() == nil {
		t.Fatalf("fulfilled on store %v, tab %v", a.o.FulfilledOnStore(), a.o.Tab())
	}
}

// TestPartialRefundWebhook: a refund of one item reaches the connector as
// order.updated; the refunds endpoint tells its line, and the aggregate
// cancels that line only.
func TestPartialRefundWebhook(t *testing.T) {
	h := newHarness(t, opts{})
	id := h.order("processing")
	lines, _ := h.sim.LineIDs(id)
	refundID, err := h.sim.Refund(id, woocommercesim.RefundSpec{Lines: map[int64]int{lines[0]: 1}, Reason: "broken"})
	if err != nil {
		t.Fatal(err)
	}
	h.eventually(5*time.Second, "the refund", func() bool { return has(h.storeEvents(id), "StoreOrderRefunded") })
	r := ofType(h.storeEvents(id), "StoreOrderRefunded")[0].GetStoreOrderRefunded()
	if r.GetRefundId() != strconv.FormatInt(refundID, 10) || len(r.GetLines()) != 1 ||
		r.GetLines()[0].GetLineItemId() != strconv.FormatInt(lines[0], 10) || r.GetLines()[0].GetQuantity() != 1 || r.GetAmount().GetMinorUnits() != 1495 {
		t.Fatalf("refund %v", r)
	}
	a := h.aggregate()
	a.pump(id)
	if a.o.Tab() != eventsv1.Tab_TAB_CANCELED || a.o.CanPlace() != nil {
		t.Fatalf("tab %v, can place: %v (the other line is still to be placed)", a.o.Tab(), a.o.CanPlace())
	}
}

// TestResyncRereadsStuckOrder: the payment webhook was lost and no pass
// has run since; a re-read on request shows the order paid.
func TestResyncRereadsStuckOrder(t *testing.T) {
	h := newHarness(t, opts{})
	id := h.order("pending")
	h.eventually(5*time.Second, "the new order", func() bool { return has(h.storeEvents(id), "StoreOrderCreated") })
	h.sim.SetFaults(woocommercesim.Faults{DropWebhooks: 1})
	if err := h.sim.Pay(id); err != nil {
		t.Fatal(err)
	}
	a := h.aggregate()
	a.pump(id)
	if a.o.Tab() != eventsv1.Tab_TAB_PENDING {
		t.Fatalf("tab %v", a.o.Tab())
	}
	evs, err := a.o.Resync("resync-1", order.Context{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		a.o.Apply(e)
	}
	a.publish(evs)
	h.eventually(5*time.Second, "the re-read", func() bool { return has(h.storeEvents(id), "StoreOrderReread") })
	a.pump(id)
	if a.o.Tab() != eventsv1.Tab_TAB_AWAITING_ORDER {
		t.Fatalf("tab after re-read %v", a.o.Tab())
	}
}
