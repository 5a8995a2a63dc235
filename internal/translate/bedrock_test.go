package translate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw/aigw/internal/backendauth/awsfake"
	"github.com/aigw/aigw/internal/config"
)

// The Bedrock golden cases are in testdata/bedrock/<translator>/, named as in goldenSuite:
// req_ (client body → upstream request; every Converse body also decodes strictly into the
// SDK's types), resp_ (upstream body → client body), err_<status>_ (upstream error → client
// error, with <case>.headers.json for the X-Amzn-Errortype header) and stream_ cases, whose input
// is a text file of frames, one a line: "<event-type> <json payload>", or "!<exception-type>
// <json>" for an exception. The frames are encoded with the SDK's event-stream encoder and fed
// whole, a byte at a time and in 7-byte pieces; all three must give the golden output.

type bedrockSuite struct {
	dir        string
	endpoint   Endpoint
	schema     config.SchemaName
	defaultReq string
}

var bedrockSuites = []bedrockSuite{
	{"converse", EndpointChatCompletions, config.SchemaAWSBedrock, `{"model":"us.anthropic.claude-3-5-haiku-20241022-v1:0","messages":[{"role":"user","content":"Hi"}]}`},
	{"anthropic_converse", EndpointMessages, config.SchemaAWSBedrock, `{"model":"amazon.nova-pro-v1:0","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`},
	{"invoke", EndpointMessages, config.SchemaAWSAnthropic, `{"model":"anthropic.claude-sonnet-4-20250514-v1:0","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}`},
	{"titan", EndpointEmbeddings, config.SchemaAWSBedrock, `{"model":"amazon.titan-embed-text-v2:0","input":"Hi"}`},
	{"chat_invoke", EndpointChatCompletions, config.SchemaAWSAnthropic, `{"model":"us.anthropic.claude-sonnet-4-20250514-v1:0","messages":[{"role":"user","content":"Hi"}]}`},
}

func TestGoldenBedrock(t *testing.T) {
	for _, s := range bedrockSuites {
		t.Run(s.dir, s.run)
	}
}

func (s bedrockSuite) backend() *config.Backend {
	return &config.Backend{Name: "bedrock", Schema: config.Schema{Name: s.schema}}
}

func (s bedrockSuite) translatorFor(t *testing.T, body []byte) Translator {
	tr, err := New(s.endpoint, Target{Backend: s.backend(), Model: modelOf(body)})
	if err != nil {
		t.Fatal(err)
	}
	fixBedrockClock(tr)
	return tr
}

// fixBedrockClock fixes the clock of the Bedrock translators, chained ones included.
func fixBedrockClock(tr Translator) {
	switch x := tr.(type) {
	case *chained:
		fixBedrockClock(x.outer)
		fixBedrockClock(x.inner)
	case *openAIToBedrock:
		x.now = func() time.Time { return fixedNow }
	default:
		setClock(tr)
	}
}

func (s bedrockSuite) prepared(t *testing.T, name, contentType string) Translator {
	body := []byte(s.defaultReq)
	if b, err := os.ReadFile(filepath.Join("testdata", "bedrock", s.dir, name+".req.json")); err == nil {
		body = b
	}
	tr := s.translatorFor(t, body)
	if _, err := tr.RequestBody(&Request{Endpoint: s.endpoint, Body: body, Model: modelOf(body), Header: http.Header{}}); err != nil {
		t.Fatalf("request: %v", err)
	}
	h := http.Header{"Content-Type": {contentType}, "X-Amzn-Requestid": {"0b5a-req"}}
	if err := tr.ResponseHeaders(http.StatusOK, h); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (s bedrockSuite) run(t *testing.T) {
	dir := filepath.Join("testdata", "bedrock", s.dir)
	files, err := filepath.Glob(filepath.Join(dir, "*.in.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	for _, in := range files {
		name := strings.SplitN(filepath.Base(in), ".", 2)[0]
		t.Run(name, func(t *testing.T) {
			input := readFile(t, in)
			outExt := ".out.json"
			var got []byte
			switch {
			case strings.HasPrefix(name, "req_"):
				got = s.request(t, name, input)
			case strings.HasPrefix(name, "resp_"):
				out, err := s.prepared(t, name, "application/json").ResponseBody(input, true)
				got = resultOrError(out, err)
			case strings.HasPrefix(name, "stream_"):
				outExt = ".out.sse"
				frames := encodeFrames(t, input)
				got = feedStream(t, s.prepared(t, name, AWSEventStreamType), frames, nil)
				for _, sizes := range [][]int{{1}, {7}} {
					if split := feedStream(t, s.prepared(t, name, AWSEventStreamType), frames, sizes); !bytes.Equal(split, got) {
						t.Errorf("fed in %v-byte pieces the stream differs:\n%s\n--- whole\n%s", sizes, split, got)
					}
				}
			case strings.HasPrefix(name, "err_"):
				status, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "err_"), "_", 2)[0])
				h := http.Header{}
				if hb, err := os.ReadFile(filepath.Join(dir, name+".headers.json")); err == nil {
					_ = json.Unmarshal(hb, &h)
				}
				got = s.translatorFor(t, []byte(s.defaultReq)).ResponseError(status, h, input)
			default:
				t.Fatalf("unknown case kind %s", name)
			}
			if outExt == ".out.json" {
				got = indentJSON(t, got)
			}
			compareGolden(t, filepath.Join(dir, name+outExt), got)
		})
	}
}

