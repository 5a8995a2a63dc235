package translate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
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

// oddAnswers are whole Converse answers chosen to differ between a hand reader and
// encoding/json; take marks the ones the fast path must take.
var oddAnswers = []struct {
	body string
	take bool
}{
	{`{"output":{"message":{"role":"assistant","content":[{"text":"word0 word1 "}]}},"stopReason":"end_turn","usage":{"inputTokens":12,"outputTokens":16,"totalTokens":28},"metrics":{"latencyMs":1}}`, true},
	{`{"output":{"message":{"role":"assistant","content":[{"text":"\u003cb\u003e \/ \"q\" \\ \n\t <>&"}]}},"stopReason":"max_tokens"}`, true},
	{`{"output":{"message":{"content":[{"text":"\ud83d\ude00 😀 \ud800 x \udc00 \u0001 \u2028 \u2029"}]}},"stopReason":"stop_sequence","usage":{"inputTokens":1,"outputTokens":2,"totalTokens":1,"cacheReadInputTokens":5,"cacheWriteInputTokens":7}}`, true},
	{"{\"output\":{\"message\":{\"content\":[{\"text\":\"bad \xff\xfe utf8 \xe2\x80\xa8\"}]}}}", true},
	{`{"output":{"message":{"content":[{"text":"a"},{"text":"\ud83d"},{"text":"\ude00"},{"text":""}]}},"stopReason":"\u0065nd_turn"}`, true},
	{` { "output" : { "x" : [1,{"y":null}], "message" : { "content" : [ { "text" : "spaced" , "p" : "pad" } ] , "role" : "assistant" } } , "stopReason" : "tool_use" , "trace" : {"guardrail":{}} } `, true},
	{`{"output":{"message":{"content":[{"text":""}]}},"stopReason":"guardrail_intervened","additionalModelResponseFields":{"a":[true,false,-1.5e3]}}`, true},
	{`{"output":{"message":{"content":[{"text":"x"}]}},"stopReason":"something_new","usage":{}}`, true},
	{`{"output":{"message":{"content":[{"text":"a"},{"text":"b"},{"text":"c"},{"text":"d"},{"text":"e"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":null}]}}}`, false},
	{`{"output":{"message":{"content":[{"Text":"case"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a","text":"b"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a","toolUse":{"toolUseId":"t","name":"f","input":{}}}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"},{"toolUse":{"toolUseId":"t","name":"f","input":{"x":1}}}]}},"stopReason":"tool_use"}`, false},
	{`{"output":{"message":{"content":[{"reasoningContent":{"reasoningText":{"text":"hm","signature":"s"}}},{"text":"a"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"stopReason":null}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":null}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"inputTokens":-1}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"inputTokens":1.0}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"inputTokens":1e3}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"inputTokens":12345678901}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"inputTokens":1,"inputTokens":2}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"InputTokens":3}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"usage":{"\u0069nputTokens":3}}`, false},
	{`{"output":null,"stopReason":"end_turn"}`, false},
	{`{"output":{"message":null}}`, false},
	{`{"output":{"message":{"content":null}}}`, false},
	{`{"output":{"message":{"content":[]}}}`, false},
	{`{"output":{"message":{"role":12,"content":[{"text":"a"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"output":{"message":{"content":[{"text":"b"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"ſtopReason":"max_tokens"}`, false},
	{`{"Output":{"message":{"content":[{"text":"a"}]}}}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}}} x`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},"deep":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, false},
	{`{"output":{"message":{"content":[{"text":"a"}]}},}`, false},
	{`{"stopReason":"end_turn"}`, false},
}

// TestBedrockAnswerFastPathMatchesGeneral: for every resp_ golden of the Converse suite and
// every odd answer, the fast path and the general path give the same bytes, error and usage,
// for a plain request and for one whose json_object format changes the finish reason; and the
// fast path takes the answers marked so (else this would compare the general path with itself).
func TestBedrockAnswerFastPathMatchesGeneral(t *testing.T) {
	var inputs []string
	files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", "converse", "resp_*.in.json"))
	for _, f := range files {
		inputs = append(inputs, string(readFile(t, f)))
	}
	for _, a := range oddAnswers {
		inputs = append(inputs, a.body)
		var fa cvFastAnswer
		if got := readFastConverseAnswer([]byte(a.body), &fa); got != a.take {
			t.Errorf("fast path took=%v, want %v: %s", got, a.take, a.body)
		}
	}
	for _, in := range inputs {
		compareAnswerPaths(t, in, "fast")
		compareAnswerPaths(t, in, "resp_json_object")
	}
}

