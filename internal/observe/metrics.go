package observe

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// OpenTelemetry GenAI semantic-convention names, as the reference gateway uses them.
const (
	attrOperation     = "gen_ai.operation.name"
	attrProvider      = "gen_ai.provider.name"
	attrOriginalModel = "gen_ai.original.model" // what the client asked for
	attrRequestModel  = "gen_ai.request.model"  // what was sent to the backend, after overrides
	attrResponseModel = "gen_ai.response.model"
	attrTokenType     = "gen_ai.token.type"
	attrErrorType     = "error.type"
)

// Metrics records GenAI metrics for each request and serves them in Prometheus format.
type Metrics struct {
	provider *sdkmetric.MeterProvider
	handler  http.Handler

	tokens   metric.Int64Histogram
	duration metric.Float64Histogram
	ttft     metric.Float64Histogram
	tpot     metric.Float64Histogram
	// invalidUsage counts responses whose usage had negative counts (clamped to 0).
	invalidUsage metric.Int64Counter
	// limited counts requests the gateway itself refused with 429 (its rate limits and quotas).
	limited metric.Int64Counter

	models *modelLabels
	// headerValues bound the values of each header-mapped attribute, by attribute name.
	headerMu     sync.Mutex
	headerValues map[string]*modelLabels
	setsMu       sync.Mutex
	sets         map[metricLabels]*labelSets
	// providerOptions add readers (OTLP export) and a resource to the meter provider.
	providerOptions []sdkmetric.Option
}

// MetricsOption tunes NewMetrics.
type MetricsOption func(*Metrics)

// WithKnownModels tells the metrics which model names the configuration names itself; those are
// always kept as label values (known may be called concurrently, for every request).
func WithKnownModels(known func(model string) bool) MetricsOption {
	return func(m *Metrics) { m.models.known = known }
}

// WithMaxModelLabels bounds how many distinct other model names (from clients, pattern-matched
// routes and provider responses) become label values; later ones are counted as OtherLabel.
func WithMaxModelLabels(n int) MetricsOption {
	return func(m *Metrics) { m.models.max = n }
}

var _ Subscriber = (*Metrics)(nil)

// Token-count buckets of the GenAI semantic conventions.
var tokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}

// Latency buckets (seconds) of the GenAI semantic conventions.
var durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

