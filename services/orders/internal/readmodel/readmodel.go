// Package readmodel keeps the order list the OrderService queries: one small
// summary per order (tab, store, times, revision), counts per tab and store,
// and a feed of status changes for WatchOrders.
//
// It is a projection of the event store: it folds only the facts it needs
// (the first snapshot of an order, every OrderStatusChanged the aggregate
// recorded, attention raised and cleared, and which orders have shipments
// not delivered yet), so it can be thrown away and rebuilt by replaying the
// store.
// It lives in memory; its budget per order is measured by
// BenchmarkMemoryPerOrder and stated in the README.
package readmodel

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"

	"github.com/dropsync/dropsync/pkg/envelope"
	"github.com/dropsync/dropsync/pkg/eventstore"
)

// StreamPrefix is the prefix of order streams in the event store.
const StreamPrefix = "order-"

// ErrBadPageToken: a page token that this model did not issue.
var ErrBadPageToken = errors.New("readmodel: bad page token")

// ErrReplaying: the model has not yet replayed the whole event store since
// it started, so its lists and counts would be partial (gRPC Unavailable).
var ErrReplaying = errors.New("readmodel: still replaying the event store")

// Summary is what the model keeps of one order.
type Summary struct {
	ID        string
	Name      string
	Store     string // "<platform>:<store id>"
	Tab       eventsv1.Tab
	CreatedAt time.Time
	UpdatedAt time.Time
	Revision  uint64
	// Attention is the latest AttentionRaised since the order last changed
	// tab, or nil.
	Attention *eventsv1.AttentionRaised
}

// summary is the compact form kept in memory: times as unix nanoseconds,
// the store as an index into the interned store keys.
type summary struct {
	id        string
	name      string
	created   int64
	updated   int64
	revision  uint64
	attention *eventsv1.AttentionRaised
	store     uint32
	tab       eventsv1.Tab
}

// Change is one status change, as WatchOrders streams it.
type Change struct {
	OrderID   string
	Store     string
	From, To  eventsv1.Tab
	ChangedAt time.Time
	Revision  uint64
}

const numTabs = int(eventsv1.Tab_TAB_FAILED) + 1

// Model is the in-memory read model. It is safe for concurrent use.
type Model struct {
	mu        sync.RWMutex
	byID      map[string]*summary
	byCreated []*summary // ascending (created, id)
	stores    []string
	storeIdx  map[string]uint32
	counts    [][numTabs]int64 // per store index
	total     [numTabs]int64
	position  eventstore.Position
	watchers  map[*watcher]struct{}
	// transit counts, per order with any, its shipments not delivered yet
	// (SupplierShipmentCreated less SupplierTrackingProgressed delivered;
	// the aggregate appends each once per shipment). Only orders with
	// parcels on their way have an entry.
	transit   map[*summary]int32
	caughtUp  chan struct{}
	caughtSet bool
}

// New returns an empty model.
func New() *Model {
	return &Model{
		byID:     make(map[string]*summary),
		storeIdx: make(map[string]uint32),
		watchers: make(map[*watcher]struct{}),
		transit:  make(map[*summary]int32),
		caughtUp: make(chan struct{}),
	}
}

// Position is the position of the last event applied.
func (m *Model) Position() eventstore.Position {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.position
}

// Run replays the store from the model's position, then follows it until
// ctx ends. After the replay reaches the end once, CaughtUp is closed. An
// event that does not decode is logged and passed over: one bad record must
// not stop every order's view (the relay does the same).
func (m *Model) Run(ctx context.Context, store eventstore.Store, log *slog.Logger) error {
	apply := func(rec eventstore.RecordedEvent) {
		if err := m.ApplyRecorded(rec); err != nil {
			log.ErrorContext(ctx, "read model: undecodable event passed over", "stream", rec.Stream, "revision", rec.Revision, "err", err)
		}
	}
	from := m.Position()
	for rec, err := range store.ReadAll(ctx, from, eventstore.Filter{StreamPrefix: StreamPrefix}) {
		if err != nil {
			return fmt.Errorf("read model replay: %w", err)
		}
		apply(rec)
	}
	m.markCaughtUp()
	for rec, err := range store.Subscribe(ctx, m.Position(), eventstore.Filter{StreamPrefix: StreamPrefix}) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read model subscription: %w", err)
		}
		apply(rec)
	}
	return nil
}

