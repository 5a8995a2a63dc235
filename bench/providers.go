package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/run"
)

// The providers section measures what aigw adds when it translates OpenAI chat to a cloud
// provider's own API and signs the request: Bedrock Converse / ConverseStream (SigV4 over the
// body, the answer decoded from AWS event-stream frames) and Gemini on Vertex AI
// (generateContent / streamGenerateContent SSE, a cached OAuth token). Each provider is a local
// fake that answers at once with pre-encoded bytes of the same length in tokens as the demo
// simulator's, so what is measured is the hop. Every cell compares, as the llm section does, the
// fake called directly in its own API, a bare reverse proxy in front of it, and an OpenAI chat
// client through aigw; an OpenAI passthrough cell (aigw in front of the simulator) is the
// reference the target is stated against.

const (
	bedrockBenchModel = "amazon.nova-pro-v1:0"
	vertexBenchModel  = "gemini-2.5-flash"
	vertexBenchPrefix = "/v1/projects/p1/locations/us-east5/publishers/google/models/"
	// maxTranslatedOverPassthrough is the target: a translated provider's added p50 at
	// most 25% above OpenAI passthrough's.
	maxTranslatedOverPassthrough = 1.25
)

// providersSection runs the openai, bedrock and vertex cells and prints their tables.
func providersSection(ctx context.Context, cfg Config) error {
	tmp, simURL, cleanup, err := sectionSetup(ctx, cfg, "aigw-bench-providers-")
	if err != nil {
		return err
	}
	defer cleanup()
	bedrockURL, stopBedrock, err := serveLocal(newBedrockFake(cfg.OutputTokens))
	if err != nil {
		return err
	}
	defer stopBedrock()
	vf, err := newVertexFake(cfg.OutputTokens)
	if err != nil {
		return err
	}
	vertexURL, stopVertex, err := serveLocal(vf)
	if err != nil {
		return err
	}
	defer stopVertex()
	vf.tokenURL = vertexURL + "/token"

	bare := map[string]string{}
	for name, u := range map[string]string{"openai": simURL, "bedrock": bedrockURL, "vertex": vertexURL} {
		b, stop, err := startBareProxy(u)
		if err != nil {
			return err
		}
		defer stop()
		bare[name] = b
	}
	configPath := filepath.Join(tmp, "providers.yaml")
	yaml, err := providersConfig(bedrockURL, vertexURL, vf)
	if err != nil {
		return err
	}
	if err := os.WriteFile(configPath, []byte(yaml), 0o600); err != nil {
		return err
	}
	gw, err := startConfigGateway(ctx, configPath, map[string]string{"AWS_EC2_METADATA_DISABLED": "true"}, filepath.Join(tmp, "providers"))
	if err != nil {
		return err
	}
	defer gw.stop()
	ogw, err := startGateway(ctx, map[string]string{"OPENAI_BASE_URL": simURL + "/v1"}, filepath.Join(tmp, "openai"))
	if err != nil {
		return err
	}
	defer ogw.stop()

	maxConc := slices.Max(cfg.Concurrency)
	chatBody := func(model string, stream bool) []byte {
		return fmt.Appendf(nil, `{"model":%q,"max_tokens":%d,"stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`, model, cfg.OutputTokens, stream)
	}
	chatWant := map[bool][]byte{true: []byte("[DONE]"), false: []byte(`"choices"`)}
	converseBody := fmt.Appendf(nil, `{"messages":[{"role":"user","content":[{"text":"Say something short."}]}],"inferenceConfig":{"maxTokens":%d}}`, cfg.OutputTokens)
	geminiBody := fmt.Appendf(nil, `{"contents":[{"role":"user","parts":[{"text":"Say something short."}]}],"generationConfig":{"maxOutputTokens":%d}}`, cfg.OutputTokens)
	bearer := http.Header{"Authorization": {"Bearer " + vf.staticToken}}
	native := map[string]func(base string, stream bool) (string, http.Header, []byte, []byte){
		"openai": func(base string, stream bool) (string, http.Header, []byte, []byte) {
			return base + "/v1/chat/completions", nil, chatBody(llmModel, stream), chatWant[stream]
		},
		"bedrock": func(base string, stream bool) (string, http.Header, []byte, []byte) {
			op, want := "converse", []byte(`"output"`)
			if stream {
				op, want = "converse-stream", []byte("metadata")
			}
			return base + "/model/" + url.PathEscape(bedrockBenchModel) + "/" + op, nil, converseBody, want
		},
		"vertex": func(base string, stream bool) (string, http.Header, []byte, []byte) {
			op := ":generateContent"
			if stream {
				op = ":streamGenerateContent?alt=sse"
			}
			return base + vertexBenchPrefix + vertexBenchModel + op, bearer, geminiBody, []byte(`"finishReason"`)
		},
	}
	models := map[string]string{"openai": llmModel, "bedrock": bedrockBenchModel, "vertex": vertexBenchModel}
	gateways := map[string]*gateway{"openai": ogw, "bedrock": gw, "vertex": gw}
	origin := map[string]string{"openai": simURL, "bedrock": bedrockURL, "vertex": vertexURL}

	var cells []*cell
	for _, p := range []string{"openai", "bedrock", "vertex"} {
		for _, stream := range []bool{false, true} {
			for _, c := range cfg.Concurrency {
				du, dh, db, dw := native[p](origin[p], stream)
				bu, bh, bb, bw := native[p](bare[p], stream)
				cells = append(cells, &cell{scenario: scenarioName(p+"-chat", stream), stream: stream, conc: c, targets: []target{
					{kindDirect, httpCall(newClient(maxConc), du, dh, db, dw)},
					{kindBare, httpCall(newClient(maxConc), bu, bh, bb, bw)},
					{kindAIGW, httpCall(newClient(maxConc), gateways[p].url+"/v1/chat/completions", nil, chatBody(models[p], stream), chatWant[stream])},
				}})
			}
		}
	}
	if cfg.Scenario != "" {
		cells = slices.DeleteFunc(cells, func(c *cell) bool { return c.scenario != cfg.Scenario })
		if len(cells) == 0 {
			return fmt.Errorf("no scenario %q", cfg.Scenario)
		}
	}
	warm(ctx, cfg, cells)
	if err := runRounds(ctx, cfg, cells, nil); err != nil {
		return err
	}
	return errors.Join(providersReport(cfg, cells)...)
}

