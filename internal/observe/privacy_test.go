package observe

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/translate"
)

const privacyReq = `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAAAAAAAAAAAAAAAAAA"}}]},{"role":"assistant","content":"a cat","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]}]}`
const privacyResp = `{"id":"r","model":"m-1","choices":[{"index":0,"message":{"role":"assistant","content":"it is a cat"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`
const privacyEmb = `{"object":"list","model":"e","data":[{"index":0,"embedding":[0.5,0.25]}],"usage":{"prompt_tokens":2,"total_tokens":2}}`

func describe(p Privacy) map[string]string {
	a := &attrs{p: &p}
	requestAttrs(a, translate.EndpointChatCompletions, "application/json", []byte(privacyReq))
	responseAttrs(a, translate.EndpointChatCompletions, []byte(privacyResp), "")
	requestAttrs(a, translate.EndpointEmbeddings, "application/json", []byte(`{"model":"e","input":"embed me"}`))
	responseAttrs(a, translate.EndpointEmbeddings, []byte(privacyEmb), "")
	m := map[string]string{}
	for _, kv := range a.kv {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// TestPrivacyVariables: each OpenInference hiding variable takes out, or redacts, what its name
// says and nothing else.
func TestPrivacyVariables(t *testing.T) {
	const (
		inText  = "llm.input_messages.0.message.contents.0.message_content.text"
		inImage = "llm.input_messages.0.message.contents.1.message_content.image.image.url"
		inMsg   = "llm.input_messages.1.message.content"
		outMsg  = "llm.output_messages.0.message.content"
		outRole = "llm.output_messages.0.message.role"
		vector  = "embedding.embeddings.0.embedding.vector"
		embText = "embedding.embeddings.0.embedding.text"
		args    = "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments"
	)
	base := describe(Privacy{Base64ImageMaxLength: DefaultBase64ImageMaxLength})
	for _, k := range []string{inText, inImage, inMsg, outMsg, outRole, vector, embText, args, "input.value", "output.value", "input.mime_type"} {
		if base[k] == "" {
			t.Fatalf("without hiding, %s is missing", k)
		}
	}
	for _, c := range []struct {
		env      string
		redacted []string // replaced by __REDACTED__
		gone     []string // left out
		kept     []string
	}{
		{"OPENINFERENCE_HIDE_INPUTS", []string{"input.value"}, []string{"input.mime_type", inText, inImage, inMsg, embText}, []string{"output.value", outMsg}},
		{"OPENINFERENCE_HIDE_OUTPUTS", []string{"output.value"}, []string{"output.mime_type", outMsg, outRole}, []string{"input.value", inMsg}},
		{"OPENINFERENCE_HIDE_INPUT_MESSAGES", nil, []string{inText, inImage, inMsg, args}, []string{"input.value", outMsg}},
		{"OPENINFERENCE_HIDE_OUTPUT_MESSAGES", nil, []string{outMsg, outRole}, []string{"output.value", inMsg}},
		{"OPENINFERENCE_HIDE_INPUT_IMAGES", nil, []string{inImage}, []string{inText, inMsg}},
		{"OPENINFERENCE_HIDE_INPUT_TEXT", []string{inText, inMsg, embText}, nil, []string{inImage, outMsg}},
		{"OPENINFERENCE_HIDE_OUTPUT_TEXT", []string{outMsg}, nil, []string{outRole, inMsg}},
		{"OPENINFERENCE_HIDE_EMBEDDING_VECTORS", nil, []string{vector}, []string{embText}},
	} {
		got := describe(PrivacyFromEnv(func(k string) string {
			if k == c.env {
				return "true"
			}
			return ""
		}))
		for _, k := range c.redacted {
			if got[k] != RedactedValue {
				t.Errorf("%s: %s = %q, want redacted", c.env, k, got[k])
			}
		}
		for _, k := range c.gone {
			if _, ok := got[k]; ok {
				t.Errorf("%s: %s is still there", c.env, k)
			}
		}
		for _, k := range c.kept {
			if got[k] != base[k] {
				t.Errorf("%s: %s changed to %q", c.env, k, got[k])
			}
		}
	}
	short := describe(PrivacyFromEnv(func(k string) string {
		if k == "OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH" {
			return "10"
		}
		return ""
	}))
	if short[inImage] != RedactedValue {
		t.Errorf("a data URL longer than the limit: %q", short[inImage])
	}
}

// TestRedactSwitch: AIGW_TRACE_REDACT replaces every body and text with its length and hash,
// equal texts with equal hashes, and keeps the rest.
func TestRedactSwitch(t *testing.T) {
	got := describe(PrivacyFromEnv(func(k string) string {
		if k == "AIGW_TRACE_REDACT" {
			return "1"
		}
		return ""
	}))
	for k, v := range got {
		for _, secret := range []string{"what is this", "a cat", "embed me", "AAAAAAAA", `\"x\":1`} {
			if strings.Contains(v, secret) {
				t.Errorf("%s = %q still holds %q", k, v, secret)
			}
		}
	}
	if v := got["llm.output_messages.0.message.content"]; !strings.HasPrefix(v, "[redacted 11 bytes sha256:") {
		t.Errorf("redacted output %q", v)
	}
	if got["llm.output_messages.0.message.role"] != "assistant" || got["llm.token_count.completion"] != "4" || got["llm.model_name"] != "m-1" {
		t.Errorf("redaction took more than contents: %v", got)
	}
	if redacted("same") != redacted("same") || redacted("same") == redacted("other") {
		t.Error("hashes do not identify equal texts")
	}
}

func TestHeaderMappings(t *testing.T) {
	m, err := HeaderMappings(func(k string) string {
		return map[string]string{"OTEL_AIGW_SPAN_HEADER_ATTRIBUTES": "x-tenant:tenant.id, x-user : user.id"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	// A span mapping that is set replaces the default; logs keep the default session mapping;
	// metrics have none (a session id would be one label value per session).
	session := HeaderAttribute{"Agent-Session-Id", "session.id"}
	if len(m.Span) != 2 || m.Span[1] != (HeaderAttribute{"X-User", "user.id"}) || len(m.Log) != 1 || m.Log[0] != session || len(m.Metrics) != 0 {
		t.Errorf("mappings %+v", m)
	}
	// The request mapping applies to every signal, metrics included.
	m, err = HeaderMappings(func(k string) string {
		return map[string]string{"OTEL_AIGW_REQUEST_HEADER_ATTRIBUTES": "x-team:team.name"}[k]
	})
	team := HeaderAttribute{"X-Team", "team.name"}
	if err != nil || len(m.Metrics) != 1 || m.Metrics[0] != team || len(m.Span) != 2 || m.Span[0] != team || m.Span[1] != session {
		t.Errorf("mappings %+v, %v", m, err)
	}
	for _, bad := range []string{"authorization:a", "x-api-key:k", "cookie:c", "noattr", ":x"} {
		if _, err := HeaderMappings(func(k string) string {
			if k == "OTEL_AIGW_LOG_HEADER_ATTRIBUTES" {
				return bad
			}
			return ""
		}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
