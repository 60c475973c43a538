package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	promclient "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/connector/client"
	"github.com/dropsync/dropsync/pkg/connector/webhook"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/metrics"
	"github.com/dropsync/dropsync/pkg/natsserver/natstest"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// registry gathers what the OpenTelemetry Prometheus exporter, configured
// as telemetry.Setup configures it for OTEL_METRICS_EXPORTER=prometheus,
// exports from the global meter provider; manual reads the same provider
// in process, as the live view does.
var (
	registry *promclient.Registry
	manual   *sdkmetric.ManualReader
)

func TestMain(m *testing.M) {
	registry = promclient.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	manual = sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithReader(manual)))
	os.Exit(m.Run())
}

// gather returns the exported families by name.
func gather(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// series returns the label maps of a family's series.
func series(mf *dto.MetricFamily) []map[string]string {
	var out []map[string]string
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			if !strings.HasPrefix(p.GetName(), "otel_") {
				l[p.GetName()] = p.GetValue()
			}
		}
		out = append(out, l)
	}
	return out
}

// has reports whether a family has a series with all of want's labels.
func has(mf *dto.MetricFamily, want map[string]string) bool {
	for _, s := range series(mf) {
		ok := true
		for k, v := range want {
			if s[k] != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// exercise drives the code paths in pkg that record metrics: a webhook
// handler, the platform client, a bus consumer and the dead-letter
// watcher. The services record the rest through the same functions and
// gauges, exercised directly.
func exercise(t *testing.T) {
	t.Helper()
	ctx := context.Background()

	// Webhooks: accepted, bad signature, bad body.
	h, err := webhook.New(webhook.Config{
		Platform: "shopify",
		Verifier: verifierFunc(func(hd http.Header, body []byte) ([]byte, error) {
			if hd.Get("X-Sig") != "ok" {
				return nil, webhook.ErrBadSignature
			}
			return body, nil
		}),
		Decoder: webhook.DecoderFunc(func(context.Context, *webhook.Request) (webhook.Delivery, error) {
			return webhook.Delivery{}, nil
		}),
		Publisher: publisherFunc(func(context.Context, string, *eventsv1.Envelope) error { return nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"ok", "bad"} {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks", strings.NewReader("{}"))
		req.Header.Set("X-Sig", sig)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	// Platform calls: a success, a refused credential, a 429 then a 5xx.
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/denied":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			if calls%2 == 1 {
				w.Header().Set("Retry-After", "0.01")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c := client.New(client.Config{MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	for _, path := range []string{"/ok", "/denied", "/flaky"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		_, _ = c.Do(ctx, req, client.WithKey("shopify:acme"), client.WithStore("acme"))
	}

	// The bus: one message redelivered once, one dead-lettered.
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherConfig{})
	for _, n := range []string{"1", "2"} {
		env := &eventsv1.Envelope{
			EventId: envelope.ID("test", n),
			OrderId: "shopify:acme:" + n,
			Event:   &eventsv1.Envelope_StoreOrderCreated{StoreOrderCreated: &eventsv1.StoreOrderCreated{}},
		}
		subject, err := bus.SubjectFor(env)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(ctx, subject, env); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	settled := make(chan string, 4)
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(cctx, js, bus.ConsumerConfig{
			Stream: bus.StreamStore, Durable: "metrics-test", Backoff: []time.Duration{time.Millisecond},
		}, func(_ context.Context, m *bus.Message) error {
			switch {
			case m.Envelope.GetOrderId() == "shopify:acme:2":
				settled <- "dead"
				return bus.Permanent(errors.New("unusable"))
			case m.Deliveries == 1:
				return errors.New("try again")
			}
			settled <- "ok"
			return nil
		})
	}()
	for range 2 {
		select {
		case <-settled:
		case <-time.After(20 * time.Second):
			t.Fatal("consumer did not settle both messages")
		}
	}
	// The dead letter is stored before the message is terminated; give
	// the watcher a moment to read it.
	wctx, stopWatch := context.WithTimeout(ctx, 2*time.Second)
	defer stopWatch()
	go func() { _ = bus.WatchDeadLetters(wctx, js, 100*time.Millisecond) }()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if mf := gather(t)["dropsync_deadletter_depth"]; mf != nil && hasValue(mf, map[string]string{"stream": bus.StreamStore}, 1) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// What the services record, through the same functions and gauges.
	for _, leg := range metrics.Legs {
		metrics.RecordLeg(ctx, leg, "shopify", "acme", 90*time.Second)
	}
	metrics.RecordConfirmation(ctx, "shopify", "shopify.notifyCustomer", metrics.ConfirmationNotify)
	acct := attribute.String(metrics.LabelAccount, "main")
	metrics.BudgetUsedGauge.SetSource("main", func(o metrics.Observe) { o(1200, acct) })
	metrics.BudgetLeftGauge.SetSource("main", func(o metrics.Observe) { o(3800, acct) })
	metrics.BudgetLimitGauge.SetSource("main", func(o metrics.Observe) { o(5000, acct) })
	metrics.SetHealth("aliexpress", "", "main", false)
	metrics.RecordAliExpressUnhealthy(ctx, "main")
	stop := metrics.OrdersGauge.Source(func(o metrics.Observe) {
		o(3, attribute.String(metrics.LabelPlatform, "shopify"), attribute.String(metrics.LabelStore, "acme"), attribute.String(metrics.LabelTab, "pending"))
	})
	t.Cleanup(stop)
}

func hasValue(mf *dto.MetricFamily, labels map[string]string, v float64) bool {
	for _, m := range mf.GetMetric() {
		ok := true
		for _, p := range m.GetLabel() {
			if want, set := labels[p.GetName()]; set && want != p.GetValue() {
				ok = false
			}
		}
		if ok && (m.GetGauge().GetValue() == v || m.GetCounter().GetValue() == v) {
			return true
		}
	}
	return false
}

// TestExported checks, through the Prometheus exporter, that every metric
// of the catalog is exported under its Prometheus name, with its type,
// only its labels, and, once the code paths ran, the series they record.
func TestExported(t *testing.T) {
	exercise(t)
	got := gather(t)
	types := map[metrics.Kind]dto.MetricType{
		metrics.KindCounter: dto.MetricType_COUNTER, metrics.KindGauge: dto.MetricType_GAUGE, metrics.KindHistogram: dto.MetricType_HISTOGRAM,
	}
	for _, d := range metrics.Catalog {
		t.Run(d.Name, func(t *testing.T) {
			mf, ok := got[d.Prometheus()]
			if !ok {
				var names []string
				for n := range got {
					names = append(names, n)
				}
				slices.Sort(names)
				t.Fatalf("%s not exported as %s; exported: %v", d.Name, d.Prometheus(), names)
			}
			if mf.GetType() != types[d.Kind] {
				t.Errorf("type %v, want %v", mf.GetType(), types[d.Kind])
			}
			if d.Unit == "s" && !strings.HasSuffix(mf.GetName(), "_seconds") {
				t.Errorf("unit s but name %s", mf.GetName())
			}
			for _, s := range series(mf) {
				for k := range s {
					if k != "le" && !slices.Contains(d.Labels, k) {
						t.Errorf("label %s not declared (labels %v)", k, d.Labels)
					}
				}
			}
		})
	}

	want := []struct {
		name   string
		labels map[string]string
	}{
		{"dropsync_webhook_deliveries_total", map[string]string{"platform": "shopify", "outcome": webhook.OutcomeAccepted}},
		{"dropsync_webhook_deliveries_total", map[string]string{"platform": "shopify", "outcome": webhook.OutcomeBadSignature}},
		{"dropsync_webhook_duration_seconds", map[string]string{"platform": "shopify", "outcome": webhook.OutcomeAccepted}},
		{"dropsync_platform_calls_total", map[string]string{"platform": "shopify", "outcome": metrics.CallOK}},
		{"dropsync_platform_calls_total", map[string]string{"platform": "shopify", "outcome": metrics.CallClientError}},
		{"dropsync_platform_calls_total", map[string]string{"platform": "shopify", "outcome": metrics.CallThrottled}},
		{"dropsync_platform_calls_total", map[string]string{"platform": "shopify", "outcome": metrics.CallServerError}},
		{"dropsync_platform_throttle_wait_seconds", map[string]string{"platform": "shopify", "reason": metrics.WaitRetryAfter}},
		{"dropsync_connection_healthy", map[string]string{"platform": "shopify", "store": "acme"}},
		{"dropsync_connection_healthy", map[string]string{"platform": "aliexpress", "account": "main"}},
		{"dropsync_consumer_pending", map[string]string{"stream": bus.StreamStore, "durable": "metrics-test"}},
		{"dropsync_consumer_redeliveries_total", map[string]string{"stream": bus.StreamStore, "durable": "metrics-test"}},
		{"dropsync_consumer_dead_lettered_total", map[string]string{"stream": bus.StreamStore, "durable": "metrics-test"}},
		{"dropsync_deadletter_depth", map[string]string{"stream": bus.StreamStore}},
		{"dropsync_sync_leg_duration_seconds", map[string]string{"leg": metrics.LegEndToEnd, "platform": "shopify", "store": "acme"}},
		{"dropsync_orders", map[string]string{"platform": "shopify", "store": "acme", "tab": "pending"}},
		{"dropsync_aliexpress_budget_left", map[string]string{"account": "main"}},
		{"dropsync_confirmations_total", map[string]string{"channel": "shopify.notifyCustomer", "outcome": metrics.ConfirmationNotify}},
	}
	for _, w := range want {
		if mf := got[w.name]; mf == nil || !has(mf, w.labels) {
			t.Errorf("%s has no series %v", w.name, w.labels)
		}
	}
	if mf := got["dropsync_connection_healthy"]; mf != nil && !hasValue(mf, map[string]string{"platform": "shopify", "store": "acme"}, 0) {
		t.Errorf("shopify:acme healthy after a 401")
	}
	if mf := got["dropsync_deadletter_depth"]; mf != nil && !hasValue(mf, map[string]string{"stream": bus.StreamStore}, 1) {
		t.Errorf("dead-letter depth of %s is not 1", bus.StreamStore)
	}

	// The live view's summary reads the same instruments.
	s, err := metrics.Snapshot(context.Background(), manual)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Legs) != len(metrics.Legs) {
		t.Errorf("summary legs %+v, want all four", s.Legs)
	}
	for _, l := range s.Legs {
		// 90 s falls in the (60, 120] bucket; interpolated like
		// histogram_quantile.
		if l.P50 < 60*time.Second || l.P95 > 120*time.Second {
			t.Errorf("%s p50 %v p95 %v, want within (60s, 120s]", l.Leg, l.P50, l.P95)
		}
	}
	if len(s.Budgets) != 1 || s.Budgets[0] != (metrics.BudgetSummary{Account: "main", Used: 1200, Left: 3800, Limit: 5000}) {
		t.Errorf("budgets %+v", s.Budgets)
	}
	if s.DeadLetters[bus.StreamStore] != 1 {
		t.Errorf("dead letters %v", s.DeadLetters)
	}
	if !slices.Contains(s.Unhealthy, "aliexpress:main") || !slices.Contains(s.Unhealthy, "shopify:acme") {
		t.Errorf("unhealthy %v, want aliexpress:main and shopify:acme", s.Unhealthy)
	}
}

type verifierFunc func(http.Header, []byte) ([]byte, error)

func (f verifierFunc) Verify(h http.Header, body []byte) ([]byte, error) { return f(h, body) }

type publisherFunc func(context.Context, string, *eventsv1.Envelope) error

func (f publisherFunc) Publish(ctx context.Context, subject string, env *eventsv1.Envelope) error {
	return f(ctx, subject, env)
}
