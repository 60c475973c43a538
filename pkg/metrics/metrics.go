package metrics

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Scope is the instrumentation scope of every dropsync instrument.
const Scope = "github.com/dropsync/dropsync/pkg/metrics"

// OpenTelemetry names of the instruments; [Def.Prometheus] gives the
// exported Prometheus name.
const (
	// SyncLegDuration is the latency of one sync leg, by Leg.
	SyncLegDuration = "dropsync.sync.leg.duration"
	// Orders is the number of orders per tab per store.
	Orders = "dropsync.orders"
	// WebhookDeliveries counts webhook deliveries by outcome.
	WebhookDeliveries = "dropsync.webhook.deliveries"
	// WebhookDuration is the time to answer a webhook delivery.
	WebhookDuration = "dropsync.webhook.duration"
	// ConsumerPending is a durable consumer's lag: stream messages not
	// yet delivered to it.
	ConsumerPending = "dropsync.consumer.pending"
	// ConsumerRedeliveries counts deliveries after the first.
	ConsumerRedeliveries = "dropsync.consumer.redeliveries"
	// ConsumerDeadLettered counts messages a consumer dead-lettered.
	ConsumerDeadLettered = "dropsync.consumer.dead_lettered"
	// DeadLetterDepth is the number of dead letters kept per origin stream.
	DeadLetterDepth = "dropsync.deadletter.depth"
	// AliExpressBudgetUsed is today's AliExpress calls per account.
	AliExpressBudgetUsed = "dropsync.aliexpress.budget.used"
	// AliExpressBudgetLeft is what is left of today's budget per account.
	AliExpressBudgetLeft = "dropsync.aliexpress.budget.left"
	// AliExpressBudgetLimit is the daily budget per account.
	AliExpressBudgetLimit = "dropsync.aliexpress.budget.limit"
	// PlatformCalls counts HTTP attempts to platform APIs by outcome.
	PlatformCalls = "dropsync.platform.calls"
	// PlatformThrottleWait is the time calls waited for rate limits.
	PlatformThrottleWait = "dropsync.platform.throttle.wait"
	// ConnectionHealthy is 1 while a store's or account's credentials
	// work, 0 once the platform refused them.
	ConnectionHealthy = "dropsync.connection.healthy"
	// AliExpressUnhealthy counts the times an AliExpress account's
	// connection went unhealthy.
	AliExpressUnhealthy = "dropsync.aliexpress.connection.unhealthy"
	// Confirmations counts the notifier's shipping confirmation decisions.
	Confirmations = "dropsync.confirmations"
)

// Label keys. Their values are bounded: see the package documentation.
const (
	LabelLeg      = "leg"
	LabelPlatform = "platform"
	LabelStore    = "store"
	LabelAccount  = "account"
	LabelTab      = "tab"
	LabelOutcome  = "outcome"
	LabelStream   = "stream"
	LabelDurable  = "durable"
	LabelReason   = "reason"
	LabelChannel  = "channel"
)

// Legs of a sync: the values of LabelLeg.
const (
	// LegStoreToDropsync: the store's order created or updated time to the
	// orders service taking the event in.
	LegStoreToDropsync = "store_to_dropsync"
	// LegAliExpressToDropsync: AliExpress showing a tracking number to the
	// connector publishing it. AliExpress does not say when a number
	// appeared, so this is the time since the order's previous poll that
	// did not show it: an upper bound.
	LegAliExpressToDropsync = "aliexpress_to_dropsync"
	// LegDropsyncToStore: dropsync knowing a tracking number (the
	// connector recorded it) to the store's fulfilment created with it.
	LegDropsyncToStore = "dropsync_to_store"
	// LegEndToEnd: the store's order created to the order fulfilled on the
	// store by dropsync.
	LegEndToEnd = "end_to_end"
)

// Legs lists the legs in the order of a sync.
var Legs = []string{LegStoreToDropsync, LegAliExpressToDropsync, LegDropsyncToStore, LegEndToEnd}

// Outcomes of a platform API attempt: the values of LabelOutcome on
// PlatformCalls.
const (
	CallOK          = "ok"
	CallThrottled   = "throttled"    // 429
	CallClientError = "client_error" // other 4xx (an error in a 2xx body, AliExpress's, counts as ok here)
	CallServerError = "server_error" // 5xx
	CallNetwork     = "network"      // timeout, refused or broken connection
)

// Reasons of a throttle wait: the values of LabelReason on
// PlatformThrottleWait.
const (
	WaitRateLimit  = "rate_limit"  // the key's token bucket (a pause included)
	WaitRetryAfter = "retry_after" // a 429's Retry-After
)

// Outcomes of a confirmation decision: the values of LabelOutcome on
// Confirmations.
const (
	ConfirmationNotify       = "notify"        // the customer is to be told
	ConfirmationSkip         = "skip"          // setting off, or dropsync no longer syncs the order
	ConfirmationNotPublished = "not_published" // NOTIFY recorded, its event not stored yet (retried)
)

