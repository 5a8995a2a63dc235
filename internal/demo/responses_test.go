package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// weatherTool is a Responses function tool; only location is required.
func weatherTool() responses.ToolUnionParam {
	return responses.ToolParamOfFunction("get_weather", map[string]any{
		"type": "object",
		"properties": map[string]any{
			"location": map[string]any{"type": "string"},
			"unit":     map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
		},
		"required": []string{"location"},
	}, false)
}

// streamed is what a Responses stream delivered, as seen through the SDK.
type streamed struct {
	types     []string
	text      string
	summary   string
	args      string
	argsDone  string
	final     responses.Response
	finalType string
}

func collectStream(t *testing.T, client openai.Client, params responses.ResponseNewParams) streamed {
	t.Helper()
	s := client.Responses.NewStreaming(context.Background(), params)
	var got streamed
	seq := int64(0)
	for s.Next() {
		ev := s.Current()
		if ev.SequenceNumber != seq {
			t.Errorf("event %d (%s) has sequence_number %d", seq, ev.Type, ev.SequenceNumber)
		}
		seq++
		got.types = append(got.types, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			got.text += ev.Delta
		case "response.reasoning_summary_text.delta":
			got.summary += ev.Delta
		case "response.function_call_arguments.delta":
			got.args += ev.Delta
		case "response.function_call_arguments.done":
			got.argsDone = ev.Arguments
		case "response.completed", "response.incomplete":
			got.final, got.finalType = ev.Response, ev.Type
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// compact drops the deltas, leaving the structure of a stream.
func compact(types []string) string {
	var out []string
	for _, ty := range types {
		if strings.HasSuffix(ty, ".delta") && len(out) > 0 && out[len(out)-1] == ty+"*" {
			continue
		}
		if strings.HasSuffix(ty, ".delta") {
			ty += "*"
		}
		out = append(out, ty)
	}
	return strings.Join(out, " ")
}

var respIDPattern = regexp.MustCompile(`^resp_[0-9a-f]{50}$`)

func TestResponsesWithSDK(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 12})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("demo"), option.WithMaxRetries(0))
	ctx := context.Background()

	t.Run("plain", func(t *testing.T) {
		params := responses.ResponseNewParams{Model: "gpt-4.1-mini", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello!")}}
		res, err := client.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if !respIDPattern.MatchString(res.ID) || res.Status != "completed" || res.Model != "gpt-4.1-mini" {
			t.Errorf("response: id %q status %q model %q", res.ID, res.Status, res.Model)
		}
		if len(res.Output) != 1 || res.Output[0].Type != "message" || res.OutputText() == "" {
			t.Fatalf("output: %s", res.RawJSON())
		}
		u := res.Usage
		if u.OutputTokens != 12 || u.InputTokens == 0 || u.TotalTokens != u.InputTokens+u.OutputTokens || u.OutputTokensDetails.ReasoningTokens != 0 {
			t.Errorf("usage: %+v", u)
		}
		got := collectStream(t, client, params)
		want := "response.created response.in_progress response.output_item.added response.content_part.added " +
			"response.output_text.delta* response.output_text.done response.content_part.done response.output_item.done response.completed"
		if c := compact(got.types); c != want {
			t.Errorf("events:\n got %s\nwant %s", c, want)
		}
		if got.text != res.OutputText() || got.final.OutputText() != res.OutputText() {
			t.Errorf("streamed %q, final %q, want %q", got.text, got.final.OutputText(), res.OutputText())
		}
		if got.final.Usage.OutputTokens != 12 || got.final.Status != "completed" {
			t.Errorf("final: %s", got.final.RawJSON())
		}
		cached, err := client.Responses.New(ctx, params, option.WithHeader("X-Demo-Cached-Tokens", "8"))
		if err != nil {
			t.Fatal(err)
		}
		if cu := cached.Usage; cu.InputTokensDetails.CachedTokens != 8 || cu.InputTokens != u.InputTokens+8 {
			t.Errorf("cached usage %+v, want 8 cached tokens on top of %d", cu, u.InputTokens)
		}
	})

	t.Run("reasoning model with summary", func(t *testing.T) {
		params := responses.ResponseNewParams{
			Model:     "gpt-5.4",
			Input:     responses.ResponseNewParamsInputUnion{OfString: openai.String("Think about it")},
			Reasoning: openai.ReasoningParam{Effort: openai.ReasoningEffortLow, Summary: openai.ReasoningSummaryAuto},
			Include:   []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
		}
		res, err := client.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Output) != 2 || res.Output[0].Type != "reasoning" || len(res.Output[0].Summary) != 1 ||
			res.Output[0].EncryptedContent == "" || res.Output[1].Type != "message" {
			t.Fatalf("output: %s", res.RawJSON())
		}
		r := res.Usage.OutputTokensDetails.ReasoningTokens
		if r == 0 || res.Usage.OutputTokens != 12+r || res.Reasoning.Effort != "low" {
			t.Errorf("usage %+v reasoning %+v", res.Usage, res.Reasoning)
		}
		got := collectStream(t, client, params)
		want := "response.created response.in_progress response.output_item.added response.reasoning_summary_part.added " +
			"response.reasoning_summary_text.delta* response.reasoning_summary_text.done response.reasoning_summary_part.done " +
			"response.output_item.done response.output_item.added response.content_part.added response.output_text.delta* " +
			"response.output_text.done response.content_part.done response.output_item.done response.completed"
		if c := compact(got.types); c != want {
			t.Errorf("events:\n got %s\nwant %s", c, want)
		}
		if got.summary == "" || got.summary != res.Output[0].Summary[0].Text || got.final.Usage.OutputTokensDetails.ReasoningTokens != r {
			t.Errorf("summary %q, final %s", got.summary, got.final.RawJSON())
		}
	})

	t.Run("tool loop", func(t *testing.T) {
		question := responses.ResponseInputItemParamOfMessage("What is the weather in Paris?", responses.EasyInputMessageRoleUser)
		params := responses.ResponseNewParams{
			Model: "gpt-4.1",
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{question}},
			Tools: []responses.ToolUnionParam{weatherTool()},
		}
		res, err := client.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Output) != 1 || res.Output[0].Type != "function_call" {
			t.Fatalf("output: %s", res.RawJSON())
		}
		call := res.Output[0]
		if call.Name != "get_weather" || call.Arguments.OfString != `{"location":"San Francisco, CA"}` || !strings.HasPrefix(call.CallID, "call_") {
			t.Errorf("call: %s", call.RawJSON())
		}
		got := collectStream(t, client, params)
		want := "response.created response.in_progress response.output_item.added response.function_call_arguments.delta* " +
			"response.function_call_arguments.done response.output_item.done response.completed"
		if c := compact(got.types); c != want {
			t.Errorf("events:\n got %s\nwant %s", c, want)
		}
		if got.args != call.Arguments.OfString || got.argsDone != got.args || got.final.Usage.OutputTokens == 0 {
			t.Errorf("streamed arguments %q, done %q", got.args, got.argsDone)
		}

		// The tool's result goes back: the model answers in text instead of calling again.
		params.Input.OfInputItemList = append(params.Input.OfInputItemList,
			responses.ResponseInputItemParamOfFunctionCall(call.Arguments.OfString, call.CallID, call.Name),
			responses.ResponseInputItemParamOfFunctionCallOutput(`{"temperature":21}`))
		res, err = client.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Output) != 1 || res.Output[0].Type != "message" || res.OutputText() == "" {
			t.Errorf("after the tool result: %s", res.RawJSON())
		}
		if got := collectStream(t, client, params); got.text == "" || got.args != "" {
			t.Errorf("streamed after the tool result: text %q, arguments %q", got.text, got.args)
		}
	})

	t.Run("max_output_tokens cuts", func(t *testing.T) {
		params := responses.ResponseNewParams{Model: "gpt-4.1", MaxOutputTokens: openai.Int(16),
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello!")}}
		long := openai.NewClient(option.WithBaseURL(startServer(t, Options{OutputTokens: 40})+"/v1/"), option.WithAPIKey("demo"), option.WithMaxRetries(0))
		res, err := long.Responses.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != "incomplete" || res.IncompleteDetails.Reason != "max_output_tokens" || res.Usage.OutputTokens != 16 {
			t.Errorf("response: %s", res.RawJSON())
		}
		if got := collectStream(t, long, params); got.finalType != "response.incomplete" || got.final.Usage.OutputTokens != 16 {
			t.Errorf("stream ended with %s: %s", got.finalType, got.final.RawJSON())
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			params responses.ResponseNewParams
			status int
			param  string
		}{
			{"unknown model", responses.ResponseNewParams{Model: "does-not-exist"}, http.StatusNotFound, ""},
			{"max_output_tokens below 16", responses.ResponseNewParams{Model: "gpt-4.1", MaxOutputTokens: openai.Int(8)}, http.StatusBadRequest, "max_output_tokens"},
			{"previous_response_id", responses.ResponseNewParams{Model: "gpt-4.1", PreviousResponseID: openai.String("resp_123")}, http.StatusBadRequest, "previous_response_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.params.Input.OfString = openai.String("hi")
				_, err := client.Responses.New(ctx, tc.params)
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Param != tc.param {
					t.Fatalf("err = %v", err)
				}
			})
		}
	})
}

