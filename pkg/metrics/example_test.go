package metrics_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/dropsync/dropsync/pkg/metrics"
)

// The Prometheus names of a metric, as the rules and dashboards use them.
func ExampleDef_Prometheus() {
	for _, name := range []string{metrics.SyncLegDuration, metrics.WebhookDeliveries, metrics.AliExpressBudgetLeft} {
		d, _ := metrics.Lookup(name)
		fmt.Println(d.Prometheus(), d.Labels)
	}
	// Output:
	// dropsync_sync_leg_duration_seconds [leg platform store]
	// dropsync_webhook_deliveries_total [platform outcome]
	// dropsync_aliexpress_budget_left [account]
}

// Where a fact happens, the code records it; a figure kept elsewhere (a
// read model, a budget) is a gauge source read at each collection.
func ExampleRecordWebhook() {
	ctx := context.Background()
	// A webhook delivery was stored and answered in 3 ms.
	metrics.RecordWebhook(ctx, "shopify", "accepted", 3*time.Millisecond)

	// The orders read model reports its counts when metrics are collected.
	stop := metrics.OrdersGauge.Source(func(observe metrics.Observe) {
		observe(12, attribute.String(metrics.LabelPlatform, "shopify"), attribute.String(metrics.LabelStore, "acme"),
			attribute.String(metrics.LabelTab, "awaiting_shipment"))
	})
	defer stop()
	// Output:
}
