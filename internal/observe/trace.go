package observe

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigw/aigw/internal/translate"
	"github.com/aigw/aigw/internal/usage"
)

// Tracing makes one server span per LLM request, continuing the client's trace (traceparent),
// with a client span per upstream attempt. A nil *Tracing traces nothing at no cost; a span that
// is sampled out is not described (no attribute is built).
//
// The request's path only decides: it extracts the client's trace context, picks the span IDs
// (the upstream's traceparent names the attempt's span), asks the sampler and notes times. The
// SDK's spans are made later on the describer, with those IDs (idAssigner) and times: making and
// filling them on the request path cost it about 6 µs (BenchmarkTracingOverhead, December 2026).
type Tracing struct {
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	proc    sdktrace.SpanProcessor
	res     *resource.Resource
	scope   instrumentation.Scope
	limits  sdktrace.SpanLimits
	sampler sdktrace.Sampler
	prop    propagation.TextMapPropagator
	privacy Privacy
	headers []HeaderAttribute
	// Descriptions wait in pending for the describer, which takes them in batches.
	mu       sync.Mutex
	pending  []func()
	spare    []func()
	running  bool          // a describer goroutine is alive
	wake     chan struct{} // a full batch is waiting
	quit     chan struct{} // shutdown: describe what is pending and stop
	quitOnce sync.Once
	// ending counts descriptions pending or running.
	ending sync.WaitGroup
	// Scratch of the describer (one goroutine at a time): the spans of a request and the
	// attempts' attributes, reused from one request to the next (emit's every way copies
	// attributes it keeps).
	scratchSpans []spanData
	scratchKV    []attribute.KeyValue
}

// Descriptions are batched: the describer runs every describeEvery, or as soon as describeBatch
// are waiting, and stops after describerIdle without any. Waking a goroutine for each request
// put the description ahead of the client's next request on the same core (the Go scheduler
// runs a goroutine just made runnable next): +40 µs of p50 at one request at a time on 2 cores.
// In batches, the work lands on few requests, and the median one does not wait for it.
const (
	describeEvery = 20 * time.Millisecond
	describeBatch = 256
	describerIdle = 2 * time.Second
)

// TracingConfig is what tracing is made of: the SDK's span processor (with its exporter), the
// resource, limits and sampler of the tracer provider, and how requests are described.
type TracingConfig struct {
	Processor sdktrace.SpanProcessor
	Resource  *resource.Resource   // nil: the SDK's default resource
	Limits    *sdktrace.SpanLimits // nil: the SDK's defaults
	Sampler   sdktrace.Sampler     // nil: the SDK's default, parentbased_always_on
	Privacy   Privacy
	Headers   []HeaderAttribute // request headers copied to span attributes
}

// tracerName is the instrumentation scope of aigw's spans.
const tracerName = "github.com/aigw/aigw"

// NewTracing traces through a tracer provider of the SDK made of c.
func NewTracing(c TracingConfig) *Tracing {
	if c.Sampler == nil {
		c.Sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	if c.Resource == nil {
		c.Resource = resource.Default()
	}
	limits := sdktrace.NewSpanLimits()
	if c.Limits != nil {
		limits = *c.Limits
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c.Processor), sdktrace.WithResource(c.Resource),
		sdktrace.WithRawSpanLimits(limits), sdktrace.WithSampler(c.Sampler), sdktrace.WithIDGenerator(idAssigner{}))
	return &Tracing{
		tp: tp, tracer: tp.Tracer(tracerName), proc: c.Processor, res: c.Resource, scope: instrumentation.Scope{Name: tracerName},
		limits: limits, sampler: c.Sampler,
		prop:    propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		privacy: c.Privacy, headers: c.Headers,
		wake: make(chan struct{}, 1), quit: make(chan struct{}),
	}
}

// Provider is the SDK's tracer provider, to flush and shut down.
func (t *Tracing) Provider() *sdktrace.TracerProvider { return t.tp }