// Kind is an instrument kind.
type Kind string

// Kinds of instrument.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
)

// Def describes one metric.
type Def struct {
	// Name is the OpenTelemetry instrument name.
	Name string
	// Kind is the instrument kind.
	Kind Kind
	// Unit is the UCUM unit ("s", or an annotation such as "{call}").
	Unit string
	// Labels are the attribute keys it may carry.
	Labels []string
	// Description says what it measures.
	Description string
}

// Prometheus is the name the OpenTelemetry Prometheus exporter gives the
// metric: dots as underscores, "_seconds" for unit s, "_total" for a
// counter. A histogram's series add _bucket, _sum and _count.
func (d Def) Prometheus() string {
	n := strings.ReplaceAll(d.Name, ".", "_")
	if d.Unit == "s" {
		n += "_seconds"
	}
	if d.Kind == KindCounter {
		n += "_total"
	}
	return n
}

// Series are the Prometheus series names of the metric.
func (d Def) Series() []string {
	p := d.Prometheus()
	if d.Kind == KindHistogram {
		return []string{p + "_bucket", p + "_sum", p + "_count"}
	}
	return []string{p}
}

// LatencyBuckets are the bucket bounds of SyncLegDuration, in seconds:
// from 10 ms (the store write after a tracking event) to a day (DSers'
// twice daily supplier sync).
var LatencyBuckets = []float64{
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
	900, 1800, 3600, 7200, 14400, 21600, 43200, 86400,
}

// AckBuckets are the bucket bounds of WebhookDuration and
// PlatformThrottleWait, in seconds.
var AckBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Catalog is every metric dropsync exports.
var Catalog = []Def{
	{SyncLegDuration, KindHistogram, "s", []string{LabelLeg, LabelPlatform, LabelStore}, "Latency of one sync leg (store_to_dropsync, aliexpress_to_dropsync, dropsync_to_store, end_to_end)"},
	{Orders, KindGauge, "{order}", []string{LabelPlatform, LabelStore, LabelTab}, "Orders per tab per store, from the read model"},
	{WebhookDeliveries, KindCounter, "{delivery}", []string{LabelPlatform, LabelOutcome}, "Webhook deliveries by platform and outcome"},
	{WebhookDuration, KindHistogram, "s", []string{LabelPlatform, LabelOutcome}, "Time to answer a webhook delivery, by platform and outcome"},
	{ConsumerPending, KindGauge, "{message}", []string{LabelStream, LabelDurable}, "Stream messages not yet delivered to the durable consumer"},
	{ConsumerRedeliveries, KindCounter, "{message}", []string{LabelStream, LabelDurable}, "Deliveries after the first, per durable consumer"},
	{ConsumerDeadLettered, KindCounter, "{message}", []string{LabelStream, LabelDurable}, "Messages dead-lettered, per durable consumer"},
	{DeadLetterDepth, KindGauge, "{message}", []string{LabelStream}, "Dead letters kept, per origin stream"},
	{AliExpressBudgetUsed, KindGauge, "{call}", []string{LabelAccount}, "AliExpress API calls spent today (UTC day)"},
	{AliExpressBudgetLeft, KindGauge, "{call}", []string{LabelAccount}, "AliExpress API calls left today"},
	{AliExpressBudgetLimit, KindGauge, "{call}", []string{LabelAccount}, "AliExpress daily API call budget"},
	{PlatformCalls, KindCounter, "{call}", []string{LabelPlatform, LabelOutcome}, "HTTP attempts to platform APIs, by outcome"},
	{PlatformThrottleWait, KindHistogram, "s", []string{LabelPlatform, LabelReason}, "Time calls waited for a rate limit or a Retry-After"},
	{ConnectionHealthy, KindGauge, "{connection}", []string{LabelPlatform, LabelStore, LabelAccount}, "1 while the platform accepts the store's or account's credentials, 0 once it refused them"},
	{AliExpressUnhealthy, KindCounter, "{change}", []string{LabelAccount}, "Times an AliExpress account's connection went unhealthy (credentials or call limits refused)"},
	{Confirmations, KindCounter, "{confirmation}", []string{LabelPlatform, LabelChannel, LabelOutcome}, "Shipping confirmation decisions, by channel and outcome"},
}

