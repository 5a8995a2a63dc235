package observe

import (
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aigw/aigw/internal/usage"
)

// Stats keeps totals since start, overall and per model, backend and route, for GET /stats. It is
// a Bus subscriber, so it runs off the request path.
type Stats struct {
	mu       sync.Mutex
	start    time.Time
	total    *statGroup
	models   map[string]*statGroup
	backends map[string]*statGroup
	routes   map[string]*statGroup
}

var _ Subscriber = (*Stats)(nil)

// Bounds of the stats: at most maxStatKeys names per dimension (the rest are counted under
// OtherStatKey), and percentiles over the last latencySamples requests of each group.
const (
	maxStatKeys    = 1000
	latencySamples = 1024
	// OtherStatKey collects names beyond maxStatKeys.
	OtherStatKey = "_OTHER"
	// UnroutedStatKey is the model of requests that matched no route (their model names are the
	// client's to choose, so they are not kept one by one).
	UnroutedStatKey = "_unrouted"
)

// NewStats starts counting now.
func NewStats() *Stats {
	return &Stats{start: time.Now(), total: &statGroup{}, models: map[string]*statGroup{},
		backends: map[string]*statGroup{}, routes: map[string]*statGroup{}}
}

// statGroup accumulates one row of the stats.
type statGroup struct {
	requests, errors int64
	tokens           usage.Usage
	usd              float64
	unknownCost      int64
	latency, ttft    samples
}

// samples is a ring of the most recent durations.
type samples struct {
	d    []time.Duration
	next int
}

func (s *samples) add(d time.Duration) {
	if len(s.d) < latencySamples {
		s.d = append(s.d, d)
		return
	}
	s.d[s.next] = d
	s.next = (s.next + 1) % latencySamples
}

// quantiles returns the p50 and p95 of the samples by the nearest-rank method.
func (s *samples) quantiles() *Quantiles {
	if len(s.d) == 0 {
		return nil
	}
	sorted := slices.Clone(s.d)
	slices.Sort(sorted)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(sorted))+0.999999) - 1
		return sorted[max(0, min(i, len(sorted)-1))]
	}
	return &Quantiles{P50: ms(rank(0.50)), P95: ms(rank(0.95)), Count: len(sorted)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// OnRequest counts one finished request.
func (s *Stats) OnRequest(ev *RequestEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	model := ev.RequestModel
	if ev.Route == "" {
		model = UnroutedStatKey
	}
	groups := [4]*statGroup{s.total, pick(s.models, model), nil, nil}
	if ev.Backend != "" {
		groups[2] = pick(s.backends, ev.Backend)
	}
	if ev.Route != "" {
		groups[3] = pick(s.routes, ev.Route)
	}
	for _, g := range groups {
		if g != nil {
			g.add(ev)
		}
	}
}

func pick(m map[string]*statGroup, key string) *statGroup {
	if key == "" {
		key = "_none"
	}
	g, ok := m[key]
	if !ok {
		// The same bounds as metric labels: a client-supplied name cannot grow /stats without limit.
		if len(m) >= maxStatKeys || len(key) > MaxModelLabelBytes || !utf8.ValidString(key) {
			key = OtherStatKey
			if g, ok = m[key]; ok {
				return g
			}
		}
		g = &statGroup{}
		m[key] = g
	}
	return g
}

func (g *statGroup) add(ev *RequestEvent) {
	g.requests++
	if ev.Failed() {
		g.errors++
	}
	g.tokens = g.tokens.Plus(ev.Usage)
	if c := ev.CostUSD; c != nil {
		if c.Unknown {
			g.unknownCost++
		} else {
			g.usd += c.Amount
		}
	}
	g.latency.add(ev.Duration)
	if ev.TimeToFirstToken > 0 {
		g.ttft.add(ev.TimeToFirstToken)
	}
}

// StatsSnapshot is the JSON of GET /stats (schema version SchemaVersion).
type StatsSnapshot struct {
	V        int                 `json:"v"`
	Since    time.Time           `json:"since"`
	Total    StatsRow            `json:"total"`
	Models   map[string]StatsRow `json:"models"`
	Backends map[string]StatsRow `json:"backends"`
	Routes   map[string]StatsRow `json:"routes"`
}

// StatsRow is the totals of one model, backend or route.
type StatsRow struct {
	Requests int64       `json:"requests"`
	Errors   int64       `json:"errors"`
	Tokens   usage.Usage `json:"tokens"`
	// CostUSD sums the requests whose price is known; CostUnknown counts the others.
	CostUSD     float64 `json:"cost_usd"`
	CostUnknown int64   `json:"cost_unknown_requests,omitempty"`
	// Latency and TTFT are over the most recent requests (up to 1024), in milliseconds.
	Latency *Quantiles `json:"latency_ms,omitempty"`
	TTFT    *Quantiles `json:"ttft_ms,omitempty"`
}

// Quantiles of a latency, in milliseconds, over Count samples.
type Quantiles struct {
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	Count int     `json:"samples"`
}

// Snapshot copies the stats.
func (s *Stats) Snapshot() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := func(m map[string]*statGroup) map[string]StatsRow {
		out := make(map[string]StatsRow, len(m))
		for k, g := range m {
			out[k] = g.row()
		}
		return out
	}
	return StatsSnapshot{V: SchemaVersion, Since: s.start, Total: s.total.row(),
		Models: rows(s.models), Backends: rows(s.backends), Routes: rows(s.routes)}
}

func (g *statGroup) row() StatsRow {
	return StatsRow{Requests: g.requests, Errors: g.errors, Tokens: g.tokens, CostUSD: g.usd,
		CostUnknown: g.unknownCost, Latency: g.latency.quantiles(), TTFT: g.ttft.quantiles()}
}
