package ratelimit

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// redisServer is a redis-server child listening on a unix socket, killed when the test ends.
type redisServer struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// startRedis starts redis-server (Debian package redis-server; .ci/run installs it), or skips
// the test saying why when it is not installed.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server): the Redis store is not tested")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{cmd: cmd, url: "unix://" + sock, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			r, err := NewRedis(s.url, time.Second)
			if err == nil && r.Ping(context.Background()) == nil {
				r.Close()
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not come up in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func newRedis(t *testing.T, url string) *Redis {
	t.Helper()
	r, err := NewRedis(url, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestRedisStoreMatchesMemory runs the same operations on both stores.
func TestRedisStoreMatchesMemory(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	w := WindowAt(time.Now(), time.Hour)
	for _, s := range []Store{NewMemory(), newRedis(t, srv.url)} {
		if c, ok, err := s.Take(ctx, "k", w, 2, 1); err != nil || !ok || c != 1 {
			t.Fatalf("%T take 1: %d %v %v", s, c, ok, err)
		}
		if c, ok, _ := s.Take(ctx, "k", w, 2, 5); !ok || c != 6 {
			t.Fatalf("%T take 2: %d %v", s, c, ok)
		}
		if c, ok, _ := s.Take(ctx, "k", w, 2, 1); ok || c != 6 {
			t.Fatalf("%T take 3 must be refused: %d %v", s, c, ok)
		}
		if err := s.Add(ctx, "k", w, -5); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.Count(ctx, "k", w); c != 1 {
			t.Fatalf("%T count %d, want 1", s, c)
		}
		if c, _ := s.Count(ctx, "k", WindowAt(w.End(), time.Hour)); c != 0 {
			t.Fatalf("%T next window count %d", s, c)
		}
	}
}

// TestRedisSharedBudgetUnderLoad: two gateways' limiters share one Redis; 16 concurrent clients
// spend a 100-token budget at 7 tokens a request. Together they never exceed it by one request's
// cost or more, and they use it up.
func TestRedisSharedBudgetUnderLoad(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	const limit, cost = 100, 7
	rule := &config.RateLimit{Name: "shared", Global: true, Limit: limit, Window: time.Hour, CostKey: "total"}
	lim := &config.Limits{RateLimits: []*config.RateLimit{rule}}
	gws := []*Limiter{New(Options{Shared: newRedis(t, srv.url)}), New(Options{Shared: newRedis(t, srv.url)})}
	var admitted atomic.Int64
	// Each gateway learns the cost from its first response (before that it reserves nothing).
	for _, l := range gws {
		a, d := l.Admit(ctx, lim, nil, headers())
		if d != nil {
			t.Fatal(d)
		}
		a.Settle(ctx, map[string]uint64{"total": cost})
		admitted.Add(1)
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		l := gws[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				a, d := l.Admit(ctx, lim, nil, headers())
				if d != nil {
					if d.Status != 429 {
						t.Errorf("refused with %d", d.Status)
					}
					return
				}
				admitted.Add(1)
				time.Sleep(time.Millisecond) // the upstream answers
				a.Settle(ctx, map[string]uint64{"total": cost})
			}
		}()
	}
	wg.Wait()
	r := newRedis(t, srv.url)
	got, err := r.Count(ctx, "shared", WindowAt(time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got != uint64(admitted.Load())*cost {
		t.Errorf("counted %d tokens for %d requests of %d", got, admitted.Load(), cost)
	}
	if got >= limit+cost || got < limit {
		t.Errorf("spent %d of a %d budget: want at least the budget and less than one request (%d) over", got, limit, cost)
	}
	t.Logf("%d requests admitted, %d tokens spent of %d", admitted.Load(), got, limit)
}

// TestRedisDown: with the server gone, a fail-open limiter admits and a fail-closed one refuses
// with 503, each within the store timeout, never hanging.
func TestRedisDown(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	lim := &config.Limits{RateLimits: []*config.RateLimit{{Name: "g", Global: true, Limit: 10, Window: time.Minute}}}
	open := New(Options{Shared: newRedis(t, srv.url), FailOpen: true, Timeout: 200 * time.Millisecond})
	closed := New(Options{Shared: newRedis(t, srv.url), Timeout: 200 * time.Millisecond})
	for _, l := range []*Limiter{open, closed} {
		if _, d := l.Admit(ctx, lim, nil, headers()); d != nil {
			t.Fatalf("redis up: %v", d)
		}
	}
	srv.kill()
	for _, tc := range []struct {
		l    *Limiter
		want int
	}{{open, 0}, {closed, 503}} {
		start := time.Now()
		_, d := tc.l.Admit(ctx, lim, nil, headers())
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("a check with redis down took %s", took)
		}
		status := 0
		if d != nil {
			status = d.Status
		}
		if status != tc.want {
			t.Errorf("fail-open=%v: status %d, want %d (%v)", tc.l.failOpen, status, tc.want, d)
		}
		if tc.l.StoreFailures() == 0 {
			t.Error("the store failure was not counted")
		}
	}
}
