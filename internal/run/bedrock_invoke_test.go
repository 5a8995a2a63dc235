package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/translate"
)

const claudeOnBedrock = "anthropic.claude-sonnet-4-20250514-v1:0"

// claudeStream is what InvokeModelWithResponseStream carries for Claude, one Anthropic event
// per chunk (the last with Bedrock's invocation metrics).
var claudeStream = []string{
	`{"type":"message_start","message":{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":1}}}`,
	`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Claude "}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"on Bedrock"}}`,
	`{"type":"content_block_stop","index":0}`,
	`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}`,
	`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":10,"outputTokenCount":6,"invocationLatency":100,"firstByteLatency":50}}`,
}

const claudeMessage = `{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Claude on Bedrock"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":6}}`

func TestBedrockAnthropicInvoke(t *testing.T) {
	g, fb := startBedrock(t, "AWSAnthropic")
	fb.invoke = func(string, []byte) string { return claudeMessage }
	fb.invokeStream = claudeStream
	ctx := context.Background()
	c := anthropicClient(g.Gateway + "/anthropic")
	params := anthropic.MessageNewParams{
		Model: claudeOnBedrock, MaxTokens: 512,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	msg, err := c.Messages.New(ctx, params, aoption.WithHeader("anthropic-beta", "context-1m-2025-08-07,interleaved-thinking-2025-05-14"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "Claude on Bedrock" || msg.Usage.CacheReadInputTokens != 2 {
		t.Errorf("message = %+v", msg)
	}
	r := fb.requests()[0]
	if r.Op != "invoke" || r.Model != claudeOnBedrock {
		t.Fatalf("request %s %s", r.Op, r.Model)
	}
	body := gjson.ParseBytes(r.Body)
	if body.Get("anthropic_version").String() != "bedrock-2023-05-31" || body.Get("model").Exists() || body.Get("stream").Exists() ||
		body.Get("anthropic_beta").Raw != `["context-1m-2025-08-07","interleaved-thinking-2025-05-14"]` || body.Get("max_tokens").Int() != 512 {
		t.Errorf("InvokeModel body = %s", r.Body)
	}
	if r.Header.Get("Anthropic-Beta") != "" || r.Header.Get("Anthropic-Version") != "" {
		t.Errorf("Anthropic headers reached Bedrock: %v", r.Header)
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
	if len(acc.Content) != 1 || acc.Content[0].Text != "Claude on Bedrock" || acc.Usage.OutputTokens != 6 || acc.StopReason != "end_turn" {
		t.Errorf("streamed = %+v", acc)
	}
	if r := fb.requests()[1]; r.Op != "invoke-with-response-stream" {
		t.Errorf("streamed op = %s", r.Op)
	}

	// OpenAI clients reach Claude on Bedrock through the Messages translation.
	oc := openAIClient(g)
	op := openai.ChatCompletionNewParams{Model: claudeOnBedrock, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	res, err := oc.Chat.Completions.New(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "Claude on Bedrock" || res.Usage.PromptTokens != 12 {
		t.Errorf("chat = %+v", res)
	}
	op.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	os := oc.Chat.Completions.NewStreaming(ctx, op)
	var oacc openai.ChatCompletionAccumulator
	for os.Next() {
		oacc.AddChunk(os.Current())
	}
	if err := os.Err(); err != nil {
		t.Fatal(err)
	}
	if oacc.Choices[0].Message.Content != "Claude on Bedrock" || oacc.Usage.CompletionTokens != 6 {
		t.Errorf("streamed chat = %+v", oacc)
	}
}

func TestBedrockAnthropicInvokeStreamCut(t *testing.T) {
	g, fb := startBedrock(t, "AWSAnthropic")
	fb.invokeStream = claudeStream[:3]
	c := anthropicClient(g.Gateway + "/anthropic")
	stream := c.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: claudeOnBedrock, MaxTokens: 10, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "ended before the message was complete") {
		t.Fatalf("err = %v", err)
	}
}

func TestBedrockTitanEmbeddings(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	fb.invoke = func(model string, body []byte) string {
		return `{"embedding":[0.5,-0.25,1],"inputTextTokenCount":3}`
	}
	oc := openAIClient(g)
	ctx := context.Background()
	res, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "amazon.titan-embed-text-v2:0", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		Dimensions: openai.Int(256), EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 1 || len(res.Data[0].Embedding) != 3 || res.Data[0].Embedding[1] != -0.25 || res.Usage.PromptTokens != 3 {
		t.Errorf("embeddings = %+v", res)
	}
	r := fb.requests()[0]
	var got map[string]any
	_ = json.Unmarshal(r.Body, &got)
	if r.Op != "invoke" || got["inputText"] != "hello" || got["dimensions"] != float64(256) || got["normalize"] != true || len(got) != 3 {
		t.Errorf("Titan request %s %s", r.Op, r.Body)
	}
	// base64, as the openai SDK asks by default.
	res, err = oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "amazon.titan-embed-text-v2:0", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello"}},
	})
	if err != nil || len(res.Data) != 1 || len(res.Data[0].Embedding) != 3 || res.Data[0].Embedding[0] != 0.5 {
		t.Fatalf("base64 embeddings = %+v, %v", res, err)
	}
}

// TestBedrockTitanManyInputs: several inputs are one signed InvokeModel call each, at most
// translate.MaxPartsInFlight at once; the answer keeps the input order and sums the tokens; the
// first input Bedrock refuses is the client's error, in OpenAI's shape with Bedrock's status.
func TestBedrockTitanManyInputs(t *testing.T) {
	g, fb := startBedrock(t, "AWSBedrock")
	var inFlight, most atomic.Int32
	fb.invoke = func(model string, body []byte) string {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		var in struct {
			InputText string `json:"inputText"`
		}
		_ = json.Unmarshal(body, &in)
		return fmt.Sprintf(`{"embedding":[%d,0.5],"inputTextTokenCount":%d}`, len(in.InputText), len(in.InputText))
	}
	oc := openAIClient(g)
	ctx := context.Background()
	inputs := []string{"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", "hhhhhhhh", "iiiiiiiii"}
	res, err := oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "amazon.titan-embed-text-v2:0", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
		Dimensions: openai.Int(256),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != len(inputs) || res.Usage.PromptTokens != 45 || res.Usage.TotalTokens != 45 {
		t.Fatalf("embeddings = %+v", res)
	}
	for i, d := range res.Data {
		if d.Index != int64(i) || len(d.Embedding) != 2 || d.Embedding[0] != float64(len(inputs[i])) {
			t.Errorf("data[%d] = index %d %v, want the embedding of %q", i, d.Index, d.Embedding, inputs[i])
		}
	}
	reqs := fb.requests()
	if len(reqs) != len(inputs) {
		t.Fatalf("%d calls, want %d", len(reqs), len(inputs))
	}
	for _, r := range reqs {
		if r.Op != "invoke" || !strings.Contains(string(r.Body), `"dimensions":256`) {
			t.Errorf("Titan request %s %s", r.Op, r.Body)
		}
	}
	if m := most.Load(); m < 2 || m > translate.MaxPartsInFlight {
		t.Errorf("%d calls at once, want 2 to %d", m, translate.MaxPartsInFlight)
	}

	// The third and fifth inputs are refused: the client gets the third's error.
	fb.mu.Lock()
	fb.invokeError = func(body []byte) (int, string) {
		switch {
		case bytes.Contains(body, []byte(`"ccc"`)):
			return http.StatusBadRequest, "ValidationException"
		case bytes.Contains(body, []byte(`"eeeee"`)):
			return http.StatusTooManyRequests, "ThrottlingException"
		}
		return 0, ""
	}
	fb.mu.Unlock()
	_, err = oc.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "amazon.titan-embed-text-v2:0", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs[:5]},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, `ccc`) {
		t.Errorf("a refused input: %v", err)
	}
}

// TestBedrockExampleModels serves configs/aws-bedrock.yaml and lists its declared models
// (Bedrock has no model list aigw could ask; nothing is sent to AWS).
func TestBedrockExampleModels(t *testing.T) {
	noAWSEnv(t)
	g := startGateway(t, Options{ConfigPath: "../../configs/aws-bedrock.yaml"})
	resp, body := bedrockGet(t, g.Gateway+"/v1/models")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	for _, want := range []string{"us.anthropic.claude-sonnet-4-20250514-v1:0", "amazon.nova-pro-v1:0", "meta.llama3-3-70b-instruct-v1:0", "amazon.titan-embed-text-v2:0"} {
		if !slices.Contains(ids, want) {
			t.Errorf("/v1/models = %v, want %s", ids, want)
		}
	}
}

func bedrockGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
