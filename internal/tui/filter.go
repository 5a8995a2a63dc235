package tui

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// filter is a parsed filter line: every term must match. A term is model:x, backend:x,
// status:x (a code or its start, "2xx"-style classes, ok, error, live, lost) or free text
// matched against all of them and the route.
type filter struct {
	terms []filterTerm
}

type filterTerm struct{ key, val string }

func parseFilter(s string) filter {
	var f filter
	for _, w := range strings.Fields(strings.ToLower(s)) {
		key, val, ok := strings.Cut(w, ":")
		if !ok || (key != "model" && key != "backend" && key != "status" && key != "route") {
			key, val = "", w
		}
		f.terms = append(f.terms, filterTerm{key, val})
	}
	return f
}

func (f filter) empty() bool { return len(f.terms) == 0 }

func (f filter) match(r *Request) bool {
	for _, t := range f.terms {
		if !t.match(r) {
			return false
		}
	}
	return true
}

func has(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

func (t filterTerm) match(r *Request) bool {
	model := func() bool {
		return has(r.RequestModel, t.val) || has(r.ServedModel(), t.val) ||
			(r.End != nil && has(r.End.BackendModel, t.val))
	}
	backend := func() bool {
		if has(r.Backend(), t.val) {
			return true
		}
		for _, a := range r.Attempts {
			if has(a.Backend, t.val) {
				return true
			}
		}
		return false
	}
	switch t.key {
	case "model":
		return model()
	case "backend":
		return backend()
	case "status":
		return statusMatch(r, t.val)
	case "route":
		return has(r.Route, t.val)
	}
	return model() || backend() || statusMatch(r, t.val) || has(r.Route, t.val) || has(r.API(), t.val)
}

// statusMatch matches 200, 5 (any 5xx), 5xx, ok, error/err, live, lost.
func statusMatch(r *Request, v string) bool {
	switch v {
	case "ok":
		return r.End != nil && !r.Failed()
	case "error", "err", "errors", "failed":
		return r.Failed() || r.Lost
	case "live", "inflight", "wait", "strm":
		return r.InFlight()
	case "lost":
		return r.Lost
	}
	if r.End == nil {
		return false
	}
	code := strconv.Itoa(r.End.Status)
	return strings.HasPrefix(code, strings.TrimRight(v, "x"))
}

// sortKey is what the Live view is ordered by.
type sortKey int

// The orders `s` cycles through.
const (
	sortTime sortKey = iota
	sortLatency
	sortTokens
	sortCost
	numSorts
)

func (k sortKey) String() string {
	return [...]string{"time", "latency", "tokens", "cost"}[k]
}

// sortRows orders rows by key, largest (or newest) first unless asc.
func sortRows(rows []*Request, key sortKey, asc bool, now time.Time) {
	cost := func(r *Request) float64 {
		if r.End == nil || r.End.CostUSD == nil || r.End.CostUSD.Unknown {
			return -1
		}
		return r.End.CostUSD.Amount
	}
	tokens := func(r *Request) int64 {
		if r.End == nil { // in flight: the output counted so far
			return r.OutputSoFar
		}
		u := r.Usage()
		return u.InputTokens + u.OutputTokens
	}
	slices.SortStableFunc(rows, func(a, b *Request) int {
		var c int
		switch key {
		case sortLatency:
			c = cmp.Compare(a.Latency(now), b.Latency(now))
		case sortTokens:
			c = cmp.Compare(tokens(a), tokens(b))
		case sortCost:
			c = cmp.Compare(cost(a), cost(b))
		}
		if c == 0 {
			c = cmp.Compare(a.order, b.order)
		}
		if !asc {
			c = -c
		}
		return c
	})
}
