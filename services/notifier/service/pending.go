package service

import (
	"context"
	"fmt"
	"time"

	"github.com/dropsync/dropsync/services/notifier/internal/app"
)

// errNotOpen answers what reaches the ledger before it is open: the
// service is still waiting for NATS.
var errNotOpen = fmt.Errorf("notifier starting: the ledger is not open yet: %w", app.ErrLedgerUnavailable)

// pendingLedger is the ledger the application is built on before the
// ledger bucket can be opened (NATS not reachable yet): it fails every
// call with errNotOpen until open is called, then passes them on.
type pendingLedger struct {
	ready  chan struct{}
	ledger app.Ledger // set once, before ready is closed
}

func newPendingLedger() *pendingLedger { return &pendingLedger{ready: make(chan struct{})} }

// open makes l the ledger every call goes to. It is called once.
func (p *pendingLedger) open(l app.Ledger) {
	p.ledger = l
	close(p.ready)
}

// get returns the open ledger, or nil.
func (p *pendingLedger) get() app.Ledger {
	select {
	case <-p.ready:
		return p.ledger
	default:
		return nil
	}
}

// Create implements app.Ledger.
func (p *pendingLedger) Create(ctx context.Context, r app.Record) (app.Record, bool, error) {
	l := p.get()
	if l == nil {
		return app.Record{}, false, errNotOpen
	}
	return l.Create(ctx, r)
}

// Get implements app.Ledger.
func (p *pendingLedger) Get(ctx context.Context, orderID, shipmentID string) (app.Record, error) {
	l := p.get()
	if l == nil {
		return app.Record{}, errNotOpen
	}
	return l.Get(ctx, orderID, shipmentID)
}

// MarkPublished implements app.Ledger.
func (p *pendingLedger) MarkPublished(ctx context.Context, orderID, shipmentID string, at time.Time) (app.Record, error) {
	l := p.get()
	if l == nil {
		return app.Record{}, errNotOpen
	}
	return l.MarkPublished(ctx, orderID, shipmentID, at)
}

// List implements app.Ledger.
func (p *pendingLedger) List(ctx context.Context, f app.Filter, pageToken string, n int) ([]app.Record, string, error) {
	l := p.get()
	if l == nil {
		return nil, "", errNotOpen
	}
	return l.List(ctx, f, pageToken, n)
}

// Watch implements app.Ledger: RunOn starts the watchers only once the
// ledger is open.
func (p *pendingLedger) Watch(ctx context.Context, fn func(app.Record)) error {
	l := p.get()
	if l == nil {
		return errNotOpen
	}
	return l.Watch(ctx, fn)
}
