package order

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/dropsync/dropsync/proto/dropsync/events/v1"
)

// SnapshotVersion is the version of the snapshot format [Order.Snapshot]
// writes. It changes whenever the order's state or its encoding changes;
// [FromSnapshot] refuses any other version with [ErrSnapshotVersion], and
// the caller folds the order's events instead (and may save a new
// snapshot): a snapshot is a cache of the fold, never the truth.
const SnapshotVersion = 2

// ErrSnapshotVersion: a snapshot written in another format version, or one
// that does not decode; fold the events instead.
var ErrSnapshotVersion = errors.New("order: snapshot of another version or undecodable")

// Snapshot encodes the order's whole state (what folding its events so far
// built, seen event ids included), so that [FromSnapshot] and the events
// after Revision rebuild the same order as folding every event. Pure: the
// same state always gives the same bytes.
func (o *Order) Snapshot() ([]byte, error) {
	w := &snapWriter{b: make([]byte, 0, 1024)}
	w.uint(SnapshotVersion)
	w.str(o.id)
	w.uint(uint64(o.platform))
	w.str(o.store)
	w.str(o.storeOrderID)
	w.bools(o.created, o.captured)
	w.str(o.name)
	w.msg(o.total)
	w.str(o.financial)
	w.str(o.fulfillment)
	w.time(o.storeUpdatedAt)
	w.time(o.storeCreatedAt)
	w.uint(uint64(len(o.lines)))
	for _, l := range o.lines {
		w.msg(l.item)
		w.int(int64(l.storeCanceled))
		w.int(int64(l.foreign))
	}
	w.msg(o.address)
	w.msg(o.baseline)
	w.bools(o.conflict != nil)
	if o.conflict != nil {
		w.strs(o.conflict.fields)
		w.msg(o.conflict.store)
	}
	w.bools(o.canceledWhole, o.foreignWhole, o.foreignWholeAnon)
	w.uint(uint64(len(o.storeFulfillments)))
	for _, f := range o.storeFulfillments {
		w.str(f.id)
		w.lqs(f.added)
		w.bools(f.whole, f.canceled)
		w.trackings(f.tracking)
	}
	w.bools(o.manual, o.manualPlaced)
	w.str(o.inFlight)
	w.str(o.lastKey)
	w.str(o.uncertainKey)
	w.str(o.lastReq)
	w.msg(o.failure)
	w.str(o.failureReq)
	w.uint(uint64(len(o.suppliers)))
	for _, s := range o.suppliers {
		w.str(s.id)
		w.str(s.request)
		w.lqs(s.lines)
		w.lqs(s.canceled)
		w.bools(s.placed, s.paid, s.canceledWhole, s.finished)
		w.time(s.paidAt)
	}
	w.uint(uint64(len(o.shipments)))
	for _, s := range o.shipments {
		w.str(s.id)
		w.str(s.supplierOrder)
		w.msg(s.tracking)
		w.msg(s.sent)
		w.lqs(s.lines)
		w.str(s.coveredBy)
		w.str(s.fulfillmentID)
		w.trackings(s.storeTracking)
		w.bools(s.pushed, s.failed, s.confirmed, s.delivered)
		w.time(s.at)
		w.msg(s.checkpoint)
		w.time(s.movedAt)
		w.int(int64(s.attempt))
		w.msg(s.failure)
		w.msg(s.request)
	}
	w.uint(uint64(len(o.attention)))
	for _, a := range o.attention {
		w.msg(a.msg)
		w.time(a.at)
		w.bools(a.cleared)
	}
	w.uint(uint64(len(o.requests)))
	for _, r := range o.requests {
		w.str(r.id)
		w.uint(uint64(r.command))
		w.msg(r.rejected)
		w.uint(r.revision)
	}
	w.uint(uint64(o.seen.len()))
	for _, l := range o.seen.levels {
		for _, k := range l.keys {
			w.b = append(w.b, k[:]...)
		}
	}
	for _, k := range o.seen.tail {
		w.b = append(w.b, k[:]...)
	}
	w.uint(o.revision)
	w.time(o.createdAt)
	w.time(o.updatedAt)
	if w.err != nil {
		return nil, fmt.Errorf("snapshot order %s: %w", o.id, w.err)
	}
	return w.b, nil
}

