package observe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/aigw/aigw/internal/translate"
	"github.com/aigw/aigw/internal/usage"
)

// encodingExporter encodes what it is given as the OTLP/HTTP exporter would, and drops it.
type encodingExporter struct{ buf []byte }

func (e *encodingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.buf = appendTraceRequest(e.buf[:0], spans)
	return nil
}

func (e *encodingExporter) Shutdown(context.Context) error { return nil }

// benchAnswer is a chat answer as the simulator of the bench sends it, whole or streamed.
func benchAnswer(stream bool) [][]byte {
	words := strings.Fields("Every answer is deterministic, so tests can rely on the exact text. Token usage")
	if !stream {
		return [][]byte{[]byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1796084633,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` +
			strings.Join(words, " ") + `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":6,"completion_tokens":16,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fda3052c30"}`)}
	}
	const chunk = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1796084633,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_fda3052c30","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}],"obfuscation":"Xq7LmZp2R"}` + "\n\n"
	out := [][]byte{fmt.Appendf(nil, chunk, `{"role":"assistant","content":"","refusal":null}`, "null")}
	for i, w := range words {
		if i > 0 {
			w = " " + w
		}
		out = append(out, fmt.Appendf(nil, chunk, `{"content":"`+w+`"}`, "null"))
	}
	out = append(out, fmt.Appendf(nil, chunk, `{}`, `"stop"`), []byte("data: [DONE]\n\n"))
	return out
}

// benchRequest records a chat request and its answer as the data plane does (each chunk of the
// answer a copy of its own when clone is set, as an upstream's are) and returns its span and end
// event.
func benchRequest(tr *Tracing, h http.Header, body []byte, answer [][]byte, stream, clone bool) (*RequestSpan, *RequestEvent) {
	start := time.Now()
	s := tr.Start(translate.EndpointChatCompletions, start, h)
	s.Request("application/json", body, stream)
	s.Attempt(1, "openai", "openai", "gpt-4o-mini", "api.openai.com", http.Header{})
	s.AttemptStatus(200)
	for i, c := range answer {
		if i == 0 && stream {
			s.FirstToken()
		}
		if clone {
			c = bytes.Clone(c)
		}
		s.Response(c)
	}
	return s, &RequestEvent{Start: start, Duration: time.Millisecond, Operation: "chat", Provider: "openai",
		RequestModel: "gpt-4o-mini", BackendModel: "gpt-4o-mini", ResponseModel: "gpt-4o-mini", Route: "aigw-run/openai",
		Backend: "openai", Status: 200, Attempts: 1, Stream: stream,
		Usage: usage.Usage{InputTokens: 6, OutputTokens: 16, TotalTokens: 22}, CostUSD: &USD{Amount: 1.05e-5}}
}

// BenchmarkRequestSpan is the whole cost tracing adds to one chat request: the spans started on
// the request path, the answer recorded as it passes, the description after the end and the
// OTLP encoding of both spans (go test ./internal/observe -run '^$' -bench RequestSpan -benchmem).
func BenchmarkRequestSpan(b *testing.B) {
	price := &Price{Model: "gpt-4o-mini*", Input: 0.15, Output: 0.6}
	for _, stream := range []bool{false, true} {
		b.Run(map[bool]string{false: "chat", true: "chat-stream"}[stream], func(b *testing.B) {
			tr := NewTracing(TracingConfig{Processor: sdktrace.NewSimpleSpanProcessor(&encodingExporter{}), Headers: []HeaderAttribute{{Header: "Agent-Session-Id", Attribute: "session.id"}}})
			defer tr.Provider().Shutdown(context.Background())
			body := []byte(fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":16,"stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`, stream))
			answer := benchAnswer(stream)
			h := http.Header{"Content-Type": {"application/json"}}
			b.ReportAllocs()
			for b.Loop() {
				s, ev := benchRequest(tr, h, body, answer, stream, false)
				s.End(ev, price)
			}
			tr.wait(context.Background())
		})
	}
}

// BenchmarkDescribe is the describer's work for one request as it happens in aigw: batches of
// requests recorded earlier (their bytes no longer in the caches), each described and encoded
// for the OTLP/HTTP batcher; ns/desc is the time per request (go test ./internal/observe -run
// '^$' -bench Describe). BenchmarkRequestSpan measures the same work in a hot loop, which reads
// about half of this.
func BenchmarkDescribe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	exp, err := newHTTPSpanExporter(otlpSettings{endpoint: srv.URL + "/v1/traces", insecure: true, timeout: 5 * time.Second}, tlsSettings{}, "")
	if err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	// Never exported while measured: batches wait for the (hour-long) delay.
	bt := newSpanBatcher(exp, batchSettings{delay: time.Hour, timeout: 5 * time.Second, maxQueue: 1 << 30, maxBatch: 1 << 30}, &failed)
	tr := NewTracing(TracingConfig{Processor: bt, Headers: []HeaderAttribute{{Header: "Agent-Session-Id", Attribute: "session.id"}}})
	defer tr.Provider().Shutdown(context.Background())
	price := &Price{Model: "gpt-4o-mini*", Input: 0.15, Output: 0.6}
	const batch = 200
	evict := make([]byte, 8<<20)
	for _, stream := range []bool{false, true} {
		b.Run(map[bool]string{false: "chat", true: "chat-stream"}[stream], func(b *testing.B) {
			answer := benchAnswer(stream)
			describe := make([]func(), 0, batch)
			for b.Loop() {
				b.StopTimer()
				bt.mu.Lock()
				if bt.cur != nil { // its buffer reused, as after an export
					bt.cur.spans, bt.cur.n = bt.cur.spans[:0], 0
				}
				bt.ready, bt.queued = bt.ready[:0], 0
				bt.mu.Unlock()
				describe = describe[:0]
				for range batch {
					body := fmt.Appendf(nil, `{"model":"gpt-4o-mini","max_tokens":16,"stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`, stream)
					s, ev := benchRequest(tr, http.Header{}, body, answer, stream, true)
					end := ev.Start.Add(ev.Duration)
					describe = append(describe, func() { s.finish(ev, price, end) })
				}
				for i := range evict {
					evict[i]++
				}
				b.StartTimer()
				for _, f := range describe {
					f()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/desc")
		})
	}
	bt.mu.Lock()
	bt.cur, bt.ready, bt.queued = nil, nil, 0
	bt.mu.Unlock()
}
