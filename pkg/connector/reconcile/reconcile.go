package reconcile

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/dropsync/dropsync/pkg/bus"
	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/telemetry"
	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// instrumentation names the tracer of the reconciliation passes.
const instrumentation = "github.com/dropsync/dropsync/pkg/connector/reconcile"

// Defaults of Config.
const (
	// DefaultInterval is the time between two passes.
	DefaultInterval = 5 * time.Minute
	// DefaultOverlap is read again before the checkpoint on every pass.
	DefaultOverlap = 2 * time.Minute
	// DefaultInitialLookback is how far back the first pass reads: a
	// Shopify webhook may come up to a day late.
	DefaultInitialLookback = 48 * time.Hour
)

// Item is one changed order as the platform shows it now.
type Item struct {
	// OrderID is the dropsync order id, for logs.
	OrderID string
	// UpdatedAt is the platform's last-modified time of the order.
	UpdatedAt time.Time
	// Envelopes are published in order; their ids come from EventID.
	Envelopes []*eventsv1.Envelope
}

// Lister lists a store's orders changed at or after since, oldest change
// first where the platform can sort. An error ends the pass; the checkpoint
// is then not moved.
type Lister interface {
	Changed(ctx context.Context, since time.Time) iter.Seq2[Item, error]
}

// Config configures a Reconciler. Name, Lister, Publisher and Checkpoints
// are required.
type Config struct {
	// Name keys the checkpoint, e.g. "shopify.demo": one per store.
	// Renaming it starts again from InitialLookback.
	Name string
	// Lister reads the platform.
	Lister Lister
	// Publisher stores events.
	Publisher bus.EventPublisher
	// Checkpoints keeps the position between passes and restarts.
	Checkpoints Checkpoints
	// Interval between passes (±10% jitter). Default DefaultInterval.
	Interval time.Duration
	// Overlap is read again before the checkpoint. Default DefaultOverlap.
	Overlap time.Duration
	// InitialLookback is how far back a pass reads when there is no
	// checkpoint yet. Default DefaultInitialLookback.
	InitialLookback time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Stats counts what a Reconciler did.
type Stats struct {
	// Passes completed.
	Passes uint64 `json:"passes"`
	// Failures counts failed passes.
	Failures uint64 `json:"failures"`
	// Orders read over all passes.
	Orders uint64 `json:"orders"`
	// Events published over all passes.
	Events uint64 `json:"events"`
}

// Reconciler runs reconciliation passes for one store.
type Reconciler struct {
	cfg                              Config
	passes, failures, orders, events atomic.Uint64
}

// New returns a Reconciler.
func New(cfg Config) (*Reconciler, error) {
	var errs []error
	if cfg.Name == "" {
		errs = append(errs, errors.New("reconcile: name is required"))
	}
	if cfg.Lister == nil {
		errs = append(errs, errors.New("reconcile: lister is required"))
	}
	if cfg.Publisher == nil {
		errs = append(errs, errors.New("reconcile: publisher is required"))
	}
	if cfg.Checkpoints == nil {
		errs = append(errs, errors.New("reconcile: checkpoints are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Overlap < 0 {
		cfg.Overlap = 0
	} else if cfg.Overlap == 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.InitialLookback <= 0 {
		cfg.InitialLookback = DefaultInitialLookback
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reconciler{cfg: cfg}, nil
}

// EventID is the id of an envelope of kind (e.g. "StoreOrderUpdated") made
// by reconciliation from an order as it was at updatedAt: the same order,
// unchanged, always gives the same id.
func EventID(platform, store, storeOrderID, kind string, updatedAt time.Time) string {
	return envelope.ID(platform, store, "reconcile", storeOrderID, kind, updatedAt.UTC().Format(time.RFC3339Nano))
}

// Stats returns the counters.
func (r *Reconciler) Stats() Stats {
	return Stats{Passes: r.passes.Load(), Failures: r.failures.Load(), Orders: r.orders.Load(), Events: r.events.Load()}
}

// Run runs a pass at once and then every Interval until ctx ends. A failed
// pass is logged and counted; the next one starts from the same
// checkpoint. It returns nil when ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	for {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.WarnContext(ctx, "reconciliation pass failed", "name", r.cfg.Name, "err", err)
		}
		d := r.cfg.Interval
		d = d - d/10 + rand.N(d/5+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// PassResult tells what one pass did.
type PassResult struct {
	// Since is where the pass started reading.
	Since time.Time
	// Checkpoint is where the next pass starts (before Overlap).
	Checkpoint time.Time
	// Orders read, Events published.
	Orders, Events int
}

// Pass reads the orders changed since the checkpoint, publishes their
// envelopes and moves the checkpoint. On error the checkpoint stays.
func (r *Reconciler) Pass(ctx context.Context) (PassResult, error) {
	// A pass is a trace of its own: the listing calls and the events
	// published are its children.
	ctx, span := telemetry.FromContext(ctx).Tracer.Tracer(instrumentation).Start(ctx, "reconcile "+r.cfg.Name)
	defer span.End()
	res, err := r.pass(ctx)
	span.SetAttributes(attribute.Int("dropsync.reconcile.orders", res.Orders), attribute.Int("dropsync.reconcile.events", res.Events))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		r.failures.Add(1)
		return res, fmt.Errorf("reconcile %s: %w", r.cfg.Name, err)
	}
	r.passes.Add(1)
	r.cfg.Logger.DebugContext(ctx, "reconciliation pass", "name", r.cfg.Name, "since", res.Since, "orders", res.Orders, "events", res.Events)
	return res, nil
}

func (r *Reconciler) pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	cp, ok, err := r.cfg.Checkpoints.Load(ctx, r.cfg.Name)
	if err != nil {
		return res, err
	}
	if ok {
		res.Since = cp.Add(-r.cfg.Overlap)
	} else {
		cp = r.cfg.Now().Add(-r.cfg.InitialLookback)
		res.Since = cp
	}
	high := cp
	for item, err := range r.cfg.Lister.Changed(ctx, res.Since) {
		if err != nil {
			return res, err
		}
		res.Orders++
		r.orders.Add(1)
		for _, env := range item.Envelopes {
			subject, err := bus.SubjectFor(env)
			if err != nil {
				return res, fmt.Errorf("order %s: %w", item.OrderID, err)
			}
			if err := r.cfg.Publisher.Publish(ctx, subject, env); err != nil {
				return res, fmt.Errorf("order %s: %w", item.OrderID, err)
			}
			res.Events++
			r.events.Add(1)
		}
		if item.UpdatedAt.After(high) {
			high = item.UpdatedAt
		}
	}
	if err := r.cfg.Checkpoints.Save(ctx, r.cfg.Name, high); err != nil {
		return res, err
	}
	res.Checkpoint = high
	return res, nil
}
