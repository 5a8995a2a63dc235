package observe

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/translate"
)

// answerDescribed is what responseAttrs records for a whole chat answer, with chatAnswerFast on
// or off.
func answerDescribed(body []byte, fast bool) string {
	defer func(old bool) { describeFast = old }(describeFast)
	describeFast = fast
	a := &attrs{p: &Privacy{Base64ImageMaxLength: 32000}}
	responseAttrs(a, translate.EndpointChatCompletions, body, "")
	var out strings.Builder
	for _, kv := range a.kv {
		fmt.Fprintf(&out, "%s=%s (%s)\n", kv.Key, kv.Value.Emit(), kv.Value.Type())
	}
	return out.String()
}

// testAnswers are whole JSON bodies, answers and requests: the package's, the recorded
// exchanges' and the translators' test data (every .json, chat completion or not).
func testAnswers(t *testing.T) map[string][]byte {
	answers := map[string][]byte{"bench": benchAnswer(false)[0], "privacy": []byte(privacyResp)}
	recordedBodies(t, ".json", func(name, request, response string) {
		if b := strings.TrimSpace(response); strings.HasPrefix(b, "{") {
			answers[name] = []byte(b)
		}
		if b := strings.TrimSpace(request); strings.HasPrefix(b, "{") {
			answers[name+" request"] = []byte(b)
		}
	})
	return answers
}

// answerOdd are answers at the edges of what chatAnswerFast takes or declines.
var answerOdd = []string{
	``, ` `, `{}`, `[]`, `null`, `"x"`, `{"model":"m"} x`, `{"model":"m",}`, ` {"model" : "m" } `,
	`{"model":1,"model":"m"}`, `{"model":"m","model":"n"}`, `{"mod\u0065l":"m"}`, `{"model":"\u00e9\n"}`,
	`{"choices":null}`, `{"choices":{}}`, `{"choices":[]}`, `{"choices":[1]}`, `{"choices":[null]}`, `{"choices":[{}]}`,
	`{"choices":[],"choices":[{"message":{"role":"assistant","content":"x"}}]}`,
	`{"choices":[{"message":null},{"message":{"role":"assistant","content":"b"}}]}`,
	`{"choices":[{"message":"x"}]}`, `{"choices":[{"message":[]}]}`,
	`{"choices":[{"message":{"role":"assistant","content":"a"},"message":{"role":"user","content":"b"}}]}`,
	`{"choices":[{"message":{"role":"a","role":"b"}}]}`, `{"choices":[{"message":{"role":null}}]}`, `{"choices":[{"message":{"role":1}}]}`,
	`{"choices":[{"message":{"role":""}}]}`, `{"choices":[{"message":{"content":""}}]}`, `{"choices":[{"message":{"content":null}}]}`,
	`{"choices":[{"message":{"content":1}}]}`, `{"choices":[{"message":{"content":{"a":1}}}]}`,
	`{"choices":[{"message":{"content":[{"type":"text","text":"x"}]}}]}`,
	`{"choices":[{"message":{"name":1,"tool_call_id":null}}]}`, `{"choices":[{"message":{"name":"n","tool_call_id":"c\"1"}}]}`,
	`{"choices":[{"message":{"tool_calls":null}}]}`, `{"choices":[{"message":{"tool_calls":[]}}]}`, `{"choices":[{"message":{"tool_calls":{}}}]}`,
	`{"choices":[{"message":{"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}`,
	`{"choices":[{"message":{"r\u006fle":"x"}}]}`, `{"choices":[{"m\u0065ssage":{"role":"x"}}]}`,
	`{"choices":[{"message":{}},{"message":{}},{"message":{}},{"message":{}},{"message":{}},{"message":{}},{"message":{}},{"message":{}},{"message":{}}]}`,
	`{"usage":null}`, `{"usage":[]}`, `{"usage":{}}`, `{"usage":1,"usage":{"total_tokens":3}}`,
	`{"usage":{"total_tokens":3,"prompt_tokens":-1,"completion_tokens":"2"}}`, `{"usage":{"total_tokens":3,"total_tokens":4}}`,
	`{"usage":{"total_tokens":1.5}}`, `{"usage":{"total_tokens":1e2}}`, `{"usage":{"total_tokens":-0}}`, `{"usage":{"total_tokens":12345678901234567890}}`,
	`{"usage":{"total_tokens":null,"prompt_tokens":true}}`, `{"usage":{"t\u006ftal_tokens":1}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":2,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":5,"audio_tokens":1,"accepted_prediction_tokens":0}}}`,
	`{"usage":{"prompt_tokens_details":null,"completion_tokens_details":[{"reasoning_tokens":5}]}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":2},"prompt_tokens_details":{"audio_tokens":1}}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":2,"cached_tokens":3}}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":{"a":[1,{"b":null}]}}}}`,
	`{"id":"x","object":"chat.completion","created":1,"model":"gpt","choices":[{"index":0,"message":{"role":"assistant","content":"Hi <there> & \u2028","refusal":null,"annotations":[]},"logprobs":{"content":[{"token":"Hi","logprob":-0.1,"bytes":[72,105],"top_logprobs":[]}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"service_tier":"default","system_fingerprint":null}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"model":"m"}`,
	`{"model":"m","choices":[{"message":{"role":"assistant","content":"x"}}]`, `{"model":"m\u12"}`, "{\"model\":\"a\x01b\"}",
}

