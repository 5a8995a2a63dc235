package run

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
)

// fallbackConfig serves every model from backend "first" (priority 0) and "second" (priority
// 1, with a model override), both OpenAI-compatible at the given URLs.
func fallbackConfig(t *testing.T, first, second string) string {
	t.Helper()
	backend := func(name, rawURL string) string {
		u, _ := url.Parse(rawURL)
		return backendConfig(name, "{name: OpenAI, prefix: /v1}", u.Port())
	}
	rules := `    - backendRefs:
        - name: first
        - name: second
          priority: 1
          modelNameOverride: gpt-4o-mini
`
	return tempConfig(t, routeConfig(rules)+backend("first", first)+backend("second", second))
}

// TestTraceContinuesClientTraceWithAttemptSpans: over OTLP/gRPC, the request span continues the
// client's traceparent, a fallback shows as two attempt spans (the first failed), the second
// backend receives a traceparent of its own attempt, and the span carries the original and the
// backend model.
func TestTraceContinuesClientTraceWithAttemptSpans(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	var upstreamTraceparent string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		upstreamTraceparent = r.Header.Get("Traceparent")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}`)
	}))
	defer ok.Close()
	recv, addr := newGRPCReceiver(t)
	g := startGateway(t, Options{ConfigPath: fallbackConfig(t, failing.URL, ok.URL), Getenv: env(
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
		"OTEL_EXPORTER_OTLP_HEADERS", "x-collector-token=abc%20def",
		"OTEL_SERVICE_NAME", "my-gw", "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none")})

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, _ := post(t, g.Gateway+"/v1/chat/completions", `{"model":"my-alias","messages":[{"role":"user","content":"hi"}]}`,
		"Traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01", "Agent-Session-Id", "sess-42")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	g.stop(t)

	spans := recv.Spans()
	var server *tracepb.Span
	var attempts []*tracepb.Span
	for _, s := range spans {
		if fmt.Sprintf("%x", s.TraceId) != clientTrace {
			t.Errorf("span %q in trace %x, not the client's", s.Name, s.TraceId)
		}
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			attempts = append(attempts, s)
		}
	}
	if server == nil || len(attempts) != 2 {
		t.Fatalf("server span %v, %d attempt spans", server != nil, len(attempts))
	}
	if fmt.Sprintf("%x", server.ParentSpanId) != "00f067aa0ba902b7" {
		t.Errorf("server span's parent %x", server.ParentSpanId)
	}
	a := spanAttrs(server)
	for k, want := range map[string]string{"gen_ai.original.model": "my-alias", "gen_ai.request.model": "gpt-4o-mini",
		"gen_ai.response.model": "gpt-4o-mini-2024-07-18", "llm.model_name": "gpt-4o-mini-2024-07-18", "aigw.backend": "second",
		"aigw.attempts": "2", "session.id": "sess-42", "llm.cost.price_model": "gpt-4o-mini*"} {
		if a[k] != want {
			t.Errorf("%s = %q, want %q", k, a[k], want)
		}
	}
	first, second := spanAttrs(attempts[0]), spanAttrs(attempts[1])
	if first["aigw.attempt"] == "2" {
		first, second = second, first
	}
	if first["aigw.backend"] != "first" || first["aigw.attempt.outcome"] != "retried" || second["aigw.backend"] != "second" || second["http.response.status_code"] != "200" {
		t.Errorf("attempts %v / %v", first, second)
	}
	for _, at := range attempts {
		want := tracepb.Status_STATUS_CODE_UNSET
		if spanAttrs(at)["aigw.backend"] == "first" {
			want = tracepb.Status_STATUS_CODE_ERROR
		}
		if at.Status.GetCode() != want {
			t.Errorf("attempt at %s has status %v", spanAttrs(at)["aigw.backend"], at.Status.GetCode())
		}
	}
	for _, at := range attempts {
		if string(at.ParentSpanId) != string(server.SpanId) {
			t.Errorf("attempt span not a child of the request span")
		}
		if spanAttrs(at)["aigw.backend"] == "second" && !strings.Contains(upstreamTraceparent, fmt.Sprintf("%x", at.SpanId)) {
			t.Errorf("upstream traceparent %q is not the attempt span %x", upstreamTraceparent, at.SpanId)
		}
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.headers) == 0 || recv.headers[0]["x-collector-token"] != "abc def" {
		t.Errorf("collector headers %v", recv.headers)
	}
	if !strings.Contains(string(recv.raw), "my-gw") {
		t.Error("OTEL_SERVICE_NAME is not the resource's service.name")
	}
}

// serverSpan is the last server span of spans; a test without one fails.
func serverSpan(t *testing.T, spans []*tracepb.Span) *tracepb.Span {
	t.Helper()
	var server *tracepb.Span
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
	}
	if server == nil {
		t.Fatal("no server span")
	}
	return server
}

// spanAttrs flattens a span's attributes to strings.
func spanAttrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		v := kv.Value
		switch {
		case v.GetStringValue() != "":
			m[kv.Key] = v.GetStringValue()
		case v.GetArrayValue() != nil:
			m[kv.Key] = fmt.Sprint(len(v.GetArrayValue().Values))
		case v.GetDoubleValue() != 0:
			m[kv.Key] = strconv.FormatFloat(v.GetDoubleValue(), 'g', -1, 64)
		default:
			m[kv.Key] = strconv.FormatInt(v.GetIntValue(), 10)
		}
	}
	return m
}

// TestNothingExportedWithoutConfiguration: with no OTEL_* variable, no exporter exists and no
// span id is even made; a collector listening where the defaults point gets nothing.
func TestNothingExportedWithoutConfiguration(t *testing.T) {
	tel, err := observe.NewTelemetry(env(), "test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if tel.Tracing != nil || tel.Logs != nil || len(tel.MeterOptions) > 0 || len(tel.Signals()) > 0 {
		t.Fatalf("telemetry without configuration: %v", tel.Signals())
	}
	tel, err = observe.NewTelemetry(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER", "none", "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none"), "test", io.Discard)
	if err != nil || len(tel.Signals()) > 0 {
		t.Fatalf("every exporter none: %v %v", tel.Signals(), err)
	}

	up := fakeChat(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1")})
	resp, err := http.Get(g.Admin + "/events?since=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := make(chan *observe.Event, 16)
	go sseEvents(resp.Body, evs)
	post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if end := nextEnd(t, evs); end.TraceID != "" {
		t.Errorf("an untraced request has trace id %q", end.TraceID)
	}
}

// TestDeadCollectorDoesNotDelayRequests: with every signal exported to a port nobody listens
// on, requests take no longer than usual, and the failed exports are counted.
func TestDeadCollectorDoesNotDelayRequests(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	up := fakeChat(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1",
		"OTEL_EXPORTER_OTLP_ENDPOINT", dead, "OTEL_METRIC_EXPORT_INTERVAL", "200")})
	var slowest time.Duration
	for i := 0; i < 50; i++ {
		t0 := time.Now()
		resp, _ := post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
		slowest = max(slowest, time.Since(t0))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if slowest > 500*time.Millisecond {
		t.Errorf("slowest request %s with a dead collector", slowest)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, _ := strings.CutPrefix(grepLines(g.metrics(t), "aigw_telemetry_export_failures_total "), "aigw_telemetry_export_failures_total ")
		if n, _ := strconv.ParseFloat(v, 64); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no export failure counted:\n%s", grepLines(g.metrics(t), "aigw_telemetry"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHeaderAttributesAndHiding: mapped request headers reach spans, the access log and OTLP
// logs; the OpenInference hiding variables take contents out of spans.
func TestHeaderAttributesAndHiding(t *testing.T) {
	up := fakeChat(t)
	recv, endpoint := newHTTPReceiver(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1",
		"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none",
		"OTEL_AIGW_SPAN_HEADER_ATTRIBUTES", "x-tenant:tenant.id", "OTEL_AIGW_LOG_HEADER_ATTRIBUTES", "x-team:team.name",
		"OPENINFERENCE_HIDE_INPUT_TEXT", "true", "OPENINFERENCE_HIDE_OUTPUTS", "true")})
	post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"my secret question"}]}`,
		"Agent-Session-Id", "s-1", "X-Tenant", "acme", "X-Team", "blue")
	g.stop(t)
	a := spanAttrs(serverSpan(t, recv.Spans()))
	// A span (or log) mapping that is set replaces the default session mapping, as in the reference.
	if a["session.id"] != "" || a["tenant.id"] != "acme" || a["team.name"] != "" {
		t.Errorf("span header attributes: session %q tenant %q team %q", a["session.id"], a["tenant.id"], a["team.name"])
	}
	if a["llm.input_messages.0.message.content"] != observe.RedactedValue || a["output.value"] != observe.RedactedValue || a["llm.output_messages.0.message.role"] != "" {
		t.Errorf("hidden contents: %v", a)
	}
	if strings.Contains(recv.Raw(), "my secret question") == false {
		// input.value is not hidden by HIDE_INPUT_TEXT (only HIDE_INPUTS hides it).
		t.Error("input.value was hidden by OPENINFERENCE_HIDE_INPUT_TEXT")
	}
	logs, _ := os.ReadFile(g.LogFile)
	if !strings.Contains(string(logs), `"attributes":{"team.name":"blue"}`) {
		t.Errorf("access log lacks the header attributes:\n%s", logs)
	}
	if raw := recv.Raw(); !strings.Contains(raw, "team.name") || !strings.Contains(raw, "blue") {
		t.Error("OTLP logs lack the header attributes")
	}
}

