package metrics

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Gauge is an observable gauge whose series come from the code that knows
// the figure: pushed with Set (the latest value per label set is exported
// at each collection), or pulled at collection time from a Source. It is
// safe for concurrent use.
type Gauge struct {
	name    string
	mu      sync.Mutex
	values  map[attribute.Distinct]point
	sources map[string]func(Observe)
	series  map[attribute.Distinct]*Series
	next    int
}

// Series is one series of a Gauge, set without a lookup: for a figure set
// on a hot path (a consumer's lag, at every delivery).
type Series struct {
	attrs attribute.Set
	v     atomic.Int64
}

// Set makes v the series' value.
func (s *Series) Set(v int64) { s.v.Store(v) }

type point struct {
	v     int64
	attrs attribute.Set
}

// Observe reports one series of a gauge from a Source.
type Observe func(v int64, attrs ...attribute.KeyValue)

// The gauges.
var (
	// OrdersGauge is Orders: platform, store, tab.
	OrdersGauge = newGauge(Orders)
	// ConsumerPendingGauge is ConsumerPending: stream, durable.
	ConsumerPendingGauge = newGauge(ConsumerPending)
	// DeadLetterDepthGauge is DeadLetterDepth: stream.
	DeadLetterDepthGauge = newGauge(DeadLetterDepth)
	// BudgetUsedGauge is AliExpressBudgetUsed: account.
	BudgetUsedGauge = newGauge(AliExpressBudgetUsed)
	// BudgetLeftGauge is AliExpressBudgetLeft: account.
	BudgetLeftGauge = newGauge(AliExpressBudgetLeft)
	// BudgetLimitGauge is AliExpressBudgetLimit: account.
	BudgetLimitGauge = newGauge(AliExpressBudgetLimit)
	// ConnectionHealthyGauge is ConnectionHealthy: platform and store, or
	// platform and account.
	ConnectionHealthyGauge = newGauge(ConnectionHealthy)
)

var gauges []*Gauge

func newGauge(name string) *Gauge {
	def(name)
	g := &Gauge{name: name, values: map[attribute.Distinct]point{}, sources: map[string]func(Observe){}, series: map[attribute.Distinct]*Series{}}
	gauges = append(gauges, g)
	return g
}

func (g *Gauge) register(m metric.Meter) {
	d := def(g.name)
	_, err := m.Int64ObservableGauge(g.name, metric.WithUnit(d.Unit), metric.WithDescription(d.Description),
		metric.WithInt64Callback(g.observe))
	if err != nil {
		otel.Handle(err)
	}
}

func (g *Gauge) observe(_ context.Context, o metric.Int64Observer) error {
	g.mu.Lock()
	pts := make([]point, 0, len(g.values))
	for _, p := range g.values {
		pts = append(pts, p)
	}
	ser := make([]*Series, 0, len(g.series))
	for _, s := range g.series {
		ser = append(ser, s)
	}
	srcs := make([]func(Observe), 0, len(g.sources))
	for _, s := range g.sources {
		srcs = append(srcs, s)
	}
	g.mu.Unlock()
	for _, p := range pts {
		o.Observe(p.v, metric.WithAttributeSet(p.attrs))
	}
	for _, s := range ser {
		o.Observe(s.v.Load(), metric.WithAttributeSet(s.attrs))
	}
	for _, s := range srcs {
		s(func(v int64, attrs ...attribute.KeyValue) { o.Observe(v, metric.WithAttributes(attrs...)) })
	}
	return nil
}

// Set makes v the value of the series attrs.
func (g *Gauge) Set(v int64, attrs ...attribute.KeyValue) {
	get()
	s := attribute.NewSet(attrs...)
	g.mu.Lock()
	g.values[s.Equivalent()] = point{v: v, attrs: s}
	g.mu.Unlock()
}

// Series returns the series attrs, created at 0 the first time: every
// call with the same attributes returns the same series.
func (g *Gauge) Series(attrs ...attribute.KeyValue) *Series {
	get()
	set := attribute.NewSet(attrs...)
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.series[set.Equivalent()]
	if !ok {
		s = &Series{attrs: set}
		g.series[set.Equivalent()] = s
	}
	return s
}

// Delete stops exporting the series attrs.
func (g *Gauge) Delete(attrs ...attribute.KeyValue) {
	s := attribute.NewSet(attrs...)
	g.mu.Lock()
	delete(g.values, s.Equivalent())
	g.mu.Unlock()
}

// Source adds fn, called at each collection to report series; the
// returned function removes it. fn must be quick and must not block.
func (g *Gauge) Source(fn func(Observe)) (remove func()) {
	g.mu.Lock()
	id := "#" + strconv.Itoa(g.next)
	g.next++
	g.mu.Unlock()
	return g.SetSource(id, fn)
}

// SetSource is Source under a key: a later source with the same key (the
// same account's budget opened again) replaces the earlier one.
func (g *Gauge) SetSource(key string, fn func(Observe)) (remove func()) {
	get()
	g.mu.Lock()
	g.sources[key] = fn
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		delete(g.sources, key)
		g.mu.Unlock()
	}
}

// SetHealth sets ConnectionHealthy of a store (account empty) or of an
// AliExpress account (store empty).
func SetHealth(platform, store, account string, healthy bool) {
	v := int64(0)
	if healthy {
		v = 1
	}
	attrs := []attribute.KeyValue{attribute.String(LabelPlatform, platform)}
	if store != "" {
		attrs = append(attrs, attribute.String(LabelStore, store))
	}
	if account != "" {
		attrs = append(attrs, attribute.String(LabelAccount, account))
	}
	ConnectionHealthyGauge.Set(v, attrs...)
}