// TestToolLoopEnds checks every API answers a tool result in text, so agents finish their loop.
func TestToolLoopEnds(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 8})
	for _, tc := range []struct {
		name, path, body string
		anthropic        bool
	}{
		{"chat", "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"Weather in Paris?"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_current_weather","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"21C"}],` + weatherTools + `}`, false},
		{"anthropic", "/v1/messages", `{"model":"claude-sonnet-4-5","max_tokens":100,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],
			"messages":[{"role":"user","content":"Weather in Paris?"},
			{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"21C"}]}]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, url+tc.path, tc.body, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got struct {
				Choices []struct {
					FinishReason string `json:"finish_reason"`
				} `json:"choices"`
				StopReason string `json:"stop_reason"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if tc.anthropic && got.StopReason != "end_turn" || !tc.anthropic && got.Choices[0].FinishReason != "stop" {
				t.Errorf("the model called the tool again: %s", body)
			}
		})
	}
}

// TestToolMentionAndCodeSpan checks a prompt that names a tool calls it, with the prompt's code
// span as the command and only required properties filled.
func TestToolMentionAndCodeSpan(t *testing.T) {
	url := startServer(t, Options{})
	body := `{"model":"claude-haiku-4-5","max_tokens":200,"tools":[
		{"name":"Read","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}},"required":["file_path"]}},
		{"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"},
		 "run_in_background":{"type":"boolean"}},"required":["command"]}}],
		"messages":[{"role":"user","content":"Use the Bash tool to run ` + "`ls -la`" + ` please"}]}`
	resp, got := post(t, url+"/v1/messages", body, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	var msg anthropicMessageResponse
	if err := json.Unmarshal([]byte(got), &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Name != "Bash" || string(msg.Content[0].Input) != `{"command":"ls -la"}` {
		t.Errorf("content: %s", got)
	}
	if containsWord("Bashful", "Bash") || !containsWord("run Bash.", "Bash") || containsWord("bash", "Bash") {
		t.Error("containsWord matches partial words or ignores case")
	}
}
