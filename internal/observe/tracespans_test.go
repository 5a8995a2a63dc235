package observe

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aigw/aigw/internal/translate"
	"github.com/aigw/aigw/internal/usage"
)

// TestDirectSpansAsSDK: the spans handed straight to the processor are, field by field, the
// spans the SDK makes of the same description (which it does when a limit applies): a chat
// answer, a stream, a fallback with a failed attempt, a failure.
func TestDirectSpansAsSDK(t *testing.T) {
	price := &Price{Model: "gpt-4o-mini*", Input: 0.15, Output: 0.6}
	headers := []HeaderAttribute{{Header: "Agent-Session-Id", Attribute: "session.id"}}
	noLengthLimit := sdktrace.NewSpanLimits()
	noLengthLimit.AttributeValueLengthLimit = 1 << 30 // applies, truncates nothing
	for _, tc := range []struct {
		name     string
		stream   bool
		attempts int
		status   int
	}{
		{name: "chat", attempts: 1, status: 200},
		{name: "stream", stream: true, attempts: 1, status: 200},
		{name: "fallback", attempts: 2, status: 200},
		{name: "failure", attempts: 1, status: 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(limits *sdktrace.SpanLimits, proc sdktrace.SpanProcessor) {
				tr := NewTracing(TracingConfig{Processor: proc, Limits: limits, Headers: headers})
				start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
				s := tr.Start(translate.EndpointChatCompletions, start, http.Header{"Agent-Session-Id": {"sess-1"},
					"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
				// The same IDs and times for both runs.
				s.sc = s.sc.WithSpanID([8]byte{1, 2, 3, 4, 5, 6, 7, 8})
				s.Request("application/json", fmt.Appendf(nil, `{"model":"gpt-4o-mini","stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`, tc.stream), tc.stream)
				for i := range tc.attempts {
					s.Attempt(i+1, fmt.Sprint("backend", i), "openai", "gpt-4o-mini", "api.openai.com", http.Header{})
					s.attempts[i].id, s.attempts[i].start = [8]byte{9, byte(i)}, start.Add(time.Duration(i)*time.Millisecond)
					if i > 0 {
						s.attempts[i-1].end = s.attempts[i].start
					}
					status := tc.status
					if i < tc.attempts-1 {
						status = 503 // answered, then another backend tried
					}
					s.AttemptStatus(status)
				}
				if tc.status < 400 {
					for i, c := range benchAnswer(tc.stream) {
						if i == 0 && tc.stream {
							s.FirstToken()
							s.firstToken = start.Add(3 * time.Millisecond)
						}
						s.Response(c)
					}
				}
				ev := &RequestEvent{Start: start, Duration: 5 * time.Millisecond, Operation: "chat", Provider: "openai",
					RequestModel: "gpt-4o-mini", BackendModel: "gpt-4o-mini", ResponseModel: "gpt-4o-mini", Route: "r",
					Backend: "backend0", Status: tc.status, Attempts: tc.attempts, Stream: tc.stream,
					Usage: usage.Usage{InputTokens: 6, OutputTokens: 16, TotalTokens: 22}, CostUSD: &USD{Amount: 1.05e-5}}
				if tc.status >= 400 {
					ev.Error = "upstream failed"
				}
				s.End(ev, price)
				tr.wait(context.Background())
			}
			recDirect, recSDK := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
			run(nil, recDirect)
			run(&noLengthLimit, recSDK)
			direct, sdk := recDirect.Ended(), recSDK.Ended()
			if len(direct) != tc.attempts+1 || len(sdk) != len(direct) {
				t.Fatalf("%d direct spans, %d SDK spans, want %d", len(direct), len(sdk), tc.attempts+1)
			}
			for i := range direct {
				d, s := direct[i], sdk[i]
				if reflect.TypeOf(d) == reflect.TypeOf(s) {
					t.Fatalf("span %d: both runs made %T spans: the test compares nothing", i, d)
				}
				for _, f := range []struct {
					name string
					d, s any
				}{
					{"name", d.Name(), s.Name()}, {"span context", d.SpanContext(), s.SpanContext()}, {"parent", d.Parent(), s.Parent()},
					{"kind", d.SpanKind(), s.SpanKind()}, {"start", d.StartTime(), s.StartTime()}, {"end", d.EndTime(), s.EndTime()},
					{"attributes", d.Attributes(), s.Attributes()}, {"events", d.Events(), s.Events()}, {"links", len(d.Links()), len(s.Links())},
					{"status", d.Status(), s.Status()}, {"children", d.ChildSpanCount(), s.ChildSpanCount()},
					{"dropped", []int{d.DroppedAttributes(), d.DroppedEvents(), d.DroppedLinks()}, []int{s.DroppedAttributes(), s.DroppedEvents(), s.DroppedLinks()}},
					{"resource", d.Resource().Equivalent(), s.Resource().Equivalent()}, {"scope", d.InstrumentationScope(), s.InstrumentationScope()},
				} {
					if !reflect.DeepEqual(f.d, f.s) {
						t.Errorf("span %d (%s) %s:\n direct %v\n    SDK %v", i, d.Name(), f.name, f.d, f.s)
					}
				}
			}
			// Through the OTLP/HTTP batcher, which encodes the description itself: the same bytes
			// as the SDK's spans make.
			var bodies [2][]byte
			for i, limits := range []*sdktrace.SpanLimits{nil, &noLengthLimit} {
				c := &rawCollector{bodies: make(chan []byte, 4)}
				b := newTestBatcher(t, c, batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 100, maxBatch: 100}, new(atomic.Int64))
				run(limits, b)
				if err := b.ForceFlush(t.Context()); err != nil {
					t.Fatal(err)
				}
				bodies[i] = <-c.bodies
			}
			if string(bodies[0]) != string(bodies[1]) || len(bodies[0]) == 0 {
				t.Errorf("batcher: %d bytes from the description, %d from SDK spans", len(bodies[0]), len(bodies[1]))
			}
		})
	}
}

