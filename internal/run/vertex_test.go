package run

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"google.golang.org/genai"
)

// fakeVertex is Vertex AI on 127.0.0.1 for project p1 in us-east5: an OAuth2 token endpoint for
// a service account (tokens it says last lifetimeReported and accepts for lifetime), Gemini's
// generateContent and streamGenerateContent (bodies decoded strictly into genai's types; a tool
// call while the conversation has no tool result, text after, its last part signed), and Claude's rawPredict and
// streamRawPredict. Every model call must carry a live token it issued.
type fakeVertex struct {
	t   *testing.T
	srv *httptest.Server
	// lifetimeReported is the expires_in given out, lifetime how long a token is accepted.
	lifetimeReported, lifetime time.Duration

	issued  atomic.Int64
	mu      sync.Mutex
	expiry  map[string]time.Time
	bodies  []genaiBody
	claude  []map[string]any
	refused atomic.Int64
}

// genaiBody is the generateContent body in google.golang.org/genai's types.
type genaiBody struct {
	Contents          []*genai.Content        `json:"contents"`
	SystemInstruction *genai.Content          `json:"systemInstruction,omitempty"`
	Tools             []*genai.Tool           `json:"tools,omitempty"`
	ToolConfig        *genai.ToolConfig       `json:"toolConfig,omitempty"`
	SafetySettings    []*genai.SafetySetting  `json:"safetySettings,omitempty"`
	GenerationConfig  *genai.GenerationConfig `json:"generationConfig,omitempty"`
	CachedContent     string                  `json:"cachedContent,omitempty"`
	Labels            map[string]string       `json:"labels,omitempty"`
}

const vertexPrefix = "/v1/projects/p1/locations/us-east5/publishers/"

