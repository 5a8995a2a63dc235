// Package extproc is the request pipeline: everything that happens to one LLM request, in the
// phases of Envoy's ext_proc protocol. A Stream is one client request (the router-level filter:
// parse, route); an Attempt is one try at one backend (the upstream-level filter: translate,
// authenticate, translate the response back). The builtin data plane and the Envoy ext_proc
// server both drive these phases; neither phase knows which one does.
package extproc

import (
	"sync/atomic"
	"time"

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
	model  atomic.Pointer[config.Model]
	pub    Publisher
	hub    *observe.Hub
	prices *observe.Prices
	now    func() time.Time
}

// Option adds an observer to a pipeline.
type Option func(*Pipeline)

// WithHub publishes every request's lifecycle (start, attempts, first token, end) to h.
func WithHub(h *observe.Hub) Option { return func(p *Pipeline) { p.hub = h } }

// WithPrices puts a USD cost on every request from the catalog c.
func WithPrices(c *observe.Prices) Option { return func(p *Pipeline) { p.prices = c } }

// New returns a pipeline serving m and publishing finished requests to pub.
func New(m *config.Model, pub Publisher, opts ...Option) *Pipeline {
	p := &Pipeline{pub: pub, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	p.model.Store(m)
	return p
}

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
	if s.obs.startSent || s.p.hub == nil {
		return
	}
	s.obs.startSent = true
	s.publish(&observe.Event{Kind: observe.KindStart, Time: s.ev.Start, Start: &observe.StartInfo{
		Operation: s.ev.Operation, Endpoint: s.ev.Endpoint, RequestModel: s.ev.RequestModel,
		Route: s.ev.Route, Stream: s.ev.Stream, TraceID: s.ev.TraceID,
	}})
}

// observeEnd completes the request's observations once its event is final: the USD cost (by the
// response model, else the model after override, else the client's), then the end event.
func (s *Stream) observeEnd() {
	if s.p.prices != nil {
		s.ev.CostUSD, _ = s.p.prices.Cost(s.ev.Usage, s.ev.ResponseModel, s.ev.BackendModel, s.ev.RequestModel)
	}
	s.started()
	s.publish(&observe.Event{Kind: observe.KindEnd, End: &s.ev})
}