// compareAnswerPaths fails when the two paths answer body differently; reqCase names the
// case whose .req.json is the client's request (none: the suite's default).
func compareAnswerPaths(t *testing.T, body, reqCase string) {
	t.Helper()
	type result struct {
		out, err string
		usage    Usage
	}
	var res [2]result
	for k, general := range []bool{false, true} {
		tr := bedrockSuites[0].prepared(t, reqCase, "application/json").(*openAIToBedrock)
		tr.generalOnly = general
		out, err := tr.ResponseBody([]byte(body), true)
		res[k] = result{out: string(out), usage: tr.Usage()}
		if err != nil {
			res[k].err = err.Error()
		}
	}
	if res[0] != res[1] {
		t.Errorf("answer %q (%s): fast path differs\n--- fast\n%+v\n--- general\n%+v", body, reqCase, res[0], res[1])
	}
}

// FuzzConverseFastAnswer: for any whole Converse answer, the fast path answers what the
// general path answers (or declines), and never panics.
func FuzzConverseFastAnswer(f *testing.F) {
	for _, a := range oddAnswers {
		f.Add(a.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		compareAnswerPaths(t, body, "fast")
		compareAnswerPaths(t, body, "resp_json_object")
	})
}

// setSDKOnly turns the reuse of decoded frame headers off in tr's event-stream decoder.
func setSDKOnly(tr Translator) {
	switch x := tr.(type) {
	case *chained:
		setSDKOnly(x.outer)
		setSDKOnly(x.inner)
	case *openAIToBedrock:
		x.frames.sdkOnly = true
	case *anthropicToBedrockInvoke:
		x.frames.sdkOnly = true
	}
}

// compareFramePaths fails when tr's stream output for in (fed in pieces of sizes) differs with
// the reuse of decoded headers and without it.
func compareFramePaths(t *testing.T, s bedrockSuite, in []byte, sizes []int) {
	t.Helper()
	var outs [2][]byte
	for k, sdkOnly := range []bool{false, true} {
		tr := s.prepared(t, "frames", AWSEventStreamType)
		if sdkOnly {
			setSDKOnly(tr)
		}
		outs[k] = feedStream(t, tr, in, sizes)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("stream %x in %v pieces: reusing headers differs\n--- reused\n%s\n--- SDK only\n%s", in, sizes, outs[0], outs[1])
	}
}

// TestAWSEventHeaderReuse: every stream golden of every event-stream suite, whole and in
// pieces, and the Converse bench stream with each of its bytes corrupted in turn, translate the
// same with the reuse of decoded headers and with the SDK decoding every frame; and the reuse
// does happen (else this compares the SDK with itself).
func TestAWSEventHeaderReuse(t *testing.T) {
	for _, s := range bedrockSuites {
		files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", s.dir, "stream_*.in.evs"))
		for _, f := range files {
			in := encodeFrames(t, readFile(t, f))
			for _, sizes := range [][]int{nil, {1}, {7}, {50, 3}} {
				compareFramePaths(t, s, in, sizes)
			}
		}
	}
	stream := encodeFrames(t, []byte(`messageStart {"role":"assistant"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"a"}}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"b"}}
!throttlingException {"message":"slow down"}
`))
	for i := range stream {
		for _, flip := range []byte{0x01, 0x80} {
			bad := bytes.Clone(stream)
			bad[i] ^= flip
			compareFramePaths(t, bedrockSuites[0], bad, nil)
		}
	}
	var d awsEventDecoder
	reused := 0
	frames := converseBenchStream(t)
	for len(frames) > 0 {
		n := int(binary.BigEndian.Uint32(frames))
		if _, ok := d.repeated(frames[:n]); ok {
			reused++
		} else if _, err := d.decode(frames[:n]); err != nil {
			t.Fatal(err)
		}
		frames = frames[n:]
	}
	if reused < 30 {
		t.Errorf("headers reused for %d of the bench stream's 45 frames", reused)
	}
}

// FuzzAWSEventHeaderReuse: whatever the bytes, and however they are split, the Converse and
// InvokeModel stream translations are the same with the reuse of decoded headers and without.
func FuzzAWSEventHeaderReuse(f *testing.F) {
	for _, s := range bedrockSuites {
		files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", s.dir, "stream_*.in.evs"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(encodeFrames(f, b), uint8(0), s.dir == "invoke", true)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8, invoke, fixCRCs bool) {
		s := bedrockSuites[0]
		if invoke {
			s = bedrockSuites[2]
		}
		if fixCRCs {
			in = withValidCRCs(in)
		}
		var sizes []int
		if split > 0 {
			sizes = []int{int(split)}
		}
		compareFramePaths(t, s, in, sizes)
	})
}

