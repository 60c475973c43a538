// Package metrics defines, in one place, every metric dropsync exports: its
// OpenTelemetry name, unit, kind, labels and meaning ([Catalog]), and the
// instruments the services record them with, created from the global
// meter provider (otel.Meter(Scope)), the one telemetry.Setup installs:
// each service serves them on /metrics and sends them where
// OTEL_METRICS_EXPORTER says.
//
// The Prometheus names are the OpenTelemetry names with dots as
// underscores and the unit suffix the exporter adds (_seconds for "s",
// _total for counters). The alerting rules in deploy/observability and the
// Grafana dashboard name only metrics of the catalog; a test parses them
// and fails when one names a metric the code no longer exports.
//
// Every label has a bounded set of values: a platform (shopify,
// woocommerce, wix, aliexpress), a store (its slug, one of the registered
// stores), an AliExpress account (one of the configured accounts), a leg,
// tab or outcome (the constants below), a stream or durable consumer (the
// constants of package bus). No label ever carries an order id, a
// customer, or an error text.
//
//	Prometheus name                                 type       unit            labels
//	dropsync_sync_leg_duration_seconds              histogram  s               leg, platform, store
//	dropsync_orders                                 gauge      {order}         platform, store, tab
//	dropsync_webhook_deliveries_total               counter    {delivery}      platform, outcome
//	dropsync_webhook_duration_seconds               histogram  s               platform, outcome
//	dropsync_consumer_pending                       gauge      {message}       stream, durable
//	dropsync_consumer_redeliveries_total            counter    {message}       stream, durable
//	dropsync_consumer_dead_lettered_total           counter    {message}       stream, durable
//	dropsync_deadletter_depth                       gauge      {message}       stream
//	dropsync_aliexpress_budget_used                 gauge      {call}          account
//	dropsync_aliexpress_budget_left                 gauge      {call}          account
//	dropsync_aliexpress_budget_limit                gauge      {call}          account
//	dropsync_aliexpress_connection_unhealthy_total  counter    {change}        account
//	dropsync_platform_calls_total                   counter    {call}          platform, outcome
//	dropsync_platform_throttle_wait_seconds         histogram  s               platform, reason
//	dropsync_connection_healthy                     gauge      {connection}    platform, store or account
//	dropsync_confirmations_total                    counter    {confirmation}  platform, channel, outcome
//
// What each measures is in [Catalog] (Def.Description) and in the README's
// "Metrics and SLOs".
//
// [Snapshot] reads the same instruments back from an in-process reader,
// for the live view of `make run`, so the terminal and the dashboards show
// one set of figures.
package metrics
