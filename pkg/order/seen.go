package order

import "crypto/sha256"

// eventKey is a compact form of an event id: the 16 bytes of a UUID, or the
// first 16 bytes of the SHA-256 of any other id.
type eventKey [16]byte

// seenSmall is how many keys seenSet keeps in a slice (scanned linearly)
// before it switches to a map: most orders have a few dozen events.
const seenSmall = 48

// seenSet holds the ids of the events an order has applied.
type seenSet struct {
	small []eventKey
	big   map[eventKey]struct{}
}

func keyOf(id string) eventKey {
	if k, ok := parseUUID(id); ok {
		return k
	}
	h := sha256.Sum256([]byte(id))
	var k eventKey
	copy(k[:], h[:16])
	return k
}

func (s *seenSet) has(k eventKey) bool {
	if s.big != nil {
		_, ok := s.big[k]
		return ok
	}
	for i := range s.small {
		if s.small[i] == k {
			return true
		}
	}
	return false
}

func (s *seenSet) add(k eventKey) {
	if s.big != nil {
		s.big[k] = struct{}{}
		return
	}
	if len(s.small) < seenSmall {
		if s.small == nil {
			s.small = make([]eventKey, 0, 16)
		}
		s.small = append(s.small, k)
		return
	}
	s.big = make(map[eventKey]struct{}, 2*seenSmall)
	for _, x := range s.small {
		s.big[x] = struct{}{}
	}
	s.big[k] = struct{}{}
	s.small = nil
}

func (s seenSet) clone() seenSet {
	var c seenSet
	if s.big != nil {
		c.big = make(map[eventKey]struct{}, len(s.big))
		for k := range s.big {
			c.big[k] = struct{}{}
		}
		return c
	}
	if s.small != nil {
		c.small = make([]eventKey, len(s.small), cap(s.small))
		copy(c.small, s.small)
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
