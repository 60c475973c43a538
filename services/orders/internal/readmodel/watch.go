package readmodel

import (
	"context"
	"errors"
	"slices"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// ErrSlowWatcher ends a watch whose reader fell too far behind.
var ErrSlowWatcher = errors.New("readmodel: watcher too slow, changes dropped")

// WatchBuffer is how many changes a watcher may fall behind before it is cut off.
const WatchBuffer = 1024

type watcher struct {
	store string
	tabs  []eventsv1.Tab
	ch    chan Change
	err   error
}

// Watch returns the status changes applied from now on that match store
// ("" for all) and tabs (the new tab; none for all). The channel closes when
// ctx ends, or when the reader falls WatchBuffer changes behind; then the
// returned function reports ErrSlowWatcher.
func (m *Model) Watch(ctx context.Context, store string, tabs []eventsv1.Tab) (<-chan Change, func() error) {
	w := &watcher{store: store, tabs: tabs, ch: make(chan Change, WatchBuffer)}
	m.mu.Lock()
	m.watchers[w] = struct{}{}
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.watchers[w]; ok {
			delete(m.watchers, w)
			close(w.ch)
		}
	}()
	return w.ch, func() error {
		m.mu.RLock()
		defer m.mu.RUnlock()
		return w.err
	}
}

// notify runs under m.mu (write-locked).
func (m *Model) notify(c Change) {
	for w := range m.watchers {
		if w.store != "" && w.store != c.Store {
			continue
		}
		if len(w.tabs) > 0 && !slices.Contains(w.tabs, c.To) {
			continue
		}
		select {
		case w.ch <- c:
		default:
			w.err = ErrSlowWatcher
			delete(m.watchers, w)
			close(w.ch)
		}
	}
}
