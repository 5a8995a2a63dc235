package observe

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

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
