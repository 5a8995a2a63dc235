package translate

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
)

// TestAnthropicUsageAccumulation covers how usage arrives in Anthropic streams: message_start
// with the input counts, then message_delta with cumulative counts, older API versions sending
// only output_tokens there and newer ones every count.
func TestAnthropicUsageAccumulation(t *testing.T) {
	cases := []struct {
		name   string
		events []string
		want   Usage
		openAI oaUsage
	}{
		{
			name:   "output only in message_delta",
			events: []string{`{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}`, `{"output_tokens":15}`},
			want:   Usage{InputTokens: 25, OutputTokens: 15, TotalTokens: 40},
			openAI: oaUsage{PromptTokens: 25, CompletionTokens: 15, TotalTokens: 40, PromptTokensDetails: &oaPromptTokensDetails{}},
		},
		{
			name:   "cache reads and writes count as input",
			events: []string{`{"input_tokens":21,"cache_creation_input_tokens":188,"cache_read_input_tokens":1800,"output_tokens":1}`, `{"output_tokens":12}`},
			want:   Usage{InputTokens: 2009, CachedInputTokens: 1800, CacheCreationInputTokens: 188, OutputTokens: 12, TotalTokens: 2021},
			openAI: oaUsage{PromptTokens: 2009, CompletionTokens: 12, TotalTokens: 2021, PromptTokensDetails: &oaPromptTokensDetails{CachedTokens: 1800}},
		},
		{
			name:   "message_delta repeats every count",
			events: []string{`{"input_tokens":0,"output_tokens":1}`, `{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":0,"output_tokens":89}`},
			want:   Usage{InputTokens: 572, CacheCreationInputTokens: 100, OutputTokens: 89, TotalTokens: 661},
			openAI: oaUsage{PromptTokens: 572, CompletionTokens: 89, TotalTokens: 661, PromptTokensDetails: &oaPromptTokensDetails{}},
		},
		{
			name:   "thinking tokens",
			events: []string{`{"input_tokens":90,"output_tokens":205,"output_tokens_details":{"thinking_tokens":180}}`},
			want:   Usage{InputTokens: 90, OutputTokens: 205, ReasoningTokens: 180, TotalTokens: 295},
			openAI: oaUsage{PromptTokens: 90, CompletionTokens: 205, TotalTokens: 295, PromptTokensDetails: &oaPromptTokensDetails{}, CompletionTokensDetails: &oaCompletionTokensDetails{ReasoningTokens: 180}},
		},
		{
			name:   "null counts keep earlier values",
			events: []string{`{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}`, `{"input_tokens":null,"cache_read_input_tokens":null,"output_tokens":7}`},
			want:   Usage{InputTokens: 15, CachedInputTokens: 5, OutputTokens: 7, TotalTokens: 22},
			openAI: oaUsage{PromptTokens: 15, CompletionTokens: 7, TotalTokens: 22, PromptTokensDetails: &oaPromptTokensDetails{CachedTokens: 5}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var acc anthropicUsage
			for _, e := range c.events {
				var u anUsage
				if err := json.Unmarshal([]byte(e), &u); err != nil {
					t.Fatal(err)
				}
				acc.accumulate(&u)
			}
			if got := acc.Usage(); got != c.want {
				t.Errorf("Usage() = %+v, want %+v", got, c.want)
			}
			if got := acc.openAI(); !reflect.DeepEqual(*got, c.openAI) {
				t.Errorf("openAI() = %+v, want %+v", *got, c.openAI)
			}
		})
	}
}

