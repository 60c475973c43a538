package jetstream

import "sync"

// tip is where a stream's last known event is: its revision and the
// JetStream sequence that holds it.
type tip struct {
	rev uint64
	seq uint64
}

// tipCache remembers the last known tip of recently used streams, so an
// append can turn an expected revision into an expected subject sequence
// without asking the server. Entries are facts ("revision rev is at seq"),
// possibly stale but never wrong: a stale entry makes the server reject the
// append, and the store then asks for the real tip. When full, it drops an
// arbitrary entry (Go's map order), which is good enough for a hint.
type tipCache struct {
	mu  sync.Mutex
	max int
	m   map[string]tip
}

func newTipCache(maxSize int) *tipCache {
	return &tipCache{max: maxSize, m: make(map[string]tip, min(max(maxSize, 0), 1024))}
}

func (c *tipCache) get(stream string) (tip, bool) {
	if c.max <= 0 {
		return tip{}, false
	}
	c.mu.Lock()
	t, ok := c.m[stream]
	c.mu.Unlock()
	return t, ok
}

// put records t unless a later tip is known already.
func (c *tipCache) put(stream string, t tip) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[stream]; ok {
		if old.seq < t.seq {
			c.m[stream] = t
		}
		return
	}
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[stream] = t
}

// drop forgets stream's tip if it is still t.
func (c *tipCache) drop(stream string, t tip) {
	c.mu.Lock()
	if c.m[stream] == t {
		delete(c.m, stream)
	}
	c.mu.Unlock()
}
