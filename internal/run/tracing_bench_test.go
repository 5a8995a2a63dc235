package run

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// BenchmarkTracingOverhead sends chat completions through aigw with tracing off and with every
// signal exported to an in-process OTLP receiver, and reports each mode's p50 latency
// ("p50-us"); the budget is at most 10% more with tracing on.
//
//	go test ./internal/run -run '^$' -bench TracingOverhead -benchtime 2000x
//
// The stream modes ("off-stream", ...) do the same with streamed answers of 16 chunks, each
// flushed on its own as a model's tokens are.
func BenchmarkTracingOverhead(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		const chunk = `data: {"id":"c","object":"chat.completion.chunk","created":1796084633,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}` + "\n\n"
		_, _ = fmt.Fprintf(w, chunk, `{"role":"assistant","content":""}`, "null")
		_ = rc.Flush()
		for i := range 14 {
			_, _ = fmt.Fprintf(w, chunk, fmt.Sprintf(`{"content":" word%d"}`, i), "null")
			_ = rc.Flush()
		}
		_, _ = fmt.Fprintf(w, chunk, `{}`, `"stop"`)
		_, _ = io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","created":1796084633,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":14,"total_tokens":24}}`+"\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	// A collector that takes and discards what it is sent (it shares the CPUs with aigw).
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	endpoint := collector.URL
	for _, mode := range []struct {
		name string
		env  []string
	}{
		{"off", nil},
		{"otlp", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRIC_EXPORT_INTERVAL", "1000"}},
		{"traces", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none"}},
		{"logs", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none", "OTEL_TRACES_EXPORTER", "none"}},
	} {
		for _, stream := range []bool{false, true} {
			name := mode.name
			if stream {
				name += "-stream"
			}
			b.Run(name, func(b *testing.B) { benchTracingMode(b, up.URL, mode.env, stream) })
		}
	}
}

// benchTracingMode measures one mode of BenchmarkTracingOverhead.
func benchTracingMode(b *testing.B, upstream string, modeEnv []string, stream bool) {
	kv := append([]string{"OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", upstream + "/v1"}, modeEnv...)
	g := startGatewayB(b, Options{Getenv: env(kv...)})
	client := &http.Client{}
	body := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":%t,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello, how are you today?"}]}`, stream)
	lat := make([]time.Duration, 0, b.N)
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		resp, err := client.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
}

// processCPU is the CPU time this process has used (user and system): gateway, upstream,
// collector and client together, which share the machine's cores as they would in production.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startGatewayB is startGateway for a benchmark.
func startGatewayB(b *testing.B, opts Options) *gateway {
	b.Helper()
	opts.Host, opts.Port, opts.AdminPort = "127.0.0.1", 0, 0
	opts.Dirs = config.Dirs{StateHome: b.TempDir(), ConfigHome: b.TempDir()}
	opts.ShutdownGrace = 5 * time.Second
	readyc := make(chan Ready, 1)
	opts.OnReady = func(r Ready) { readyc <- r }
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- Run(ctx, opts) }()
	select {
	case g.Ready = <-readyc:
	case err := <-g.done:
		cancel()
		b.Fatalf("aigw did not start: %v", err)
	}
	b.Cleanup(func() {
		cancel()
		if err := <-g.done; err != nil {
			b.Errorf("aigw exited with %v", err)
		}
	})
	return g
}
