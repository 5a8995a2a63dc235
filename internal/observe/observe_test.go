package observe

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aigw/aigw/internal/usage"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestQueueDeliversEverythingInOrder: no event is lost, even with a tiny queue, and Close
// flushes the access log.
func TestQueueDeliversEverythingInOrder(t *testing.T) {
	var out lockedBuffer
	bus := &Bus{}
	bus.Subscribe(NewAccessLog(&out))
	q := NewQueue(bus, 2)
	for i := 0; i < 500; i++ {
		q.Publish(&RequestEvent{ID: "req-" + strings.Repeat("x", i%3), Status: 200 + i%2})
	}
	q.Close()
	if n := strings.Count(out.String(), "\n"); n != 500 {
		t.Fatalf("%d lines logged, want 500", n)
	}
}

func TestMetricsExposition(t *testing.T) {
	m, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	m.OnRequest(&RequestEvent{Operation: "chat", Provider: "openai", RequestModel: "alias", BackendModel: "gpt-real", ResponseModel: "gpt-real-2025",
		Status: 200, Stream: true, TimeToFirstToken: 1e8, Duration: 1e9,
		Usage: usage.Usage{InputTokens: 100, CachedInputTokens: 60, OutputTokens: 11, TotalTokens: 111}})
	m.OnRequest(&RequestEvent{Operation: "chat", Provider: "openai", RequestModel: "alias", Status: 502, Error: "boom", Duration: 1e8})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",gen_ai_original_model="alias",gen_ai_provider_name="openai",gen_ai_request_model="gpt-real",gen_ai_response_model="gpt-real-2025",gen_ai_token_type="input"} 100`,
		`gen_ai_token_type="cached_input"} 60`,
		`gen_ai_token_type="output"} 11`,
		`gen_ai_server_request_duration_seconds_count{error_type="502"`,
		`gen_ai_server_time_to_first_token_seconds_sum{`,
		`gen_ai_server_time_per_output_token_seconds_sum{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, `gen_ai_token_type="reasoning"`) {
		t.Error("zero reasoning tokens were recorded")
	}
}

// TestMetricsBoundModelLabels: model names are label values, and they come from clients and
// providers. Huge names and a client cycling through names must not grow /metrics without limit;
// names the configuration knows are always kept.
func TestMetricsBoundModelLabels(t *testing.T) {
	m, err := NewMetrics(WithKnownModels(func(s string) bool { return s == "configured-model" }), WithMaxModelLabels(10))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	huge := strings.Repeat("m", 512<<10)
	for i := 0; i < 50; i++ {
		m.OnRequest(&RequestEvent{Operation: "chat", Provider: "openai", RequestModel: huge + strconv.Itoa(i), BackendModel: huge, ResponseModel: huge, Status: 404, Duration: 1e6})
	}
	for i := 0; i < 10000; i++ {
		name := "client-model-" + strconv.Itoa(i)
		m.OnRequest(&RequestEvent{Operation: "chat", Provider: "openai", RequestModel: name, BackendModel: name, Status: 200, Duration: 1e6,
			Usage: usage.Usage{InputTokens: 1, OutputTokens: 1}})
	}
	m.OnRequest(&RequestEvent{Operation: "chat", Provider: "openai", RequestModel: "configured-model", BackendModel: "configured-model", Status: 200, Duration: 1e6})
	m.OnRequest(&RequestEvent{Operation: "chat", Provider: "openai", RequestModel: "bad\xffutf8", Status: 200, Duration: 1e6})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	if len(text) > 512<<10 {
		t.Fatalf("/metrics is %d bytes after hostile model names", len(text))
	}
	for _, want := range []string{`gen_ai_original_model="configured-model"`, `gen_ai_original_model="client-model-0"`, `gen_ai_original_model="client-model-9"`, `gen_ai_original_model="_OTHER"`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, bad := range []string{`client-model-10"`, "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", "bad"} {
		if strings.Contains(text, bad) {
			t.Errorf("metrics contain %q", bad)
		}
	}
}
