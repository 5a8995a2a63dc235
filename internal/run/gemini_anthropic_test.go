package run

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"google.golang.org/genai"
)

// TestVertexGeminiAnthropicSignatures: a Claude client (anthropic-sdk-go) talks to Gemini on
// Vertex over three turns with tools and thinking, whole and streamed. The call's thought
// signature rides in the tool_use id, the text part's comes back as a thinking block of its own,
// the unsigned thought summary as a thinking block; the client sends its messages back as the
// SDK makes them (Message.ToParam), and the fake must receive each signature on the part it
// signed. The thinking budget reaches Gemini 2.5 as the client sent it, and Gemini 3 as a level.
func TestVertexGeminiAnthropicSignatures(t *testing.T) {
	g, f := startVertex(t, time.Hour, time.Hour)
	ac := anthropicClient(g.Gateway + "/anthropic")
	ctx := context.Background()
	tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
		Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}},
	}}}
	for _, stream := range []bool{false, true} {
		model := map[bool]string{false: "gemini-3-pro-preview", true: "gemini-2.5-flash"}[stream]
		params := anthropic.MessageNewParams{
			Model: anthropic.Model(model), MaxTokens: 4096, Tools: tools,
			Thinking: anthropic.ThinkingConfigParamOfEnabled(3000),
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))},
		}
		send := func() anthropic.Message {
			t.Helper()
			if !stream {
				msg, err := ac.Messages.New(ctx, params)
				if err != nil {
					t.Fatalf("%s: %v", model, err)
				}
				return *msg
			}
			s := ac.Messages.NewStreaming(ctx, params)
			defer s.Close()
			return accumulateMessage(t, s)
		}
		blocks := func(m anthropic.Message) string {
			var out []string
			for _, b := range m.Content {
				out = append(out, b.Type+":"+b.Signature+b.ID)
			}
			return strings.Join(out, " ")
		}

		call := send()
		if got := blocks(call); call.StopReason != anthropic.StopReasonToolUse || got != "tool_use:call_resp1_0__thought__c2lnLTE=" {
			t.Fatalf("%s stream=%v: first answer %s (%s)", model, stream, got, call.StopReason)
		}
		params.Messages = append(params.Messages, call.ToParam(),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock(call.Content[0].ID, `{"temp_c":18}`, false)))
		answer := send()
		if got := blocks(answer); got != "thinking: text: thinking:aigw.gemini.text.c2lnLTI=" ||
			answer.Content[0].Thinking != "Mulling" || answer.Content[1].Text != "It is sunny." {
			t.Fatalf("%s stream=%v: second answer %s", model, stream, got)
		}
		params.Messages = append(params.Messages, answer.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("And tomorrow?")))
		send()

		f.mu.Lock()
		bodies := f.bodies[len(f.bodies)-3:]
		f.mu.Unlock()
		third := bodies[2].Contents
		if len(third) != 5 {
			t.Fatalf("%s stream=%v: %d contents in the third request", model, stream, len(third))
		}
		if p := third[1].Parts; len(p) != 1 || p[0].FunctionCall == nil || p[0].FunctionCall.Args["city"] != "Paris" || string(p[0].ThoughtSignature) != "sig-1" {
			t.Errorf("%s stream=%v: the call went back as %+v", model, stream, p)
		}
		if p := third[2].Parts; len(p) != 1 || p[0].FunctionResponse == nil || p[0].FunctionResponse.Name != "get_weather" || p[0].FunctionResponse.Response["temp_c"] != float64(18) {
			t.Errorf("%s stream=%v: the tool result went as %+v", model, stream, p)
		}
		if p := third[3].Parts; len(p) != 1 || p[0].Thought || p[0].Text != "It is sunny." || string(p[0].ThoughtSignature) != "sig-2" {
			t.Errorf("%s stream=%v: the answer went back as %+v", model, stream, p)
		}
		for i, b := range bodies {
			tc := b.GenerationConfig.ThinkingConfig
			ok := tc != nil && tc.IncludeThoughts
			if model == "gemini-3-pro-preview" {
				ok = ok && tc.ThinkingLevel == genai.ThinkingLevelLow && tc.ThinkingBudget == nil
			} else {
				ok = ok && tc.ThinkingBudget != nil && *tc.ThinkingBudget == 3000
			}
			if !ok {
				t.Errorf("%s request %d: thinking config %+v", model, i, tc)
			}
		}
	}
}
