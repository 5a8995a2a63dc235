package observe

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/aigw/aigw/internal/translate"
)

// TestDeferredSpansKeepTheirIDs: the spans made after the request carry the IDs its path chose
// and sent upstream: each upstream's traceparent is its attempt's span, a child of the request's
// span, in the client's trace or a new one; the sampler's decision is the request path's (a
// sampled-out request makes no span and sends traceparent flags 00).
func TestDeferredSpansKeepTheirIDs(t *testing.T) {
	const clientParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name      string
		sampler   sdktrace.Sampler
		header    string
		wantSpans int
	}{
		{name: "root", wantSpans: 3},
		{name: "client's trace", header: clientParent, wantSpans: 3},
		{name: "client sampled out", header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
		{name: "always_off", sampler: sdktrace.NeverSample()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tr := NewTracing(TracingConfig{Processor: rec, Sampler: tc.sampler})
			h := http.Header{}
			if tc.header != "" {
				h.Set("Traceparent", tc.header)
			}
			s := tr.Start(translate.EndpointChatCompletions, time.Now(), h)
			var upstream [2]http.Header
			for i := range upstream {
				upstream[i] = http.Header{}
				s.Attempt(i+1, []string{"first", "second"}[i], "openai", "gpt-4o-mini", "api.openai.com", upstream[i])
			}
			s.AttemptStatus(200)
			s.End(&RequestEvent{Start: time.Now(), Duration: time.Millisecond, Status: 200, Attempts: 2}, nil)
			tr.wait(context.Background())

			upSC := make([]trace.SpanContext, 2)
			for i, uh := range upstream {
				upSC[i] = trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(uh)))
				if !upSC[i].IsValid() || upSC[i].TraceID().String() != s.TraceID() {
					t.Fatalf("attempt %d traceparent %q, request trace %s", i+1, uh.Get("Traceparent"), s.TraceID())
				}
				if upSC[i].IsSampled() != (tc.wantSpans > 0) {
					t.Errorf("attempt %d traceparent %q: sampled %v", i+1, uh.Get("Traceparent"), upSC[i].IsSampled())
				}
			}
			if tc.header != "" && s.TraceID() != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("trace %s is not the client's", s.TraceID())
			}
			spans := rec.Ended()
			if len(spans) != tc.wantSpans {
				t.Fatalf("%d spans, want %d", len(spans), tc.wantSpans)
			}
			if tc.wantSpans == 0 {
				return
			}
			server := spans[len(spans)-1]
			if server.SpanKind() != trace.SpanKindServer || server.SpanContext().SpanID() != s.sc.SpanID() {
				t.Fatalf("last span %q %s, want the server span %s", server.Name(), server.SpanContext().SpanID(), s.sc.SpanID())
			}
			if tc.header != "" && server.Parent().SpanID().String() != "00f067aa0ba902b7" {
				t.Errorf("server span parent %s", server.Parent().SpanID())
			}
			for i, a := range spans[:2] {
				if a.SpanContext().SpanID() != upSC[i].SpanID() || a.Parent().SpanID() != server.SpanContext().SpanID() || a.SpanContext().TraceID() != upSC[i].TraceID() {
					t.Errorf("attempt span %d: %s (parent %s), upstream was sent %s", i+1, a.SpanContext().SpanID(), a.Parent().SpanID(), upSC[i].SpanID())
				}
			}
		})
	}
}

// TestTraceparentAsTraceContext: the traceparent written without the propagator is the one
// TraceContext.Inject writes, sampled or not; headers are read by their canonical keys.
func TestTraceparentAsTraceContext(t *testing.T) {
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, trace.FlagsRandom, 0xff} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: newTraceID(), SpanID: newSpanID(), TraceFlags: flags})
		h := http.Header{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), propagation.HeaderCarrier(h))
		if got := traceparent(sc); got != h.Get("Traceparent") {
			t.Errorf("flags %x: %q, TraceContext writes %q", flags, got, h.Get("Traceparent"))
		}
	}
	for _, k := range []string{"traceparent", "TRACESTATE", "baggage"} {
		h := http.Header{}
		h.Set(k, "x")
		if !propagated(h) {
			t.Errorf("%s not seen", k)
		}
	}
	if propagated(http.Header{"Content-Type": {"application/json"}}) {
		t.Error("a request without trace headers propagated")
	}
}