// request runs RequestBody and renders the upstream request, or the error; a Converse body
// must decode strictly into the SDK's ConverseInput.
func (s bedrockSuite) request(t *testing.T, name string, body []byte) []byte {
	h := http.Header{}
	if hb, err := os.ReadFile(filepath.Join("testdata", "bedrock", s.dir, name+".headers.json")); err == nil {
		if err := json.Unmarshal(hb, &h); err != nil {
			t.Fatal(err)
		}
	}
	up, err := s.translatorFor(t, body).RequestBody(&Request{Endpoint: s.endpoint, Body: body, Model: modelOf(body), Header: h})
	if err != nil {
		return errorJSON(t, err)
	}
	if strings.HasSuffix(up.Path, "/converse") || strings.HasSuffix(up.Path, "/converse-stream") {
		if _, err := awsfake.StrictConverseInput(up.Body); err != nil {
			t.Errorf("the Converse body does not decode strictly into the SDK's types: %v", err)
		}
	}
	var parts []json.RawMessage
	for _, p := range up.Parts {
		parts = append(parts, p)
	}
	out, err := marshalJSON(struct {
		Method string            `json:"method"`
		Path   string            `json:"path"`
		Header http.Header       `json:"header"`
		Remove []string          `json:"remove"`
		Body   json.RawMessage   `json:"body"`
		Parts  []json.RawMessage `json:"parts,omitempty"`
	}{up.Method, up.Path, up.Header, up.Remove, up.Body, parts})
	if err != nil {
		t.Fatalf("upstream body is not JSON: %v\n%s", err, up.Body)
	}
	return out
}

// encodeFrames encodes a stream fixture with the SDK's event-stream encoder.
func encodeFrames(t testing.TB, fixture []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	sc := bufio.NewScanner(bytes.NewReader(fixture))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		typ, payload, _ := strings.Cut(line, " ")
		var m eventstream.Message
		if exc, ok := strings.CutPrefix(typ, "!"); ok {
			m.Headers.Set(":message-type", eventstream.StringValue("exception"))
			m.Headers.Set(":exception-type", eventstream.StringValue(exc))
		} else {
			m.Headers.Set(":message-type", eventstream.StringValue("event"))
			m.Headers.Set(":event-type", eventstream.StringValue(typ))
		}
		m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		m.Payload = []byte(payload)
		if err := enc.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestBedrockModelPath(t *testing.T) {
	cases := map[string]string{
		"amazon.nova-pro-v1:0": "/model/amazon.nova-pro-v1%3A0/converse",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0": "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
		"a b+c?d#e": "/model/a%20b%2Bc%3Fd%23e/converse",
	}
	for model, want := range cases {
		if got := bedrockModelPath(model, "converse"); got != want {
			t.Errorf("%s: %s, want %s", model, got, want)
		}
	}
}

// TestBedrockEventDecoderBounds: a frame announcing more than MaxAWSEventBytes, or a corrupt
// frame, ends the stream with an error event instead of buffering or passing it on.
func TestBedrockEventDecoderBounds(t *testing.T) {
	s := bedrockSuites[0]
	frames := encodeFrames(t, []byte(`messageStart {"role":"assistant"}`))
	corrupt := bytes.Clone(frames)
	corrupt[len(corrupt)-5] ^= 0xff // the payload: its CRC no longer matches
	huge := []byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}
	for name, in := range map[string][]byte{"corrupt": corrupt, "huge": huge} {
		out := feedStream(t, s.prepared(t, name, AWSEventStreamType), in, nil)
		if !HasErrorEvent(out) || bytes.Contains(out, []byte("[DONE]")) {
			t.Errorf("%s: %s", name, out)
		}
	}
}

