package run

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"

	"github.com/aigw/aigw/internal/backendauth/awsfake"
	"github.com/aigw/aigw/internal/config"
)

// bedrockModel is an inference profile id: its ':' must reach Bedrock escaped in one segment.
const bedrockModel = "us.anthropic.claude-3-5-haiku-20241022-v1:0"

// noAWSEnv keeps the test away from the instance metadata address and the machine's AWS setup.
func noAWSEnv(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(v, "")
	}
}

// bedrockConfig is a configuration with one Bedrock backend (schema AWSBedrock or AWSAnthropic)
// on the fake, whose policy is awsCredentials (YAML under spec.awsCredentials) plus extra
// objects (a Secret).
func bedrockConfig(schema, port, awsCredentials, extra string) string {
	return routeConfig("    - backendRefs: [{name: bedrock}]\n") + backendConfig("bedrock", "{name: "+schema+"}", port) + fmt.Sprintf(`---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: bedrock-creds}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: bedrock}]
  type: AWSCredentials
  awsCredentials:
%s
%s`, awsCredentials, extra)
}

// fileCredentials is an awsCredentials block with a credentials file Secret for the key.
func fileCredentials(region, id, secret string) (string, string) {
	return fmt.Sprintf(`    region: %s
    credentialsFile:
      secretRef: {name: aws-creds}
      profile: bedrock`, region), fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: aws-creds}
stringData:
  credentials: |
    [bedrock]
    aws_access_key_id = %s
    aws_secret_access_key = %s
`, id, secret)
}

// startBedrock starts a fake Bedrock accepting one static key and aigw in front of it.
func startBedrock(t *testing.T, schema string) (*gateway, *fakeBedrock) {
	t.Helper()
	noAWSEnv(t)
	keys := &awsfake.Keys{}
	keys.Add("AKIATEST", "test-secret", "", time.Time{})
	fb := newFakeBedrock(t, keys, "us-east-1")
	creds, secret := fileCredentials("us-east-1", "AKIATEST", "test-secret")
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, bedrockConfig(schema, fb.port(), creds, secret))
	return startGateway(t, Options{ConfigPath: path}), fb
}

func TestBedrockConverseOpenAI(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	c := openAIClient(g)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:       bedrockModel,
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
		Temperature: openai.Float(0.2),
		MaxTokens:   openai.Int(100),
	}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != "Hello from Bedrock" {
		t.Errorf("content = %q", got)
	}
	// Bedrock's inputTokens excludes cache reads; OpenAI's prompt_tokens includes them.
	if res.Usage.PromptTokens != 12 || res.Usage.CompletionTokens != 4 || res.Usage.PromptTokensDetails.CachedTokens != 3 {
		t.Errorf("usage = %+v", res.Usage)
	}
	reqs := fb.requests()
	if len(reqs) != 1 || reqs[0].Model != bedrockModel || reqs[0].Op != "converse" {
		t.Fatalf("requests = %+v", reqs)
	}
	in := reqs[0].Converse
	if len(in.System) != 1 || *in.InferenceConfig.MaxTokens != 100 || in.Messages[0].Role != types.ConversationRoleUser {
		t.Errorf("Converse input = %+v", in)
	}
	if txt, ok := in.Messages[0].Content[0].(*types.ContentBlockMemberText); !ok || txt.Value != "hi" {
		t.Errorf("first block = %#v", in.Messages[0].Content[0])
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Hello from Bedrock" {
		t.Errorf("streamed content = %q", got)
	}
	if acc.Choices[0].FinishReason != "stop" || acc.Usage.PromptTokens != 12 || acc.Usage.TotalTokens != 16 {
		t.Errorf("streamed finish %q usage %+v", acc.Choices[0].FinishReason, acc.Usage)
	}
	if reqs := fb.requests(); reqs[1].Op != "converse-stream" {
		t.Errorf("streamed op = %s", reqs[1].Op)
	}
}

func TestBedrockConverseToolsStreamed(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	fb.stream = []bedrockFrame{
		{event: "messageStart", payload: `{"role":"assistant"}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"think"}}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"sig"}}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":0}`},
		{event: "contentBlockStart", payload: `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tu1","name":"weather"}}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":"}}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"Paris\"}"}}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":1}`},
		{event: "contentBlockStart", payload: `{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tu2","name":"time"}}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":2}`},
		{event: "messageStop", payload: `{"stopReason":"tool_use"}`},
		{event: "metadata", payload: `{"usage":{"inputTokens":20,"outputTokens":10,"totalTokens":30,"cacheWriteInputTokens":5}}`},
	}
	c := openAIClient(g)
	params := openai.ChatCompletionNewParams{
		Model: bedrockModel,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("weather?"),
		},
		Tools: []openai.ChatCompletionToolUnionParam{
			openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}),
			openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "time"}),
		},
		ToolChoice:      openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
		ReasoningEffort: "low",
	}
	stream := c.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 2 || calls[0].ID != "tu1" || calls[0].Function.Arguments != `{"city":"Paris"}` || calls[1].Function.Name != "time" || calls[1].Function.Arguments != "{}" {
		t.Fatalf("tool calls = %+v", calls)
	}
	if acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish = %q", acc.Choices[0].FinishReason)
	}
	in := fb.requests()[0].Converse
	if _, ok := in.ToolConfig.ToolChoice.(*types.ToolChoiceMemberAny); !ok || len(in.ToolConfig.Tools) != 2 {
		t.Errorf("toolConfig = %#v", in.ToolConfig)
	}
	if !strings.Contains(string(fb.requests()[0].Body), `"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}}`) {
		t.Errorf("reasoning_effort low did not become a thinking budget: %s", fb.requests()[0].Body)
	}

	// The tool results go back: the assistant's signed reasoning and tool calls, two tool
	// messages merged into one user turn.
	msg := acc.Choices[0].Message.ToParam()
	params.Messages = append(params.Messages, msg, openai.ToolMessage("sunny", "tu1"), openai.ToolMessage("noon", "tu2"))
	params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{}
	if _, err := c.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	in = fb.requests()[1].Converse
	if len(in.Messages) != 3 || len(in.Messages[2].Content) != 2 {
		t.Fatalf("messages = %+v", in.Messages)
	}
	if r, ok := in.Messages[2].Content[1].(*types.ContentBlockMemberToolResult); !ok || *r.Value.ToolUseId != "tu2" {
		t.Errorf("second tool result = %#v", in.Messages[2].Content[1])
	}
}

