package service

import (
	"context"
	"iter"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dropsync/dropsync/pkg/eventstore"
)

// errNotOpen answers what reaches the event store before it is open: the
// service is still waiting for NATS or the event store.
var errNotOpen = status.Error(codes.Unavailable, "orders service starting: the event store is not open yet")

// pendingStore is the event store the application is built on before the
// store can be opened (NATS or EventStoreDB not reachable yet): it fails
// every call with errNotOpen until open is called, then passes them on.
type pendingStore struct {
	ready chan struct{}
	store eventstore.Store // set once, before ready is closed
}

func newPendingStore() *pendingStore { return &pendingStore{ready: make(chan struct{})} }

// open makes s the store every call goes to. It is called once.
func (p *pendingStore) open(s eventstore.Store) {
	p.store = s
	close(p.ready)
}

// get returns the open store, or nil.
func (p *pendingStore) get() eventstore.Store {
	select {
	case <-p.ready:
		return p.store
	default:
		return nil
	}
}

func fail(err error) iter.Seq2[eventstore.RecordedEvent, error] {
	return func(yield func(eventstore.RecordedEvent, error) bool) { yield(eventstore.RecordedEvent{}, err) }
}

// Append implements eventstore.Store.
func (p *pendingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	s := p.get()
	if s == nil {
		return eventstore.AppendResult{}, errNotOpen
	}
	return s.Append(ctx, stream, expected, events...)
}

// ReadStream implements eventstore.Store.
func (p *pendingStore) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.RecordedEvent, error] {
	s := p.get()
	if s == nil {
		return fail(errNotOpen)
	}
	return s.ReadStream(ctx, stream, from)
}

// ReadAll implements eventstore.Store.
func (p *pendingStore) ReadAll(ctx context.Context, from eventstore.Position, filter eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	s := p.get()
	if s == nil {
		return fail(errNotOpen)
	}
	return s.ReadAll(ctx, from, filter)
}

// Subscribe implements eventstore.Store.
func (p *pendingStore) Subscribe(ctx context.Context, from eventstore.Position, filter eventstore.Filter) iter.Seq2[eventstore.RecordedEvent, error] {
	s := p.get()
	if s == nil {
		return fail(errNotOpen)
	}
	return s.Subscribe(ctx, from, filter)
}

// SaveSnapshot implements eventstore.Snapshots when the open store does,
// and saves nothing otherwise (a snapshot is only a cache of the fold).
func (p *pendingStore) SaveSnapshot(ctx context.Context, stream string, snap eventstore.Snapshot) error {
	s, ok := p.get().(eventstore.Snapshots)
	if !ok {
		return nil
	}
	return s.SaveSnapshot(ctx, stream, snap)
}

// LoadSnapshot implements eventstore.Snapshots when the open store does,
// and answers eventstore.ErrNoSnapshot otherwise.
func (p *pendingStore) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, error) {
	s, ok := p.get().(eventstore.Snapshots)
	if !ok {
		return eventstore.Snapshot{}, eventstore.ErrNoSnapshot
	}
	return s.LoadSnapshot(ctx, stream)
}

// Close implements eventstore.Store; RunOn closes the store it opened.
func (p *pendingStore) Close() error { return nil }