// TestNoCredentialInTelemetry: the configured API key and the client's own key never appear in
// anything exported (traces, metrics, logs over OTLP), in the event stream or in the access log,
// even with every signal on and a header mapping that names the credential header refused.
func TestNoCredentialInTelemetry(t *testing.T) {
	const providerKey, clientKey, anthropicKey = "sk-provider-SECRET-1234567890", "sk-client-SECRET-0987654321", "sk-ant-SECRET-555"
	up := fakeChat(t)
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			var recv *otlpReceiver
			var endpoint string
			if proto == "grpc" {
				var addr string
				recv, addr = newGRPCReceiver(t)
				endpoint = "http://" + addr
			} else {
				recv, endpoint = newHTTPReceiver(t)
			}
			vars := []string{"OPENAI_API_KEY", providerKey, "OPENAI_BASE_URL", up.URL + "/v1", "ANTHROPIC_API_KEY", anthropicKey,
				"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL", proto, "OTEL_METRIC_EXPORT_INTERVAL", "100",
				"OTEL_AIGW_SPAN_HEADER_ATTRIBUTES", "authorization:auth"}
			if _, err := observe.HeaderMappings(env(vars...)); err == nil {
				t.Fatal("a mapping of the Authorization header was accepted")
			}
			vars = vars[:len(vars)-2]
			g := startGateway(t, Options{Dirs: config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir()}, Getenv: env(vars...)})
			resp, err := http.Get(g.Admin + "/events?since=0")
			if err != nil {
				t.Fatal(err)
			}
			var events strings.Builder
			done := make(chan struct{})
			go func() { defer close(done); _, _ = io.Copy(&events, resp.Body) }()
			for _, stream := range []string{"false", "true"} {
				post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`,
					"Authorization", "Bearer "+clientKey, "X-Api-Key", clientKey)
			}
			time.Sleep(300 * time.Millisecond) // at least one metric export
			g.stop(t)
			resp.Body.Close()
			<-done
			logs, _ := os.ReadFile(g.LogFile)
			raw := recv.Raw()
			if len(recv.Spans()) == 0 || !strings.Contains(raw, "gen_ai_client_token_usage") && !strings.Contains(raw, "gen_ai.client.token.usage") || !strings.Contains(raw, "aigw.request") {
				t.Fatalf("not every signal was exported (%d spans)", len(recv.Spans()))
			}
			for where, text := range map[string]string{"OTLP export": raw, "event stream": events.String(), "access log": string(logs)} {
				for _, key := range []string{providerKey, clientKey, anthropicKey, "SECRET"} {
					if strings.Contains(text, key) {
						t.Errorf("%s contains %q", where, key)
					}
				}
			}
		})
	}
}

// TestTranslatedStreamSpan: an OpenAI chat stream served by an Anthropic backend is described in
// the client's API (its output assembled from the translated chunks), with the backend's
// provider, the first-token event, token counts and a cost.
func TestTranslatedStreamSpan(t *testing.T) {
	anthropic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"usage":{"input_tokens":20,"output_tokens":1}}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bon"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"jour"}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}`,
			`{"type":"message_stop"}`,
		} {
			var typ struct{ Type string }
			_ = json.Unmarshal([]byte(ev), &typ)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ.Type, ev)
			w.(http.Flusher).Flush()
		}
	}))
	defer anthropic.Close()
	recv, endpoint := newHTTPReceiver(t)
	g := startGateway(t, Options{Getenv: env("ANTHROPIC_BASE_URL", anthropic.URL, "ANTHROPIC_API_KEY", "sk-ant-test",
		"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none")})
	resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"claude-sonnet-4-5","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"Say hello in French"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "jour") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	g.stop(t)
	server := serverSpan(t, recv.Spans())
	a := spanAttrs(server)
	for k, want := range map[string]string{
		"llm.system": "openai", "gen_ai.provider.name": "anthropic", "llm.provider": "anthropic",
		"gen_ai.original.model": "claude-sonnet-4-5", "llm.model_name": "claude-sonnet-4-5-20250929",
		"llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "Bonjour",
		"llm.input_messages.0.message.content": "Say hello in French", "gen_ai.usage.input_tokens": "20", "gen_ai.usage.output_tokens": "5",
		"llm.cost.price_model": "claude-sonnet-4*",
	} {
		if a[k] != want {
			t.Errorf("%s = %q, want %q", k, a[k], want)
		}
	}
	// 20 × $3 + 5 × $15 per million.
	if a["llm.cost.total"] != "0.000135" {
		t.Errorf("llm.cost.total = %s, want 0.000135", a["llm.cost.total"])
	}
	if len(server.Events) == 0 || server.Events[0].Name != "First Token Stream Event" {
		t.Errorf("events %v", server.Events)
	}
}