// converseBenchStream is benchTexts as a ConverseStream (40 frames), the counterpart of
// anthropicBenchStream.
func converseBenchStream(b testing.TB) []byte {
	var f strings.Builder
	f.WriteString(`messageStart {"role":"assistant"}` + "\n")
	for _, t := range benchTexts {
		q, _ := marshalJSON(t)
		f.WriteString(`contentBlockDelta {"contentBlockIndex":0,"delta":{"text":` + string(q) + `},"p":"abcdefghijkl"}` + "\n")
	}
	f.WriteString(`contentBlockStop {"contentBlockIndex":0}` + "\n")
	f.WriteString(`messageStop {"stopReason":"end_turn"}` + "\n")
	f.WriteString(`metadata {"usage":{"inputTokens":25,"outputTokens":40,"totalTokens":65},"metrics":{"latencyMs":400}}` + "\n")
	return encodeFrames(b, []byte(f.String()))
}

// BenchmarkBedrockStream feeds a whole 40-event ConverseStream through the chat translator, as
// BenchmarkTranslatedStream does for the SSE translators (compare with its openai_anthropic).
func BenchmarkBedrockStream(b *testing.B) {
	s := bedrockSuites[0]
	stream := converseBenchStream(b)
	tr, err := New(s.endpoint, Target{Backend: s.backend(), Model: "amazon.nova-pro-v1:0"})
	if err != nil {
		b.Fatal(err)
	}
	req := []byte(`{"model":"amazon.nova-pro-v1:0","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`)
	if _, err := tr.RequestBody(&Request{Endpoint: s.endpoint, Body: req, Model: "m", Stream: true}); err != nil {
		b.Fatal(err)
	}
	h := http.Header{"Content-Type": {AWSEventStreamType}}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.ResponseHeaders(http.StatusOK, h); err != nil {
			b.Fatal(err)
		}
		h.Set("Content-Type", AWSEventStreamType)
		out, err := tr.ResponseBody(stream, true)
		if err != nil || !bytes.HasSuffix(out, []byte("[DONE]\n\n")) {
			b.Fatalf("%v %s", err, out)
		}
	}
}

// FuzzBedrockStream feeds arbitrary bytes, split anywhere, to the event-stream translators: no
// panic, and a stream either completes or ends with an error event, never silently cut.
func FuzzBedrockStream(f *testing.F) {
	for _, s := range bedrockSuites {
		files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", s.dir, "stream_*.in.evs"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(encodeFrames(f, b), uint8(0), s.dir == "invoke")
			f.Add(encodeFrames(f, b), uint8(5), s.dir == "invoke")
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8, invoke bool) {
		s := bedrockSuites[0]
		if invoke {
			s = bedrockSuites[2]
		}
		tr := s.prepared(t, "fuzz", AWSEventStreamType)
		var sizes []int
		if split > 0 {
			sizes = []int{int(split)}
		}
		var out []byte
		for i := 0; ; i++ {
			n := len(in)
			if len(sizes) > 0 {
				n = min(sizes[0], len(in))
			}
			b, err := tr.ResponseBody(append([]byte(nil), in[:n]...), n == len(in))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
			in = in[n:]
			if len(in) == 0 {
				break
			}
		}
		complete := bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) || bytes.Contains(out, []byte("event: message_stop\n"))
		if !complete && !HasErrorEvent(out) {
			t.Fatalf("the stream ended neither complete nor with an error:\n%s", out)
		}
	})
}

// TestBedrockClaudeIDs: the max_tokens and thinking tables know Bedrock's Claude ids (regional
// and global inference profiles, ARNs), and leave other ids alone.
func TestBedrockClaudeIDs(t *testing.T) {
	cases := []struct {
		model     string
		maxTokens int64
		adaptive  bool
	}{
		{"anthropic.claude-opus-4-7", 128000, true},
		{"us.anthropic.claude-sonnet-4-6", 64000, true},
		{"global.anthropic.claude-haiku-4-5-20251001-v1:0", 64000, false},
		{"apac.anthropic.claude-3-5-sonnet-20240620-v1:0", 8192, false},
		{"anthropic.claude-opus-4-20250514-v1:0", 32000, false},
		{"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0", 32000, false},
		{"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", 4096, false},
		{"amazon.nova-pro-v1:0", 4096, false},
		{"claude-sonnet-4-5@20250929", 64000, false},
		{"notanthropic.claude-like", 4096, false},
	}
	for _, c := range cases {
		if got := defaultMaxTokens(Target{Model: c.model}); got != c.maxTokens {
			t.Errorf("%s: max_tokens %d, want %d", c.model, got, c.maxTokens)
		}
		if got := adaptiveThinking(c.model); got != c.adaptive {
			t.Errorf("%s: adaptive %v, want %v", c.model, got, c.adaptive)
		}
	}
}