func TestBedrockConverseAnthropicClient(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	c := anthropicClient(g.Gateway + "/anthropic")
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     bedrockModel,
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "be brief"}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hello from Bedrock" || msg.StopReason != "end_turn" {
		t.Errorf("message = %+v", msg)
	}
	stream := c.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Text != "Hello from Bedrock" || acc.Usage.OutputTokens != 4 {
		t.Errorf("streamed message = %+v", acc)
	}
	for _, r := range fb.requests() {
		if r.Converse == nil || r.Converse.System == nil || r.Header.Get("Anthropic-Version") != "" {
			t.Errorf("request %s: %s (headers %v)", r.Op, r.Body, r.Header)
		}
	}
}

func TestBedrockStreamException(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	fb.stream = []bedrockFrame{
		{event: "messageStart", payload: `{"role":"assistant"}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"partial"}}`},
		{exception: "throttlingException", payload: `{"message":"Too many tokens, please wait before trying again."}`},
	}
	oc := openAIClient(g)
	stream := oc.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: bedrockModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var text strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	err := stream.Err()
	if err == nil || !strings.Contains(err.Error(), "Too many tokens") {
		t.Fatalf("stream error = %v, want the throttling message", err)
	}
	if text.String() != "partial" {
		t.Errorf("text before the exception = %q", text.String())
	}

	// The Anthropic client gets its own error event.
	ac := anthropicClient(g.Gateway + "/anthropic")
	as := ac.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: bedrockModel, MaxTokens: 10, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	for as.Next() {
	}
	if err := as.Err(); err == nil || !strings.Contains(err.Error(), "Too many tokens") {
		t.Fatalf("anthropic stream error = %v", err)
	}
}

