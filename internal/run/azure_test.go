package run

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"

	"github.com/aigw/aigw/internal/config"
)

// azureChildEnv names the configuration file an aigw child process serves (see
// TestAzureEntraGatewayProcess).
const azureChildEnv = "AIGW_TEST_AZURE_ENTRA_CONFIG"

// fakeEntra is a Microsoft Entra ID tenant on 127.0.0.1 over TLS (azidentity takes only https
// authorities), issuing tokens for tenant1/app1 on a client secret or on a client assertion that
// its companion OIDC provider issued, and a fake Azure OpenAI that serves only requests carrying a
// live token it issued. Tokens say lifetimeReported and are accepted for lifetime.
type fakeEntra struct {
	t                          *testing.T
	entra, idp, aoai           *httptest.Server
	lifetimeReported, lifetime time.Duration

	issued, idpIssued, refused atomic.Int64
	mu                         sync.Mutex
	expiry                     map[string]time.Time // Entra access tokens
	assertions                 map[string]bool      // OIDC tokens of the IdP
	forms                      []url.Values
}

func newFakeEntra(t *testing.T, reported, lifetime time.Duration) *fakeEntra {
	f := &fakeEntra{t: t, lifetimeReported: reported, lifetime: lifetime, expiry: map[string]time.Time{}, assertions: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tenant1/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := f.entra.URL + "/tenant1"
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_endpoint":%q,"authorization_endpoint":%q,"issuer":%q,"tenant_region_scope":"NA"}`,
			base+"/oauth2/v2.0/token", base+"/oauth2/v2.0/authorize", base+"/v2.0")
	})
	mux.HandleFunc("POST /tenant1/oauth2/v2.0/token", f.token)
	f.entra = httptest.NewTLSServer(mux)
	t.Cleanup(f.entra.Close)

	idp := http.NewServeMux()
	idp.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, f.idp.URL, f.idp.URL+"/token")
	})
	idp.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" || id != "idp-client" || secret != "idp-s3cret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		tok := fmt.Sprintf("oidc-jwt-%d", f.idpIssued.Add(1))
		f.mu.Lock()
		f.assertions[tok] = true
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok)
	})
	f.idp = httptest.NewServer(idp)
	t.Cleanup(f.idp.Close)

	f.aoai = httptest.NewServer(http.HandlerFunc(f.azureOpenAI))
	t.Cleanup(f.aoai.Close)
	return f
}

func (f *fakeEntra) token(w http.ResponseWriter, r *http.Request) {
	fail := func(why string) {
		f.t.Errorf("Entra ID token request refused: %s", why)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q}`, why)
	}
	if err := r.ParseForm(); err != nil {
		fail(err.Error())
		return
	}
	v := r.PostForm
	if v.Get("grant_type") != "client_credentials" || v.Get("client_id") != "app1" || !strings.Contains(v.Get("scope"), "https://cognitiveservices.azure.com/.default") {
		fail("grant, client or scope")
		return
	}
	switch a := v.Get("client_assertion"); {
	case v.Get("client_secret") == "s3cret" && a == "":
	case a != "" && v.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
		f.mu.Lock()
		known := f.assertions[a]
		f.mu.Unlock()
		if !known {
			fail("client assertion not issued by the IdP")
			return
		}
	default:
		fail("no valid client secret or assertion")
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, v)
	tok := fmt.Sprintf("entra-at-%d", f.issued.Add(1))
	f.expiry[tok] = time.Now().Add(f.lifetime)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"token_type":"Bearer","access_token":%q,"expires_in":%d,"ext_expires_in":%[2]d}`, tok, int(f.lifetimeReported.Seconds()))
}