// providersReport prints the latency table, aigw against the bare proxy per cell, and each
// translated provider's added p50 against OpenAI passthrough's at the same concurrency.
func providersReport(cfg Config, cells []*cell) []error {
	var errs []error
	maxConc := slices.Max(cfg.Concurrency)
	lat := &Table{
		Title:  fmt.Sprintf("Provider translation latency and throughput: %d round(s) x %s per target, %d output tokens", cfg.Rounds, cfg.Duration, cfg.OutputTokens),
		Header: []string{"scenario", "conc", "target", "reqs", "p50", "p99", "req/s", "+p50 vs direct", "errors"},
		Notes: []string{
			"closed loop: each of conc workers sends its next request when the previous one is fully read",
			"direct = the provider fake in its own API (Converse, Gemini generateContent; OpenAI: the simulator); bare = httputil.ReverseProxy in front of it",
			"aigw = an OpenAI chat client through run.Run: translated to the provider's API and signed (SigV4 for Bedrock, a cached OAuth token for Vertex), the answer translated back",
			"bedrock streams are AWS event-stream frames decoded with the SDK's decoder; vertex streams are streamGenerateContent SSE",
		},
	}
	cmp := &Table{
		Title:  "aigw vs bare reverse proxy",
		Header: []string{"scenario", "conc", "added p50 aigw/bare", fmt.Sprintf("<= %.1f", maxAddedRatio), "req/s aigw/bare", fmt.Sprintf(">= %.1f at c=%d", minRPSRatio, maxConc)},
	}
	vsPass := &Table{
		Title:  "translated provider vs OpenAI passthrough (aigw's added p50 over direct)",
		Header: []string{"scenario", "conc", "added p50", "passthrough added p50", "ratio", fmt.Sprintf("<= %.2f", maxTranslatedOverPassthrough)},
	}
	added := map[string]time.Duration{} // "<scenario> <conc>" → aigw's added p50
	for _, c := range cells {
		conc := strconv.Itoa(c.conc)
		if c.err != nil {
			lat.Add(c.scenario, conc, "NOT MEASURED", c.err.Error())
			errs = append(errs, fmt.Errorf("%s c=%d: %w", c.scenario, c.conc, c.err))
			continue
		}
		st := make([]stats, len(c.targets))
		for i, t := range c.targets {
			st[i] = summarize(c.results[i])
			s := st[i]
			add := "-"
			if i > 0 {
				add = fmtAdded(s.p50 - st[0].p50)
			}
			lat.Add(c.scenario, conc, t.kind, strconv.Itoa(s.n), fmtDur(s.p50), fmtDur(s.p99), fmt.Sprintf("%.0f", s.rps), add, strconv.Itoa(s.errs))
			if s.errs > 0 {
				errs = append(errs, fmt.Errorf("%s c=%d %s: %d failed calls; first: %w", c.scenario, c.conc, t.kind, s.errs, s.firstErr))
			}
		}
		const bare, aigw = 1, 2
		added[c.scenario+" "+conc] = st[aigw].p50 - st[0].p50
		cmp.Add(append([]string{c.scenario, conc}, vsBare(st, bare, aigw, c.conc == maxConc)...)...)
	}
	for _, c := range cells {
		p, rest, _ := strings.Cut(c.scenario, "-")
		conc := strconv.Itoa(c.conc)
		pass, ok := added["openai-"+rest+" "+conc]
		mine, mok := added[c.scenario+" "+conc]
		if p == "openai" || !ok || !mok {
			continue
		}
		ratio, mark := "n/a (passthrough added <= 0)", "-"
		if pass > 0 {
			r := float64(mine) / float64(pass)
			ratio, mark = fmt.Sprintf("%.2f", r), verdict(r <= maxTranslatedOverPassthrough)
		}
		vsPass.Add(c.scenario, conc, fmtAdded(mine), fmtAdded(pass), ratio, mark)
	}
	errs = append(errs, lat.Fprint(cfg.Out), cmp.Fprint(cfg.Out), vsPass.Fprint(cfg.Out))
	return errs
}

