package run

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoModelProvider answers every chat completion at once, naming as its model whatever model
// it was asked for, so that provider-supplied model names are as hostile as client ones.
func echoModelProvider(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model string `json:"model"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		model, _ := json.Marshal(req.Model)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":`+string(model)+
			`,"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestMetricsLabelsBounded is issue #18's item 6: 50 requests with 0.5 MB model names made
// /metrics 2.55 GB. With those and 10,000 distinct model names, /metrics stays small, and the
// names past the bound are counted under one label value.
func TestMetricsLabelsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("10,050 requests")
	}
	up := echoModelProvider(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", up.URL+"/v1", "OPENAI_API_KEY", "sk-test")})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(client.CloseIdleConnections)
	send := func(model string) int {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
		resp, err := client.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	huge := strings.Repeat("m", 512<<10)
	names := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				code := send(n)
				mu.Lock()
				statuses[code]++
				mu.Unlock()
			}
		}()
	}
	for i := range 50 {
		names <- huge + strconv.Itoa(i)
	}
	for i := range 10000 {
		names <- "client-model-" + strconv.Itoa(i)
	}
	close(names)
	wg.Wait()
	if statuses[200] != 10050 {
		t.Fatalf("statuses %v, want 10050 × 200", statuses)
	}
	v, text := g.waitMetric(t, "gen_ai_server_request_duration_seconds_count", `gen_ai_original_model="_OTHER"`)
	if v == "" {
		t.Fatal("no _OTHER series")
	}
	if len(text) > 2<<20 {
		t.Fatalf("/metrics is %d bytes", len(text))
	}
	if strings.Contains(text, "mmmmmmmmmmmmmmmm") {
		t.Error("a huge model name reached /metrics")
	}
	if n := strings.Count(text, "gen_ai_server_request_duration_seconds_count{"); n > 101 {
		t.Errorf("%d duration series, want at most 100 names + _OTHER", n)
	}
	t.Logf("/metrics: %d bytes, _OTHER count %s", len(text), v)
}

// TestNegativeUsageClamped: a provider reporting negative token counts is clamped to 0 in the
// access log and the token metrics, and counted in aigw_invalid_usage_total.
func TestNegativeUsageClamped(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-neg",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":-1000000,"completion_tokens":-5,"total_tokens":-1000005}}`)
	}))
	t.Cleanup(up.Close)
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", up.URL+"/v1", "OPENAI_API_KEY", "sk-test")})
	if code, body := chat(t, g, "gpt-neg"); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	v, text := g.waitMetric(t, "aigw_invalid_usage_total", `gen_ai_provider_name="openai"`)
	if v != "1" {
		t.Fatalf("aigw_invalid_usage_total = %q\n%s", v, text)
	}
	if v, _ := metricValue(text, "gen_ai_client_token_usage_sum", `gen_ai_token_type="input"`); v != "0" {
		t.Errorf("input token sum %q, want 0", v)
	}
	g.stop(t)
	log, err := os.ReadFile(g.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, `"request_model":"gpt-neg"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"invalid_usage":true`) || strings.Contains(line, `:-`) {
		t.Errorf("access log line: %s", line)
	}
}

// TestAzureDeploymentNameIsPathSafe: the model names an Azure deployment in the upstream path;
// one that is not a safe path segment is a 400 in the client's shape and never reaches Azure.
func TestAzureDeploymentNameIsPathSafe(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(up.Close)
	g := startGateway(t, Options{Getenv: env("AZURE_OPENAI_API_KEY", "az-test", "AZURE_OPENAI_ENDPOINT", up.URL, "OPENAI_API_VERSION", "2024-10-21")})
	for _, model := range []string{"..", ".", "a/../../admin", "gpt%2f4o", "gpt-4o?x=1", "gpt 4o", strings.Repeat("g", 65)} {
		code, body := chat(t, g, model)
		if code != 400 || !strings.Contains(body, `"invalid_model"`) || !strings.Contains(body, "deployment name") {
			t.Errorf("model %q: %d %s", model, code, body)
		}
		resp, body := post(t, g.Gateway+"/v1/messages", `{"model":"`+model+`","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 400 || !strings.Contains(body, `"type":"error"`) || !strings.Contains(body, "invalid_request_error") {
			t.Errorf("anthropic client, model %q: %d %s", model, resp.StatusCode, body)
		}
	}
	mu.Lock()
	if len(paths) != 0 {
		t.Errorf("Azure was asked for %v", paths)
	}
	mu.Unlock()
	if code, body := chat(t, g, "gpt-4o.2024_08-x"); code != 200 {
		t.Fatalf("a valid deployment name: %d %s", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/openai/deployments/gpt-4o.2024_08-x/chat/completions" {
		t.Errorf("upstream paths %v", paths)
	}
}

// TestRunLogRotates: the run log rotates by size, keeps LogMaxFiles old files, and every line in
// every file is one whole JSON object.
func TestRunLogRotates(t *testing.T) {
	up := echoModelProvider(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", up.URL+"/v1", "OPENAI_API_KEY", "sk-test"), LogMaxSize: 2048, LogMaxFiles: 3})
	for i := range 200 {
		if code, body := chat(t, g, "gpt-"+strconv.Itoa(i)); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	g.stop(t)
	for i, f := range []string{g.LogFile, g.LogFile + ".1", g.LogFile + ".2", g.LogFile + ".3"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("%s: broken line %q", f, line)
			}
		}
		if i > 0 && !strings.Contains(string(b), `"request_model":"gpt-`) {
			t.Errorf("%s has no access log line", f)
		}
	}
	if _, err := os.Stat(g.LogFile + ".4"); err == nil {
		t.Error("a fourth old log was kept")
	}
}

// TestHealthDrainingWhileRequestsFinish: once shutdown begins, /health answers 503 "draining"
// (the admin server stays up) until the request in flight has finished; then Run returns cleanly.
func TestHealthDrainingWhileRequestsFinish(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"m",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(up.Close)
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", up.URL+"/v1", "OPENAI_API_KEY", "sk-test")})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the gateway stops
	health := func() (int, string) {
		resp, err := http.Get(g.Admin + "/health")
		if err != nil {
			t.Fatalf("/health: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := health(); code != 200 {
		t.Fatalf("/health: %d %s", code, body)
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(g.Gateway+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // the request reaches the provider
	g.cancel()
	deadline := time.Now().Add(3 * time.Second)
	for {
		code, body := health()
		if code == http.StatusServiceUnavailable && body == "draining\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health while draining: %d %q", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	releaseOnce.Do(func() { close(release) })
	if code := <-answered; code != 200 {
		t.Errorf("the request in flight got %d", code)
	}
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	g.cancel = nil
}