// TestBedrockFastPathMatchesGeneral: the fast path for ConverseStream text deltas writes exactly
// what the encoding/json path writes, for every stream fixture and for text deltas chosen to
// differ (escapes, surrogates, invalid ones, control and separator characters, padding members,
// keys encoding/json matches without case, duplicates, non-integer indexes).
func TestBedrockFastPathMatchesGeneral(t *testing.T) {
	s := bedrockSuites[0]
	var inputs [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "bedrock", "converse", "stream_*.in.evs"))
	for _, f := range files {
		inputs = append(inputs, encodeFrames(t, readFile(t, f)))
	}
	deltas := []string{
		`{"contentBlockIndex":0,"delta":{"text":"plain "}}`,
		`{"contentBlockIndex":0,"delta":{"text":"\u003cb\u003e \/ \"q\" \\ \n\t"},"p":"abcdefgh"}`,
		`{"contentBlockIndex":0,"delta":{"text":"\ud83d\ude00 😀 \ud800 x \udc00"}}`,
		`{"contentBlockIndex":0,"delta":{"text":"\u0001\u001f \u2028 \u2029 <>&"}}`,
		`{"contentBlockIndex":0,"delta":{"text":""}}`,
		`{"contentBlockIndex":0,"delta":{"Text":"case"}}`,
		`{"contentBlockIndex":0,"delta":{"text":"a","text":"b"}}`,
		`{"contentBlockIndex":1.0,"delta":{"text":"float index"}}`,
		`{"contentBlockIndex":0,"delta":{"text":"pad","p":{"x":[1,2]}},"p":null}`,
		` {"contentBlockIndex" : 0 , "delta" : { "text" : "spaced" } } `,
		`{"contentBlockIndex":0,"delta":{"text":"x"},"Delta":{"text":"y"}}`,
		`{"contentBlockIndex":0,"delta":{"text":12}}`,
	}
	for _, d := range deltas {
		inputs = append(inputs, encodeFrames(t, []byte(`messageStart {"role":"assistant"}`+"\ncontentBlockDelta "+d+"\n"+`messageStop {"stopReason":"end_turn"}`+"\n")))
	}
	// The fast path takes the usual deltas (else this test compares the general path with itself).
	for _, d := range []int{0, 1, 2, 3, 8, 9} {
		if _, _, _, ok := readFastConverseText([]byte(deltas[d])); !ok {
			t.Errorf("the fast path declined %s", deltas[d])
		}
	}
	for _, d := range []int{5, 6, 7, 10, 11} {
		if _, _, _, ok := readFastConverseText([]byte(deltas[d])); ok {
			t.Errorf("the fast path took %s", deltas[d])
		}
	}
	for i, in := range inputs {
		var outs [2][]byte
		for k, general := range []bool{false, true} {
			tr := s.prepared(t, "fast", AWSEventStreamType)
			tr.(*openAIToBedrock).cs.generalOnly = general
			outs[k] = feedStream(t, tr, in, nil)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("input %d: fast path differs\n--- fast\n%s\n--- general\n%s", i, outs[0], outs[1])
		}
	}
}

// FuzzConverseFastText: for any contentBlockDelta payload, the fast path writes what the
// general path writes (or declines), and never panics.
func FuzzConverseFastText(f *testing.F) {
	for _, seed := range []string{`{"contentBlockIndex":0,"delta":{"text":"hi"}}`, `{"contentBlockIndex":0,"delta":{"text":"\ud83d\ude00\u2028"},"p":"x"}`, `{"contentBlockIndex":2,"delta":{"text":12}}`, `{"delta":{"text":"a"}}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		var buf bytes.Buffer
		enc := eventstream.NewEncoder()
		for _, fr := range [][2]string{{"messageStart", `{"role":"assistant"}`}, {"contentBlockDelta", payload}, {"messageStop", `{"stopReason":"end_turn"}`}} {
			var m eventstream.Message
			m.Headers.Set(":message-type", eventstream.StringValue("event"))
			m.Headers.Set(":event-type", eventstream.StringValue(fr[0]))
			m.Payload = []byte(fr[1])
			if err := enc.Encode(&buf, m); err != nil {
				t.Skip()
			}
		}
		var outs [2][]byte
		for k, general := range []bool{false, true} {
			tr := bedrockSuites[0].prepared(t, "fuzz", AWSEventStreamType)
			tr.(*openAIToBedrock).cs.generalOnly = general
			outs[k] = feedStream(t, tr, buf.Bytes(), nil)
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Fatalf("payload %q: fast path differs\n--- fast\n%s\n--- general\n%s", payload, outs[0], outs[1])
		}
	})
}