// serveLocal serves h on 127.0.0.1 and returns its base URL and a stop function.
func serveLocal(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close(); <-done }, nil
}

// benchWords is the text the fakes answer with, one word per output token.
func benchWords(n int) []string {
	words := make([]string, n)
	for i := range words {
		words[i] = "word" + strconv.Itoa(i) + " "
	}
	return words
}

// bedrockFake answers Converse and ConverseStream at once with pre-encoded answers of n words.
type bedrockFake struct {
	whole, stream []byte
}

func newBedrockFake(n int) *bedrockFake {
	words := benchWords(n)
	usage := fmt.Sprintf(`{"inputTokens":12,"outputTokens":%d,"totalTokens":%d}`, n, n+12)
	text, _ := json.Marshal(strings.Join(words, ""))
	f := &bedrockFake{whole: fmt.Appendf(nil, `{"output":{"message":{"role":"assistant","content":[{"text":%s}]}},"stopReason":"end_turn","usage":%s,"metrics":{"latencyMs":1}}`, text, usage)}
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	frame := func(typ, payload string) {
		var m eventstream.Message
		m.Headers.Set(":message-type", eventstream.StringValue("event"))
		m.Headers.Set(":event-type", eventstream.StringValue(typ))
		m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		m.Payload = []byte(payload)
		_ = enc.Encode(&buf, m) // a bytes.Buffer does not fail
	}
	frame("messageStart", `{"role":"assistant"}`)
	for _, w := range words {
		q, _ := json.Marshal(w)
		frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":`+string(q)+`}}`)
	}
	frame("contentBlockStop", `{"contentBlockIndex":0}`)
	frame("messageStop", `{"stopReason":"end_turn"}`)
	frame("metadata", `{"usage":`+usage+`,"metrics":{"latencyMs":1}}`)
	f.stream = buf.Bytes()
	return f
}

func (f *bedrockFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("X-Amzn-Requestid", "bench-1")
	switch {
	case strings.HasSuffix(r.URL.Path, "/converse"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.whole)
	case strings.HasSuffix(r.URL.Path, "/converse-stream"):
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(f.stream)
	default:
		http.Error(w, "unknown operation", http.StatusNotFound)
	}
}

// vertexFake answers generateContent and streamGenerateContent (SSE) at once with pre-encoded
// answers of n words, and its token endpoint with one long-lived token.
type vertexFake struct {
	whole, stream []byte
	staticToken   string
	tokenURL      string
	key           *rsa.PrivateKey
}

func newVertexFake(n int) (*vertexFake, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	words := benchWords(n)
	usage := fmt.Sprintf(`"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":%d,"totalTokenCount":%d}`, n, n+12)
	head := `"modelVersion":"` + vertexBenchModel + `","responseId":"bench1"`
	text, _ := json.Marshal(strings.Join(words, ""))
	f := &vertexFake{key: key, staticToken: "ya29.bench",
		whole: fmt.Appendf(nil, `{"candidates":[{"content":{"role":"model","parts":[{"text":%s}]},"finishReason":"STOP"}],%s,%s}`, text, usage, head)}
	var sb bytes.Buffer
	for i, w := range words {
		q, _ := json.Marshal(w)
		tail := "}]"
		if i == len(words)-1 {
			tail = `,"finishReason":"STOP"}],` + usage
		}
		fmt.Fprintf(&sb, "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":%s}]}%s,%s}\r\n\r\n", q, tail, head)
	}
	f.stream = sb.Bytes()
	return f, nil
}