func TestBedrockNilOutputAndErrors(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	fb.converse = `{"stopReason":"guardrail_intervened","usage":{"inputTokens":1,"outputTokens":0,"totalTokens":1}}`
	resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"`+bedrockModel+`","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "no output message") {
		t.Errorf("nil output: %d %s", resp.StatusCode, body)
	}
	// An image link cannot be sent (Bedrock takes bytes): 422 in OpenAI's shape.
	resp, body = post(t, g.Gateway+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"error"`) {
		t.Errorf("image link: %d %s", resp.StatusCode, body)
	}
}

func TestBedrockWrongKeyIs403(t *testing.T) {
	noAWSEnv(t)
	keys := &awsfake.Keys{}
	keys.Add("AKIATEST", "test-secret", "", time.Time{})
	fb := newFakeBedrock(t, keys, "us-east-1")
	for _, c := range []struct{ region, secret string }{{"us-east-1", "wrong"}, {"eu-west-1", "test-secret"}} {
		creds, secret := fileCredentials(c.region, "AKIATEST", c.secret)
		path := filepath.Join(t.TempDir(), "config.yaml")
		writeConfig(t, path, bedrockConfig("AWSBedrock", fb.port(), creds, secret))
		g := startGateway(t, Options{ConfigPath: path})
		oc := openAIClient(g)
		_, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: bedrockModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.Code != "InvalidSignatureException" {
			t.Errorf("region %s secret %s: err = %v", c.region, c.secret, err)
		}
		g.stop(t)
	}
}

// TestBedrockCredentialRefreshUnderLoad: role credentials from an OIDC exchange that stop
// working 1.5 s after they are issued (STS announces the expiry window plus 1 s) are refreshed
// before then; no request of a steady load fails.
func TestBedrockCredentialRefreshUnderLoad(t *testing.T) {
	noAWSEnv(t)
	keys := &awsfake.Keys{}
	sts := awsfake.NewSTS(keys, "jwt", 5*time.Minute+time.Second)
	sts.Valid = 1500 * time.Millisecond
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	idp := oidcIssuer(t, "jwt")
	fb := newFakeBedrock(t, keys, "us-west-2")
	creds := fmt.Sprintf(`    region: us-west-2
    oidcExchangeToken:
      awsRoleArn: arn:aws:iam::123456789012:role/bedrock
      oidc:
        provider: {issuer: %q}
        clientID: aigw
        clientSecret: {name: oidc-client}`, idp)
	secret := `---
apiVersion: v1
kind: Secret
metadata: {name: oidc-client}
stringData:
  client-secret: s3cret
`
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, bedrockConfig("AWSBedrock", fb.port(), creds, secret))
	g := startGateway(t, Options{ConfigPath: path})

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(3500 * time.Millisecond)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, body := post(t, g.Gateway+"/v1/chat/completions", `{"model":"`+bedrockModel+`","messages":[{"role":"user","content":"hi"}]}`)
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					t.Errorf("%d %s", resp.StatusCode, body)
					return
				}
				ok.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 20 {
		t.Fatalf("ok %d, failed %d", ok.Load(), failed.Load())
	}
	if n := sts.Calls.Load(); n < 3 {
		t.Errorf("STS calls = %d over 3.5 s of 1 s credentials, want at least 3", n)
	}
}

func TestUnservedSchemaIsLoadError(t *testing.T) {
	m := &config.Model{Backends: []*config.Backend{
		{Name: "a", Schema: config.Schema{Name: "NoSuchSchema"}},
		{Name: "b", Schema: config.Schema{Name: config.SchemaAWSBedrock}, Auth: &config.Auth{Type: "NoSuchCredential"}},
		{Name: "c", Schema: config.Schema{Name: config.SchemaAWSBedrock}, Auth: &config.Auth{Type: config.AuthAWSCredentials}},
	}}
	_, err := served(m, nil)
	if err == nil {
		t.Fatal("a model with an unserved schema and credential type loaded")
	}
	for _, want := range []string{
		"backend a: schema NoSuchSchema is not supported yet (supported: ", "AWSBedrock",
		"backend b: credential type NoSuchCredential is not supported yet (supported: ", "AWSCredentials",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "backend c") {
		t.Errorf("a served backend was refused: %v", err)
	}
}

// oidcIssuer is a local OIDC provider (discovery and a client-credentials token endpoint).
func oidcIssuer(t *testing.T, token string) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, srv.URL, srv.URL+"/token")
		case "/token":
			if r.PostFormValue("client_secret") != "s3cret" || r.PostFormValue("client_id") != "aigw" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBedrockStreamRelayedAsItComes: the binary event stream is relayed frame by frame (the
// client has the first words while Bedrock still holds the rest), and the SSE bound on one event
// does not apply to it: a stream of 40 frames without a blank line, longer than
// MaxStreamEventBytes, goes through (the guard once cut such streams).
func TestBedrockStreamRelayedAsItComes(t *testing.T) {
	noAWSEnv(t)
	keys := &awsfake.Keys{}
	keys.Add("AKIATEST", "test-secret", "", time.Time{})
	fb := newFakeBedrock(t, keys, "us-east-1")
	frames := []bedrockFrame{{event: "messageStart", payload: `{"role":"assistant"}`}}
	for i := range 40 {
		frames = append(frames, bedrockFrame{event: "contentBlockDelta", payload: fmt.Sprintf(`{"contentBlockIndex":0,"delta":{"text":"w%02d "},"p":"%s"}`, i, strings.Repeat("x", 60))})
	}
	frames = append(frames, bedrockFrame{event: "contentBlockStop", payload: `{"contentBlockIndex":0}`},
		bedrockFrame{event: "messageStop", payload: `{"stopReason":"end_turn"}`},
		bedrockFrame{event: "metadata", payload: `{"usage":{"inputTokens":1,"outputTokens":40,"totalTokens":41}}`})
	fb.stream, fb.pause, fb.pauseAfter = frames, make(chan struct{}), 2
	creds, secret := fileCredentials("us-east-1", "AKIATEST", "test-secret")
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, bedrockConfig("AWSBedrock", fb.port(), creds, secret))
	opts := Options{ConfigPath: path}
	opts.Limits.MaxStreamEventBytes = 1024
	g := startGateway(t, opts)

	oc := openAIClient(g)
	stream := oc.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: bedrockModel, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var text strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text.WriteString(ch.Delta.Content)
		}
		if text.String() == "w00 " {
			close(fb.pause) // the first word arrived while the fake held the rest
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text.String(), "w00 w01 ") || !strings.HasSuffix(text.String(), "w39 ") {
		t.Errorf("text = %q", text.String())
	}
}

// TestBedrockConverseAnthropicCachingAndThinking: a Claude client's cache_control becomes
// cachePoint blocks and its signed thinking goes back as reasoningContent; the signed reasoning
// Bedrock returns reaches the client as thinking blocks with their signatures, whole and
// streamed, and cache writes are reported as Anthropic reports them.
func TestBedrockConverseAnthropicCachingAndThinking(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	fb.converse = `{"output":{"message":{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"Think.","signature":"sig-1"}}},{"text":"Done"}]}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":7,"totalTokens":24,"cacheReadInputTokens":8,"cacheWriteInputTokens":4}}`
	fb.stream = []bedrockFrame{
		{event: "messageStart", payload: `{"role":"assistant"}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Think."}}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"sig-1"}}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":0}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":1,"delta":{"text":"Done"}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":1}`},
		{event: "messageStop", payload: `{"stopReason":"end_turn"}`},
		{event: "metadata", payload: `{"usage":{"inputTokens":5,"outputTokens":7,"totalTokens":24,"cacheReadInputTokens":8,"cacheWriteInputTokens":4}}`},
	}
	c := anthropicClient(g.Gateway + "/anthropic")
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     "us.anthropic.claude-sonnet-4-20250514-v1:0",
		MaxTokens: 4000,
		Thinking:  anthropic.ThinkingConfigParamOfEnabled(2000),
		System:    []anthropic.TextBlockParam{{Text: "long rules", CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("hi")),
			anthropic.NewAssistantMessage(anthropic.NewThinkingBlock("sig-0", "Earlier thought."), anthropic.NewTextBlock("Hello")),
			anthropic.NewUserMessage(anthropic.NewTextBlock("go on")),
		},
	}
	check := func(what string, content []anthropic.ContentBlockUnion, u anthropic.Usage) {
		t.Helper()
		if len(content) != 2 || content[0].Type != "thinking" || content[0].Thinking != "Think." || content[0].Signature != "sig-1" || content[1].Text != "Done" {
			t.Errorf("%s: content %+v", what, content)
		}
		if u.InputTokens != 5 || u.CacheReadInputTokens != 8 || u.CacheCreationInputTokens != 4 || u.OutputTokens != 7 {
			t.Errorf("%s: usage %+v", what, u)
		}
	}
	msg, err := c.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	check("whole", msg.Content, msg.Usage)
	stream := c.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	check("streamed", acc.Content, acc.Usage)
	for _, r := range fb.requests() {
		in := r.Converse
		if in == nil || len(in.System) != 2 || len(in.Messages) != 3 {
			t.Fatalf("request %s: %s", r.Op, r.Body)
		}
		if _, ok := in.System[1].(*types.SystemContentBlockMemberCachePoint); !ok {
			t.Errorf("system: no cache point after the cached block: %s", r.Body)
		}
		rc, ok := in.Messages[1].Content[0].(*types.ContentBlockMemberReasoningContent)
		if !ok {
			t.Fatalf("assistant turn without its reasoning: %s", r.Body)
		}
		if rt, ok := rc.Value.(*types.ReasoningContentBlockMemberReasoningText); !ok || *rt.Value.Signature != "sig-0" || *rt.Value.Text != "Earlier thought." {
			t.Errorf("reasoning sent back: %+v", rc.Value)
		}
	}
}

