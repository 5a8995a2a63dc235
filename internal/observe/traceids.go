package observe

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"

	"go.opentelemetry.io/otel/trace"
)

// idAssigner is the ID generator of aigw's tracer provider: a span gets the IDs its context was
// given by withAssignedIDs (chosen on the request's path, before the span is made), else new
// random ones.
type idAssigner struct{}

// assignedIDsKey is the context key of the IDs a span is to have.
type assignedIDsKey struct{}

// withAssignedIDs is ctx telling the tracer to give the next span sc's trace and span IDs.
func withAssignedIDs(ctx context.Context, sc trace.SpanContext) context.Context {
	return context.WithValue(ctx, assignedIDsKey{}, sc)
}

func (idAssigner) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if sc, ok := ctx.Value(assignedIDsKey{}).(trace.SpanContext); ok {
		return sc.TraceID(), sc.SpanID()
	}
	return newTraceID(), newSpanID()
}

func (idAssigner) NewSpanID(ctx context.Context, traceID trace.TraceID) trace.SpanID {
	if sc, ok := ctx.Value(assignedIDsKey{}).(trace.SpanContext); ok && sc.TraceID() == traceID {
		return sc.SpanID()
	}
	return newSpanID()
}

// newTraceID is a random, valid (non-zero) trace ID. math/rand/v2's generator is ChaCha8 per
// thread: safe for concurrent use, with no lock, unlike the SDK's own generator.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

// newSpanID is a random, valid (non-zero) span ID.
func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// propagated reports whether h carries a trace context or baggage (W3C traceparent, tracestate,
// baggage), read by their canonical keys without canonicalising them per request.
func propagated(h http.Header) bool {
	return len(h["Traceparent"]) > 0 || len(h["Tracestate"]) > 0 || len(h["Baggage"]) > 0
}

// traceparent is sc as a W3C traceparent header (version 00, trace id, span id, flags), as
// TraceContext.Inject writes it.
func traceparent(sc trace.SpanContext) string {
	const digits = "0123456789abcdef"
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	tid, sid := sc.TraceID(), sc.SpanID()
	for i, c := range tid {
		b[3+2*i], b[4+2*i] = digits[c>>4], digits[c&15]
	}
	b[35] = '-'
	for i, c := range sid {
		b[36+2*i], b[37+2*i] = digits[c>>4], digits[c&15]
	}
	// The flags the specification defines: sampled and random.
	f := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))
	b[52], b[53], b[54] = '-', '0', digits[f]
	return string(b[:])
}
