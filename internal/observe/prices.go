package observe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.yaml.in/yaml/v3"

	"github.com/aigw/aigw/internal/usage"
)

// Price is one entry of the price catalog: USD per million tokens for the models its pattern
// matches. Nil prices default as the catalog's header says.
type Price struct {
	Provider    string   `yaml:"provider"`
	Model       string   `yaml:"model"`
	Input       float64  `yaml:"input"`
	CachedInput *float64 `yaml:"cached_input"`
	CacheWrite  *float64 `yaml:"cache_write"`
	Output      float64  `yaml:"output"`
	Reasoning   *float64 `yaml:"reasoning"`
	Date        string   `yaml:"date"`
	Source      string   `yaml:"source"`
}

// Prices is a price catalog: entries from an override file first, then the built-in ones.
type Prices struct {
	tiers [][]Price
	// memo remembers lookups by model name (at most maxPriceMemo names; model names come from
	// clients and providers).
	memo  sync.Map // string → *Price (nil: no price)
	memoN atomic.Int64
}

const maxPriceMemo = 4096

type priceFile struct {
	Version int     `yaml:"version"`
	Prices  []Price `yaml:"prices"`
}

// ParsePrices reads a catalog (configs/prices.yaml's shape), strictly: unknown fields, entries
// without a model, source or date, and negative prices are errors.
func ParsePrices(name string, data []byte) ([]Price, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f priceFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: version %d is not supported (want 1)", name, f.Version)
	}
	for i, p := range f.Prices {
		var errs []string
		if p.Model == "" {
			errs = append(errs, "no model pattern")
		}
		if p.Source == "" || p.Date == "" {
			errs = append(errs, "every price needs the source and date it was taken from")
		}
		for _, v := range []*float64{&p.Input, p.CachedInput, p.CacheWrite, &p.Output, p.Reasoning} {
			if v != nil && *v < 0 {
				errs = append(errs, "negative price")
				break
			}
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: price %d (%s): %s", name, i+1, p.Model, strings.Join(errs, "; "))
		}
	}
	return f.Prices, nil
}

// NewPrices builds a catalog from the built-in entries and, when overridePath is not "", a file
// whose entries are consulted first. A missing override file is an error only when required.
func NewPrices(builtin []byte, overridePath string, required bool) (*Prices, error) {
	base, err := ParsePrices("built-in prices.yaml", builtin)
	if err != nil {
		return nil, err
	}
	c := &Prices{tiers: [][]Price{base}}
	if overridePath == "" {
		return c, nil
	}
	data, err := os.ReadFile(overridePath)
	if errors.Is(err, os.ErrNotExist) && !required {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading prices: %w", err)
	}
	over, err := ParsePrices(overridePath, data)
	if err != nil {
		return nil, err
	}
	c.tiers = [][]Price{over, base}
	return c, nil
}

// Lookup finds the price of model: in the override entries first, then the built-in ones; within
// one, the longest matching pattern.
func (c *Prices) Lookup(model string) (*Price, bool) {
	if c == nil || model == "" {
		return nil, false
	}
	if v, ok := c.memo.Load(model); ok {
		p := v.(*Price)
		return p, p != nil
	}
	p, ok := c.lookup(model)
	if c.memoN.Add(1) <= maxPriceMemo {
		c.memo.Store(model, p)
	}
	return p, ok
}

func (c *Prices) lookup(model string) (*Price, bool) {
	for _, tier := range c.tiers {
		var best *Price
		for i := range tier {
			p := &tier[i]
			if globMatch(p.Model, model) && (best == nil || len(p.Model) > len(best.Model)) {
				best = p
			}
		}
		if best != nil {
			return best, true
		}
	}
	return nil, false
}

// Cost prices a request by the first of models that the catalog knows (response model, model
// after override, the client's model). Nil when nothing was used; Unknown when no model has a
// price.
func (c *Prices) Cost(u usage.Usage, models ...string) (*USD, *Price) {
	if u == (usage.Usage{}) {
		return nil, nil
	}
	for _, m := range models {
		if p, ok := c.Lookup(m); ok {
			return &USD{Amount: p.Cost(u)}, p
		}
	}
	return &USD{Unknown: true}, nil
}

// Cost is u's price in USD. Input tokens include cached and cache-creation ones, and output tokens
// include reasoning ones (usage.Usage's convention), so each is billed once at its own rate.
func (p *Price) Cost(u usage.Usage) float64 {
	or := func(v *float64, def float64) float64 {
		if v != nil {
			return *v
		}
		return def
	}
	uncached := max(0, u.InputTokens-u.CachedInputTokens-u.CacheCreationInputTokens)
	reasoning := min(max(0, u.ReasoningTokens), max(0, u.OutputTokens))
	micro := float64(uncached)*p.Input +
		float64(u.CachedInputTokens)*or(p.CachedInput, p.Input) +
		float64(u.CacheCreationInputTokens)*or(p.CacheWrite, p.Input) +
		float64(u.OutputTokens-reasoning)*p.Output +
		float64(reasoning)*or(p.Reasoning, p.Output)
	return micro / 1e6
}

// globMatch reports whether name matches pattern as a whole, where "*" matches any run of
// characters (including "/" and ":", which model names contain).
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, last) && len(name) >= len(last)
}

// costCounter records request costs as metrics: gen_ai_client_cost_total (USD, by operation,
// provider and model, like the token metrics) and gen_ai_client_cost_unknown_total (requests
// whose model has no price, which add nothing to the first).
type costCounter struct {
	m       *Metrics
	usd     metric.Float64Counter
	unknown metric.Int64Counter
}

// CostCounter returns the subscriber that records costs in m.
func (m *Metrics) CostCounter() (Subscriber, error) {
	meter := m.provider.Meter("github.com/aigw/aigw")
	c := &costCounter{m: m}
	var err error
	if c.usd, err = meter.Float64Counter("gen_ai.client.cost", metric.WithUnit("{USD}"),
		metric.WithDescription("Cost of requests in US dollars, from the price catalog.")); err != nil {
		return nil, err
	}
	if c.unknown, err = meter.Int64Counter("gen_ai.client.cost.unknown",
		metric.WithDescription("Requests that used tokens of a model the price catalog does not know.")); err != nil {
		return nil, err
	}
	return c, nil
}

// OnRequest adds the request's cost.
func (c *costCounter) OnRequest(ev *RequestEvent) {
	if ev.CostUSD == nil {
		return
	}
	attrs := metric.WithAttributes(
		attribute.String(attrOperation, ev.Operation),
		attribute.String(attrProvider, ev.Provider),
		attribute.String(attrRequestModel, c.m.models.bound(ev.BackendModel)),
		attribute.String(attrResponseModel, c.m.models.bound(ev.ResponseModel)),
	)
	if ev.CostUSD.Unknown {
		c.unknown.Add(context.Background(), 1, attrs)
		return
	}
	c.usd.Add(context.Background(), ev.CostUSD.Amount, attrs)
}

// split is u's cost in USD for input (prompt) and output (completion) tokens.
func (p *Price) split(u usage.Usage) (prompt, completion float64) {
	total := p.Cost(u)
	completion = p.Cost(usage.Usage{OutputTokens: u.OutputTokens, ReasoningTokens: u.ReasoningTokens})
	return total - completion, completion
}
