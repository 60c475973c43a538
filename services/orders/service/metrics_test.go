package service_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/metrics"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// TestMetricsFromTheOrdersService: the running service exports its read
// model's orders per store and tab, the store_to_dropsync leg of the facts
// it takes in, and its consumer's dead letters.
func TestMetricsFromTheOrdersService(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	h := newHarness(t)
	ctx := context.Background()
	h.publish(created("shopify:metrics:1", "1"))
	h.waitTab("shopify:metrics:1", eventsv1.Tab_TAB_PENDING)
	if _, err := h.js.Publish(ctx, "store.shopify.metrics.2", []byte("{not protobuf")); err != nil {
		t.Fatal(err)
	}

	// value returns the int64 gauge or counter point of name with the
	// attribute values want, or -1.
	value := func(rm *metricdata.ResourceMetrics, name string, want map[string]string) int64 {
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != name {
					continue
				}
				var pts []metricdata.DataPoint[int64]
				switch d := m.Data.(type) {
				case metricdata.Gauge[int64]:
					pts = d.DataPoints
				case metricdata.Sum[int64]:
					pts = d.DataPoints
				}
			points:
				for _, p := range pts {
					for k, v := range want {
						if got, _ := p.Attributes.Value(attribute.Key(k)); got.AsString() != v {
							continue points
						}
					}
					return p.Value
				}
			}
		}
		return -1
	}
	h.eventually("metrics exported", func() error {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			return err
		}
		if n := value(&rm, metrics.Orders, map[string]string{"platform": "shopify", "store": "metrics", "tab": "pending"}); n != 1 {
			return fmt.Errorf("dropsync_orders{store=metrics,tab=pending} = %d, want 1", n)
		}
		if n := value(&rm, metrics.ConsumerDeadLettered, map[string]string{"stream": bus.StreamStore}); n < 1 {
			return fmt.Errorf("dead-lettered %d, want 1", n)
		}
		s := metrics.Summarize(&rm)
		if len(s.Legs) == 0 || s.Legs[0].Leg != metrics.LegStoreToDropsync {
			return fmt.Errorf("legs %+v, want store_to_dropsync", s.Legs)
		}
		return nil
	})
}