// CaughtUp is closed once the model has replayed the whole store.
func (m *Model) CaughtUp() <-chan struct{} { return m.caughtUp }

// Ready returns nil once the model has replayed the whole store, and
// ErrReplaying before: until then nothing may be answered from it.
func (m *Model) Ready() error {
	select {
	case <-m.caughtUp:
		return nil
	default:
		return ErrReplaying
	}
}

func (m *Model) markCaughtUp() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.caughtSet {
		m.caughtSet = true
		close(m.caughtUp)
	}
}

// ApplyRecorded decodes and applies one recorded event. Events at or before
// the model's position are ignored, so applying twice changes nothing.
func (m *Model) ApplyRecorded(rec eventstore.RecordedEvent) error {
	if !strings.HasPrefix(rec.Stream, StreamPrefix) {
		return nil
	}
	env, err := envelope.Unmarshal(rec.Data)
	if err != nil {
		m.mu.Lock()
		if m.position.Less(rec.Position) {
			m.position = rec.Position // past it: a resubscription must not stop on it again
		}
		m.mu.Unlock()
		return fmt.Errorf("read model: %s@%d: %w", rec.Stream, rec.Revision, err)
	}
	m.Apply(strings.TrimPrefix(rec.Stream, StreamPrefix), rec.Revision, rec.Position, env)
	return nil
}

// Apply folds one event of order id at revision rev.
func (m *Model) Apply(id string, rev uint64, pos eventstore.Position, env *eventsv1.Envelope) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pos != (eventstore.Position{}) {
		if !m.position.Less(pos) {
			return
		}
		m.position = pos
	}
	at := eventTime(env)
	s, ok := m.byID[id]
	if !ok {
		s = &summary{id: id, created: at, store: m.intern(storeOf(id))}
		m.byID[id] = s
		m.insertSorted(s)
	}
	if rev < s.revision {
		return
	}
	s.revision = rev
	if at > s.updated {
		s.updated = at
	}
	if o := snapshot(env); o != nil {
		if s.name == "" {
			s.name = o.GetName()
		}
		if c := o.GetStoreCreatedAt(); c != nil && rev == 0 {
			m.moveCreated(s, c.AsTime().UnixNano())
		}
	}
	if a := env.GetAttentionRaised(); a != nil {
		s.attention = a
	}
	m.followShipments(s, env)
	if sc := env.GetOrderStatusChanged(); sc != nil && sc.GetTo() != s.tab {
		s.attention = nil // what needed attention moved the order on
		from := s.tab
		m.count(s.store, from, -1)
		m.count(s.store, sc.GetTo(), +1)
		s.tab = sc.GetTo()
		m.notify(Change{OrderID: id, Store: m.stores[s.store], From: from, To: s.tab, ChangedAt: time.Unix(0, at).UTC(), Revision: rev})
	}
}

// followShipments counts an order's shipments not delivered yet and clears
// the attention the aggregate clears with them: a shipment clears "no
// tracking" and "tracking stale", tracking progress or a new number clears
// "tracking stale".
func (m *Model) followShipments(s *summary, env *eventsv1.Envelope) {
	var clears []eventsv1.AttentionKind
	switch e := env.GetEvent().(type) {
	case *eventsv1.Envelope_SupplierShipmentCreated:
		m.transit[s]++
		clears = []eventsv1.AttentionKind{eventsv1.AttentionKind_ATTENTION_KIND_NO_TRACKING, eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE}
	case *eventsv1.Envelope_SupplierTrackingProgressed:
		if e.SupplierTrackingProgressed.GetDelivered() {
			if n, ok := m.transit[s]; ok {
				if n <= 1 {
					delete(m.transit, s)
				} else {
					m.transit[s] = n - 1
				}
			}
		}
		clears = []eventsv1.AttentionKind{eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE}
	case *eventsv1.Envelope_SupplierTrackingChanged:
		clears = []eventsv1.AttentionKind{eventsv1.AttentionKind_ATTENTION_KIND_TRACKING_STALE}
	}
	if s.attention != nil && slices.Contains(clears, s.attention.GetKind()) {
		s.attention = nil
	}
}

