package demo

import (
	"hash/maphash"
	"net/http"
	"strconv"
	"sync"
)

// Prompt accounting. Prompt size is approximated at four bytes per token. Prompt caching is
// simulated the way the providers do it: a prompt's prefix hashes are remembered, and a later
// prompt that starts with a remembered prefix reports that prefix as cached.
//
//   - OpenAI caches automatically from 1024 tokens on, in 128-token steps, so the meter takes a
//     hash every 128 tokens past 1024 and the longest remembered one is the cached part.
//   - Anthropic caches up to explicit cache_control breakpoints, so the meter takes a hash at each
//     breakpoint; the longest remembered one is read from cache and the rest up to the last
//     breakpoint is written to it.

const (
	bytesPerToken   = 4
	minCacheTokens  = 1024 // below this neither provider caches
	cacheStepTokens = 128  // OpenAI's cache granularity
)

// tokensFor converts a byte count to approximate tokens, rounding up.
func tokensFor(n int) int { return (n + bytesPerToken - 1) / bytesPerToken }

// mark is a prefix checkpoint: the prefix length in bytes and its hash.
type mark struct {
	bytes int
	key   uint64
}

// promptMeter measures a prompt as it is walked segment by segment, taking prefix marks.
type promptMeter struct {
	h     maphash.Hash
	n     int
	every int // take a mark every this many bytes; 0 = only when mark is called
	marks []mark
}

// reset prepares the meter; the seed namespaces keys per server and ns per API and model, since
// a cache entry never serves a different model.
func (m *promptMeter) reset(seed maphash.Seed, ns string, every int) {
	m.h.SetSeed(seed)
	m.h.WriteString(ns)
	m.n, m.every, m.marks = 0, every, m.marks[:0]
}

// write adds s to the prompt, taking automatic marks at step boundaries.
func (m *promptMeter) write(s string) {
	if m.every == 0 {
		m.h.WriteString(s)
		m.n += len(s)
		return
	}
	for len(s) > 0 {
		k := (m.n/m.every+1)*m.every - m.n // bytes to the next boundary
		if k > len(s) {
			m.h.WriteString(s)
			m.n += len(s)
			return
		}
		m.h.WriteString(s[:k])
		m.n += k
		s = s[k:]
		m.mark()
	}
}

// mark takes a checkpoint at the current length if the prefix is long enough to be cacheable.
func (m *promptMeter) mark() {
	if tokensFor(m.n) >= minCacheTokens {
		m.marks = append(m.marks, mark{bytes: m.n, key: m.h.Sum64()})
	}
}

// tokens is the prompt's size in tokens, at least 1 as the providers never report an empty prompt.
func (m *promptMeter) tokens() int { return max(1, tokensFor(m.n)) }

// cachedOverride reads the X-Demo-Cached-Tokens test header: ok is false when absent.
func cachedOverride(r *http.Request) (n int, ok bool, err *requestError) {
	v := r.Header.Get("X-Demo-Cached-Tokens")
	if v == "" {
		return 0, false, nil
	}
	n, convErr := strconv.Atoi(v)
	if convErr != nil || n < 0 {
		return 0, false, badRequest("Invalid X-Demo-Cached-Tokens header: expected a non-negative integer, but got "+
			strconv.Quote(v)+" instead.", "", "")
	}
	return n, true, nil
}

// prefixCache is a fixed-capacity LRU set of prefix keys. Its arrays are allocated once, so
// remembering a prefix never allocates, and one short critical section covers a whole request.
type prefixCache struct {
	mu    sync.Mutex
	index map[uint64]int32
	keys  []uint64
	prev  []int32
	next  []int32
	head  int32 // most recently used, -1 when empty
	tail  int32 // least recently used, -1 when empty
}

func newPrefixCache(capacity int) *prefixCache {
	return &prefixCache{
		index: make(map[uint64]int32, capacity),
		keys:  make([]uint64, 0, capacity),
		prev:  make([]int32, capacity),
		next:  make([]int32, capacity),
		head:  -1,
		tail:  -1,
	}
}

// lookupInsert returns the length in bytes of the longest mark already remembered (0 if none),
// then remembers all marks.
func (c *prefixCache) lookupInsert(marks []mark) (hitBytes int) {
	if len(marks) == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range marks {
		if _, ok := c.index[m.key]; ok && m.bytes > hitBytes {
			hitBytes = m.bytes
		}
	}
	// Marks beyond the capacity would only evict each other, so remember the longest ones.
	for _, m := range marks[max(0, len(marks)-cap(c.keys)):] {
		c.insert(m.key)
	}
	return hitBytes
}

// insert makes key the most recently used, evicting the least recently used when full.
func (c *prefixCache) insert(key uint64) {
	if i, ok := c.index[key]; ok {
		c.unlink(i)
		c.pushFront(i)
		return
	}
	var i int32
	if len(c.keys) < cap(c.keys) {
		i = int32(len(c.keys))
		c.keys = append(c.keys, key)
	} else {
		i = c.tail
		c.unlink(i)
		delete(c.index, c.keys[i])
		c.keys[i] = key
	}
	c.index[key] = i
	c.pushFront(i)
}

func (c *prefixCache) unlink(i int32) {
	p, n := c.prev[i], c.next[i]
	if p >= 0 {
		c.next[p] = n
	} else {
		c.head = n
	}
	if n >= 0 {
		c.prev[n] = p
	} else {
		c.tail = p
	}
}

func (c *prefixCache) pushFront(i int32) {
	c.prev[i] = -1
	c.next[i] = c.head
	if c.head >= 0 {
		c.prev[c.head] = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}