// FromSnapshot rebuilds an order from [Order.Snapshot]'s bytes. A snapshot
// of another [SnapshotVersion], or one that does not decode, gives
// ErrSnapshotVersion.
func FromSnapshot(b []byte) (*Order, error) {
	r := &snapReader{b: b}
	if v := r.uint(); r.err != nil || v != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrSnapshotVersion, v, SnapshotVersion)
	}
	o := &Order{}
	o.id = r.str()
	o.platform = eventsv1.Platform(r.uint())
	o.store = r.str()
	o.storeOrderID = r.str()
	r.bools(&o.created, &o.captured)
	o.name = r.str()
	o.total = msg(r, &eventsv1.Money{})
	o.financial = r.str()
	o.fulfillment = r.str()
	o.storeUpdatedAt = r.time()
	o.storeCreatedAt = r.time()
	o.lines = make([]line, r.count())
	for i := range o.lines {
		l := &o.lines[i]
		l.item = msg(r, &eventsv1.StoreLineItem{})
		l.storeCanceled = int32(r.int())
		l.foreign = int32(r.int())
	}
	o.address = msg(r, &eventsv1.Address{})
	o.baseline = msg(r, &eventsv1.StoreOrder{})
	var hasConflict bool
	r.bools(&hasConflict)
	if hasConflict {
		o.conflict = &conflict{fields: r.strs(), store: msg(r, &eventsv1.StoreOrder{})}
	}
	r.bools(&o.canceledWhole, &o.foreignWhole, &o.foreignWholeAnon)
	o.storeFulfillments = make([]storeFulfillment, r.count())
	for i := range o.storeFulfillments {
		f := &o.storeFulfillments[i]
		f.id = r.str()
		f.added = r.lqs()
		r.bools(&f.whole, &f.canceled)
		f.tracking = r.trackings()
	}
	r.bools(&o.manual, &o.manualPlaced)
	o.inFlight = r.str()
	o.lastKey = r.str()
	o.uncertainKey = r.str()
	o.lastReq = r.str()
	o.failure = msg(r, &eventsv1.FailureReason{})
	o.failureReq = r.str()
	o.suppliers = make([]supplierOrder, r.count())
	for i := range o.suppliers {
		s := &o.suppliers[i]
		s.id = r.str()
		s.request = r.str()
		s.lines = r.lqs()
		s.canceled = r.lqs()
		r.bools(&s.placed, &s.paid, &s.canceledWhole, &s.finished)
		s.paidAt = r.time()
	}
	o.shipments = make([]shipment, r.count())
	for i := range o.shipments {
		s := &o.shipments[i]
		s.id = r.str()
		s.supplierOrder = r.str()
		s.tracking = msg(r, &eventsv1.Tracking{})
		s.sent = msg(r, &eventsv1.Tracking{})
		s.lines = r.lqs()
		s.coveredBy = r.str()
		s.fulfillmentID = r.str()
		s.storeTracking = r.trackings()
		r.bools(&s.pushed, &s.failed, &s.confirmed, &s.delivered)
		s.at = r.time()
		s.checkpoint = msg(r, &eventsv1.TrackingCheckpoint{})
		s.movedAt = r.time()
		s.attempt = int32(r.int()) //nolint:gosec // written from an int32
		s.failure = msg(r, &eventsv1.FailureReason{})
		s.request = msg(r, &eventsv1.FulfillmentRequested{})
	}
	o.attention = make([]attention, r.count())
	for i := range o.attention {
		a := &o.attention[i]
		a.msg = msg(r, &eventsv1.AttentionRaised{})
		a.at = r.time()
		r.bools(&a.cleared)
	}
	o.requests = make([]request, r.count())
	for i := range o.requests {
		q := &o.requests[i]
		q.id = r.str()
		q.command = Command(r.uint())
		q.rejected = msg(r, &eventsv1.FailureReason{})
		q.revision = r.uint()
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		var k eventKey
		copy(k[:], r.take(len(k)))
		o.seen.add(k)
	}
	o.revision = r.uint()
	o.createdAt = r.time()
	o.updatedAt = r.time()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshotVersion, r.err)
	}
	// Empty slices as folding leaves them: nil.
	for _, p := range []func(){
		func() { o.lines = nilIfEmpty(o.lines) },
		func() { o.storeFulfillments = nilIfEmpty(o.storeFulfillments) },
		func() { o.suppliers = nilIfEmpty(o.suppliers) },
		func() { o.shipments = nilIfEmpty(o.shipments) },
		func() { o.attention = nilIfEmpty(o.attention) },
		func() { o.requests = nilIfEmpty(o.requests) },
	} {
		p()
	}
	return o, nil
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// snapWriter appends values in a fixed order: varints, length-prefixed
// bytes, and protobuf messages (deterministic) with a presence flag.
type snapWriter struct {
	b   []byte
	err error
}

