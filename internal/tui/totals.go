package tui

import (
	"slices"
	"time"

	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/usage"
)

// Bounds of the totals, so memory stays fixed: names kept per dimension (the rest are summed
// under otherKey), latency samples per group, and seconds of history for the sparklines.
const (
	maxGroups    = 200
	groupSamples = 512
	sparkSeconds = 300
	otherKey     = "(other)"
	noneKey      = "(none)"
)

// Totals sums finished requests overall and per model, backend and route, and keeps per-second
// counts for the sparklines.
type Totals struct {
	All      *Group
	Models   map[string]*Group
	Backends map[string]*Group
	Routes   map[string]*Group
	// reqs and toks are per-second buckets of ended requests and their tokens, indexed by
	// unix second modulo sparkSeconds; sec remembers which second each bucket holds.
	reqs, toks [sparkSeconds]int64
	sec        [sparkSeconds]int64
}

// Group is one row of the totals.
type Group struct {
	Name             string
	Requests, Errors int64
	Tokens           usage.Usage
	USD              float64
	UnknownCost      int64
	latency, ttft    ring
}

// NewTotals starts empty totals.
func NewTotals() *Totals {
	return &Totals{All: &Group{Name: "all"}, Models: map[string]*Group{}, Backends: map[string]*Group{}, Routes: map[string]*Group{}}
}

// Add counts one finished request that ended at t.
func (t *Totals) Add(e *observe.RequestEvent, at time.Time) {
	model := e.RequestModel
	for _, g := range []*Group{t.All, group(t.Models, model), group(t.Backends, e.Backend), group(t.Routes, e.Route)} {
		g.add(e)
	}
	if at.IsZero() {
		at = e.Start.Add(e.Duration)
	}
	s := at.Unix()
	i := int(uint64(s) % sparkSeconds)
	if t.sec[i] != s {
		t.sec[i], t.reqs[i], t.toks[i] = s, 0, 0
	}
	t.reqs[i]++
	t.toks[i] += e.Usage.InputTokens + e.Usage.OutputTokens
}

// Series returns the last n seconds (n ≤ sparkSeconds) before now of requests and tokens per
// second, oldest first.
func (t *Totals) Series(now time.Time, n int) (reqs, toks []int64) {
	n = min(n, sparkSeconds)
	reqs, toks = make([]int64, n), make([]int64, n)
	end := now.Unix()
	for k := 0; k < n; k++ {
		s := end - int64(n-1-k)
		i := int(uint64(s) % sparkSeconds)
		if t.sec[i] == s {
			reqs[k], toks[k] = t.reqs[i], t.toks[i]
		}
	}
	return reqs, toks
}

func group(m map[string]*Group, key string) *Group {
	if key == "" {
		key = noneKey
	}
	if g, ok := m[key]; ok {
		return g
	}
	if len(m) >= maxGroups {
		key = otherKey
		if g, ok := m[key]; ok {
			return g
		}
	}
	g := &Group{Name: key}
	m[key] = g
	return g
}

func (g *Group) add(e *observe.RequestEvent) {
	g.Requests++
	if e.Failed() {
		g.Errors++
	}
	g.Tokens = g.Tokens.Plus(e.Usage)
	if c := e.CostUSD; c != nil {
		if c.Unknown {
			g.UnknownCost++
		} else {
			g.USD += c.Amount
		}
	}
	g.latency.add(e.Duration)
	if e.TimeToFirstToken > 0 {
		g.ttft.add(e.TimeToFirstToken)
	}
}

// Latency returns the p50 and p95 of the most recent latencies (0 when none).
func (g *Group) Latency() (p50, p95 time.Duration) { return g.latency.quantiles() }

// TTFT returns the p50 and p95 of the most recent times to first token (0 when none).
func (g *Group) TTFT() (p50, p95 time.Duration) { return g.ttft.quantiles() }

// ring keeps the most recent durations.
type ring struct {
	d    []time.Duration
	next int
}

func (r *ring) add(d time.Duration) {
	if len(r.d) < groupSamples {
		r.d = append(r.d, d)
		return
	}
	r.d[r.next] = d
	r.next = (r.next + 1) % groupSamples
}

// quantiles uses the nearest-rank method, as GET /stats does.
func (r *ring) quantiles() (p50, p95 time.Duration) {
	if len(r.d) == 0 {
		return 0, 0
	}
	s := slices.Clone(r.d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return rank(0.50), rank(0.95)
}

// sortedGroups lists a dimension's groups by requests, most first, then by name.
func sortedGroups(m map[string]*Group) []*Group {
	out := make([]*Group, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *Group) int {
		if a.Requests != b.Requests {
			if a.Requests > b.Requests {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}