// NewMetrics builds a meter provider with its own Prometheus registry, so two gateways in one
// process (tests) do not share series.
func NewMetrics(opts ...MetricsOption) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	m := &Metrics{handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		models: &modelLabels{max: DefaultMaxModelLabels, seen: map[string]struct{}{}}}
	for _, o := range opts {
		o(m)
	}
	mp := sdkmetric.NewMeterProvider(append(m.providerOptions, sdkmetric.WithReader(exp))...)
	m.provider = mp
	meter := mp.Meter("github.com/aigw/aigw")
	if m.tokens, err = meter.Int64Histogram("gen_ai.client.token.usage",
		metric.WithUnit("{token}"), metric.WithDescription("Number of tokens used per request, by token type."),
		metric.WithExplicitBucketBoundaries(tokenBuckets...)); err != nil {
		return nil, err
	}
	if m.duration, err = meter.Float64Histogram("gen_ai.server.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Time from the request's arrival to its last response byte."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if m.ttft, err = meter.Float64Histogram("gen_ai.server.time_to_first_token",
		metric.WithUnit("s"), metric.WithDescription("Time to the first streamed response chunk."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if m.tpot, err = meter.Float64Histogram("gen_ai.server.time_per_output_token",
		metric.WithUnit("s"), metric.WithDescription("Time per output token after the first, for streamed responses."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5)); err != nil {
		return nil, err
	}
	if m.invalidUsage, err = meter.Int64Counter("aigw.invalid_usage",
		metric.WithDescription("Responses whose provider reported negative token counts, recorded as 0.")); err != nil {
		return nil, err
	}
	if m.limited, err = meter.Int64Counter("aigw.ratelimit.limited",
		metric.WithDescription("Requests aigw refused with 429 because a rate limit or quota was spent (not a provider's 429).")); err != nil {
		return nil, err
	}
	return m, nil
}

// headerValue bounds the values of a header-mapped attribute as model names are bounded: a
// client's header cannot grow /metrics without limit.
func (m *Metrics) headerValue(name, v string) string {
	m.headerMu.Lock()
	l, ok := m.headerValues[name]
	if !ok {
		if m.headerValues == nil {
			m.headerValues = map[string]*modelLabels{}
		}
		l = &modelLabels{max: m.models.max, seen: map[string]struct{}{}}
		m.headerValues[name] = l
	}
	m.headerMu.Unlock()
	return l.bound(v)
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Shutdown flushes and stops the meter provider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// OnRequest records one request's duration and token usage.
func (m *Metrics) OnRequest(ev *RequestEvent) {
	ctx := context.Background()
	sets := m.labelSets(ev)
	m.duration.Record(ctx, ev.Duration.Seconds(), metric.WithAttributeSet(sets.duration))
	if ev.InvalidUsage {
		m.invalidUsage.Add(ctx, 1, metric.WithAttributes(attribute.String(attrProvider, ev.Provider)))
	}
	if ev.Status == http.StatusTooManyRequests && ev.Attempts == 0 {
		// Refused before any backend was tried: the gateway's own limits.
		m.limited.Add(ctx, 1, metric.WithAttributes(attribute.String(attrOriginalModel, m.models.bound(ev.RequestModel)),
			attribute.String("aigw.route", ev.Route)))
	}
	if ev.Status >= 400 {
		return
	}
	base := metric.WithAttributeSet(sets.base)
	if ev.Stream && ev.TimeToFirstToken > 0 {
		m.ttft.Record(ctx, ev.TimeToFirstToken.Seconds(), base)
		if n := ev.Usage.OutputTokens; n > 1 {
			m.tpot.Record(ctx, (ev.Duration-ev.TimeToFirstToken).Seconds()/float64(n-1), base)
		}
	}
	u := ev.Usage
	for i, n := range [numTokenTypes]int64{u.InputTokens, u.OutputTokens, u.CachedInputTokens, u.CacheCreationInputTokens, u.ReasoningTokens} {
		// Input is always recorded, output except for embeddings, the others when present.
		if i == 0 || (i == 1 && ev.Operation != "embedding") || (i > 1 && n > 0) {
			m.tokens.Record(ctx, n, metric.WithAttributeSet(sets.tokens[i]))
		}
	}
}

// Token types of gen_ai.client.token.usage, in the order labelSets.tokens holds them.
var tokenTypes = [...]string{"input", "output", "cached_input", "cache_creation_input", "reasoning"}

const numTokenTypes = len(tokenTypes)

// metricLabels are a request's label values, bounded; requests with equal labels share their
// attribute sets, built once (a set costs allocations and a sort every time it is built).
type metricLabels struct {
	operation, provider, original, request, response, errorType string
	headers                                                     string // header-mapped attributes, sorted, as name=value lines
}

// labelSets are the attribute sets of one metricLabels: duration carries error.type on failures,
// base does not, tokens are base plus each token type.
type labelSets struct {
	duration, base attribute.Set
	tokens         [numTokenTypes]attribute.Set
}

// maxCachedLabelSets bounds the cache of attribute sets; label combinations past it are built
// per request, as they would be without a cache.
const maxCachedLabelSets = 4096

func (m *Metrics) labelSets(ev *RequestEvent) *labelSets {
	k := metricLabels{
		operation: ev.Operation, provider: ev.Provider,
		original: m.models.bound(ev.RequestModel), request: m.models.bound(ev.BackendModel),
		response: m.models.bound(ev.ResponseModel),
	}
	if ev.Failed() {
		k.errorType = errorType(ev)
	}
	var headers []attribute.KeyValue
	if len(ev.MetricAttributes) > 0 {
		for name, v := range ev.MetricAttributes {
			headers = append(headers, attribute.String(name, m.headerValue(name, v)))
		}
		sort.Slice(headers, func(i, j int) bool { return headers[i].Key < headers[j].Key })
		var b strings.Builder
		for _, kv := range headers {
			b.WriteString(string(kv.Key))
			b.WriteByte('=')
			b.WriteString(kv.Value.AsString())
			b.WriteByte('\n')
		}
		k.headers = b.String()
	}
	m.setsMu.Lock()
	sets, ok := m.sets[k]
	m.setsMu.Unlock()
	if ok {
		return sets
	}
	base := append([]attribute.KeyValue{
		attribute.String(attrOperation, k.operation),
		attribute.String(attrProvider, k.provider),
		attribute.String(attrOriginalModel, k.original),
		attribute.String(attrRequestModel, k.request),
		attribute.String(attrResponseModel, k.response),
	}, headers...)
	sets = &labelSets{base: attribute.NewSet(base...)}
	sets.duration = sets.base
	if k.errorType != "" {
		sets.duration = attribute.NewSet(append(base[:len(base):len(base)], attribute.String(attrErrorType, k.errorType))...)
	}
	for i, typ := range tokenTypes {
		sets.tokens[i] = attribute.NewSet(append(base[:len(base):len(base)], attribute.String(attrTokenType, typ))...)
	}
	m.setsMu.Lock()
	if m.sets == nil {
		m.sets = map[metricLabels]*labelSets{}
	}
	if len(m.sets) < maxCachedLabelSets {
		m.sets[k] = sets
	}
	m.setsMu.Unlock()
	return sets
}

// errorType is the error.type attribute: the HTTP status class, or the error's kind.
func errorType(ev *RequestEvent) string {
	if ev.Status > 0 {
		return fmt.Sprint(ev.Status)
	}
	return "_OTHER"
}

// Bounds on model label values. Every distinct label value is a series per bucket, kept for the
// process's life, and model names come from clients and providers: unbounded, one request with a
// huge name or a client cycling through names would grow /metrics without limit.
const (
	// DefaultMaxModelLabels is how many distinct model names outside the configuration are kept.
	DefaultMaxModelLabels = 100
	// MaxModelLabelBytes is the longest model name outside the configuration kept as a label value.
	MaxModelLabelBytes = 256
	// OtherLabel stands for every model name past those bounds, as OpenTelemetry's "_OTHER".
	OtherLabel = "_OTHER"
)

// modelLabels maps model names to label values: names the configuration knows pass through, the
// first max other names of at most MaxModelLabelBytes valid UTF-8 pass through, and the rest
// collapse into OtherLabel.
type modelLabels struct {
	known func(string) bool
	max   int

	mu   sync.Mutex
	seen map[string]struct{}
}

func (l *modelLabels) bound(name string) string {
	if name == "" || (l.known != nil && l.known(name)) {
		return name
	}
	if len(name) > MaxModelLabelBytes || !utf8.ValidString(name) {
		return OtherLabel
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen[name]; ok {
		return name
	}
	if len(l.seen) >= l.max {
		return OtherLabel
	}
	l.seen[name] = struct{}{}
	return name
}