func (m *Model) count(store uint32, tab eventsv1.Tab, d int64) {
	if tab == eventsv1.Tab_TAB_UNSPECIFIED || int(tab) >= numTabs {
		return
	}
	m.counts[store][tab] += d
	m.total[tab] += d
}

func (m *Model) intern(store string) uint32 {
	if i, ok := m.storeIdx[store]; ok {
		return i
	}
	i := uint32(len(m.stores))
	m.stores = append(m.stores, store)
	m.storeIdx[store] = i
	m.counts = append(m.counts, [numTabs]int64{})
	return i
}

func less(a, b *summary) int {
	if a.created != b.created {
		if a.created < b.created {
			return -1
		}
		return 1
	}
	return strings.Compare(a.id, b.id)
}

func (m *Model) insertSorted(s *summary) {
	n := len(m.byCreated)
	if n == 0 || less(m.byCreated[n-1], s) < 0 {
		m.byCreated = append(m.byCreated, s)
		return
	}
	i, _ := slices.BinarySearchFunc(m.byCreated, s, less)
	m.byCreated = slices.Insert(m.byCreated, i, s)
}

func (m *Model) moveCreated(s *summary, created int64) {
	if s.created == created {
		return
	}
	if i, found := slices.BinarySearchFunc(m.byCreated, s, less); found {
		m.byCreated = slices.Delete(m.byCreated, i, i+1)
	}
	s.created = created
	m.insertSorted(s)
}

// Get returns one order's summary.
func (m *Model) Get(id string) (Summary, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.byID[id]
	if !ok {
		return Summary{}, false
	}
	return m.export(s), true
}

func (m *Model) export(s *summary) Summary {
	return Summary{
		ID: s.id, Name: s.name, Store: m.stores[s.store], Tab: s.tab,
		CreatedAt: time.Unix(0, s.created).UTC(), UpdatedAt: time.Unix(0, s.updated).UTC(), Revision: s.revision,
		Attention: s.attention,
	}
}

// Query selects orders; zero fields match everything.
type Query struct {
	Tab           eventsv1.Tab
	Store         string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	PageSize      int
	PageToken     string
	// AttentionOnly keeps orders flagged for attention.
	AttentionOnly bool
}

// List returns a page of orders, newest first, and the token of the next
// page ("" on the last).
func (m *Model) List(q Query) ([]Summary, string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	end := len(m.byCreated)
	if q.PageToken != "" {
		cur, err := decodeToken(q.PageToken)
		if err != nil {
			return nil, "", err
		}
		end, _ = slices.BinarySearchFunc(m.byCreated, cur, less)
	}
	store := uint32(0)
	if q.Store != "" {
		i, ok := m.storeIdx[q.Store]
		if !ok {
			return nil, "", nil
		}
		store = i
	}
	var after, before int64
	if !q.CreatedAfter.IsZero() {
		after = q.CreatedAfter.UnixNano()
	}
	if !q.CreatedBefore.IsZero() {
		before = q.CreatedBefore.UnixNano()
	}
	out := make([]Summary, 0, q.PageSize)
	for i := end - 1; i >= 0; i-- {
		s := m.byCreated[i]
		if after != 0 && s.created < after {
			break
		}
		if before != 0 && s.created >= before {
			continue
		}
		if q.Tab != eventsv1.Tab_TAB_UNSPECIFIED && s.tab != q.Tab {
			continue
		}
		if q.Store != "" && s.store != store {
			continue
		}
		if q.AttentionOnly && s.attention == nil {
			continue
		}
		if len(out) == q.PageSize {
			last := out[len(out)-1]
			return out, encodeToken(last.CreatedAt.UnixNano(), last.ID), nil
		}
		out = append(out, m.export(s))
	}
	return out, "", nil
}