// Lookup returns the definition of the instrument called name.
func Lookup(name string) (Def, bool) {
	for _, d := range Catalog {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}

func def(name string) Def {
	d, ok := Lookup(name)
	if !ok {
		panic("metrics: " + name + " is not in the catalog")
	}
	return d
}

// instruments are created once, from the global meter provider: created
// before telemetry.Setup they follow the provider it installs.
type instruments struct {
	legs          metric.Float64Histogram
	webhooks      metric.Int64Counter
	webhookTime   metric.Float64Histogram
	redeliveries  metric.Int64Counter
	deadLettered  metric.Int64Counter
	calls         metric.Int64Counter
	throttle      metric.Float64Histogram
	confirmations metric.Int64Counter
	unhealthy     metric.Int64Counter
}

var (
	once sync.Once
	ins  instruments
)

func get() *instruments {
	once.Do(func() {
		m := otel.Meter(Scope)
		ins.legs = histogram(m, SyncLegDuration, LatencyBuckets)
		ins.webhooks = counter(m, WebhookDeliveries)
		ins.webhookTime = histogram(m, WebhookDuration, AckBuckets)
		ins.redeliveries = counter(m, ConsumerRedeliveries)
		ins.deadLettered = counter(m, ConsumerDeadLettered)
		ins.calls = counter(m, PlatformCalls)
		ins.throttle = histogram(m, PlatformThrottleWait, AckBuckets)
		ins.confirmations = counter(m, Confirmations)
		ins.unhealthy = counter(m, AliExpressUnhealthy)
		for _, g := range gauges {
			g.register(m)
		}
	})
	return &ins
}

func counter(m metric.Meter, name string) metric.Int64Counter {
	d := def(name)
	c, err := m.Int64Counter(name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description))
	if err != nil {
		otel.Handle(err)
	}
	return c
}

func histogram(m metric.Meter, name string, buckets []float64) metric.Float64Histogram {
	d := def(name)
	h, err := m.Float64Histogram(name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description),
		metric.WithExplicitBucketBoundaries(buckets...))
	if err != nil {
		otel.Handle(err)
	}
	return h
}

// Init creates every instrument now and registers the gauges' callbacks;
// recording does it too. A counter or histogram is exported from its first
// recording on.
func Init() { get() }

// RecordLeg records the latency of one sync leg of a store's order;
// store is the store key "<platform>:<store>" or the slug with platform.
// A negative latency (clocks apart) counts as zero.
func RecordLeg(ctx context.Context, leg, platform, store string, d time.Duration) {
	get().legs.Record(ctx, max(d, 0).Seconds(), metric.WithAttributes(
		attribute.String(LabelLeg, leg), attribute.String(LabelPlatform, platform), attribute.String(LabelStore, store)))
}

// RecordWebhook counts one webhook delivery and the time it took to answer.
func RecordWebhook(ctx context.Context, platform, outcome string, took time.Duration) {
	i := get()
	attrs := metric.WithAttributes(attribute.String(LabelPlatform, platform), attribute.String(LabelOutcome, outcome))
	i.webhooks.Add(ctx, 1, attrs)
	i.webhookTime.Record(ctx, took.Seconds(), attrs)
}

// RecordRedelivery counts a delivery after the first.
func RecordRedelivery(ctx context.Context, stream, durable string) {
	get().redeliveries.Add(ctx, 1, metric.WithAttributes(attribute.String(LabelStream, stream), attribute.String(LabelDurable, durable)))
}

// RecordDeadLettered counts a message a consumer dead-lettered.
func RecordDeadLettered(ctx context.Context, stream, durable string) {
	get().deadLettered.Add(ctx, 1, metric.WithAttributes(attribute.String(LabelStream, stream), attribute.String(LabelDurable, durable)))
}

// RecordCall counts one HTTP attempt to a platform API.
func RecordCall(ctx context.Context, platform, outcome string) {
	get().calls.Add(ctx, 1, metric.WithAttributes(attribute.String(LabelPlatform, platform), attribute.String(LabelOutcome, outcome)))
}

// RecordThrottleWait records a wait a call made for a rate limit (reason
// WaitRateLimit) or a Retry-After (WaitRetryAfter). Zero waits are not
// recorded.
func RecordThrottleWait(ctx context.Context, platform, reason string, d time.Duration) {
	if d <= 0 {
		return
	}
	get().throttle.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String(LabelPlatform, platform), attribute.String(LabelReason, reason)))
}

// RecordConfirmation counts a shipping confirmation decision.
func RecordConfirmation(ctx context.Context, platform, channel, outcome string) {
	if channel == "" {
		channel = "none"
	}
	get().confirmations.Add(ctx, 1, metric.WithAttributes(
		attribute.String(LabelPlatform, platform), attribute.String(LabelChannel, channel), attribute.String(LabelOutcome, outcome)))
}

// RecordAliExpressUnhealthy counts an AliExpress account's connection
// going unhealthy.
func RecordAliExpressUnhealthy(ctx context.Context, account string) {
	get().unhealthy.Add(ctx, 1, metric.WithAttributes(attribute.String(LabelAccount, account)))
}

// SplitStore splits a store key "<platform>:<store>" (or an order id
// "<platform>:<store>:<id>") into the platform and store labels.
func SplitStore(key string) (platform, store string) {
	platform, rest, _ := strings.Cut(key, ":")
	store, _, _ = strings.Cut(rest, ":")
	return platform, store
}