func (w *snapWriter) uint(v uint64) { w.b = protowire.AppendVarint(w.b, v) }
func (w *snapWriter) int(v int64)   { w.b = protowire.AppendVarint(w.b, protowire.EncodeZigZag(v)) }
func (w *snapWriter) str(s string)  { w.b = protowire.AppendString(w.b, s) }

func (w *snapWriter) bools(bs ...bool) {
	var v uint64
	for i, b := range bs {
		if b {
			v |= 1 << i
		}
	}
	w.uint(v)
}

func (w *snapWriter) strs(ss []string) {
	w.uint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *snapWriter) time(t time.Time) {
	if t.IsZero() {
		w.uint(0)
		return
	}
	w.uint(1)
	w.int(t.UnixNano())
}

func (w *snapWriter) msg(m proto.Message) {
	if m == nil || !m.ProtoReflect().IsValid() {
		w.uint(0)
		return
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.uint(1)
	w.b = protowire.AppendBytes(w.b, b)
}

func (w *snapWriter) lqs(ls []*eventsv1.LineQuantity) {
	w.uint(uint64(len(ls)))
	for _, l := range ls {
		w.msg(l)
	}
}

func (w *snapWriter) trackings(ts []*eventsv1.Tracking) {
	w.uint(uint64(len(ts)))
	for _, t := range ts {
		w.msg(t)
	}
}

// snapReader reads what snapWriter wrote; the first error sticks.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("bad %s", what)
	}
	r.b = nil
}

func (r *snapReader) uint() uint64 {
	v, n := protowire.ConsumeVarint(r.b)
	if n < 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) int() int64 { return protowire.DecodeZigZag(r.uint()) }

// count reads a length, bounded by what is left (each element takes at
// least a byte), so a corrupt snapshot cannot make a huge allocation.
func (r *snapReader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail("count")
		return 0
	}
	return int(n)
}

func (r *snapReader) take(n int) []byte {
	if n > len(r.b) {
		r.fail("length")
		return make([]byte, n)
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *snapReader) bytes() []byte {
	b, n := protowire.ConsumeBytes(r.b)
	if n < 0 {
		r.fail("bytes")
		return nil
	}
	r.b = r.b[n:]
	return b
}

func (r *snapReader) str() string { return string(r.bytes()) }

func (r *snapReader) bools(bs ...*bool) {
	v := r.uint()
	for i, b := range bs {
		*b = v&(1<<i) != 0
	}
}

func (r *snapReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *snapReader) time() time.Time {
	if r.uint() == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.int()).UTC()
}

// msg reads a message into m, or returns nil when none was written.
func msg[M proto.Message](r *snapReader, m M) M {
	var zero M
	if r.uint() == 0 {
		return zero
	}
	b := r.bytes()
	if r.err != nil {
		return zero
	}
	if err := proto.Unmarshal(b, m); err != nil {
		r.fail("message")
		return zero
	}
	return m
}

func (r *snapReader) lqs() []*eventsv1.LineQuantity {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]*eventsv1.LineQuantity, n)
	for i := range out {
		out[i] = msg(r, &eventsv1.LineQuantity{})
	}
	return out
}

func (r *snapReader) trackings() []*eventsv1.Tracking {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]*eventsv1.Tracking, n)
	for i := range out {
		out[i] = msg(r, &eventsv1.Tracking{})
	}
	return out
}
