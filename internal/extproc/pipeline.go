// Package extproc is the request pipeline: everything that happens to one LLM request, in the
// phases of Envoy's ext_proc protocol. A Stream is one client request (the router-level filter:
// parse, route); an Attempt is one try at one backend (the upstream-level filter: translate,
// authenticate, translate the response back). The builtin data plane and the Envoy ext_proc
// server both drive these phases; neither phase knows which one does.
package extproc

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aigw/aigw/internal/backendauth"
	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/translate"
)

// Publisher receives the event of each finished request.
type Publisher interface {
	Publish(*observe.RequestEvent)
}

// Pipeline holds the current configuration snapshot and where request events go.
type Pipeline struct {
	model   atomic.Pointer[config.Model]
	auth    backendauth.Set // each backend's credential handler, kept across reloads
	pub     Publisher
	rl      limitState // rate limits and quotas (ratelimit.go)
	hub     *observe.Hub
	prices  *observe.Prices
	tracing *observe.Tracing
	// content, when set, puts each request's messages on its end event, under these privacy
	// settings (content capture, aigw run --capture-content).
	content *observe.Privacy
	// logHeaders are the request headers copied to the event's attributes (access log, OTLP logs).
	logHeaders []observe.HeaderAttribute
	// metricHeaders are the request headers copied to the event's metric attributes.
	metricHeaders []observe.HeaderAttribute
	now           func() time.Time
	// since is time.Since: it reads only the monotonic clock, half the cost of now, for the
	// check streams make on every chunk.
	since func(time.Time) time.Duration
}

// Option adds an observer to a pipeline.
type Option func(*Pipeline)

// WithHub publishes every request's lifecycle (start, attempts, first token, end) to h.
func WithHub(h *observe.Hub) Option { return func(p *Pipeline) { p.hub = h } }

// WithPrices puts a USD cost on every request from the catalog c.
func WithPrices(c *observe.Prices) Option { return func(p *Pipeline) { p.prices = c } }

// WithTracing traces every request with t (nil: no tracing, at no cost).
func WithTracing(t *observe.Tracing) Option { return func(p *Pipeline) { p.tracing = t } }

// WithContentCapture puts each request's messages and tool calls on its end event in the hub
// (for aigw tui's Trace view), masked by privacy as traces are.
func WithContentCapture(privacy observe.Privacy) Option {
	return func(p *Pipeline) { p.content = &privacy }
}

// WithLogHeaders copies the mapped request headers to each request event's attributes.
func WithLogHeaders(m []observe.HeaderAttribute) Option {
	return func(p *Pipeline) { p.logHeaders = m }
}

// WithMetricHeaders copies the mapped request headers to each request event's metric attributes.
func WithMetricHeaders(m []observe.HeaderAttribute) Option {
	return func(p *Pipeline) { p.metricHeaders = m }
}

// New returns a pipeline serving m and publishing finished requests to pub.
func New(m *config.Model, pub Publisher, opts ...Option) *Pipeline {
	p := &Pipeline{pub: pub, now: time.Now, since: time.Since}
	for _, o := range opts {
		o(p)
	}
	p.model.Store(m)
	return p
}

// Auth returns the credential handler of a backend of a Model this pipeline serves: every
// upstream call, /v1/models included, is authenticated through it.
func (p *Pipeline) Auth(b *config.Backend) (backendauth.Handler, error) { return p.auth.For(b) }

// Model returns the configuration snapshot now in force.
func (p *Pipeline) Model() *config.Model { return p.model.Load() }

// Swap puts m in force for new requests; requests already under way keep the snapshot they took.
func (p *Pipeline) Swap(m *config.Model) { p.model.Store(m) }

// NewStream begins one client request to an endpoint, taking the current configuration snapshot.
func (p *Pipeline) NewStream(e translate.Endpoint) *Stream {
	s := &Stream{p: p, model: p.model.Load(), endpoint: e}
	s.ev.Start = p.now()
	s.ev.Endpoint = string(e)
	s.ev.Operation = e.Operation()
	return s
}

// streamObs is what a Stream keeps for observing it.
type streamObs struct {
	startSent bool
	span      *observe.RequestSpan
	content   *observe.ContentRecorder // nil unless content capture is on
}

// observeHeaders starts the request's span (continuing the client's trace) and keeps the mapped
// headers for the logs.
func (s *Stream) observeHeaders(h http.Header) {
	s.obs.span = s.p.tracing.Start(s.endpoint, s.ev.Start, h)
	s.ev.TraceID = s.obs.span.TraceID()
	s.ev.Attributes = observe.Values(s.p.logHeaders, h)
	s.ev.MetricAttributes = observe.Values(s.p.metricHeaders, h)
}

// publish sends one lifecycle event of s to the hub, when there is one.
func (s *Stream) publish(ev *observe.Event) {
	if s.p.hub == nil {
		return
	}
	ev.ID = s.ev.ID
	s.p.hub.Publish(ev)
}

// started publishes the start event once: at the first attempt, when the model and route are
// known, or at the end for a request that never reached a backend. Its time is the arrival.
func (s *Stream) started() {
	if s.obs.startSent {
		return
	}
	s.obs.startSent = true
	s.obs.span.Request(s.req.Header.Get("Content-Type"), s.req.Body, s.req.Stream)
	if s.p.hub == nil {
		return
	}
	if s.p.content != nil {
		s.obs.content = observe.NewContentRecorder(s.endpoint, *s.p.content, s.obs.span)
		s.obs.content.Request(s.req.Header.Get("Content-Type"), s.req.Body, s.req.Stream)
	}
	s.publish(&observe.Event{Kind: observe.KindStart, Time: s.ev.Start, Start: &observe.StartInfo{
		Operation: s.ev.Operation, Endpoint: s.ev.Endpoint, RequestModel: s.ev.RequestModel,
		Route: s.ev.Route, Stream: s.ev.Stream, TraceID: s.ev.TraceID,
	}})
}

// observeEnd completes the request's observations once its event is final: the USD cost (by the
// response model, else the model after override, else the client's), then the end event.
func (s *Stream) observeEnd() {
	var price *observe.Price
	if s.p.prices != nil {
		s.ev.CostUSD, price = s.p.prices.Cost(s.ev.Usage, s.ev.ResponseModel, s.ev.BackendModel, s.ev.RequestModel)
	}
	s.started()
	content := s.obs.content.Content(s.ev.Status < 400 && s.ev.Error == "")
	s.obs.span.End(&s.ev, price)
	s.publish(&observe.Event{Kind: observe.KindEnd, End: &s.ev, Content: content})
}
