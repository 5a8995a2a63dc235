package observe

import (
	"context"
	"slices"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spanData is a finished span as aigw describes it, before the span processor sees it.
type spanData struct {
	wireSpan
	children int
}

// emit hands the finished spans of a request, children first, to the span processor. The SDK's
// own span would take each attribute through its normalisation, deduplicate the keys through a
// map and copy them all for the processor: about two thirds of what tracing allocated a request
// (6.6 of 10 KB, BenchmarkTracingOverhead's memory profile, December 2026). When none of what
// that work is for applies — no value length limit, counts within the limits, no key twice (the
// keys aigw writes are distinct; a mapped request header may repeat one, the first headers
// attributes) — the spans go to the processor as they are, as read-only spans. Otherwise they are
// made as SDK spans, with the IDs and times already chosen, and the SDK applies the limits.
// TestDirectSpansAsSDK holds both ways to the same spans.
func (t *Tracing) emit(parent context.Context, spans []spanData, headers int) {
	if !t.direct(spans, headers) {
		t.emitSDK(parent, spans)
		return
	}
	if b, ok := t.proc.(*spanBatcher); ok {
		// Encoded from the description itself, which the batcher is done with on return.
		for i := range spans {
			b.add(t.res, t.scope, &spans[i].wireSpan)
		}
		return
	}
	for i := range spans {
		d := &spans[i]
		t.proc.OnEnd(tracetest.SpanStub{Name: d.name, SpanContext: d.sc, Parent: d.parent, SpanKind: d.kind,
			StartTime: d.start, EndTime: d.end, Attributes: slices.Clone(d.attrs), Events: d.events, Status: d.status,
			ChildSpanCount: d.children, Resource: t.res, InstrumentationScope: t.scope}.Snapshot())
	}
}

// direct reports whether spans are what the SDK would make of them: no limit applies and the
// server span's (the last) first headers attributes have keys of their own.
func (t *Tracing) direct(spans []spanData, headers int) bool {
	l := &t.limits
	if l.AttributeValueLengthLimit >= 0 {
		return false
	}
	for i := range spans {
		d := &spans[i]
		if over(len(d.attrs), l.AttributeCountLimit) || over(len(d.events), l.EventCountLimit) {
			return false
		}
		for _, e := range d.events {
			if over(len(e.Attributes), l.AttributePerEventCountLimit) {
				return false
			}
		}
	}
	kv := spans[len(spans)-1].attrs
	for i := range min(headers, len(kv)) {
		for j := i + 1; j < len(kv); j++ {
			if kv[i].Key == kv[j].Key {
				return false
			}
		}
	}
	return true
}

// over reports whether n exceeds limit (a negative limit is none).
func over(n, limit int) bool { return limit >= 0 && n > limit }

// emitSDK makes spans as SDK spans with their chosen IDs (idAssigner) and times; the last is the
// server span, the parent of the others.
func (t *Tracing) emitSDK(parent context.Context, spans []spanData) {
	server := &spans[len(spans)-1]
	ctx, span := t.tracer.Start(withAssignedIDs(parent, server.sc), server.name, trace.WithSpanKind(server.kind), trace.WithTimestamp(server.start))
	for i := range spans[:len(spans)-1] {
		d := &spans[i]
		_, child := t.tracer.Start(withAssignedIDs(ctx, d.sc), d.name, trace.WithSpanKind(d.kind), trace.WithTimestamp(d.start))
		d.apply(child)
	}
	server.apply(span)
}

// apply gives an SDK span d's attributes, events and status, and ends it.
func (d *spanData) apply(s trace.Span) {
	s.SetAttributes(d.attrs...)
	for _, e := range d.events {
		s.AddEvent(e.Name, trace.WithTimestamp(e.Time), trace.WithAttributes(e.Attributes...))
	}
	if d.status.Code != codes.Unset {
		s.SetStatus(d.status.Code, d.status.Description)
	}
	s.End(trace.WithTimestamp(d.end))
}
