// Package ring is a bounded log: the simulators' records of calls, webhook
// deliveries and e-mails keep the newest entries only, so a simulator that
// runs for days (make run) holds a fixed amount of memory.
package ring

// DefaultMax is the entries a log keeps when its limit is 0.
const DefaultMax = 10_000

// Log keeps the newest max entries appended to it and counts them all. The
// zero value keeps DefaultMax. It is not safe for concurrent use: the
// simulators hold their own lock.
type Log[T any] struct {
	max   int
	buf   []T // a ring once full: next is the oldest
	next  int
	total int
}

// New returns a log that keeps the newest max entries (DefaultMax when
// max <= 0).
func New[T any](max int) *Log[T] {
	if max <= 0 {
		max = DefaultMax
	}
	return &Log[T]{max: max}
}

func (l *Log[T]) limit() int {
	if l.max <= 0 {
		return DefaultMax
	}
	return l.max
}

// Append adds v, dropping the oldest entry when the log is full.
func (l *Log[T]) Append(v T) {
	l.total++
	if len(l.buf) < l.limit() {
		l.buf = append(l.buf, v)
		return
	}
	l.buf[l.next] = v
	l.next = (l.next + 1) % len(l.buf)
}

// All returns the entries kept, oldest first, in a new slice.
func (l *Log[T]) All() []T {
	out := make([]T, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	return append(out, l.buf[:l.next]...)
}

// Each calls f on the entries kept, oldest first, until f returns false.
func (l *Log[T]) Each(f func(T) bool) {
	for _, part := range [][]T{l.buf[l.next:], l.buf[:l.next]} {
		for _, v := range part {
			if !f(v) {
				return
			}
		}
	}
}

// Len returns how many entries the log keeps now.
func (l *Log[T]) Len() int { return len(l.buf) }

// Total returns how many entries were ever appended, dropped ones included.
func (l *Log[T]) Total() int { return l.total }

// Reset forgets every entry and the total.
func (l *Log[T]) Reset() {
	var zero T
	for i := range l.buf {
		l.buf[i] = zero
	}
	l.buf, l.next, l.total = l.buf[:0], 0, 0
}