// describe queues f to run on the describer, off the caller's goroutine.
func (t *Tracing) describe(f func()) {
	t.ending.Add(1)
	t.mu.Lock()
	t.pending = append(t.pending, f)
	full := len(t.pending) >= describeBatch
	start := !t.running
	t.running = true
	t.mu.Unlock()
	switch {
	case start:
		go t.describer()
	case full:
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// describer runs the pending descriptions in batches until it has been idle for describerIdle,
// or, at shutdown, until none is left.
func (t *Tracing) describer() {
	tick := time.NewTicker(describeEvery)
	defer tick.Stop()
	quitting := false
	for idle := time.Duration(0); ; {
		if !quitting {
			select {
			case <-tick.C:
			case <-t.wake:
			case <-t.quit:
				quitting = true
			}
		}
		t.mu.Lock()
		batch := t.pending
		t.pending, t.spare = t.spare[:0], nil
		if len(batch) == 0 && (quitting || idle >= describerIdle) {
			t.running = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		if len(batch) == 0 {
			idle += describeEvery
			continue
		}
		idle = 0
		for i, f := range batch {
			f()
			batch[i] = nil
			t.ending.Done()
		}
		t.mu.Lock()
		t.spare = batch[:0]
		t.mu.Unlock()
	}
}

// RequestSpan is one request's trace as its path sees it: IDs, sampling, times and what the
// attempts were; the spans are made from it when the request ends. All methods accept a nil
// receiver, which does nothing.
type RequestSpan struct {
	t      *Tracing
	e      translate.Endpoint
	parent context.Context   // the client's trace context and baggage
	sc     trace.SpanContext // the server span's
	record bool              // sampled in: described and exported
	start  time.Time
	// Filled on the request path while recording.
	headerAttrs []attribute.KeyValue
	attempts    []attemptRecord
	attempt1    [1]attemptRecord // the first attempt's room in attempts (most requests have one)
	firstToken  time.Time
	resp        responseRecorder
	describe    bool // whether the request has been seen
	// The client's request, described when the span ends.
	contentType string
	reqBody     []byte
}

// attemptRecord is one upstream attempt, made into a client span when the request ends.
type attemptRecord struct {
	id                             trace.SpanID
	start, end                     time.Time // end is zero for the last attempt: the request's end
	try                            int
	backend, provider, model, host string
	status                         int
	superseded                     bool // another attempt followed
}

// Start begins the trace of a request to e that arrived at start with headers h.
func (t *Tracing) Start(e translate.Endpoint, start time.Time, h http.Header) *RequestSpan {
	if t == nil {
		return nil
	}
	ctx := context.Background()
	if propagated(h) {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(h))
	}
	psc := trace.SpanContextFromContext(ctx)
	tid := psc.TraceID()
	if !tid.IsValid() {
		tid = newTraceID()
	}
	res := t.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Name: spanName(e), Kind: trace.SpanKindServer})
	flags := psc.TraceFlags() &^ trace.FlagsSampled
	if res.Decision == sdktrace.RecordAndSample {
		flags |= trace.FlagsSampled
	}
	r := &RequestSpan{t: t, e: e, parent: ctx, start: start, record: res.Decision != sdktrace.Drop,
		sc: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: newSpanID(), TraceFlags: flags, TraceState: res.Tracestate})}
	if r.record {
		for _, m := range t.headers {
			if v := h.Get(m.Header); v != "" {
				r.headerAttrs = append(r.headerAttrs, attribute.String(m.Attribute, v))
			}
		}
	}
	return r
}

// Recording reports whether the span is sampled and being described.
func (r *RequestSpan) Recording() bool { return r != nil && r.record }

// TraceID is the request's trace id, or "".
func (r *RequestSpan) TraceID() string {
	if r == nil || !r.sc.IsValid() {
		return ""
	}
	return r.sc.TraceID().String()
}

// Request keeps the client's request (once), to describe it when the span ends; the body must
// not change afterwards.
func (r *RequestSpan) Request(contentType string, body []byte, stream bool) {
	if !r.Recording() || r.describe {
		return
	}
	r.describe = true
	r.contentType, r.reqBody = contentType, body
	r.resp.start(r.e, stream, body)
}

