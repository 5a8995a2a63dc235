package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis, shared by every aigw instance that points at the same server. Each
// operation is one Lua script, so a check and its increment are atomic across instances.
// Counters expire a minute after their window ends (late settlements still land in them).
type Redis struct {
	c *redis.Client
}

// counterGrace keeps a counter past its window's end for settlements of requests still running.
const counterGrace = time.Minute

// takeScript admits when the count is below the limit, then adds n; it returns {count, admitted}.
// KEYS[1] counter; ARGV limit, n, expiry (Unix ms).
var takeScript = redis.NewScript(`
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c < 0 then c = 0 end
if c >= tonumber(ARGV[1]) then return {c, 0} end
c = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
if c < 0 then c = 0 end
return {c, 1}
`)

// addScript adds n (possibly negative) and keeps the expiry. KEYS[1] counter; ARGV n, expiry.
var addScript = redis.NewScript(`
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return c
`)

// NewRedis connects to the Redis server at url (redis://[user:password@]host:port/db, or
// rediss:// for TLS). Every call is bounded by timeout, connecting included, and never retried:
// a slow or dead server makes the Limiter apply its fail-open or fail-closed choice, not wait.
func NewRedis(url string, timeout time.Duration) (*Redis, error) {
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("rate limit redis url: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1 // no retries: the limiter decides what a failure means
	return &Redis{c: redis.NewClient(o)}, nil
}

// quiet drops go-redis's own log lines (dial failures, to stderr): the Limiter logs store
// failures itself, through aigw's logger and without repeating each one.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// Ping checks that the server answers.
func (r *Redis) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// Close closes the connections.
func (r *Redis) Close() error { return r.c.Close() }

func expiry(w Window) int64 { return w.End().Add(counterGrace).UnixMilli() }

func redisKey(key string, w Window) string { return "aigw:rl:" + w.id(key) }

// Take implements Store.
func (r *Redis) Take(ctx context.Context, key string, w Window, limit uint64, n int64) (uint64, bool, error) {
	v, err := takeScript.Run(ctx, r.c, []string{redisKey(key, w)}, limit, n, expiry(w)).Int64Slice()
	if err != nil {
		return 0, false, err
	}
	if len(v) != 2 {
		return 0, false, errors.New("rate limit redis: unexpected script reply")
	}
	return uint64(max(v[0], 0)), v[1] == 1, nil
}

// Add implements Store.
func (r *Redis) Add(ctx context.Context, key string, w Window, n int64) error {
	return addScript.Run(ctx, r.c, []string{redisKey(key, w)}, n, expiry(w)).Err()
}

// Count implements Store.
func (r *Redis) Count(ctx context.Context, key string, w Window) (uint64, error) {
	n, err := r.c.Get(ctx, redisKey(key, w)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return uint64(max(n, 0)), nil
}
