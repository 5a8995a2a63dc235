// Package observe turns a request's life into metrics, an access log, traces, USD costs and the
// event stream the TUI reads. The pipeline publishes lifecycle Events (start, attempt, first token,
// end) to a Hub, which never blocks, and one RequestEvent per finished request to a Bus behind a
// Queue, off the request's goroutine.
package observe

import (
	"sync"
	"time"

	"github.com/aigw/aigw/internal/usage"
)

// RequestEvent is everything observed about one LLM request, published when it ends.
type RequestEvent struct {
	ID       string        `json:"id"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	// TimeToFirstToken is the time to the first response byte of a streamed response.
	TimeToFirstToken time.Duration `json:"ttft_ns,omitempty"`
	Operation        string        `json:"operation"`
	Endpoint         string        `json:"endpoint"`
	Route            string        `json:"route,omitempty"`
	Backend          string        `json:"backend,omitempty"`
	Provider         string        `json:"provider,omitempty"`
	// RequestModel is the model the client asked for; BackendModel what was sent after overrides.
	RequestModel  string      `json:"request_model,omitempty"`
	BackendModel  string      `json:"backend_model,omitempty"`
	ResponseModel string      `json:"response_model,omitempty"`
	Stream        bool        `json:"stream"`
	Status        int         `json:"status"`
	Error         string      `json:"error,omitempty"`
	Attempts      int         `json:"attempts"`
	Usage         usage.Usage `json:"usage"`
	// InvalidUsage is set when the provider reported negative token counts (clamped to 0 in Usage).
	InvalidUsage bool `json:"invalid_usage,omitempty"`
	// Costs are the llmRequestCosts computed for the request, by metadata key.
	Costs map[string]uint64 `json:"costs,omitempty"`
	// CostUSD is the request's price from the catalog: nil when nothing was billed (no backend
	// answered, no tokens), "unknown" when the model has no price.
	CostUSD *USD `json:"cost_usd,omitempty"`
	// TraceID is the request's trace, when it was traced.
	TraceID string `json:"trace_id,omitempty"`
	// Attributes are request headers mapped to attributes for logs (OTEL_AIGW_REQUEST_HEADER_ATTRIBUTES
	// and OTEL_AIGW_LOG_HEADER_ATTRIBUTES), e.g. session.id from agent-session-id.
	Attributes map[string]string `json:"attributes,omitempty"`
	// MetricAttributes are request headers mapped to metric attributes
	// (OTEL_AIGW_REQUEST_HEADER_ATTRIBUTES and OTEL_AIGW_METRICS_HEADER_ATTRIBUTES); their values
	// are bounded as model names are.
	MetricAttributes map[string]string `json:"-"`
}

// Failed reports whether the request ended in an error: an error status, or an error after the
// status was sent (a stream cut short).
func (ev *RequestEvent) Failed() bool { return ev.Status >= 400 || ev.Error != "" }

// Subscriber receives request events.
type Subscriber interface {
	OnRequest(ev *RequestEvent)
}

// Bus fans request events out to subscribers. It is safe for concurrent use; subscribing is
// rare and publishing is frequent, so subscribers are copied on write.
type Bus struct {
	mu   sync.Mutex
	subs []Subscriber
}

// Subscribe adds s and returns a function that removes it.
func (b *Bus) Subscribe(s Subscriber) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(append([]Subscriber(nil), b.subs...), s)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		next := make([]Subscriber, 0, len(b.subs))
		for _, x := range b.subs {
			if x != s {
				next = append(next, x)
			}
		}
		b.subs = next
	}
}

// Publish delivers ev to every subscriber.
func (b *Bus) Publish(ev *RequestEvent) {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		s.OnRequest(ev)
	}
}
