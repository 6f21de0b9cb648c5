package admit

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// cache holds decided outcomes by key with a TTL and a size bound (least
// recently used out first), and coalesces concurrent computations of one
// key into one.
type cache struct {
	mu       sync.Mutex
	max      int
	entries  map[string]*list.Element
	lru      *list.List // front: most recently used
	inflight map[string]*call
	now      func() time.Time
}

type cacheEntry struct {
	key     string
	out     outcome
	expires time.Time
}

type call struct {
	done chan struct{}
	out  outcome
}

func newCache(max int) *cache {
	return &cache{max: max, entries: map[string]*list.Element{}, lru: list.New(), inflight: map[string]*call{}, now: time.Now}
}

// get is the cached outcome of key, if fresh.
func (c *cache) get(key string) (outcome, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(key)
}

func (c *cache) getLocked(key string) (outcome, bool) {
	el, ok := c.entries[key]
	if !ok {
		return outcome{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, key)
		return outcome{}, false
	}
	c.lru.MoveToFront(el)
	return e.out, true
}

func (c *cache) put(key string, out outcome, ttl time.Duration) {
	if ttl <= 0 || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value = &cacheEntry{key, out, c.now().Add(ttl)}
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key, out, c.now().Add(ttl)})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// do returns key's cached outcome, or joins the computation of key already
// running, or starts compute in the background. compute runs detached from
// ctx (its own bound is the caller's business): when ctx ends first, do
// returns ctx's error and the computation still finishes and fills the
// cache for the next request. hit says whether the cache answered.
func (c *cache) do(ctx context.Context, key string, compute func() (outcome, time.Duration)) (out outcome, hit bool, err error) {
	c.mu.Lock()
	if out, ok := c.getLocked(key); ok {
		c.mu.Unlock()
		return out, true, nil
	}
	cl, running := c.inflight[key]
	if !running {
		cl = &call{done: make(chan struct{})}
		c.inflight[key] = cl
		go func() {
			out, ttl := safely(compute)
			c.put(key, out, ttl)
			c.mu.Lock()
			cl.out = out
			delete(c.inflight, key)
			c.mu.Unlock()
			close(cl.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.out, false, nil
	case <-ctx.Done():
		return outcome{}, false, ctx.Err()
	}
}

// safely runs compute, turning a panic (a library refusing hostile input
// the hard way) into a verdict against, so that one attestation cannot take
// the webhook down.
func safely(compute func() (outcome, time.Duration)) (out outcome, ttl time.Duration) {
	defer func() {
		if r := recover(); r != nil {
			out, ttl = outcome{Reason: fmt.Sprintf("the verification failed unexpectedly: %v", r)}, 0
		}
	}()
	return compute()
}
