package app

import (
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/dropsync/dropsync/pkg/order"
)

// orderCache keeps the most recently used folded orders. The orders in it
// are immutable: a writer folds new events into a copy and puts the copy,
// so a reader may use an order it got without any lock.
type orderCache struct {
	mu sync.Mutex // orders a put against a concurrent putNewer
	c  *lru.Cache[string, *order.Order]
}

func newOrderCache(size int) *orderCache {
	c, err := lru.New[string, *order.Order](size)
	if err != nil {
		panic(err) // size is checked positive by New
	}
	return &orderCache{c: c}
}

// get returns the cached order, or nil.
func (c *orderCache) get(key string) *order.Order {
	o, _ := c.c.Get(key)
	return o
}

// put caches o, the newest state of its order (the caller holds the
// order's lock and has just read or written its stream).
func (c *orderCache) put(key string, o *order.Order) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.Add(key, o)
}

// putNewer caches o unless the cache has the order at a later revision: a
// reader that folded the stream without the order's lock must not replace
// what a writer put meanwhile.
func (c *orderCache) putNewer(key string, o *order.Order) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.c.Peek(key); ok && old.Revision() >= o.Revision() {
		return
	}
	c.c.Add(key, o)
}

// drop forgets an order.
func (c *orderCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.Remove(key)
}
