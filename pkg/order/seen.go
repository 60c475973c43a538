package order

import (
	"bytes"
	"crypto/sha256"
	"slices"
)

// eventKey is a compact form of an event id: the 16 bytes of a UUID, or the
// first 16 bytes of the SHA-256 of any other id.
type eventKey [16]byte

// seenTail is how many keys seenSet keeps in its own, copied, tail before
// it freezes them into a shared level: most orders have a few dozen events,
// so most never get a level.
const seenTail = 32

// seenSet holds the ids of the events an order has applied. It is a
// persistent set: copying one (clone) costs O(log n), not O(n), because
// the levels are immutable once built and shared between copies; only the
// short tail is copied. Adding is amortised O(log n): when the tail is full
// it becomes a level, and levels of like size merge (a binary counter, as
// in a log-structured merge tree), so there are at most log2(n/seenTail)+1
// levels, each a sorted array searched by bisection.
type seenSet struct {
	levels []*seenLevel // immutable, shared; sizes strictly decreasing
	tail   []eventKey   // this copy's own, unsorted, at most seenTail
}

// seenLevel is an immutable sorted run of keys.
type seenLevel struct{ keys []eventKey }

func keyOf(id string) eventKey {
	if k, ok := parseUUID(id); ok {
		return k
	}
	h := sha256.Sum256([]byte(id))
	var k eventKey
	copy(k[:], h[:16])
	return k
}

func compareKeys(a, b eventKey) int { return bytes.Compare(a[:], b[:]) }

func (s *seenSet) has(k eventKey) bool {
	for i := range s.tail {
		if s.tail[i] == k {
			return true
		}
	}
	for _, l := range s.levels {
		if _, ok := slices.BinarySearchFunc(l.keys, k, compareKeys); ok {
			return true
		}
	}
	return false
}

// len returns how many keys the set holds.
func (s *seenSet) len() int {
	n := len(s.tail)
	for _, l := range s.levels {
		n += len(l.keys)
	}
	return n
}

func (s *seenSet) add(k eventKey) {
	if len(s.tail) < seenTail {
		if s.tail == nil {
			s.tail = make([]eventKey, 0, 8)
		}
		s.tail = append(s.tail, k)
		return
	}
	run := make([]eventKey, len(s.tail), len(s.tail)+1)
	copy(run, s.tail)
	run = append(run, k)
	slices.SortFunc(run, compareKeys)
	// Merge with the smaller levels at the end while they are no bigger
	// than the new run. The levels slice is shared with other copies, so
	// it is never written in place: a new one is made.
	n := len(s.levels)
	for n > 0 && len(s.levels[n-1].keys) <= len(run) {
		run = mergeKeys(s.levels[n-1].keys, run)
		n--
	}
	levels := make([]*seenLevel, n, n+1)
	copy(levels, s.levels[:n])
	s.levels = append(levels, &seenLevel{keys: run})
	s.tail = s.tail[:0]
}

// mergeKeys merges two sorted runs into a new one.
func mergeKeys(a, b []eventKey) []eventKey {
	out := make([]eventKey, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if compareKeys(a[i], b[j]) <= 0 {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// clone returns a copy that shares only immutable levels with s: adding to
// either changes nothing the other sees.
func (s seenSet) clone() seenSet {
	var c seenSet
	if s.levels != nil {
		c.levels = slices.Clip(s.levels) // never written in place (add makes a new slice)
	}
	if s.tail != nil {
		c.tail = make([]eventKey, len(s.tail), max(cap(s.tail), 8))
		copy(c.tail, s.tail)
	}
	return c
}

// parseUUID decodes a canonical UUID "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
// (either case).
func parseUUID(s string) (eventKey, bool) {
	var k eventKey
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return k, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[j] = hi<<4 | lo
		j++
		i += 2
	}
	return k, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