// azureOpenAI is the deployment gpt-4o of an Azure OpenAI resource.
func (f *fakeEntra) azureOpenAI(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	exp, ok := f.expiry[tok]
	f.mu.Unlock()
	if !ok || time.Now().After(exp) || r.Header.Get("Api-Key") != "" {
		f.refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}`)
		return
	}
	if r.URL.Path != "/openai/deployments/gpt-4o/chat/completions" || r.URL.Query().Get("api-version") != "2024-10-21" {
		http.Error(w, `{"error":{"code":"404","message":"Resource not found"}}`, http.StatusNotFound)
		return
	}
	var in struct {
		Stream   bool `json:"stream"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Messages) == 0 {
		http.Error(w, `{"error":{"code":"400","message":"bad body"}}`, http.StatusBadRequest)
		return
	}
	// The first user message's text, whether a string or parts (as the Anthropic bridge sends).
	var who string
	for _, m := range in.Messages {
		if m.Role != "user" {
			continue
		}
		if json.Unmarshal(m.Content, &who) != nil {
			var parts []struct{ Text string }
			_ = json.Unmarshal(m.Content, &parts)
			for _, p := range parts {
				who += p.Text
			}
		}
		break
	}
	answer := "Entra says hi to " + who
	usage := `{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}`
	if !in.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-az1","object":"chat.completion","created":1,"model":"gpt-4o-2024-11-20","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":%s}`, answer, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	head := `{"id":"chatcmpl-az1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-11-20","choices":`
	for _, word := range strings.SplitAfter(answer, " ") {
		fmt.Fprintf(w, "data: %s[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", head, word)
		w.(http.Flusher).Flush()
	}
	fmt.Fprintf(w, "data: %s[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", head)
	fmt.Fprintf(w, "data: %s[],\"usage\":%s}\n\ndata: [DONE]\n\n", head, usage)
}

// config is an aigw configuration routing gpt-4o to the fake Azure OpenAI with an AzureCredentials
// policy whose Entra ID authority is the fake's (the aigw.run/azure-authority-host annotation);
// federated authenticates with an oidcExchangeToken instead of a client secret.
func (f *fakeEntra) config(federated bool) string {
	_, port, _ := net.SplitHostPort(f.aoai.Listener.Addr().String())
	cred := `    clientSecretRef: {name: entra-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: entra-secret}
stringData: {client-secret: s3cret}
`
	if federated {
		cred = `    oidcExchangeToken:
      oidc:
        provider: {issuer: "` + f.idp.URL + `"}
        clientID: idp-client
        clientSecret: {name: idp-secret}
        scopes: [api://AzureADTokenExchange]
---
apiVersion: v1
kind: Secret
metadata: {name: idp-secret}
stringData: {client-secret: idp-s3cret}
`
	}
	return routeConfig("    - backendRefs: [{name: azure}]\n") +
		backendConfig("azure", `{name: AzureOpenAI, version: "2024-10-21"}`, port) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata:
  name: entra
  annotations: {aigw.run/azure-authority-host: "` + f.entra.URL + `"}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: azure}]
  type: AzureCredentials
  azureCredentials:
    tenantID: tenant1
    clientID: app1