// Count returns the number of orders per tab, for one store or ("") all.
func (m *Model) Count(store string) map[eventsv1.Tab]int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var c [numTabs]int64
	if store == "" {
		c = m.total
	} else if i, ok := m.storeIdx[store]; ok {
		c = m.counts[i]
	}
	out := make(map[eventsv1.Tab]int64, numTabs-1)
	for t := 1; t < numTabs; t++ {
		out[eventsv1.Tab(t)] = c[t]
	}
	return out
}

// EachCount calls fn with the number of orders of every store
// ("<platform>:<store>") in every tab, for the orders gauge.
func (m *Model) EachCount(fn func(store string, tab eventsv1.Tab, n int64)) {
	m.mu.RLock()
	stores := slices.Clone(m.stores)
	counts := slices.Clone(m.counts)
	m.mu.RUnlock()
	for i, store := range stores {
		for t := 1; t < numTabs; t++ {
			fn(store, eventsv1.Tab(t), counts[i][t])
		}
	}
}

// Len is the number of orders.
func (m *Model) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byID)
}

func encodeToken(created int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "|" + id))
}

func decodeToken(tok string) (*summary, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, ErrBadPageToken
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok || id == "" {
		return nil, ErrBadPageToken
	}
	created, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, ErrBadPageToken
	}
	return &summary{created: created, id: id}, nil
}

func storeOf(id string) string {
	platform, rest, _ := strings.Cut(id, ":")
	store, _, _ := strings.Cut(rest, ":")
	return platform + ":" + store
}

func eventTime(env *eventsv1.Envelope) int64 {
	if t := env.GetOccurredAt(); t != nil {
		return t.AsTime().UnixNano()
	}
	if t := env.GetRecordedAt(); t != nil {
		return t.AsTime().UnixNano()
	}
	return 0
}

// snapshot returns the store order an event carries, if any.
func snapshot(env *eventsv1.Envelope) *eventsv1.StoreOrder {
	switch e := env.GetEvent().(type) {
	case *eventsv1.Envelope_StoreOrderCreated:
		return e.StoreOrderCreated.GetOrder()
	case *eventsv1.Envelope_StorePaymentCaptured:
		return e.StorePaymentCaptured.GetOrder()
	case *eventsv1.Envelope_StoreOrderUpdated:
		return e.StoreOrderUpdated.GetOrder()
	case *eventsv1.Envelope_StoreOrderCanceled:
		return e.StoreOrderCanceled.GetOrder()
	case *eventsv1.Envelope_StoreOrderRefunded:
		return e.StoreOrderRefunded.GetOrder()
	case *eventsv1.Envelope_StoreOrderFulfilled:
		return e.StoreOrderFulfilled.GetOrder()
	case *eventsv1.Envelope_StoreOrderReread:
		return e.StoreOrderReread.GetOrder()
	case *eventsv1.Envelope_StoreFulfillmentCanceled:
		return e.StoreFulfillmentCanceled.GetOrder()
	case *eventsv1.Envelope_StoreTrackingChanged:
		return e.StoreTrackingChanged.GetOrder()
	}
	return nil
}

// Revision returns the revision of the last event of an order the model
// has applied.
func (m *Model) Revision(orderID string) (uint64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.byID[orderID]
	if !ok {
		return 0, false
	}
	return s.revision, true
}

// InTransit returns the ids of the orders with a shipment not delivered
// yet, in any tab, oldest first: those whose tracking may go stale.
func (m *Model) InTransit() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.transit))
	for _, s := range m.byCreated {
		if m.transit[s] > 0 {
			out = append(out, s.id)
		}
	}
	return out
}

// IDs returns the ids of the orders in the given tabs.
func (m *Model) IDs(tabs ...eventsv1.Tab) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for _, s := range m.byCreated {
		if slices.Contains(tabs, s.tab) {
			out = append(out, s.id)
		}
	}
	return out
}