// TestHungCollectorDoesNotHoldUpExit: a collector that accepts connections and never answers
// costs the exit at most the bounded telemetry shutdown, for metrics as for the other signals.
func TestHungCollectorDoesNotHoldUpExit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	up := fakeChat(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String(), "OTEL_METRIC_EXPORT_INTERVAL", "100")})
	if resp, _ := post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond) // a periodic metric export is now stuck on the collector
	t0 := time.Now()
	g.stop(t)
	if d := time.Since(t0); d > 2*telemetryShutdown+2*time.Second {
		t.Errorf("exit took %s with a hung collector", d)
	}
}

// TestMetricsHeaderAttributes: OTEL_AIGW_METRICS_HEADER_ATTRIBUTES puts a request header on the
// metrics, with its values bounded as model names are; the session header stays off metrics.
func TestMetricsHeaderAttributes(t *testing.T) {
	up := fakeChat(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1",
		"OTEL_AIGW_METRICS_HEADER_ATTRIBUTES", "x-tenant:tenant.id")})
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	for i := range 130 {
		if resp, _ := post(t, g.Gateway+"/v1/chat/completions", body, "X-Tenant", "tenant-"+strconv.Itoa(i), "Agent-Session-Id", "s-"+strconv.Itoa(i)); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	var m string
	deadline := time.Now().Add(5 * time.Second)
	for {
		m = grepLines(g.metrics(t), "gen_ai_server_request_duration_seconds_count")
		if strings.Contains(m, `tenant_id="_OTHER"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(m, `tenant_id="tenant-0"`) || !strings.Contains(m, `tenant_id="_OTHER"`) {
		t.Fatalf("tenant attribute missing or unbounded:\n%s", m)
	}
	if n := strings.Count(m, "\n") + 1; n > observe.DefaultMaxModelLabels+1 {
		t.Errorf("%d duration series for 130 tenants, want at most %d", n, observe.DefaultMaxModelLabels+1)
	}
	if strings.Contains(m, "session_id") {
		t.Errorf("the session header reached the metrics:\n%s", m)
	}
	g.stop(t)
	// With no log mapping set, the default one puts the session on the access log.
	if logs, _ := os.ReadFile(g.LogFile); !strings.Contains(string(logs), `"attributes":{"session.id":"s-7"}`) {
		t.Errorf("access log lacks the default session attribute:\n%.2000s", logs)
	}
}
