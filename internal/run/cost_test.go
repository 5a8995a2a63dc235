package run

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
)

// TestCostOnEventLogAndMetric: a request's USD cost, computed by hand from the fake's usage
// (1000 input, 200 output tokens of gpt-4o-mini at $0.15 and $0.60 per million = $0.00027), is
// on the end event, in the access log and in gen_ai_client_cost_total; a model without a price
// is "unknown" everywhere and never counted as zero dollars.
func TestCostOnEventLogAndMetric(t *testing.T) {
	up := fakeChat(t)
	home := t.TempDir()
	// The config home's prices.yaml adds a price for a private model.
	if err := os.WriteFile(filepath.Join(home, "prices.yaml"), []byte("version: 1\nprices:\n  - {provider: openai, model: \"my-model\", input: 10, output: 20, date: 2026-11-30, source: \"our contract\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, Options{Dirs: config.Dirs{StateHome: t.TempDir(), ConfigHome: home},
		Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL+"/v1")})
	resp, err := http.Get(g.Admin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := make(chan *observe.Event, 64)
	go sseEvents(resp.Body, evs)
	waitFor(t, "the subscriber", func() bool { return strings.Contains(g.metrics(t), "aigw_events_subscribers 1") })

	post(t, g.Gateway+"/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "priced")
	end := nextEnd(t, evs)
	if end.CostUSD == nil || end.CostUSD.Unknown || math.Abs(end.CostUSD.Amount-0.00027) > 1e-12 {
		t.Errorf("event cost %v, want 0.00027", end.CostUSD)
	}
	v, text := g.waitMetric(t, "gen_ai_client_cost_total", `gen_ai_response_model="gpt-4o-mini-2024-07-18"`)
	if f, _ := strconv.ParseFloat(v, 64); math.Abs(f-0.00027) > 1e-12 {
		t.Errorf("cost metric %q\n%s", v, grepLines(text, "gen_ai_client_cost"))
	}

	// A response model the catalog lacks is priced by the model sent upstream: here the config
	// home's private price, 10 × $10 + 2 × $20 per million = $0.00014. A model nobody prices is
	// "unknown", counted apart and never as zero dollars.
	unknownUp := fakeChatModel(t, "nobody-prices-this")
	g2 := startGateway(t, Options{Dirs: config.Dirs{StateHome: t.TempDir(), ConfigHome: home},
		Getenv: env("OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", unknownUp.URL+"/v1")})
	resp2, err := http.Get(g2.Admin + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	evs2 := make(chan *observe.Event, 64)
	go sseEvents(resp2.Body, evs2)
	waitFor(t, "the subscriber", func() bool { return strings.Contains(g2.metrics(t), "aigw_events_subscribers 1") })
	post(t, g2.Gateway+"/v1/chat/completions", `{"model":"my-model","messages":[{"role":"user","content":"hi"}]}`)
	if end := nextEnd(t, evs2); end.CostUSD == nil || end.CostUSD.Unknown || math.Abs(end.CostUSD.Amount-0.00014) > 1e-12 {
		t.Errorf("private model cost %v, want 0.00014", end.CostUSD)
	}
	post(t, g2.Gateway+"/v1/chat/completions", `{"model":"mystery","messages":[{"role":"user","content":"hi"}]}`)
	if end := nextEnd(t, evs2); end.CostUSD == nil || !end.CostUSD.Unknown {
		t.Errorf("unpriced model cost %v, want unknown", end.CostUSD)
	}
	if v, text := g2.waitMetric(t, "gen_ai_client_cost_unknown_total", `gen_ai_request_model="mystery"`); v != "1" {
		t.Errorf("unknown cost counter %q\n%s", v, grepLines(text, "gen_ai_client_cost"))
	}
	if _, ok := metricValue(g2.metrics(t), "gen_ai_client_cost_total", `gen_ai_request_model="mystery"`); ok {
		t.Error("an unknown price was counted in dollars")
	}
	g2.stop(t) // flushes the access log
	log, _ := os.ReadFile(g2.LogFile)
	if !strings.Contains(string(log), `"cost_usd":"unknown"`) {
		t.Errorf("access log lacks the unknown cost:\n%s", log)
	}
	g.stop(t)
	log, _ = os.ReadFile(g.LogFile)
	if !strings.Contains(string(log), `"cost_usd":0.00027`) {
		t.Errorf("access log lacks the cost:\n%s", log)
	}
}

func nextEnd(t *testing.T, evs <-chan *observe.Event) *observe.RequestEvent {
	t.Helper()
	for ev := range evs {
		if ev.Kind == observe.KindEnd {
			return ev.End
		}
	}
	t.Fatal("the event stream ended")
	return nil
}

// fakeChatModel is fakeChat answering with another response model.
func fakeChatModel(t *testing.T, model string) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion", "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": "hi"}, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})
		_, _ = w.Write(b)
	}))
	t.Cleanup(up.Close)
	return up
}
