package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// benchTexts are the text fragments of the benchmark streams: mostly plain words, some with
// characters that need escaping or are not ASCII, as model output has.
var benchTexts = []string{
	"Sure", ",", " here", " is", " a", " short", " answer", ".\n\n", "The", " \"quick\"",
	" brown", " fox", " jumps", " over", " the", " lazy", " dog", " <3", " & more", ".\n",
	"Caf\u00e9", " na\u00efve", " \u2014", " \u65e5\u672c\u8a9e", " text", " with", " a\ttab", " and",
	" a", " back\\slash", " \U0001F600", " done", ".", " Bye",
}

// anthropicBenchStream is a 40-event Anthropic Messages stream of one text block.
func anthropicBenchStream() []byte {
	var b strings.Builder
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	b.WriteString("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	for _, t := range benchTexts {
		q, _ := marshalJSON(t)
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n", q)
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":40}}\n\n")
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return []byte(b.String())
}

// openAIBenchStream is a 40-event Chat Completions stream of text, with usage.
func openAIBenchStream() []byte {
	const head = `{"id":"chatcmpl-Bench","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":`
	var b strings.Builder
	b.WriteString("data: " + head + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for _, t := range benchTexts {
		q, _ := marshalJSON(t)
		b.WriteString("data: " + head + `{"content":` + string(q) + `},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"x1"}` + "\n\n")
	}
	b.WriteString("data: " + head + `{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	b.WriteString("data: " + `{"id":"chatcmpl-Bench","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":25,"completion_tokens":40,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return []byte(b.String())
}

// BenchmarkTranslatedStream feeds a whole 40-event stream through each stream translator, as
// one chunk per iteration.
func BenchmarkTranslatedStream(b *testing.B) {
	cases := []struct {
		name   string
		suite  goldenSuite
		req    string
		stream []byte
	}{
		{"openai_anthropic", openAIToAnthropicSuite, `{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`, anthropicBenchStream()},
		{"anthropic_openai", anthropicToOpenAISuite, `{"model":"gpt-4.1","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`, openAIBenchStream()},
		{"responses_anthropic", responsesToAnthropicSuite, `{"model":"claude-sonnet-4-5","stream":true,"input":"Hi"}`, anthropicBenchStream()},
		{"responses_chat", responsesToChatSuite, `{"model":"qwen3","stream":true,"input":"Hi"}`, openAIBenchStream()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tr, err := New(c.suite.endpoint, Target{Backend: c.suite.backend(""), Model: "m"})
			if err != nil {
				b.Fatal(err)
			}
			setClock(tr)
			if _, err := tr.RequestBody(&Request{Endpoint: c.suite.endpoint, Body: []byte(c.req), Model: "m", Stream: true}); err != nil {
				b.Fatal(err)
			}
			h := http.Header{"Content-Type": {"text/event-stream"}}
			b.SetBytes(int64(len(c.stream)))
			b.ReportAllocs()
			for b.Loop() {
				if err := tr.ResponseHeaders(http.StatusOK, h); err != nil {
					b.Fatal(err)
				}
				if _, err := tr.ResponseBody(c.stream, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var generatedID = regexp.MustCompile(`"msg_[0-9a-f]{24}"`)

// FuzzStreamFastPath requires the stream translators' fast path to write exactly what the
// general path writes, for any input to either translator.
func FuzzStreamFastPath(f *testing.F) {
	for _, b := range goldenStreams(f) {
		f.Add(b, uint8(0), false)
		f.Add(b, uint8(0), true)
	}
	f.Add(anthropicBenchStream(), uint8(0), false)
	f.Add(openAIBenchStream(), uint8(0), true)
	start := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\"}}\n\n"
	for _, d := range []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"a\ud800b\udc00\ud83d\ude00\u2028<&>\u0001\/"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"x\xff\xfey"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"a","thinking":"b"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","Thinking":"b"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"b","x":[1,{"a":null}]}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"b"}} x`,
		`{"type":"content_block_delta","index":00,"delta":{"type":"thinking_delta","thinking":"b"}}`,
	} {
		f.Add([]byte(start+"event: content_block_delta\ndata: "+d+"\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"), uint8(0), false)
	}
	first := "data: {\"id\":\"c\",\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
	for _, d := range []string{
		`{"model":"g\u00e9","choices":[{"index":0,"delta":{"content":"a\ud800\u2028\t"}}]}`,
		`{"choices":[{"index":0,"delta":{"content":"x\xffy","Content":"z"}}]}`,
		`{"choices":[{"index":1,"delta":{"content":"x"}},{"index":0,"delta":{"content":"y"}}]}`,
		`{"choices":[{"index":0,"delta":{"content":null,"refusal":"no"}}],"usage":null,"error":null}`,
	} {
		f.Add([]byte(first+"data: "+d+"\n\n"), uint8(0), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint8, openAIUpstream bool) {
		s := openAIToAnthropicSuite
		if openAIUpstream {
			s = anthropicToOpenAISuite
		}
		run := func(fast bool) ([]byte, Usage) {
			tr, err := New(s.endpoint, Target{Backend: s.backend(""), Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			switch x := tr.(type) {
			case *openAIToAnthropic:
				x.generalOnly = !fast
			case *anthropicToOpenAI:
				x.generalOnly = !fast
			}
			setClock(tr)
			req := `{"model":"m","max_tokens":1,"stream":true,"stream_options":{"include_usage":true},"response_format":{"type":"json_object"},"messages":[{"role":"user","content":"Hi"}]}`
			if openAIUpstream {
				req = s.defaultReq
			}
			if _, err := tr.RequestBody(&Request{Endpoint: s.endpoint, Body: []byte(req), Model: "m", Stream: true}); err != nil {
				t.Fatal(err)
			}
			if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}}); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			if cut > 0 {
				sizes = []int{int(cut)}
			}
			// A message id aigw makes up is random.
			out := generatedID.ReplaceAll(feedStream(t, tr, in, sizes), []byte(`"msg_generated"`))
			return out, tr.Usage()
		}
		fast, fastUsage := run(true)
		slow, slowUsage := run(false)
		if !bytes.Equal(fast, slow) || fastUsage != slowUsage {
			t.Fatalf("fast path differs:\n--- fast\n%s\n--- general\n%s", fast, slow)
		}
	})
}

// FuzzJSONStringValue requires the fast path's string reading and writing to agree with
// encoding/json and marshalJSON on any string literal.
func FuzzJSONStringValue(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\ud800b\udc00\ud83d\ude00\u2028<&>\u0001\/\"\\"`, "\"x\xff\xfe\xe2\x80\xa8y\"", `"\ud83d\u0041"`, `"\q"`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		wantErr := json.Unmarshal(raw, &want)
		end, esc, ok := jsonScanString(raw, 0)
		if !ok || end != len(raw) { // not a lone valid literal, or one with bytes around it
			if !ok && wantErr == nil && len(raw) > 0 && raw[0] == '"' {
				t.Fatalf("%q: rejected, but encoding/json reads it", raw)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("%q: accepted, but encoding/json says %v", raw, wantErr)
		}
		var scratch []byte
		got := jsonStringValue(raw, esc, &scratch)
		if string(got) != want {
			t.Fatalf("%q: value %q, want %q", raw, got, want)
		}
		wantOut, _ := marshalJSON(want)
		if out := appendJSONString(nil, got); !bytes.Equal(out, wantOut) {
			t.Fatalf("%q: written %s, want %s", raw, out, wantOut)
		}
	})
}