// Attempt notes the start of try number try at a backend, ending the previous attempt, and sets
// the upstream request's traceparent to the attempt's span. The attempt's span is sampled as
// the request's: every sampler aigw offers decides a child of a local span as its parent, or by
// the trace id they share.
func (r *RequestSpan) Attempt(try int, backend, provider, model, host string, upstream http.Header) {
	if r == nil {
		return
	}
	now := time.Now()
	if n := len(r.attempts); n > 0 {
		// Another attempt follows: this one failed, whether or not its status was seen (a
		// retried status is drained by the data plane without being translated).
		r.attempts[n-1].end, r.attempts[n-1].superseded = now, true
	}
	id := newSpanID()
	if r.record {
		if r.attempts == nil {
			r.attempts = r.attempt1[:0]
		}
		r.attempts = append(r.attempts, attemptRecord{id: id, start: now, try: try, backend: backend, provider: provider, model: model, host: host})
		r.resp.reset()
	}
	sc := r.sc.WithSpanID(id)
	if r.parent == context.Background() {
		// No trace state or baggage came with the request: the traceparent is all there is to
		// send, written as TraceContext.Inject writes it, without a context or header key
		// canonicalisation per request.
		upstream["Traceparent"] = []string{traceparent(sc)}
		delete(upstream, "Tracestate")
		return
	}
	r.t.prop.Inject(trace.ContextWithSpanContext(r.parent, sc), propagation.HeaderCarrier(upstream))
}

// AttemptStatus records the status an attempt's backend answered.
func (r *RequestSpan) AttemptStatus(status int) {
	if r == nil || len(r.attempts) == 0 {
		return
	}
	r.attempts[len(r.attempts)-1].status = status
}

// Response takes the next bytes sent to the client of a successful answer.
func (r *RequestSpan) Response(out []byte) {
	if r.Recording() {
		r.resp.write(out)
	}
}

// FirstToken marks the first streamed bytes.
func (r *RequestSpan) FirstToken() {
	if r.Recording() && r.firstToken.IsZero() {
		r.firstToken = time.Now()
	}
}

// End describes the answer and the request's outcome, and makes the spans.
func (r *RequestSpan) End(ev *RequestEvent, price *Price) {
	if !r.Recording() {
		return
	}
	// Describing the request takes JSON parsing; it is done off the request's goroutine, which
	// the client's next request on the same connection may be waiting for, and so is making the
	// spans (the SDK copies each one for its processor). ev is final.
	end := ev.Start.Add(ev.Duration)
	r.t.describe(func() { r.finish(ev, price, end) })
}

// kvPool holds attribute lists for descriptions, sized for a typical chat request and answer
// (about 40 attributes).
var kvPool = sync.Pool{New: func() any {
	l := make([]attribute.KeyValue, 0, 48)
	return &l
}}

// finish makes the request's spans: a client span per attempt, then the server span described
// with the request, the answer and the outcome.
func (r *RequestSpan) finish(ev *RequestEvent, price *Price, end time.Time) {
	list := kvPool.Get().(*[]attribute.KeyValue)
	a := &attrs{p: &r.t.privacy, kv: append((*list)[:0], r.headerAttrs...)}
	defer func() {
		// The spans keep copies of the attributes; the list is reused (unless a long
		// conversation grew it far past the usual).
		if cap(a.kv) <= 512 {
			clear(a.kv)
			*list = a.kv[:0]
			kvPool.Put(list)
		}
	}()
	if r.describe {
		requestAttrs(a, r.e, r.contentType, r.reqBody)
	}
	if ev.Status < 400 {
		r.resp.attrs(a)
	}
	r.resp.release()
	outcomeAttrs(a, ev, price)

	spans, kv := r.t.scratchSpans[:0], r.t.scratchKV[:0]
	defer func() {
		clear(spans)
		clear(kv)
		r.t.scratchSpans, r.t.scratchKV = spans[:0], kv[:0]
	}()
	for i := range r.attempts {
		at := &r.attempts[i]
		n := len(kv)
		kv = append(kv, attribute.Int("aigw.attempt", at.try), attribute.String("aigw.backend", at.backend),
			attribute.String(attrProvider, at.provider), attribute.String(attrRequestModel, at.model),
			attribute.String("server.address", at.host))
		d := spanData{wireSpan: wireSpan{name: "attempt " + at.backend, sc: r.sc.WithSpanID(at.id), parent: r.sc, kind: trace.SpanKindClient, start: at.start, end: end}}
		if at.status != 0 {
			kv = append(kv, attribute.Int("http.response.status_code", at.status))
			if at.status >= 400 {
				d.status = sdktrace.Status{Code: codes.Error, Description: strconv.Itoa(at.status)}
			}
		}
		if at.superseded {
			kv = append(kv, attribute.String("aigw.attempt.outcome", "retried"))
			d.status = sdktrace.Status{Code: codes.Error, Description: "superseded by another attempt"}
			d.end = at.end
		}
		// Full slice expressions: a later attempt's appends never reach into this one's.
		d.attrs = kv[n:len(kv):len(kv)]
		spans = append(spans, d)
	}
	server := spanData{wireSpan: wireSpan{name: spanName(r.e), sc: r.sc, parent: trace.SpanContextFromContext(r.parent), kind: trace.SpanKindServer,
		start: r.start, end: end, attrs: a.kv, status: sdktrace.Status{Code: codes.Ok}}, children: len(r.attempts)}
	if !r.firstToken.IsZero() {
		server.events = append(server.events, sdktrace.Event{Name: firstTokenEvent, Time: r.firstToken})
	}
	if ev.Failed() {
		msg := ev.Error
		if msg == "" {
			msg = http.StatusText(ev.Status)
		}
		server.events = append(server.events, sdktrace.Event{Name: "exception", Time: end, Attributes: []attribute.KeyValue{
			attribute.String("exception.type", "aigw.HTTPError."+strconv.Itoa(ev.Status)),
			attribute.String("exception.message", msg)}})
		server.status = sdktrace.Status{Code: codes.Error, Description: msg}
	}
	spans = append(spans, server)
	r.t.emit(r.parent, spans, len(r.headerAttrs))
}