` + cred
}

// startAzureGateway runs aigw on the configuration in a child process (this test binary running
// TestAzureEntraGatewayProcess) that trusts the fake Entra ID's certificate through SSL_CERT_FILE,
// the way a private authority's CA is trusted in production: Go reads the system roots once per
// process, so the test process itself cannot be taught a new root.
func startAzureGateway(t *testing.T, f *fakeEntra, federated bool) *gateway {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	writeConfig(t, path, f.config(federated))
	ca := filepath.Join(dir, "entra-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.entra.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAzureEntraGatewayProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), azureChildEnv+"="+path, "SSL_CERT_FILE="+ca, "SSL_CERT_DIR="+dir)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "aigw-ready "); ok {
				ready <- u
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		stdin.Close() // the child stops when its stdin ends
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("aigw child: %v\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("aigw child did not stop within 15s\n%s", stderr.String())
		}
	})
	select {
	case u := <-ready:
		return &gateway{Ready: Ready{Gateway: u}}
	case <-time.After(20 * time.Second):
		t.Fatalf("aigw child not ready in 20s\n%s", stderr.String())
	}
	return nil
}

// TestAzureEntraGatewayProcess is the aigw child process of startAzureGateway; run by itself it
// is skipped.
func TestAzureEntraGatewayProcess(t *testing.T) {
	path := os.Getenv(azureChildEnv)
	if path == "" {
		t.Skip("the aigw child process of the Azure Entra ID tests (started by them)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err := Run(ctx, Options{
		ConfigPath: path, Host: "127.0.0.1", AdminHost: "127.0.0.1",
		Dirs:          config.Dirs{StateHome: t.TempDir(), ConfigHome: t.TempDir()},
		Getenv:        func(string) string { return "" },
		ShutdownGrace: 5 * time.Second,
		OnReady:       func(r Ready) { fmt.Printf("aigw-ready %s\n", r.Gateway) },
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAzureEntraOpenAIClient drives Azure OpenAI behind an AzureCredentials policy with the
// openai SDK, streamed and not, with a client secret and with an OIDC token as client assertion
// (oidcExchangeToken): every upstream request carries the Entra ID token the fake issued, never
// the client's key.
func TestAzureEntraOpenAIClient(t *testing.T) {
	for _, federated := range []bool{false, true} {
		t.Run(map[bool]string{false: "client-secret", true: "oidc-exchange"}[federated], func(t *testing.T) {
			f := newFakeEntra(t, time.Hour, time.Hour)
			c := openAIClient(startAzureGateway(t, f, federated))
			ctx := context.Background()
			params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Ada")}}
			res, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if res.Choices[0].Message.Content != "Entra says hi to Ada" || res.Usage.TotalTokens != 12 {
				t.Errorf("completion %+v", res)
			}
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			s := c.Chat.Completions.NewStreaming(ctx, params)
			acc := accumulateChat(t, s)
			if acc.Choices[0].Message.Content != "Entra says hi to Ada" || acc.Usage.PromptTokens != 7 {
				t.Errorf("stream %+v", acc.ChatCompletion)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if n := f.issued.Load(); n != 1 || f.refused.Load() != 0 {
				t.Errorf("%d Entra ID tokens for 2 requests (want 1, cached), %d refused", n, f.refused.Load())
			}
			if len(f.forms) == 0 || (f.forms[0].Get("client_assertion") != "") != federated {
				t.Errorf("token request %v", f.forms)
			}
		})
	}
}

// TestAzureEntraAnthropicClient drives Azure OpenAI behind Entra ID with the anthropic SDK,
// through the Messages → Chat Completions translation, streamed and not.
func TestAzureEntraAnthropicClient(t *testing.T) {
	f := newFakeEntra(t, time.Hour, time.Hour)
	g := startAzureGateway(t, f, false)
	ac := anthropicClient(g.Gateway + "/anthropic")
	ctx := context.Background()
	params := anthropic.MessageNewParams{Model: "gpt-4o", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Grace"))}}
	msg, err := ac.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Entra says hi to Grace" || msg.Usage.OutputTokens != 5 {
		t.Errorf("message %+v", msg)
	}
	s := ac.Messages.NewStreaming(ctx, params)
	acc := accumulateMessage(t, s)
	if len(acc.Content) != 1 || acc.Content[0].Text != "Entra says hi to Grace" {
		t.Errorf("stream %+v", acc.Content)
	}
	if f.refused.Load() != 0 || f.issued.Load() != 1 {
		t.Errorf("%d tokens issued, %d refused", f.issued.Load(), f.refused.Load())
	}
}

// TestAzureEntraTokenExpiresUnderLoad: Entra ID says 301 s and the fake takes a token for 3 s;
// aigw renews 5 minutes before the stated expiry, so several tokens come and go while four
// clients send requests, and none fails.
func TestAzureEntraTokenExpiresUnderLoad(t *testing.T) {
	f := newFakeEntra(t, 301*time.Second, 3*time.Second)
	c := openAIClient(startAzureGateway(t, f, false))
	failed, total := underLoad(t, 3500*time.Millisecond, 4, func(i int) error {
		params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Ada")}}
		if i%2 == 0 {
			_, err := c.Chat.Completions.New(context.Background(), params)
			return err
		}
		s := c.Chat.Completions.NewStreaming(context.Background(), params)
		for s.Next() {
		}
		return s.Err()
	})
	if failed != 0 || f.refused.Load() != 0 {
		t.Errorf("%d of %d requests failed; the fake refused %d tokens", failed, total, f.refused.Load())
	}
	if n := f.issued.Load(); n < 2 {
		t.Errorf("%d tokens issued over 3.5 s of tokens renewed after 1 s: no refresh", n)
	}
}
