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
		key, ok := descriptor(r.Name, r.Headers, get)
		if !ok {
			continue
		}
		if !r.Shared && route != nil {
			// Envoy Gateway counts a rule per route unless it is shared.
			key += "|route=" + route.Name
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

// descriptor is the counter key of the rule or bucket name selecting with headers, and whether
// it applies to a request whose headers get reads (nil: no header is set).
func descriptor(name string, headers []config.RateLimitHeader, get func(string) string) (string, bool) {
	if len(headers) == 0 {
		return name, true
	}
	if get == nil {
		get = func(string) string { return "" }
	}
	var b strings.Builder
	b.WriteString(name)
	for _, h := range headers {
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

// quotaKey names the counter of a quota, or of one Distinct value of a bucket rule.
func quotaKey(q *config.Quota, get func(string) string) (string, bool) {
	if q.Bucket == nil {
		return "quota|" + q.Name, true
	}
	return descriptor("quota|"+q.Name, q.Bucket.Headers, get)
}

func quotaApplies(q *config.Quota, b *config.Backend, model string) bool {
	return q.Backend == b && (q.Model == "" || q.Model == model)
}

// bucketGroup is the per-model quota a bucket belongs to: its default bucket's name, which
// prefixes the names of its bucket rules (config.quotaPolicy); a service quota is its own group.
func bucketGroup(q *config.Quota) string {
	if q.Bucket == nil {
		return q.Name
	}
	return q.Name[:strings.LastIndex(q.Name, "/bucket/")]
}

// Exhausted is ExhaustedFor a request whose headers are unknown (only bucket rules without
// selectors apply).
func (l *Limiter) Exhausted(ctx context.Context, lim *config.Limits, b *config.Backend, model string) *Denial {
	return l.ExhaustedFor(ctx, lim, b, model, nil)
}

// ExhaustedFor reports the first quota of backend b (for a request of model whose headers get
// reads) with no budget left in its window, as a denial; nil when b may take the request. A
// per-model quota with bucket rules is exhausted when its default bucket and every bucket rule
// the request matches (shadow rules aside) are all exhausted: in the Shared mode a request is
// admitted while any of its buckets has budget. A store failure counts as exhausted when
// failing closed.
func (l *Limiter) ExhaustedFor(ctx context.Context, lim *config.Limits, b *config.Backend, model string, get func(string) string) *Denial {
	if lim == nil || len(lim.Quotas) == 0 {
		return nil
	}
	now := l.now()
	type group struct {
		denial *Denial
		open   bool // a bucket of the group has budget (or could not be read, failing open)
	}
	var groups map[string]*group
	var order []string
	for _, q := range lim.Quotas {
		if !quotaApplies(q, b, model) || (q.Bucket != nil && q.Bucket.Shadow) {
			continue
		}
		key, ok := quotaKey(q, get)
		if !ok {
			continue
		}
		w := WindowAt(now, q.Window)
		count, err := l.count(ctx, key, w)
		if err != nil && !l.failOpen {
			return &Denial{Status: http.StatusServiceUnavailable, Code: "rate_limit_unavailable", Name: q.Name, Now: now, Reset: w.End()}
		}
		if groups == nil {
			groups = map[string]*group{}
		}
		gk := bucketGroup(q)
		g := groups[gk]
		if g == nil {
			g = &group{}
			groups[gk] = g
			order = append(order, gk)
		}
		if err != nil || count < q.Limit {
			g.open = true
			continue
		}
		if g.denial == nil {
			g.denial = &Denial{Status: http.StatusTooManyRequests, Code: "quota_exceeded", Name: q.Name, Now: now, Reset: w.End()}
		}
		g.denial.States = append(g.denial.States, State{Tokens: true, Limit: q.Limit, Count: count, Reset: w.End()})
		g.denial.Reset = minTime(g.denial.Reset, w.End())
	}
	for _, gk := range order {
		if g := groups[gk]; !g.open && g.denial != nil {
			return g.denial
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
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

// ChargeQuotas is ChargeQuotasFor a request whose headers are unknown.
func (l *Limiter) ChargeQuotas(ctx context.Context, lim *config.Limits, b *config.Backend, model string, vars config.CostVars) {
	l.ChargeQuotasFor(ctx, lim, b, model, vars, nil)
}

// ChargeQuotasFor charges a finished request to the quotas of the backend that served it: the
// service quota, the model's default bucket and every bucket rule the request's headers (read by
// get) match, shadow ones included; model is the model sent upstream. Each quota's cost is its
// expression over vars, else the total tokens.
func (l *Limiter) ChargeQuotasFor(ctx context.Context, lim *config.Limits, b *config.Backend, model string, vars config.CostVars, get func(string) string) {
	if lim == nil || len(lim.Quotas) == 0 || b == nil {
		return
	}
	now := l.now()
	for _, q := range lim.Quotas {
		if !quotaApplies(q, b, model) {
			continue
		}
		key, ok := quotaKey(q, get)
		if !ok {
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
		l.add(ctx, l.shared, key, WindowAt(now, q.Window), int64(cost))
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
