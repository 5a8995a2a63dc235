package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// benchConverseChat is the bench's providers section as one Converse exchange: its chat body
// and the whole answer its Bedrock fake sends (16 words, usage, metrics).
func benchConverseChat() (req, answer []byte) {
	var words strings.Builder
	for i := range 16 {
		fmt.Fprintf(&words, "word%d ", i)
	}
	req = []byte(`{"model":"amazon.nova-pro-v1:0","max_tokens":16,"stream":false,"messages":[{"role":"user","content":"Say something short."}]}`)
	answer = fmt.Appendf(nil, `{"output":{"message":{"role":"assistant","content":[{"text":%q}]}},"stopReason":"end_turn","usage":{"inputTokens":12,"outputTokens":16,"totalTokens":28},"metrics":{"latencyMs":1}}`, words.String())
	return req, answer
}

func newBenchConverse(b *testing.B) *openAIToBedrock {
	tr, err := New(EndpointChatCompletions, Target{Backend: bedrockSuites[0].backend(), Model: "amazon.nova-pro-v1:0"})
	if err != nil {
		b.Fatal(err)
	}
	return tr.(*openAIToBedrock)
}

// BenchmarkBedrockChatRequest is the request half of a bench Converse exchange: the chat body
// read and the Converse body written.
func BenchmarkBedrockChatRequest(b *testing.B) {
	req, _ := benchConverseChat()
	b.ReportAllocs()
	for b.Loop() {
		tr := newBenchConverse(b)
		if _, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: req, Model: "amazon.nova-pro-v1:0", Header: http.Header{}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBedrockChatResponse is the response half: the whole Converse answer read and the
// chat.completion written.
func BenchmarkBedrockChatResponse(b *testing.B) {
	req, answer := benchConverseChat()
	tr := newBenchConverse(b)
	if _, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: req, Model: "amazon.nova-pro-v1:0", Header: http.Header{}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"application/json"}, "X-Amzn-Requestid": {"bench-1"}}); err != nil {
			b.Fatal(err)
		}
		out, err := tr.ResponseBody(answer, true)
		if err != nil || !bytes.Contains(out, []byte(`"choices"`)) {
			b.Fatalf("%v %s", err, out)
		}
	}
}

// extensionBodies are chat bodies for the extension scanner: usual ones, which it must pass
// over, and ones encoding/json reads an extension from however the key is written.
var extensionBodies = []struct {
	body string
	may  bool
}{
	{`{"model":"m","messages":[{"role":"user","content":"Hi"}]}`, false},
	{` { "model" : "m" , "messages" : [ ] , "metadata" : {"guardrailConfig":1} } `, false},
	{`{"model":"m","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`, false},
	{`{}`, false},
	{`{"model":"m","service_tier":"flex"}`, true},
	{`{"model":"m","SERVICE_TIER":"flex"}`, true},
	{`{"model":"m","guardrailconfig":{"guardrailIdentifier":"g"}}`, true},
	{`{"model":"m","\u0073ervice_tier":"flex"}`, true},
	{`{"model":"m","ſervice_tier":"flex"}`, true},
	{`{"model":"m","requestMetadata":null}`, true},
	{`{"model":"m","additionalModelRequestFields":{"top_k":5}}`, true},
	{`{"model":"m","x":` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `}`, true},
	{`{"model":"m"} x`, true},
	{`[1]`, true},
	{`{"model":"m",}`, true},
}

// TestBedrockExtensionScan: the scanner declines to skip every body encoding/json reads an
// extension from, and skips the usual ones.
func TestBedrockExtensionScan(t *testing.T) {
	for _, c := range extensionBodies {
		if got := mayHaveBedrockExtensions([]byte(c.body)); got != c.may {
			t.Errorf("%s: %v, want %v", c.body, got, c.may)
		}
		checkExtensionScan(t, []byte(c.body))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", "*", "*.json"))
	for _, f := range files {
		checkExtensionScan(t, readFile(t, f))
	}
}

// checkExtensionScan fails when the scanner skips a body from which encoding/json reads an
// extension (or which it refuses).
func checkExtensionScan(t *testing.T, body []byte) {
	t.Helper()
	if mayHaveBedrockExtensions(body) {
		return
	}
	var ext bedrockExtensions
	if err := json.Unmarshal(body, &ext); err != nil || !reflect.DeepEqual(ext, bedrockExtensions{}) {
		t.Errorf("skipped %s, which encoding/json reads as %+v (%v)", body, ext, err)
	}
}

// FuzzBedrockExtensionScan: whatever the body, a body the scanner skips has no extension.
func FuzzBedrockExtensionScan(f *testing.F) {
	for _, c := range extensionBodies {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkExtensionScan(t, []byte(body))
	})
}
