package app_test

import (
	"context"
	"sync"
	"testing"
)

// TestGetDuringWrites reads an order while facts change it: Get takes no
// lock and serves the cached order, which writers never change in place
// (run with -race), and every answer is a state the order was in, at a
// revision never older than one already seen.
func TestGetDuringWrites(t *testing.T) {
	s := newStore(t)
	a := newApp(s)
	ctx := context.Background()
	const id = "shopify:s:7"
	if err := a.HandleFact(ctx, storeFact(id, "created", false)); err != nil {
		t.Fatal(err)
	}
	const facts = 50
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range facts {
			if err := a.HandleFact(ctx, updatedFact(id, i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var last uint64
	for reads := 0; ; reads++ {
		o, err := a.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if o.GetRevision() < last {
			t.Fatalf("read %d: revision %d after %d", reads, o.GetRevision(), last)
		}
		last = o.GetRevision()
		select {
		case <-done:
			if last < facts {
				o, _ := a.Get(ctx, id)
				last = o.GetRevision()
			}
			if last < facts {
				t.Fatalf("revision %d after %d facts", last, facts)
			}
			return
		default:
		}
	}
}