func (f *vertexFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if r.URL.Path == "/token" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, f.staticToken)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.staticToken {
		http.Error(w, `{"error":{"code":401,"status":"UNAUTHENTICATED"}}`, http.StatusUnauthorized)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, ":generateContent"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.whole)
	case strings.HasSuffix(r.URL.Path, ":streamGenerateContent"):
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(f.stream)
	default:
		http.Error(w, "unknown method", http.StatusNotFound)
	}
}

// serviceAccount is a service account key file whose token endpoint is the fake's.
func (f *vertexFake) serviceAccount(tokenURL string) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(f.key)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p1", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "bench@p1.iam.gserviceaccount.com", "token_uri": tokenURL,
	})
	return string(b), err
}

// providersConfig routes amazon.* models to a Bedrock backend (static keys in a credentials
// file) and gemini-* models to a Vertex backend (a service account), both on the local fakes.
func providersConfig(bedrockURL, vertexURL string, vf *vertexFake) (string, error) {
	port := func(u string) string { _, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://")); return p }
	sa, err := vf.serviceAccount(vf.tokenURL)
	if err != nil {
		return "", err
	}
	backend := func(name, schema, p string) string {
		return fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIServiceBackend
metadata: {name: %[1]s}
spec:
  schema: {name: %[2]s}
  backendRef: {name: %[1]s, kind: Backend, group: gateway.envoyproxy.io}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: %[1]s}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: %[3]s}}]
`, name, schema, p)
	}
	return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: aigw
  listeners: [{name: http, protocol: HTTP, port: 1975}]
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw, kind: Gateway, group: gateway.networking.k8s.io}]
  rules:
    - matches: [{headers: [{type: RegularExpression, name: x-ai-eg-model, value: "amazon\\..*"}]}]
      backendRefs: [{name: bedrock}]
    - matches: [{headers: [{type: RegularExpression, name: x-ai-eg-model, value: "gemini-.*"}]}]
      backendRefs: [{name: gemini}]
` + backend("bedrock", "AWSBedrock", port(bedrockURL)) + backend("gemini", "GCPVertexAI", port(vertexURL)) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: aws}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: bedrock}]
  type: AWSCredentials
  awsCredentials:
    region: us-east-1
    credentialsFile:
      secretRef: {name: aws-creds}
      profile: bench
---
apiVersion: v1
kind: Secret
metadata: {name: aws-creds}
stringData:
  credentials: |
    [bench]
    aws_access_key_id = AKIABENCH
    aws_secret_access_key = bench-secret
---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: gcp}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: gemini}]
  type: GCPCredentials
  gcpCredentials:
    projectName: p1
    region: us-east5
    credentialsFile:
      secretRef: {name: gcp-sa}
---
apiVersion: v1
kind: Secret
metadata: {name: gcp-sa}
stringData:
  service_account.json: '` + sa + `'
`, nil
}

// startConfigGateway runs aigw with a configuration file, env as its whole environment and
// state under dir, and waits until it serves.
func startConfigGateway(ctx context.Context, configPath string, env map[string]string, dir string) (*gateway, error) {
	dirs := config.Dirs{ConfigHome: filepath.Join(dir, "config"), DataHome: filepath.Join(dir, "data"),
		StateHome: filepath.Join(dir, "state"), RuntimeDir: filepath.Join(dir, "run")}
	for _, d := range []string{dirs.ConfigHome, dirs.DataHome, dirs.StateHome, dirs.RuntimeDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &gateway{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan run.Ready, 1)
	go func() {
		g.done <- run.Run(ctx, run.Options{
			ConfigPath: configPath, Dirs: dirs, Host: "127.0.0.1", AdminHost: "127.0.0.1", ShutdownGrace: 2 * time.Second,
			Getenv:  func(k string) string { return env[k] },
			OnReady: func(r run.Ready) { ready <- r },
		})
	}()
	select {
	case r := <-ready:
		g.url = r.Gateway
		if err := checkLocal(g.url); err != nil {
			_ = g.stop()
			return nil, err
		}
		return g, nil
	case err := <-g.done:
		cancel()
		if err == nil {
			err = errors.New("it stopped before serving")
		}
		return nil, fmt.Errorf("starting aigw: %w", err)
	case <-time.After(20 * time.Second):
		cancel()
		return nil, errors.New("starting aigw: not ready after 20s")
	}
}
