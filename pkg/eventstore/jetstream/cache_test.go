package jetstream

import (
	"fmt"
	"testing"
)

func TestTipCache(t *testing.T) {
	c := newTipCache(3)
	c.put("a", tip{rev: 1, seq: 10})
	c.put("a", tip{rev: 0, seq: 5}) // older: ignored
	if got, ok := c.get("a"); !ok || got != (tip{rev: 1, seq: 10}) {
		t.Errorf("get a = %v, %v; want the later tip 1@10", got, ok)
	}
	c.put("a", tip{rev: 2, seq: 12})
	c.drop("a", tip{rev: 1, seq: 10}) // not the current tip: kept
	if got, _ := c.get("a"); got != (tip{rev: 2, seq: 12}) {
		t.Errorf("get a = %v after dropping a stale tip, want 2@12", got)
	}
	c.drop("a", tip{rev: 2, seq: 12})
	if _, ok := c.get("a"); ok {
		t.Errorf("a still cached after drop")
	}
	for i := range 10 {
		c.put(fmt.Sprint(i), tip{rev: 0, seq: uint64(i + 1)})
		if len(c.m) > 3 {
			t.Fatalf("cache holds %d tips, more than 3", len(c.m))
		}
	}
	if _, ok := c.get("9"); !ok {
		t.Errorf("the latest tip was evicted")
	}

	off := newTipCache(-1)
	off.put("a", tip{rev: 1, seq: 1})
	if _, ok := off.get("a"); ok {
		t.Errorf("a disabled cache returned a tip")
	}
}