// TestDirectSpansFallBack: a mapped header whose attribute aigw also writes, or an attribute
// count limit the span exceeds, sends the spans through the SDK, which keeps one value per key
// and applies the limit.
func TestDirectSpansFallBack(t *testing.T) {
	few := sdktrace.NewSpanLimits()
	few.AttributeCountLimit = 3
	for _, tc := range []struct {
		name    string
		headers []HeaderAttribute
		limits  *sdktrace.SpanLimits
		check   func(t *testing.T, server sdktrace.ReadOnlySpan)
	}{
		{name: "repeated key", headers: []HeaderAttribute{{Header: "X-Route", Attribute: "aigw.route"}}, check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
			n := 0
			for _, kv := range s.Attributes() {
				if kv.Key == "aigw.route" {
					n++
					if kv.Value.AsString() != "r" {
						t.Errorf("aigw.route = %q, want the later value", kv.Value.AsString())
					}
				}
			}
			if n != 1 {
				t.Errorf("aigw.route %d times", n)
			}
		}},
		{name: "count limit", limits: &few, check: func(t *testing.T, s sdktrace.ReadOnlySpan) {
			if len(s.Attributes()) != 3 || s.DroppedAttributes() == 0 {
				t.Errorf("%d attributes, %d dropped", len(s.Attributes()), s.DroppedAttributes())
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tr := NewTracing(TracingConfig{Processor: rec, Limits: tc.limits, Headers: tc.headers})
			s := tr.Start(translate.EndpointChatCompletions, time.Now(), http.Header{"X-Route": {"from-header"}})
			s.Attempt(1, "b", "openai", "m", "h", http.Header{})
			s.End(&RequestEvent{Start: time.Now(), Duration: time.Millisecond, Status: 200, Attempts: 1, Route: "r"}, nil)
			tr.wait(context.Background())
			spans := rec.Ended()
			if len(spans) != 2 {
				t.Fatalf("%d spans", len(spans))
			}
			tc.check(t, spans[1])
		})
	}
}