// TestChatAnswerFastSameAsGeneral: chatAnswerFast records what the general path records, for
// every answer the tests know and the odd ones above.
func TestChatAnswerFastSameAsGeneral(t *testing.T) {
	answers := testAnswers(t)
	for i, s := range answerOdd {
		answers[fmt.Sprintf("odd %d", i)] = []byte(s)
	}
	taken := 0
	for name, body := range answers {
		var f fastAnswer
		if f.read(string(body)) {
			taken++
		}
		if got, want := answerDescribed(body, true), answerDescribed(body, false); got != want {
			t.Errorf("%s: %s\nfast:\n%s\ngeneral:\n%s", name, body, got, want)
		}
	}
	t.Logf("%d of %d answers taken by the fast path", taken, len(answers))
	for _, name := range []string{"bench", "privacy"} {
		var f fastAnswer
		if !f.read(string(answers[name])) {
			t.Errorf("%s answer declined by the fast path", name)
		}
	}
}

// FuzzChatAnswer (go test ./internal/observe -run '^$' -fuzz FuzzChatAnswer): for any answer,
// chatAnswerFast records what the general path records.
func FuzzChatAnswer(f *testing.F) {
	f.Add(benchAnswer(false)[0])
	f.Add([]byte(privacyResp))
	for _, s := range answerOdd {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := answerDescribed(body, true), answerDescribed(body, false); got != want {
			t.Errorf("%q:\nfast:\n%s\ngeneral:\n%s", body, got, want)
		}
	})
}

// requestDescribed is what requestAttrs records for a chat completion request, with
// chatRequestFast on or off.
func requestDescribed(body []byte, fast bool) string {
	defer func(old bool) { describeFast = old }(describeFast)
	describeFast = fast
	a := &attrs{p: &Privacy{Base64ImageMaxLength: 32000}}
	requestAttrs(a, translate.EndpointChatCompletions, "application/json", body)
	var out strings.Builder
	for _, kv := range a.kv {
		fmt.Fprintf(&out, "%s=%s (%s)\n", kv.Key, kv.Value.Emit(), kv.Value.Type())
	}
	return out.String()
}

// requestOdd are requests at the edges of what chatRequestFast takes or declines.
var requestOdd = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	` { "model" : "m" , "temperature" : 0.5e1 , "stop" : [ "a" , "b" ] , "messages" : [ { "role" : "user" , "content" : "hi" } ] } `,
	`{"messages":null}`, `{"messages":[]}`, `{"messages":{}}`, `{"messages":"x"}`, `{"messages":[null,{"role":"user","content":"x"}]}`,
	`{"messages":[1]}`, `{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`,
	`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"42"}]}`,
	`{"messages":[{"role":"assistant","content":"x","tool_calls":null}]}`,
	`{"messages":[{"role":"system","content":"s","name":"n"}],"messages":[{"role":"user","content":"u"}],"model":"m"}`,
	`{"m\u0065ssages":[{"role":"user","content":"x"}],"model":"m"}`, `{"model":"m","tools":[{"type":"function","function":{"name":"f"}}]}`,
	`{"model":"m","tools":null}`, `{"model":"m","functions":[]}`, `{"model":"m","user":"u\"x","metadata":{"a":[1,2]},"stream":true}`,
	`{}`, `[]`, `{"model":"m",}`, `{"model":"m"} {}`,
	`{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"},{"role":"user","content":"d"},{"role":"user","content":"e"},{"role":"user","content":"f"},{"role":"user","content":"g"},{"role":"user","content":"h"},{"role":"user","content":"i"},{"role":"user","content":"j"},{"role":"user","content":"k"},{"role":"user","content":"l"},{"role":"user","content":"m"},{"role":"user","content":"n"},{"role":"user","content":"o"},{"role":"user","content":"p"},{"role":"user","content":"q"},{"role":"user","content":"r"}]}`,
}

// TestChatRequestFastSameAsGeneral: chatRequestFast records what the general path records, for
// every body the tests know and the odd ones.
func TestChatRequestFastSameAsGeneral(t *testing.T) {
	bodies := testAnswers(t)
	for i, s := range append(append([]string{}, requestOdd...), answerOdd...) {
		bodies[fmt.Sprintf("odd %d", i)] = []byte(s)
	}
	for name, body := range bodies {
		if got, want := requestDescribed(body, true), requestDescribed(body, false); got != want {
			t.Errorf("%s: %s\nfast:\n%s\ngeneral:\n%s", name, body, got, want)
		}
	}
	var a attrs
	a.p = &Privacy{}
	if !chatRequestFast(&a, requestOdd[0]) || !chatRequestFast(&a, requestOdd[len(requestOdd)-1]) {
		t.Error("a usual request declined by the fast path")
	}
}

// FuzzChatRequest (go test ./internal/observe -run '^$' -fuzz FuzzChatRequest): for any request,
// chatRequestFast records what the general path records.
func FuzzChatRequest(f *testing.F) {
	for _, s := range requestOdd {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := requestDescribed(body, true), requestDescribed(body, false); got != want {
			t.Errorf("%q:\nfast:\n%s\ngeneral:\n%s", body, got, want)
		}
	})
}
