package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// DefaultTimeout bounds one call to the shared store; past it the store counts as down.
const DefaultTimeout = 250 * time.Millisecond

// Options configure a Limiter.
type Options struct {
	// Shared holds the counters of global rate limits and of quotas (Redis, for limits shared by
	// several instances); nil keeps them in memory.
	Shared Store
	// FailOpen admits requests when the shared store fails; otherwise they are refused with 503.
	FailOpen bool
	// Timeout bounds each shared store call (DefaultTimeout when 0).
	Timeout time.Duration
	Log     *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Limiter enforces a Model's Limits. One Limiter lives across reloads, so counters survive them.
type Limiter struct {
	local    *Memory
	shared   Store
	failOpen bool
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time
	// estimates are the last cost charged per token rule: what the next request reserves.
	estimates sync.Map // rule name → *atomic.Int64
	limited   atomic.Int64
	failures  atomic.Int64
}

// New returns a Limiter.
func New(o Options) *Limiter {
	l := &Limiter{local: NewMemory(), shared: o.Shared, failOpen: o.FailOpen, timeout: o.Timeout, log: o.Log, now: o.Now}
	if l.shared == nil {
		l.shared = l.local
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l
}

// Limited is how many requests were refused (429) so far.
func (l *Limiter) Limited() int64 { return l.limited.Load() }

// StoreFailures is how many shared store calls failed or timed out so far.
func (l *Limiter) StoreFailures() int64 { return l.failures.Load() }

// State is where one limit stood when a request was checked.
type State struct {
	Tokens bool
	Limit  uint64
	// Count is the window's count after this request was admitted (or when it was refused).
	Count uint64
	Reset time.Time
}

// Remaining is the budget left in the window.
func (s State) Remaining() uint64 {
	if s.Count >= s.Limit {
		return 0
	}
	return s.Limit - s.Count
}

// Denial is a refused request: a 429 for an exhausted limit or quota, a 503 when the shared
// store is down and the limiter fails closed.
type Denial struct {
	Status int
	Code   string
	// Name is the rule or quota that refused.
	Name   string
	Now    time.Time
	States []State
	// Reset is when the refusing window ends.
	Reset time.Time
}

func (d *Denial) Error() string {
	if d.Status != http.StatusTooManyRequests {
		return fmt.Sprintf("rate limit %s: the counter store is unavailable", d.Name)
	}
	return fmt.Sprintf("rate limit %s exceeded; try again in %s", d.Name, retryAfter(d.Now, d.Reset))
}

// RetryAfter is how long the client should wait, in whole seconds, at least 1.
func (d *Denial) RetryAfter() int { return retrySeconds(d.Now, d.Reset) }

func retrySeconds(now, reset time.Time) int {
	d := reset.Sub(now)
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func retryAfter(now, reset time.Time) string {
	return (time.Duration(retrySeconds(now, reset)) * time.Second).String()
}

// Admission is an admitted request's hold on its rate limits, settled once its cost is known.
type Admission struct {
	l      *Limiter
	taken  []taken
	States []State
}

type taken struct {
	rule     *config.RateLimit
	store    Store
	key      string
	w        Window
	reserved int64
}

// Admit checks every rate limit that applies to a request on route whose headers get reads,
// and counts it: one request, or a reservation of tokens (the rule's last charged cost) that
// Settle replaces with the real cost. A refused request holds nothing.
func (l *Limiter) Admit(ctx context.Context, lim *config.Limits, route *config.Route, get func(string) string) (*Admission, *Denial) {
	if lim == nil || len(lim.RateLimits) == 0 {
		return nil, nil
	}
	now := l.now()
	a := &Admission{l: l}
	for _, r := range lim.RateLimits {
		if !r.AppliesTo(route) {
			continue
		}
		key, ok := descriptor(r, get)
		if !ok {
			continue
		}
		var store Store = l.local
		if r.Global {
			store = l.shared
		}
		w := WindowAt(now, r.Window)
		n := int64(1)
		if r.Tokens() {
			n = l.estimate(r.Name).Load()
		}
		if r.Shadow {
			n = 0
		}
		count, admitted, err := l.take(ctx, store, key, w, r.Limit, n)
		if err != nil {
			if l.failOpen {
				continue
			}
			a.release(ctx)
			return nil, &Denial{Status: http.StatusServiceUnavailable, Code: "rate_limit_unavailable", Name: r.Name, Now: now, Reset: w.End()}
		}
		st := State{Tokens: r.Tokens(), Limit: r.Limit, Count: count, Reset: w.End()}
		if !admitted && !r.Shadow {
			a.release(ctx)
			l.limited.Add(1)
			return nil, &Denial{Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded", Name: r.Name, Now: now,
				States: append(a.States, st), Reset: w.End()}
		}
		a.States = append(a.States, st)
		if !r.Shadow {
			a.taken = append(a.taken, taken{rule: r, store: store, key: key, w: w, reserved: n})
		}
	}
	return a, nil
}

// descriptor is the counter key of rule r for a request, and whether r applies to it.
func descriptor(r *config.RateLimit, get func(string) string) (string, bool) {
	if len(r.Headers) == 0 {
		return r.Name, true
	}
	var b strings.Builder
	b.WriteString(r.Name)
	for _, h := range r.Headers {
		v := get(h.Name)
		if h.Distinct {
			if v == "" {
				return "", false
			}
			b.WriteByte('|')
			b.WriteString(h.Name)
			b.WriteByte('=')
			b.WriteString(v)
			continue
		}
		var match bool
		if h.Regex != nil {
			match = h.Regex.MatchString(v)
		} else {
			match = v == h.Exact
		}
		if match == h.Invert {
			return "", false
		}
	}
	return b.String(), true
}

func (l *Limiter) estimate(name string) *atomic.Int64 {
	if e, ok := l.estimates.Load(name); ok {
		return e.(*atomic.Int64)
	}
	e, _ := l.estimates.LoadOrStore(name, new(atomic.Int64))
	return e.(*atomic.Int64)
}

func (l *Limiter) take(ctx context.Context, s Store, key string, w Window, limit uint64, n int64) (uint64, bool, error) {
	if s == Store(l.local) {
		return l.local.Take(ctx, key, w, limit, n)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	c, ok, err := s.Take(ctx, key, w, limit, n)
	if err != nil {
		l.storeFailed(err)
	}
	return c, ok, err
}

func (l *Limiter) add(ctx context.Context, s Store, key string, w Window, n int64) {
	if n == 0 {
		return
	}
	if s == Store(l.local) {
		_ = l.local.Add(ctx, key, w, n)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	if err := s.Add(ctx, key, w, n); err != nil {
		l.storeFailed(err)
	}
}

func (l *Limiter) storeFailed(err error) {
	if l.failures.Add(1)%100 == 1 {
		l.log.Warn("rate limit store failed", "error", err, "fail_open", l.failOpen, "failures", l.failures.Load())
	}
}

// release returns what an admission took (a refused or failed request).
func (a *Admission) release(ctx context.Context) {
	for _, t := range a.taken {
		if t.rule.Tokens() {
			a.l.add(ctx, t.store, t.key, t.w, -t.reserved)
		}
	}
	a.taken = nil
}

// Settle charges the request's costs (by llmRequestCosts key; nil when the request failed and
// costs nothing) in place of the token reservations, in the windows it was admitted in. A nil
// Admission settles nothing. Call it once.
func (a *Admission) Settle(ctx context.Context, costs map[string]uint64) {
	if a == nil {
		return
	}
	for _, t := range a.taken {
		if !t.rule.Tokens() {
			continue
		}
		c := costs[t.rule.CostKey]
		if c > 0 { // a request that failed before using tokens says nothing of the next one's cost
			a.l.estimate(t.rule.Name).Store(int64(c))
		}
		a.l.add(ctx, t.store, t.key, t.w, int64(c)-t.reserved)
	}
	a.taken = nil
}

// quotaKey names the counter of a quota.
func quotaKey(q *config.Quota) string { return "quota|" + q.Name }

func quotaApplies(q *config.Quota, b *config.Backend, model string) bool {
	return q.Backend == b && (q.Model == "" || q.Model == model)
}

// Exhausted reports the first quota of backend b (for a request of model) with no budget left in
// its window, as a denial; nil when b may take the request. A store failure counts as
// exhausted when failing closed.
func (l *Limiter) Exhausted(ctx context.Context, lim *config.Limits, b *config.Backend, model string) *Denial {
	if lim == nil || len(lim.Quotas) == 0 {
		return nil
	}
	now := l.now()
	for _, q := range lim.Quotas {
		if !quotaApplies(q, b, model) {
			continue
		}
		w := WindowAt(now, q.Window)
		count, err := l.count(ctx, quotaKey(q), w)
		if err != nil {
			if l.failOpen {
				continue
			}
			return &Denial{Status: http.StatusServiceUnavailable, Code: "rate_limit_unavailable", Name: q.Name, Now: now, Reset: w.End()}
		}
		if count >= q.Limit {
			return &Denial{Status: http.StatusTooManyRequests, Code: "quota_exceeded", Name: q.Name, Now: now, Reset: w.End(),
				States: []State{{Tokens: true, Limit: q.Limit, Count: count, Reset: w.End()}}}
		}
	}
	return nil
}

// CountLimited counts a request refused because every candidate's quota was exhausted.
func (l *Limiter) CountLimited() { l.limited.Add(1) }

func (l *Limiter) count(ctx context.Context, key string, w Window) (uint64, error) {
	if l.shared == Store(l.local) {
		return l.local.Count(ctx, key, w)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	c, err := l.shared.Count(ctx, key, w)
	if err != nil {
		l.storeFailed(err)
	}
	return c, err
}

// ChargeQuotas charges a finished request to the quotas of the backend that served it; model is
// the model sent upstream. Each quota's cost is its expression over vars, else the total tokens.
func (l *Limiter) ChargeQuotas(ctx context.Context, lim *config.Limits, b *config.Backend, model string, vars config.CostVars) {
	if lim == nil || len(lim.Quotas) == 0 || b == nil {
		return
	}
	now := l.now()
	for _, q := range lim.Quotas {
		if !quotaApplies(q, b, model) {
			continue
		}
		cost := vars.TotalTokens
		if q.Cost != nil {
			c, err := q.Cost.Eval(vars)
			if err != nil {
				l.log.Warn("quota cost expression failed", "quota", q.Name, "error", err)
				continue
			}
			cost = c
		}
		l.add(ctx, l.shared, quotaKey(q), WindowAt(now, q.Window), int64(cost))
	}
}

// Open returns the Limiter aigw run uses: counters in memory, or in the Redis server at
// redisURL (--ratelimit-redis) for global limits and quotas, failing open or closed when it is
// unreachable. A server that does not answer at start is logged, not fatal: the fail policy
// applies until it does. The returned function closes the store.
func Open(ctx context.Context, redisURL string, failOpen bool, log *slog.Logger) (*Limiter, func(), error) {
	if redisURL == "" {
		return New(Options{Log: log}), func() {}, nil
	}
	r, err := NewRedis(redisURL, DefaultTimeout)
	if err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*DefaultTimeout)
	defer cancel()
	if err := r.Ping(pctx); err != nil && log != nil {
		log.Warn("rate limit redis does not answer", "error", err, "fail_open", failOpen)
	}
	return New(Options{Shared: r, FailOpen: failOpen, Log: log}), func() { _ = r.Close() }, nil
}