func TestAnthropicUsageFromOpenAI(t *testing.T) {
	cases := []struct {
		in   *oaUsage
		want string
	}{
		{nil, `{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}`},
		{&oaUsage{PromptTokens: 2019, CompletionTokens: 10, TotalTokens: 2029, PromptTokensDetails: &oaPromptTokensDetails{CachedTokens: 1920}},
			`{"input_tokens":99,"cache_creation_input_tokens":0,"cache_read_input_tokens":1920,"output_tokens":10}`},
		{&oaUsage{PromptTokens: 5, CompletionTokens: 1, PromptTokensDetails: &oaPromptTokensDetails{CachedTokens: 9}},
			`{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":9,"output_tokens":1}`},
	}
	for _, c := range cases {
		got, _ := marshalJSON(anthropicUsageFromOpenAI(c.in))
		if string(got) != c.want {
			t.Errorf("anthropicUsageFromOpenAI(%+v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestOpenAIUsage(t *testing.T) {
	cases := []struct {
		in   string
		want Usage
	}{
		{`{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}`, Usage{InputTokens: 19, OutputTokens: 10, TotalTokens: 29}},
		{`{"prompt_tokens":2019,"completion_tokens":10,"total_tokens":2029,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":4}}`,
			Usage{InputTokens: 2019, CachedInputTokens: 1920, OutputTokens: 10, ReasoningTokens: 4, TotalTokens: 2029}},
		{`{"prompt_tokens":3,"completion_tokens":4}`, Usage{InputTokens: 3, OutputTokens: 4, TotalTokens: 7}},
	}
	for _, c := range cases {
		var u oaUsage
		if err := json.Unmarshal([]byte(c.in), &u); err != nil {
			t.Fatal(err)
		}
		if got := u.usage(); got != c.want {
			t.Errorf("%s: usage() = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestTranslatorUsage checks the usage each translator reports after its fixtures, streamed and
// not, against the counts written in the fixtures.
func TestTranslatorUsage(t *testing.T) {
	cases := []struct {
		suite goldenSuite
		name  string
		want  Usage
	}{
		{openAIToAnthropicSuite, "resp_text", Usage{InputTokens: 2009, CachedInputTokens: 1800, CacheCreationInputTokens: 188, OutputTokens: 12, TotalTokens: 2021}},
		{openAIToAnthropicSuite, "resp_thinking", Usage{InputTokens: 90, OutputTokens: 205, ReasoningTokens: 180, TotalTokens: 295}},
		{openAIToAnthropicSuite, "stream_text", Usage{InputTokens: 1049, CachedInputTokens: 1024, OutputTokens: 15, TotalTokens: 1064}},
		{openAIToAnthropicSuite, "stream_tools", Usage{InputTokens: 572, CacheCreationInputTokens: 100, OutputTokens: 89, TotalTokens: 661}},
		{openAIToAnthropicSuite, "stream_error", Usage{InputTokens: 12, OutputTokens: 1, TotalTokens: 13}},
		{anthropicToOpenAISuite, "resp_text", Usage{InputTokens: 2019, CachedInputTokens: 1920, OutputTokens: 10, TotalTokens: 2029}},
		{anthropicToOpenAISuite, "resp_tool_calls", Usage{InputTokens: 82, OutputTokens: 17, ReasoningTokens: 12, TotalTokens: 99}},
		{anthropicToOpenAISuite, "stream_text", Usage{InputTokens: 1100, CachedInputTokens: 1024, OutputTokens: 9, TotalTokens: 1109}},
		{anthropicToOpenAISuite, "stream_tools", Usage{InputTokens: 82, CachedInputTokens: 64, OutputTokens: 40, ReasoningTokens: 20, TotalTokens: 122}},
		{anthropicToOpenAISuite, "stream_azure_whole_calls", Usage{InputTokens: 50, OutputTokens: 20, TotalTokens: 70}},
	}
	for _, c := range cases {
		t.Run(c.suite.dir+"/"+c.name, func(t *testing.T) {
			ext, ct := ".in.json", "application/json"
			if c.name[:7] == "stream_" {
				ext, ct = ".in.sse", "text/event-stream"
			}
			tr := c.suite.prepared(t, c.name, ct)
			in := readFile(t, filepath.Join("testdata", c.suite.dir, c.name+ext))
			if _, err := tr.ResponseBody(in, true); err != nil {
				t.Fatal(err)
			}
			if got := tr.Usage(); got != c.want {
				t.Errorf("Usage() = %+v, want %+v", got, c.want)
			}
			if tr.ResponseModel() == "" {
				t.Error("ResponseModel() is empty")
			}
		})
	}
}

// TestNonStreamChunks feeds a JSON response in pieces: only the last call produces output.
func TestNonStreamChunks(t *testing.T) {
	for _, s := range []goldenSuite{openAIToAnthropicSuite, anthropicToOpenAISuite} {
		in := readFile(t, filepath.Join("testdata", s.dir, "resp_text.in.json"))
		whole, _ := s.prepared(t, "resp_text", "application/json").ResponseBody(in, true)
		tr := s.prepared(t, "resp_text", "application/json")
		var got []byte
		for i := 0; i < len(in); i += 10 {
			end := min(i+10, len(in))
			out, err := tr.ResponseBody(in[i:end], end == len(in))
			if err != nil {
				t.Fatal(err)
			}
			if end < len(in) && len(out) > 0 {
				t.Fatalf("%s: output before the end of a JSON body", s.dir)
			}
			got = append(got, out...)
		}
		if string(got) != string(whole) {
			t.Errorf("%s: chunked JSON body differs:\n%s\n%s", s.dir, got, whole)
		}
	}
}

// TestResponseHeaders checks that translators drop the upstream Content-Length of a body they
// rewrite.
func TestResponseHeaders(t *testing.T) {
	for _, s := range []goldenSuite{openAIToAnthropicSuite, anthropicToOpenAISuite} {
		tr := s.translator(t, "x")
		h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"123"}}
		if err := tr.ResponseHeaders(200, h); err != nil {
			t.Fatal(err)
		}
		if h.Get("Content-Length") != "" {
			t.Errorf("%s: Content-Length kept", s.dir)
		}
	}
}