// wait describes what is pending and waits, until ctx is done, for the descriptions to end.
func (t *Tracing) wait(ctx context.Context) {
	t.quitOnce.Do(func() { close(t.quit) }) // the describer stops waiting for its next tick
	done := make(chan struct{})
	go func() { t.ending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// outcomeAttrs are the OpenTelemetry GenAI and aigw attributes of a finished request, and the
// OpenInference token counts when the answer the client saw did not carry them (a stream without
// usage, a translated answer).
func outcomeAttrs(a *attrs, ev *RequestEvent, price *Price) {
	hasTokens := false
	for _, kv := range a.kv {
		if kv.Key == oiTokensPrompt {
			hasTokens = true
			break
		}
	}
	a.str(attrOperation, ev.Operation)
	if ev.Provider != "" {
		a.str(attrProvider, ev.Provider)
		a.str(oiProvider, oiProviderName(ev.Provider))
	}
	a.str(attrOriginalModel, ev.RequestModel)
	if ev.BackendModel != "" {
		a.str(attrRequestModel, ev.BackendModel)
	}
	if ev.ResponseModel != "" {
		a.str(attrResponseModel, ev.ResponseModel)
	}
	if ev.Route != "" {
		a.str("aigw.route", ev.Route)
	}
	if ev.Backend != "" {
		a.str("aigw.backend", ev.Backend)
	}
	a.int("aigw.attempts", int64(ev.Attempts))
	a.int("http.response.status_code", int64(ev.Status))
	if ev.Failed() {
		a.str(attrErrorType, errorType(ev))
	}
	u := ev.Usage
	if u != (usage.Usage{}) {
		a.int("gen_ai.usage.input_tokens", u.InputTokens)
		a.int("gen_ai.usage.output_tokens", u.OutputTokens)
		if u.CachedInputTokens > 0 {
			a.int("gen_ai.usage.cache_read.input_tokens", u.CachedInputTokens)
		}
		if u.CacheCreationInputTokens > 0 {
			a.int("gen_ai.usage.cache_creation.input_tokens", u.CacheCreationInputTokens)
		}
		if !hasTokens {
			a.int(oiTokensPrompt, u.InputTokens)
			a.int(oiTokensOutput, u.OutputTokens)
			a.int(oiTokensTotal, u.InputTokens+u.OutputTokens)
		}
	}
	if c := ev.CostUSD; c != nil {
		if c.Unknown || price == nil {
			a.str("llm.cost.status", "unknown")
		} else {
			prompt, completion := price.split(u)
			a.kv = append(a.kv, attribute.Float64("llm.cost.total", c.Amount),
				attribute.Float64("llm.cost.prompt", prompt), attribute.Float64("llm.cost.completion", completion))
			a.str("llm.cost.price_model", price.Model)
		}
	}
}

// oiProviderName is OpenInference's llm.provider for a gen_ai.provider.name.
func oiProviderName(p string) string {
	switch p {
	case "azure.openai", "azure.ai.openai":
		return "azure"
	case "aws.bedrock":
		return "aws"
	case "gcp.gemini", "gcp.vertex_ai", "gcp.gen_ai":
		return "google"
	case "mistral_ai":
		return "mistralai"
	case "x_ai":
		return "xai"
	}
	return p
}

// HeaderAttribute copies a request header to an attribute.
type HeaderAttribute struct {
	Header    string
	Attribute string
}
