package order

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSeenSetPersistent adds keys to a set and to copies taken along the
// way, and checks that each copy holds exactly what was added to it: the
// levels the copies share are never changed under them.
func TestSeenSetPersistent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	key := func(i int) eventKey { return keyOf(fmt.Sprint("event-", i)) }
	type copyOf struct {
		s    seenSet
		want map[int]bool
	}
	var s seenSet
	want := map[int]bool{}
	var copies []copyOf
	for i := range 3000 {
		s.add(key(i))
		want[i] = true
		if r.IntN(50) == 0 {
			c := copyOf{s: s.clone(), want: map[int]bool{}}
			for k := range want {
				c.want[k] = true
			}
			// The copy moves on on its own, with keys the original never gets.
			for j := range r.IntN(100) {
				c.s.add(key(-1 - i*100 - j))
				c.want[-1-i*100-j] = true
			}
			copies = append(copies, c)
		}
	}
	check := func(name string, s *seenSet, want map[int]bool) {
		t.Helper()
		if s.len() != len(want) {
			t.Fatalf("%s: %d keys, want %d", name, s.len(), len(want))
		}
		for k := range want {
			if !s.has(key(k)) {
				t.Fatalf("%s: key %d missing", name, k)
			}
		}
		for k := -300000; k < 4000; k += 997 {
			if !want[k] && s.has(key(k)) {
				t.Fatalf("%s: key %d present, never added", name, k)
			}
		}
	}
	check("original", &s, want)
	for i := range copies {
		check(fmt.Sprint("copy ", i), &copies[i].s, copies[i].want)
	}
	if n := len(s.levels); n > 8 {
		t.Errorf("%d levels for 3000 keys, want at most log2(3000/%d)+1", n, seenTail)
	}
}

// BenchmarkSeenClone copies a set of n keys and adds one to the copy, as
// each decision does.
func BenchmarkSeenClone(b *testing.B) {
	for _, n := range []int{1, 20, 500, 5000} {
		b.Run(fmt.Sprint("keys=", n), func(b *testing.B) {
			var s seenSet
			for i := range n {
				s.add(keyOf(fmt.Sprint("e", i)))
			}
			k := keyOf("new")
			b.ReportAllocs()
			for b.Loop() {
				c := s.clone()
				c.add(k)
				if !c.has(k) {
					b.Fatal("missing")
				}
			}
		})
	}
}
