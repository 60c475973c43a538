package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/shopifysim"
	"github.com/dropsync/dropsync/pkg/wixsim"
	"github.com/dropsync/dropsync/pkg/woocommercesim"
	"github.com/dropsync/dropsync/services/devstack/internal/demo"
	shopify "github.com/dropsync/dropsync/services/shopify/service"
)

// BenchmarkWebhookToJetStream measures each store connector's webhook
// path — signature, decoding, dedupe record, the event durably on
// JetStream, then 200 — in one run, one sender, the three connectors taking
// turns, so each figure has the Shopify connector's next to it (issue:
// "as a ratio to the Shopify connector in the same run"). Each delivery is
// a recorded order-created webhook of the simulator sent again with fresh
// ids (a new event each time, never a duplicate), signed as the platform
// signs: HMAC-SHA256 (Shopify, WooCommerce) or an RS256 JWT (Wix).
func BenchmarkWebhookToJetStream(b *testing.B) {
	const rounds = 300
	s := startSystem(b, 0)
	shopID, _ := s.order("shopify", false, demo.ShopifyMug)
	wooID, _ := s.order("woocommerce", false, demo.WooMug)
	wixID, _ := s.order("wix", false, demo.WixMug)
	for _, id := range []string{shopID, wooID, wixID} {
		s.waitTab(id, eventsv1.Tab_TAB_PENDING)
	}
	secret := s.st.Secret()
	client := &http.Client{Timeout: 10 * time.Second}

	var shopDelivery shopifysim.Delivery
	for _, d := range s.st.Shopify.Deliveries() {
		if d.Topic == "orders/create" {
			shopDelivery = d
		}
	}
	var wooDelivery woocommercesim.Delivery
	for _, d := range s.st.WooCommerce.Deliveries() {
		if d.Topic == "order.created" && !d.Ping {
			wooDelivery = d
		}
	}
	var wixEvent wixsim.Event
	for _, e := range s.st.Wix.Events() {
		if e.Type == wixsim.EventOrderCreated {
			wixEvent = e
		}
	}
	if shopDelivery.Body == nil || wooDelivery.Body == nil || wixEvent.Payload == nil {
		b.Fatal("no recorded order-created delivery to replay")
	}

	post := func(url, contentType string, body []byte, hdr map[string]string) time.Duration {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s answered %d", url, resp.StatusCode)
		}
		return took
	}
	shopifyOnce := func(i int) time.Duration {
		return post("http://"+s.st.ShopifyAddr+shopify.WebhookPath, "application/json", shopDelivery.Body, map[string]string{
			shopifysim.HeaderTopic: shopDelivery.Topic, shopifysim.HeaderHmac: shopifysim.Sign(secret, shopDelivery.Body),
			shopifysim.HeaderShopDomain: shopDelivery.Shop, shopifysim.HeaderAPIVersion: "2025-10",
			shopifysim.HeaderWebhookID: uuid.NewString(), shopifysim.HeaderEventID: strconv.Itoa(9_000_000 + i),
			shopifysim.HeaderTriggeredAt: time.Now().UTC().Format(time.RFC3339Nano),
		})
	}
	wooOnce := func(i int) time.Duration {
		var order map[string]any
		if err := json.Unmarshal(wooDelivery.Body, &order); err != nil {
			b.Fatal(err)
		}
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05")
		order["date_modified"], order["date_modified_gmt"] = at, at
		body, err := json.Marshal(order)
		if err != nil {
			b.Fatal(err)
		}
		return post("http://"+s.st.WooCommerceAddr+"/webhooks/woocommerce", "application/json", body, map[string]string{
			woocommercesim.HeaderSource: s.st.WooCommerce.SiteURL() + "/", woocommercesim.HeaderTopic: "order.created",
			woocommercesim.HeaderResource: "order", woocommercesim.HeaderEvent: "created",
			woocommercesim.HeaderSignature: woocommercesim.Sign(secret, body),
			woocommercesim.HeaderWebhookID: strconv.FormatInt(wooDelivery.WebhookID, 10), woocommercesim.HeaderDeliveryID: uuid.NewString(),
		})
	}
	wixOnce := func(int) time.Duration {
		var ev map[string]any
		if err := json.Unmarshal(wixEvent.Payload, &ev); err != nil {
			b.Fatal(err)
		}
		ev["id"] = uuid.NewString()
		payload, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		claims, err := wixsim.EncodeClaims(wixEvent.Type, wixEvent.InstanceID, payload, time.Now(), 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		jwt, err := s.st.Wix.Sign(claims)
		if err != nil {
			b.Fatal(err)
		}
		return post("http://"+s.st.WixAddr+"/webhooks/wix", wixsim.WebhookContentType, []byte(jwt), nil)
	}

	lat := map[string][]time.Duration{}
	names := []string{"shopify", "woocommerce", "wix"}
	sends := []func(int) time.Duration{shopifyOnce, wooOnce, wixOnce}
	b.ResetTimer()
	for r := range rounds {
		for k := range 3 {
			j := (r + k) % 3 // each takes every turn position
			lat[names[j]] = append(lat[names[j]], sends[j](r))
		}
	}
	b.StopTimer()
	pct := func(d []time.Duration, p int) time.Duration {
		slices.Sort(d)
		return d[len(d)*p/100]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	base50, base99 := pct(lat["shopify"], 50), pct(lat["shopify"], 99)
	for _, n := range names {
		p50, p99 := pct(lat[n], 50), pct(lat[n], 99)
		b.ReportMetric(ms(p50), n+"-p50-ms")
		b.ReportMetric(ms(p99), n+"-p99-ms")
		if n != "shopify" {
			b.ReportMetric(float64(p50)/float64(base50), n+"/shopify-p50")
			b.ReportMetric(float64(p99)/float64(base99), n+"/shopify-p99")
		}
	}
}