func newFakeVertex(t *testing.T, reported, lifetime time.Duration) *fakeVertex {
	f := &fakeVertex{t: t, lifetimeReported: reported, lifetime: lifetime, expiry: map[string]time.Time{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVertex) port() string {
	_, p, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return p
}

func (f *fakeVertex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		f.token(w, r)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	exp, ok := f.expiry[tok]
	f.mu.Unlock()
	if !ok || time.Now().After(exp) {
		f.refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, vertexPrefix)
	if !ok {
		http.Error(w, "unknown path "+r.URL.Path, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case strings.HasPrefix(rest, "google/models/"):
		f.gemini(w, r, strings.TrimPrefix(rest, "google/models/"), body)
	case strings.HasPrefix(rest, "anthropic/models/"):
		f.claudeCall(w, strings.TrimPrefix(rest, "anthropic/models/"), body)
	default:
		http.Error(w, "unknown publisher", http.StatusNotFound)
	}
}

func (f *fakeVertex) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || strings.Count(r.PostForm.Get("assertion"), ".") != 2 {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	tok := fmt.Sprintf("ya29.fake-%d", f.issued.Add(1))
	f.mu.Lock()
	f.expiry[tok] = time.Now().Add(f.lifetime)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, int(f.lifetimeReported.Seconds()))
}

func (f *fakeVertex) gemini(w http.ResponseWriter, r *http.Request, method string, body []byte) {
	model, op, _ := strings.Cut(method, ":")
	if op == "predict" {
		var in struct {
			Instances []struct {
				Content  string `json:"content"`
				TaskType string `json:"task_type"`
			} `json:"instances"`
			Parameters struct {
				OutputDimensionality int `json:"outputDimensionality"`
			} `json:"parameters"`
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in.Instances) == 0 || in.Parameters.OutputDimensionality != 3 {
			f.t.Errorf("predict body %s", body)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"predictions":[`)
		for i, inst := range in.Instances {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"embeddings":{"values":[%d,0.5,-1],"statistics":{"token_count":%d,"truncated":false}}}`, len(inst.Content), len(inst.Content))
		}
		io.WriteString(w, `]}`)
		return
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	var in genaiBody
	if err := d.Decode(&in); err != nil {
		f.t.Errorf("the Gemini body does not decode strictly into genai types: %v\n%s", err, body)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, in)
	f.mu.Unlock()
	if g := in.GenerationConfig; g != nil && g.CandidateCount > 1 {
		f.candidates(w, op, model, int(g.CandidateCount))
		return
	}
	last := in.Contents[len(in.Contents)-1]
	var parts []string
	finish := `"finishReason":"STOP"`
	if len(in.Tools) > 0 && last.Parts[0].FunctionResponse == nil {
		parts = []string{`{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnLTE="}`}
	} else {
		parts = []string{`{"text":"Mulling","thought":true}`, `{"text":"It is "}`, `{"text":"sunny.","thoughtSignature":"c2lnLTI="}`}
	}
	usage := `"usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":5,"totalTokenCount":33,"cachedContentTokenCount":4,"thoughtsTokenCount":8}`
	head := `"modelVersion":"` + model + `","responseId":"resp1","createTime":"2026-01-01T00:00:00Z"`
	if op == "streamGenerateContent" {
		if r.URL.Query().Get("alt") != "sse" {
			f.t.Errorf("stream without alt=sse: %s", r.URL)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i, p := range parts {
			extra := ""
			if i == len(parts)-1 {
				extra = "," + finish + "}]," + usage
			} else {
				extra = "}]"
			}
			fmt.Fprintf(w, "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[%s]}%s,%s}\r\n\r\n", p, extra, head)
			w.(http.Flusher).Flush()
		}
		return
	}
	if op != "generateContent" {
		http.Error(w, "unknown method "+op, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"candidates":[{"content":{"role":"model","parts":[%s]},%s}],%s,%s}`, strings.Join(parts, ","), finish, usage, head)
}

// candidates answers a request for n candidates: candidate i says "answer i", streamed one
// event per candidate and then one finishing them all.
func (f *fakeVertex) candidates(w http.ResponseWriter, op, model string, n int) {
	usage := `"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":6,"totalTokenCount":11}`
	head := `"modelVersion":"` + model + `","responseId":"cand1"`
	cands := make([]string, n)
	for i := range n {
		cands[i] = fmt.Sprintf(`{"index":%d,"content":{"role":"model","parts":[{"text":"answer %d"}]},"finishReason":"STOP"}`, i, i)
	}
	if op == "streamGenerateContent" {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range n {
			fmt.Fprintf(w, "data: {\"candidates\":[{\"index\":%d,\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"answer \"}]}}],%s}\r\n\r\n", i, head)
		}
		done := make([]string, n)
		for i := range n {
			done[i] = fmt.Sprintf(`{"index":%d,"content":{"role":"model","parts":[{"text":"%d"}]},"finishReason":"STOP"}`, i, i)
		}
		fmt.Fprintf(w, "data: {\"candidates\":[%s],%s,%s}\r\n\r\n", strings.Join(done, ","), usage, head)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"candidates":[%s],%s,%s}`, strings.Join(cands, ","), usage, head)
}

func (f *fakeVertex) claudeCall(w http.ResponseWriter, method string, body []byte) {
	model, op, _ := strings.Cut(method, ":")
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil || in["anthropic_version"] != "vertex-2023-10-16" || in["model"] != nil {
		f.t.Errorf("Claude on Vertex got %s", body)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.claude = append(f.claude, in)
	f.mu.Unlock()
	if op == "streamRawPredict" {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`{"type":"message_start","message":{"id":"msg_v1","type":"message","role":"assistant","model":"` + model + `","content":[],"stop_reason":null,"usage":{"input_tokens":9,"cache_read_input_tokens":3,"output_tokens":1}}}`,
			`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Claude on Vertex"}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}`,
			`{"type":"message_stop"}`,
		} {
			var typ struct{ Type string }
			_ = json.Unmarshal([]byte(ev), &typ)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ.Type, ev)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"msg_v1","type":"message","role":"assistant","model":%q,"content":[{"type":"text","text":"Claude on Vertex"}],"stop_reason":"end_turn","usage":{"input_tokens":9,"cache_read_input_tokens":3,"output_tokens":4}}`, model)
}

// vertexConfig routes gemini-* models to a GCPVertexAI backend and claude-* to GCPAnthropic, both
// on the fake, authenticated by one service-account key in a Secret.
func vertexConfig(t *testing.T, f *fakeVertex) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p1", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "aigw@p1.iam.gserviceaccount.com", "token_uri": f.srv.URL + "/token",
	})
	rules := `    - matches: [{headers: [{type: RegularExpression, name: x-ai-eg-model, value: "gemini-.*"}]}]
      backendRefs: [{name: gemini}]
    - matches: [{headers: [{type: RegularExpression, name: x-ai-eg-model, value: "claude-.*"}]}]
      backendRefs: [{name: claude}]
`
	return routeConfig(rules) + backendConfig("gemini", "{name: GCPVertexAI}", f.port()) +
		backendConfig("claude", "{name: GCPAnthropic}", f.port()) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: gcp}
spec:
  targetRefs:
    - {group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: gemini}
    - {group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: claude}
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
  service_account.json: '` + string(sa) + `'
`
}

func startVertex(t *testing.T, reported, lifetime time.Duration) (*gateway, *fakeVertex) {
	t.Helper()
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
	f := newFakeVertex(t, reported, lifetime)
	return startGateway(t, Options{ConfigPath: tempConfig(t, vertexConfig(t, f))}), f
}

var weatherTool = openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
	Name: "get_weather", Description: openai.String("Current weather"),
	Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
})

// TestVertexGeminiOpenAIToolsTwoTurns drives Gemini on Vertex with the openai SDK: a tool call,
// the tool's result in a second turn, streamed and not, with reasoning.
func TestVertexGeminiOpenAIToolsTwoTurns(t *testing.T) {
	g, f := startVertex(t, time.Hour, time.Hour)
	c := openAIClient(g)
	ctx := context.Background()
	for _, stream := range []bool{false, true} {
		params := openai.ChatCompletionNewParams{
			Model:           "gemini-3-pro-preview",
			Messages:        []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Use tools."), openai.UserMessage("Weather in Paris?")},
			Tools:           []openai.ChatCompletionToolUnionParam{weatherTool},
			ReasoningEffort: openai.ReasoningEffortLow,
		}
		var first openai.ChatCompletionMessage
		if stream {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			s := c.Chat.Completions.NewStreaming(ctx, params)
			acc := accumulateChat(t, s)
			first = acc.Choices[0].Message
			if acc.Choices[0].FinishReason != "tool_calls" || acc.Usage.PromptTokens != 20 || acc.Usage.CompletionTokensDetails.ReasoningTokens != 8 {
				t.Errorf("stream: finish %q usage %+v", acc.Choices[0].FinishReason, acc.Usage)
			}
		} else {
			res, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			first = res.Choices[0].Message
			if res.Choices[0].FinishReason != "tool_calls" || res.Usage.PromptTokensDetails.CachedTokens != 4 || res.Usage.CompletionTokens != 13 {
				t.Errorf("finish %q usage %+v", res.Choices[0].FinishReason, res.Usage)
			}
		}
		if len(first.ToolCalls) != 1 || first.ToolCalls[0].Function.Name != "get_weather" || first.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` {
			t.Fatalf("stream=%v: first turn %+v", stream, first)
		}
		call := first.ToolCalls[0]
		params.Messages = append(params.Messages, first.ToParam(), openai.ToolMessage(`{"temp_c":18}`, call.ID))
		var reasoning string
		text := chatWithExtra(t, c, params, stream, "reasoning_content", func(raw string) {
			var v string
			_ = json.Unmarshal([]byte(raw), &v)
			reasoning += v
		})
		if text != "It is sunny." || reasoning != "Mulling" {
			t.Errorf("stream=%v: second turn %q, reasoning %q", stream, text, reasoning)
		}
		f.mu.Lock()
		second := f.bodies[len(f.bodies)-1]
		f.mu.Unlock()
		calls := second.Contents[1].Parts[0]
		if calls.FunctionCall == nil || string(calls.ThoughtSignature) != "sig-1" || second.Contents[2].Parts[0].FunctionResponse.Response["temp_c"] != float64(18) {
			t.Errorf("stream=%v: the second turn sent %+v / %+v", stream, calls, second.Contents[2].Parts[0])
		}
		if second.SystemInstruction == nil || second.GenerationConfig.ThinkingConfig.ThinkingLevel != genai.ThinkingLevelLow {
			t.Errorf("stream=%v: system %+v, config %+v", stream, second.SystemInstruction, second.GenerationConfig)
		}
	}
}

// TestVertexAnthropicClients drives Gemini and Claude on Vertex with the anthropic SDK, and
// Claude on Vertex with the openai SDK, streamed and not.
func TestVertexAnthropicClients(t *testing.T) {
	g, f := startVertex(t, time.Hour, time.Hour)
	ac := anthropicClient(g.Gateway + "/anthropic")
	ctx := context.Background()
	for _, model := range []string{"gemini-2.5-flash", "claude-sonnet-4-5@20250929"} {
		want := map[bool]string{true: "Claude on Vertex", false: "It is sunny."}[strings.HasPrefix(model, "claude")]
		params := anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 256,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
		msg, err := ac.Messages.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		var text string
		for _, b := range msg.Content {
			text += b.Text
		}
		if text != want || msg.Usage.InputTokens == 0 {
			t.Errorf("%s: %q usage %+v", model, text, msg.Usage)
		}
		s := ac.Messages.NewStreaming(ctx, params)
		acc := accumulateMessage(t, s)
		text = ""
		for _, b := range acc.Content {
			text += b.Text
		}
		if text != want {
			t.Errorf("%s stream: %q", model, text)
		}
	}
	oc := openAIClient(g)
	res, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "claude-sonnet-4-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "Claude on Vertex" || res.Usage.PromptTokens != 12 {
		t.Errorf("openai → Claude on Vertex: %+v", res)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.claude) != 3 {
		t.Errorf("%d Claude calls, want 3", len(f.claude))
	}
}

// TestVertexTokenExpiresUnderLoad: the fake's tokens say 11 s and last 3 s (oauth2 renews 10 s
// early), so several tokens come and go during the load; no request may fail.
func TestVertexTokenExpiresUnderLoad(t *testing.T) {
	g, f := startVertex(t, 11*time.Second, 3*time.Second)
	c := openAIClient(g)
	failed, total := underLoad(t, 3500*time.Millisecond, 4, func(int) error {
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		})
		return err
	})
	if failed != 0 || f.refused.Load() != 0 {
		t.Errorf("%d of %d requests failed; the fake refused %d tokens", failed, total, f.refused.Load())
	}
	if n := f.issued.Load(); n < 2 {
		t.Errorf("%d tokens issued over 3.5 s of 1 s tokens: no refresh", n)
	}
}

// TestVertexEmbeddingsAndResponses: OpenAI embeddings reach a Vertex embedding model through
// predict, and the Responses API reaches Gemini through its chat translation.
func TestVertexEmbeddingsAndResponses(t *testing.T) {
	g, _ := startVertex(t, time.Hour, time.Hour)
	c := openAIClient(g)
	ctx := context.Background()
	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:      "gemini-embedding-001",
		Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"ab", "cde"}},
		Dimensions: openai.Int(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || emb.Data[1].Embedding[0] != 3 || emb.Data[1].Index != 1 || emb.Usage.PromptTokens != 5 {
		t.Errorf("embeddings %+v", emb)
	}
	res, err := c.Responses.New(ctx, responses.ResponseNewParams{
		Model: "gemini-2.5-flash",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather?")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != "It is sunny." || res.Usage.OutputTokensDetails.ReasoningTokens != 8 {
		t.Errorf("response %q, usage %+v", res.OutputText(), res.Usage)
	}
}

// chatWithExtra sends params, streamed or not, and returns the reply's text; each gets the raw
// value of the extension field of the message (once) or of every delta that has it (streamed).
func chatWithExtra(t *testing.T, c openai.Client, params openai.ChatCompletionNewParams, stream bool, field string, each func(raw string)) string {
	t.Helper()
	ctx := context.Background()
	if !stream {
		res, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if raw, ok := res.Choices[0].Message.JSON.ExtraFields[field]; ok {
			each(raw.Raw())
		}
		return res.Choices[0].Message.Content
	}
	var text string
	s := c.Chat.Completions.NewStreaming(ctx, params)
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 {
			text += ch.Choices[0].Delta.Content
			if raw, ok := ch.Choices[0].Delta.JSON.ExtraFields[field]; ok {
				each(raw.Raw())
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return text
}

// TestVertexGeminiTextSignatureRoundTrip: the thought signature Gemini 3 puts on a text part
// reaches the openai client as a thinking block, whole and streamed, and goes back on the text
// part of the next turn.
func TestVertexGeminiTextSignatureRoundTrip(t *testing.T) {
	g, f := startVertex(t, time.Hour, time.Hour)
	c := openAIClient(g)
	ctx := context.Background()
	for _, stream := range []bool{false, true} {
		params := openai.ChatCompletionNewParams{Model: "gemini-3-pro-preview",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather?")}}
		var blocks []json.RawMessage
		text := chatWithExtra(t, c, params, stream, "thinking_blocks", func(raw string) {
			var bs []json.RawMessage
			_ = json.Unmarshal([]byte(raw), &bs)
			blocks = append(blocks, bs...)
		})
		var signed []string
		for _, b := range blocks {
			var v struct{ Signature string }
			_ = json.Unmarshal(b, &v)
			if v.Signature != "" {
				signed = append(signed, v.Signature)
			}
		}
		if text != "It is sunny." || len(signed) != 1 || signed[0] != "aigw.gemini.text.c2lnLTI=" {
			t.Fatalf("stream=%v: %q, signed thinking blocks %q", stream, text, signed)
		}
		asst := openai.ChatCompletionAssistantMessageParam{Content: openai.ChatCompletionAssistantMessageParamContentUnion{OfString: openai.String(text)}}
		asst.SetExtraFields(map[string]any{"thinking_blocks": blocks})
		params.Messages = append(params.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &asst}, openai.UserMessage("And tomorrow?"))
		if _, err := c.Chat.Completions.New(ctx, params); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		back := f.bodies[len(f.bodies)-1].Contents[1].Parts
		f.mu.Unlock()
		last := back[len(back)-1]
		if last.Text != "It is sunny." || string(last.ThoughtSignature) != "sig-2" || last.Thought {
			t.Errorf("stream=%v: the answer went back as %+v", stream, back)
		}
	}
}

// TestVertexGeminiCandidates: n > 1 asks Gemini for that many candidates, which come back as
// choices by index, whole and streamed, with the usage once.
func TestVertexGeminiCandidates(t *testing.T) {
	g, f := startVertex(t, time.Hour, time.Hour)
	c := openAIClient(g)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", N: openai.Int(3),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 3 || res.Choices[2].Index != 2 || res.Choices[2].Message.Content != "answer 2" || res.Usage.TotalTokens != 11 {
		t.Errorf("choices %+v usage %+v", res.Choices, res.Usage)
	}
	f.mu.Lock()
	if n := f.bodies[len(f.bodies)-1].GenerationConfig.CandidateCount; n != 3 {
		t.Errorf("candidateCount %d", n)
	}
	f.mu.Unlock()
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	usageChunks := 0
	for s.Next() {
		ch := s.Current()
		acc.AddChunk(ch)
		if ch.Usage.TotalTokens > 0 {
			usageChunks++
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 3 || usageChunks != 1 || acc.Usage.TotalTokens != 11 {
		t.Fatalf("stream: %d choices, %d usage chunks, usage %+v", len(acc.Choices), usageChunks, acc.Usage)
	}
	for i, ch := range acc.Choices {
		if ch.Index != int64(i) || ch.Message.Content != fmt.Sprintf("answer %d", i) || ch.FinishReason != "stop" {
			t.Errorf("stream choice %d: %+v", i, ch)
		}
	}
}
