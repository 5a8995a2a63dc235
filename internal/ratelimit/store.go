// Package ratelimit counts requests and tokens against the Model's rate limits and quotas, in
// fixed windows aligned to the window's unit, in memory or in Redis.
package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Store keeps counters of fixed windows. A counter is named by a key and the start of its window;
// it disappears once its window is over.
type Store interface {
	// Take admits a request when the window's count is below limit, and then adds n to it (n is
	// 1 for a request, or a token reservation, possibly 0). It returns the count after.
	Take(ctx context.Context, key string, w Window, limit uint64, n int64) (count uint64, ok bool, err error)
	// Add adds n, which may be negative (a reservation returned), to the window's count.
	Add(ctx context.Context, key string, w Window, n int64) error
	// Count is the window's count.
	Count(ctx context.Context, key string, w Window) (uint64, error)
}

// Window is one fixed window: it starts at a multiple of its length since the Unix epoch (UTC).
type Window struct {
	Start  time.Time
	Length time.Duration
}

// WindowAt is the window of length d that contains t.
func WindowAt(t time.Time, d time.Duration) Window {
	return Window{Start: t.Truncate(d), Length: d}
}

// End is when the window is over.
func (w Window) End() time.Time { return w.Start.Add(w.Length) }

// id names the counter of key in this window.
func (w Window) id(key string) string {
	return key + "@" + strconv.FormatInt(w.Start.Unix(), 10)
}

// Memory is the in-process Store: exact for one instance, with nothing to run.
type Memory struct {
	mu     sync.Mutex
	counts map[string]*memCounter
	ops    int
}

type memCounter struct {
	n   int64
	end time.Time
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{counts: map[string]*memCounter{}} }

// sweepEvery is how many operations pass between sweeps of expired counters.
const sweepEvery = 4096

func (m *Memory) counter(key string, w Window) *memCounter {
	m.ops++
	if m.ops >= sweepEvery {
		m.ops = 0
		now := time.Now()
		for k, c := range m.counts {
			if now.After(c.end) {
				delete(m.counts, k)
			}
		}
	}
	id := w.id(key)
	c := m.counts[id]
	if c == nil {
		c = &memCounter{end: w.End()}
		m.counts[id] = c
	}
	return c
}

// Take implements Store.
func (m *Memory) Take(_ context.Context, key string, w Window, limit uint64, n int64) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counter(key, w)
	if uint64(max(c.n, 0)) >= limit {
		return uint64(max(c.n, 0)), false, nil
	}
	c.n += n
	return uint64(max(c.n, 0)), true, nil
}

// Add implements Store.
func (m *Memory) Add(_ context.Context, key string, w Window, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counter(key, w).n += n
	return nil
}

// Count implements Store.
func (m *Memory) Count(_ context.Context, key string, w Window) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(max(m.counter(key, w).n, 0)), nil
}

// Len is how many counters the store holds (expired ones until the next sweep), for tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.counts)
}
