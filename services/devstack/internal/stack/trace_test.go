package stack_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/telemetry"
	"github.com/dropsync/dropsync/services/devstack/internal/demo"
)

// inMemoryTelemetry gives every service its own tracer provider, with its
// own service.name, all exporting to exp as each span ends.
func inMemoryTelemetry(exp *tracetest.InMemoryExporter) func(string) (*telemetry.Providers, error) {
	return func(service string) (*telemetry.Providers, error) {
		res := resource.NewSchemaless(semconv.ServiceName(service))
		return &telemetry.Providers{
			Tracer: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res)),
			Meter:  sdkmetric.NewMeterProvider(sdkmetric.WithResource(res)),
		}, nil
	}
}

// spanKey names a span by its service and name, e.g. "orders decide".
func spanKey(s sdktrace.ReadOnlySpan) string {
	svc := ""
	for _, kv := range s.Resource().Attributes() {
		if kv.Key == semconv.ServiceNameKey {
			svc = kv.Value.AsString()
		}
	}
	return svc + " " + s.Name()
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// TestOneTracePerOrder follows one Shopify order from its webhook to its
// shipping confirmation and checks that it is one trace: the webhook, the
// store event published, the orders service's consume, decide and append,
// the relay's publish, the AliExpress connector's placement and its API
// call, the Shopify connector's command, its store API call, and the
// notifier's confirmation. What came in on other traces (the PlaceOrders
// call, the AliExpress poll that saw the tracking) is linked from the
// journey's decide spans.
func TestOneTracePerOrder(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	s := startSystemWith(t, 0, inMemoryTelemetry(exp))

	// The connector reconciles at once when it starts, then every 30s: an
	// order placed before that first pass may be found by it before its
	// webhook comes, and its journey would start there.
	s.eventually("the Shopify connector's first reconciliation pass", func() error {
		for _, sp := range exp.GetSpans().Snapshots() {
			if strings.HasPrefix(sp.Name(), "reconcile shopify") {
				return nil
			}
		}
		return fmt.Errorf("no pass yet")
	})
	id, _ := s.order("shopify", true, demo.ShopifyMug)
	o := s.placed(id)
	s.payAll(o)
	s.ship(o, mugProduct, "LP000000091CN")
	s.waitTab(id, eventsv1.Tab_TAB_FULFILLED, shipmentsPushed(1))
	so, err := s.st.Shopify.Order("demo-shop.myshopify.com", shopifyOrderID(id))
	if err != nil {
		t.Fatal(err)
	}

	// The spans that must be in the order's trace, by service and name,
	// and those whose name varies, by a test.
	want := []string{
		"shopify POST webhook",                     // otelhttp, the webhook server
		"shopify webhook shopify",                  // verify, decode, dedupe, publish
		"shopify send store",                       // the store event onto JetStream
		"orders process orders-store-events",       // consumed
		"orders decide",                            // the aggregate decided
		"orders append",                            // appended at the expected revision
		"orders send order",                        // the relay published an order event
		"aliexpress process aliexpress-placements", // PlacementRequested consumed
		"shopify process shopify-commands",         // FulfillmentRequested consumed
		"notifier dropsync.notifier.v1.ShippingConfirmationService/IssueConfirmation",
	}
	var (
		journey trace.TraceID
		spans   []sdktrace.ReadOnlySpan
	)
	t.Cleanup(func() {
		if t.Failed() {
			for _, sp := range spans {
				t.Logf("%s %s parent=%s links=%d kind=%s", sp.StartTime().Format("15:04:05.000000"), spanKey(sp), sp.Parent().SpanID(), len(sp.Links()), sp.SpanKind())
			}
			for _, sp := range exp.GetSpans().Snapshots() {
				if n := sp.Name(); n == "POST webhook" || strings.HasPrefix(n, "reconcile") || n == "send store" {
					t.Logf("any: %s %s trace=%s parent=%s", sp.StartTime().Format("15:04:05.000000"), spanKey(sp), sp.SpanContext().TraceID(), sp.Parent().SpanID())
				}
			}
		}
	})
	s.eventually("the order's spans exported", func() error {
		spans = nil
		got := exp.GetSpans().Snapshots()
		// The journey is the trace of the first decision about the order.
		sort.Slice(got, func(i, j int) bool { return got[i].StartTime().Before(got[j].StartTime()) })
		journey = trace.TraceID{}
		for _, sp := range got {
			if sp.Name() == "decide" && attr(sp, "dropsync.order.id") == id {
				journey = sp.SpanContext().TraceID()
				break
			}
		}
		if !journey.IsValid() {
			return fmt.Errorf("no decide span for %s among %d spans", id, len(got))
		}
		names := map[string]bool{}
		for _, sp := range got {
			if sp.SpanContext().TraceID() == journey {
				spans = append(spans, sp)
				names[spanKey(sp)] = true
			}
		}
		var missing []string
		for _, w := range want {
			if !names[w] {
				missing = append(missing, w)
			}
		}
		if !s.hasClientCall(spans, "aliexpress") || !s.hasClientCall(spans, "shopify") {
			missing = append(missing, "platform API client spans of aliexpress and shopify")
		}
		if len(missing) > 0 {
			return fmt.Errorf("trace %s lacks %q", journey, missing)
		}
		if n := s.notifications(so.ID); n != 1 {
			return fmt.Errorf("%d confirmations", n)
		}
		return nil
	})

	// Later facts came on their own traces (the PlaceOrders call, the
	// AliExpress poll): the journey's decisions about them link there.
	linked := 0
	for _, sp := range spans {
		if sp.Name() == "decide" && len(sp.Links()) > 0 {
			linked++
		}
	}
	if linked == 0 {
		t.Errorf("no decide span of trace %s links to the trace that brought its fact in", journey)
	}
	// Every service that took part is in the trace under its own name.
	services := map[string]bool{}
	for _, sp := range spans {
		services[strings.Fields(spanKey(sp))[0]] = true
	}
	for _, svc := range []string{"shopify", "orders", "aliexpress", "notifier"} {
		if !services[svc] {
			t.Errorf("trace %s has no span of service %s (has %v)", journey, svc, services)
		}
	}
	if t.Failed() {
		var names []string
		for _, sp := range spans {
			names = append(names, spanKey(sp))
		}
		slices.Sort(names)
		t.Logf("spans of trace %s: %q", journey, slices.Compact(names))
	}
}

// hasClientCall reports whether spans have an HTTP client span of service.
func (s *system) hasClientCall(spans []sdktrace.ReadOnlySpan, service string) bool {
	for _, sp := range spans {
		if sp.SpanKind() == trace.SpanKindClient && strings.HasPrefix(spanKey(sp), service+" ") && attr(sp, semconv.HTTPRequestMethodKey) != "" {
			return true
		}
	}
	return false
}