// TestBedrockConverseResponseFormat: json_schema is Converse's structured output (the schema as
// the JSON string the SDK types hold); json_object is the forced json_response tool, whose input
// the client gets as the message content, whole and streamed.
func TestBedrockConverseResponseFormat(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	oc := openAIClient(g)
	ctx := context.Background()
	schema := map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}, "additionalProperties": false}
	_, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "amazon.nova-pro-v1:0",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where?")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{
			JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{Name: "place", Schema: schema, Strict: openai.Bool(true)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := fb.requests()[0].Converse
	tf := in.OutputConfig.TextFormat
	js, ok := tf.Structure.(*types.OutputFormatStructureMemberJsonSchema)
	if tf.Type != types.OutputFormatTypeJsonSchema || !ok || *js.Value.Name != "place" || !strings.Contains(*js.Value.Schema, `"required":["city"]`) {
		t.Errorf("outputConfig = %+v", in.OutputConfig)
	}

	fb.mu.Lock()
	fb.converse = `{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"json_response","input":{"city":"Paris"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":9,"outputTokens":4,"totalTokens":13}}`
	fb.stream = []bedrockFrame{
		{event: "messageStart", payload: `{"role":"assistant"}`},
		{event: "contentBlockStart", payload: `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t1","name":"json_response"}}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"city\":"}}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"toolUse":{"input":"\"Paris\"}"}}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":0}`},
		{event: "messageStop", payload: `{"stopReason":"tool_use"}`},
		{event: "metadata", payload: `{"usage":{"inputTokens":9,"outputTokens":4,"totalTokens":13}}`},
	}
	fb.mu.Unlock()
	params := openai.ChatCompletionNewParams{
		Model:          "amazon.nova-pro-v1:0",
		Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where? JSON.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}},
	}
	res, err := oc.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Choices[0]; c.Message.Content != `{"city":"Paris"}` || c.FinishReason != "stop" || len(c.Message.ToolCalls) != 0 {
		t.Errorf("json_object answer = %+v", c)
	}
	stream := oc.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if c := acc.Choices[0]; c.Message.Content != `{"city":"Paris"}` || c.FinishReason != "stop" {
		t.Errorf("streamed json_object answer = %+v", c)
	}
	if tc := fb.requests()[1].Converse.ToolConfig; len(tc.Tools) != 1 || tc.ToolChoice == nil {
		t.Errorf("json_object toolConfig = %+v", tc)
	}
}