// withValidCRCs is in with the CRCs of each frame it can delimit recomputed, so that fuzzing
// reaches headers, lengths and payloads rather than stopping at checksums.
func withValidCRCs(in []byte) []byte {
	out := bytes.Clone(in)
	for i := 0; len(out)-i >= awsFrameMin; {
		total := int(binary.BigEndian.Uint32(out[i:]))
		if total < awsFrameMin || total > len(out)-i {
			break
		}
		f := out[i : i+total]
		binary.BigEndian.PutUint32(f[8:], crc32.ChecksumIEEE(f[:8]))
		binary.BigEndian.PutUint32(f[total-4:], crc32.ChecksumIEEE(f[:total-4]))
		i += total
	}
	return out
}

// oddChatBodies are chat bodies chosen to differ between a hand reader and encoding/json; take
// marks the ones the fast request path must take.
var oddChatBodies = []struct {
	body string
	take bool
}{
	{`{"model":"amazon.nova-pro-v1:0","max_tokens":16,"stream":false,"messages":[{"role":"user","content":"Say something short."}]}`, true},
	{`{"model":"us.anthropic.claude-3-5-haiku-20241022-v1:0","messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":""},{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"assistant","content":""},{"role":"user","content":"c"},{"role":"assistant","content":"d"},{"role":"system","content":"late"}]}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"\u003cb\u003e \/ \"q\" \\ \n\t <>& \ud83d\ude00 😀 \ud800 \u0001 \u2028 \u2029"}]}`, true},
	{"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"bad \xff utf8 \xe2\x80\xa9\"}]}", true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5,"top_p":1}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":-0,"top_p":1e-7}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e21,"top_p":0.30000000000000004}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1.5e300,"top_p":12345678.9e-3}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"max_completion_tokens":7}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true,"x":1}}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":false,"stream_options":{"include_usage":true}}`, true},
	{` { "model" : "m" , "messages" : [ { "content" : "x" , "role" : "user" , "extra" : [1] } ] , "frequency_penalty" : 0.5 , "metadata" : {"a":"b"} , "seed" : 1 } `, true},
	{`{"model":"m","messages":[{"role":"user","content":"1"},{"role":"assistant","content":"2"},{"role":"user","content":"3"},{"role":"assistant","content":"4"},{"role":"user","content":"5"},{"role":"assistant","content":"6"},{"role":"user","content":"7"},{"role":"assistant","content":"8"},{"role":"user","content":"9"},{"role":"assistant","content":"10"}]}`, true},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e400}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.0}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":null}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":null}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"Include_Usage":true}}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":null}`, false},
	{`{"model":"m","Messages":[{"role":"user","content":"x"}]}`, false},
	{`{"\u006dodel":"m","messages":[{"role":"user","content":"x"}]}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"user":"u"}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"stop":"y"}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"service_tier":"flex"}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low"}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x","name":"n"}]}`, false},
	{`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`, false},
	{`{"model":"m","messages":[{"role":"user","content":null}]}`, false},
	{`{"model":"m","messages":[{"role":"tool","content":"x","tool_call_id":"t"}]}`, false},
	{`{"model":"m","messages":[{"role":"\u0075ser","content":"x"}]}`, false},
	{`{"model":"m","messages":[{"role":"User","content":"x"}]}`, false},
	{`{"model":"m","messages":[{"role":"system","content":"x"}]}`, false},
	{`{"model":"m","messages":[{"role":"assistant","content":""}]}`, false},
	{`{"model":"m","messages":[]}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"messages":[{"role":"user","content":"y"}]}`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}]} x`, false},
	{`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}`, false},
}

// TestBedrockRequestFastPathMatchesGeneral: for every req_ golden of the Converse suite and
// every odd chat body, the fast path and the general path give the same upstream request (or
// error) and the same stream settings; and the fast path takes the bodies marked so.
func TestBedrockRequestFastPathMatchesGeneral(t *testing.T) {
	var inputs []string
	files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", "converse", "req_*.in.json"))
	for _, f := range files {
		inputs = append(inputs, string(readFile(t, f)))
	}
	for _, c := range oddChatBodies {
		inputs = append(inputs, c.body)
		var tr openAIToBedrock
		if _, got := tr.fastConverseRequest([]byte(c.body)); got != c.take {
			t.Errorf("fast path took=%v, want %v: %s", got, c.take, c.body)
		}
	}
	for _, in := range inputs {
		compareRequestPaths(t, in)
	}
}

// compareRequestPaths fails when the two paths convert a chat body differently.
func compareRequestPaths(t *testing.T, body string) {
	t.Helper()
	type result struct {
		method, path, header, body, err string
		stream, includeUsage, jsonTool  bool
	}
	var res [2]result
	for k, general := range []bool{false, true} {
		tr := bedrockSuites[0].translatorFor(t, []byte(body)).(*openAIToBedrock)
		tr.generalOnly = general
		up, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(body), Model: modelOf([]byte(body)), Header: http.Header{}})
		r := result{stream: tr.stream, includeUsage: tr.includeUsage, jsonTool: tr.jsonTool}
		if err != nil {
			r.err = err.Error()
		} else {
			r.method, r.path, r.header, r.body = up.Method, up.Path, fmt.Sprint(up.Header, up.Remove), string(up.Body)
		}
		res[k] = r
	}
	if res[0] != res[1] {
		t.Errorf("body %q: fast path differs\n--- fast\n%+v\n--- general\n%+v", body, res[0], res[1])
	}
}

// FuzzConverseFastRequest: for any chat body, the fast path converts it as the general path
// does (or declines), and never panics.
func FuzzConverseFastRequest(f *testing.F) {
	for _, c := range oddChatBodies {
		f.Add(c.body)
	}
	f.Fuzz(compareRequestPaths)
}

// TestAppendOAUsage: appendOAUsage writes what marshalJSON(oaUsageOf(u)) writes.
func TestAppendOAUsage(t *testing.T) {
	for _, u := range []Usage{
		{},
		{InputTokens: 12, OutputTokens: 16, TotalTokens: 28},
		{InputTokens: 100, CachedInputTokens: 40, CacheCreationInputTokens: 7, OutputTokens: 9, ReasoningTokens: 3, TotalTokens: 109},
		{InputTokens: -1, CacheCreationInputTokens: -2, ReasoningTokens: -3, CachedInputTokens: -4},
		{InputTokens: 1 << 62, TotalTokens: -1 << 63},
	} {
		want, err := marshalJSON(oaUsageOf(u))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOAUsage(nil, u); !bytes.Equal(got, want) {
			t.Errorf("%+v: %s, want %s", u, got, want)
		}
	}
}

// oddEvents are payloads of the events the general path decodes, chosen to differ between a
// hand reader and encoding/json; take marks the ones readFastConverseEvent must take.
var oddEvents = []struct {
	typ, payload string
	take         bool
}{
	{"messageStart", `{"role":"assistant"}`, true},
	{"messageStart", `{"role":"assistant","p":"abcdefgh"}`, true},
	{"contentBlockStop", `{"contentBlockIndex":0}`, true},
	{"contentBlockStop", ` { "contentBlockIndex" : 3 , "p" : [null] } `, true},
	{"messageStop", `{"stopReason":"end_turn"}`, true},
	{"messageStop", `{"stopReason":"\u0074ool_use","additionalModelResponseFields":null}`, false},
	{"messageStop", `{"stopReason":"max_\u0074okens"}`, true},
	{"messageStop", `{"stopReason":"something_new"}`, true},
	{"messageStop", `{"stopReason":"\ud800"}`, true},
	{"metadata", `{"usage":{"inputTokens":25,"outputTokens":40,"totalTokens":65},"metrics":{"latencyMs":400}}`, true},
	{"metadata", `{"usage":{"inputTokens":25,"outputTokens":40,"totalTokens":1,"cacheReadInputTokens":10,"cacheWriteInputTokens":3},"trace":{}}`, true},
	{"metadata", `{"usage":{}}`, true},
	{"metadata", `{}`, true},
	{"messageStop", `{"stopReason":null}`, false},
	{"messageStart", `{"role":null}`, false},
	{"metadata", `{"usage":null}`, false},
	{"metadata", `{"Usage":{"inputTokens":1}}`, false},
	{"metadata", `{"usage":{"inputTokens":1.5}}`, false},
	{"metadata", `{"usage":{"inputTokens":-1}}`, false},
	{"messageStop", `{"stopReason":"end_turn","stopReason":"max_tokens"}`, false},
	{"contentBlockStop", `{"contentBlockIndex":1.0}`, false},
	{"contentBlockStop", `{"contentBlockIndex":"0"}`, false},
	{"messageStop", `{"stopReason":"end_turn"} x`, false},
	{"messageStop", `{"message":"m","stopReason":"end_turn"}`, false},
	{"contentBlockStart", `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}`, false},
}

// TestBedrockStreamEventsFastMatchGeneral: readFastConverseEvent takes the payloads marked so
// and reads each it takes as json.Unmarshal does; and a stream made of each odd event with the
// usual others is translated the same with the fast paths and without.
func TestBedrockStreamEventsFastMatchGeneral(t *testing.T) {
	for _, ev := range oddEvents {
		var e cvStreamEvent
		if got := readFastConverseEvent([]byte(ev.payload), &e); got != ev.take {
			t.Errorf("%s: took=%v, want %v", ev.payload, got, ev.take)
		}
		checkFastEvent(t, ev.payload)
		usual := map[string]string{
			"messageStart":     `{"role":"assistant"}`,
			"contentBlockStop": `{"contentBlockIndex":0}`,
			"messageStop":      `{"stopReason":"end_turn"}`,
			"metadata":         `{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}}`,
		}
		usual[ev.typ] = ev.payload
		stream := "messageStart " + usual["messageStart"] + "\n"
		if ev.typ == "contentBlockStart" {
			stream += ev.typ + " " + ev.payload + "\n"
		}
		stream += `contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"hi"}}` + "\n" +
			"contentBlockStop " + usual["contentBlockStop"] + "\nmessageStop " + usual["messageStop"] + "\nmetadata " + usual["metadata"] + "\n"
		in := encodeFrames(t, []byte(stream))
		var outs [2][]byte
		for k, general := range []bool{false, true} {
			tr := bedrockSuites[0].prepared(t, "stream_text", AWSEventStreamType)
			tr.(*openAIToBedrock).cs.generalOnly = general
			outs[k] = feedStream(t, tr, in, nil)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s %s: fast path differs\n--- fast\n%s\n--- general\n%s", ev.typ, ev.payload, outs[0], outs[1])
		}
	}
}

// checkFastEvent fails when readFastConverseEvent takes a payload and reads it otherwise than
// json.Unmarshal.
func checkFastEvent(t *testing.T, payload string) {
	t.Helper()
	var fast, general cvStreamEvent
	if !readFastConverseEvent([]byte(payload), &fast) {
		return
	}
	if err := json.Unmarshal([]byte(payload), &general); err != nil || !reflect.DeepEqual(fast, general) {
		t.Errorf("%q: fast %+v, encoding/json %+v (%v)", payload, fast, general, err)
	}
}

// FuzzConverseFastEvent: whatever the payload, an event the fast reader takes is read as
// json.Unmarshal reads it.
func FuzzConverseFastEvent(f *testing.F) {
	for _, ev := range oddEvents {
		f.Add(ev.payload)
	}
	f.Fuzz(checkFastEvent)
}

// benchConverseStream is the bench's ConverseStream answer of 16 words, framed as its Bedrock
// fake frames it.
func benchConverseStream(b *testing.B) []byte {
	var f strings.Builder
	f.WriteString(`messageStart {"role":"assistant"}` + "\n")
	for i := range 16 {
		fmt.Fprintf(&f, `contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"word%d "}}`+"\n", i)
	}
	f.WriteString(`contentBlockStop {"contentBlockIndex":0}` + "\n")
	f.WriteString(`messageStop {"stopReason":"end_turn"}` + "\n")
	f.WriteString(`metadata {"usage":{"inputTokens":12,"outputTokens":16,"totalTokens":28},"metrics":{"latencyMs":1}}` + "\n")
	return encodeFrames(b, []byte(f.String()))
}

// BenchmarkBedrockChatExchange is the translator's whole work for one request of the bench's
// providers section, whole and streamed: a new translator, the request, the answer.
func BenchmarkBedrockChatExchange(b *testing.B) {
	req, answer := benchConverseChat()
	streamReq := bytes.Replace(req, []byte(`"stream":false`), []byte(`"stream":true`), 1)
	stream := benchConverseStream(b)
	for _, c := range []struct {
		name      string
		req, resp []byte
		ct        string
	}{{"whole", req, answer, "application/json"}, {"stream", streamReq, stream, AWSEventStreamType}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tr := newBenchConverse(b)
				if _, err := tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: c.req, Model: "amazon.nova-pro-v1:0", Header: http.Header{}}); err != nil {
					b.Fatal(err)
				}
				if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {c.ct}, "X-Amzn-Requestid": {"bench-1"}}); err != nil {
					b.Fatal(err)
				}
				if out, err := tr.ResponseBody(c.resp, true); err != nil || len(out) == 0 {
					b.Fatalf("%v %s", err, out)
				}
			}
		})
	}
}
