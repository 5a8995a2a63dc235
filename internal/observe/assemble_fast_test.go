package observe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"sigs.k8s.io/yaml"

	"github.com/aigw/aigw/internal/translate"
)

// assembled is what an assembler records for a stream handed to it in the given blocks, with
// the fast reader and writer on or off.
func assembled(e translate.Endpoint, blocks [][]byte, fast bool) string {
	s := newAssembler(e)
	s.fast = fast
	var scratch []byte
	for _, b := range blocks {
		// Each block from one buffer, scribbled over once written, as the recorder reuses its
		// own: nothing the assembler keeps may point into it.
		scratch = append(scratch[:0], b...)
		s.write(scratch)
		for i := range scratch {
			scratch[i] = '#'
		}
	}
	a := &attrs{p: &Privacy{Base64ImageMaxLength: 32000}}
	s.attrs(a)
	var out strings.Builder
	for _, kv := range a.kv {
		fmt.Fprintf(&out, "%s=%s\n", kv.Key, kv.Value.Emit())
	}
	return out.String()
}

// splits cuts a stream into blocks in several ways: whole, one line at a time, at a fixed size,
// and byte by byte.
func splits(stream []byte) map[string][][]byte {
	out := map[string][][]byte{"whole": {stream}}
	var lines [][]byte
	for rest := stream; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			i = len(rest) - 1
		}
		lines = append(lines, rest[:i+1])
		rest = rest[i+1:]
	}
	out["lines"] = lines
	for _, n := range []int{1, 7, 64} {
		var bs [][]byte
		for rest := stream; len(rest) > 0; {
			k := min(n, len(rest))
			bs = append(bs, rest[:k])
			rest = rest[k:]
		}
		out[fmt.Sprint("by ", n)] = bs
	}
	return out
}

var assembleEndpoints = []translate.Endpoint{translate.EndpointChatCompletions, translate.EndpointCompletions, translate.EndpointMessages}

// checkSame requires the fast and the general paths to record the same attributes for a stream,
// however it is cut.
func checkSame(t *testing.T, name string, stream []byte) {
	t.Helper()
	for _, e := range assembleEndpoints {
		want := assembled(e, [][]byte{stream}, false)
		for how, blocks := range splits(stream) {
			if got := assembled(e, blocks, true); got != want {
				t.Errorf("%s (endpoint %v, %s):\nfast:\n%s\ngeneral:\n%s", name, e, how, got, want)
			}
		}
	}
}

// testStreams are the streams of the package's tests, of the recorded OpenAI exchanges and of
// the translators' test data.
func testStreams(t *testing.T) map[string][]byte {
	streams := map[string][]byte{"bench": bytes.Join(benchAnswer(true), nil)}
	recordedBodies(t, ".sse", func(name, request, response string) {
		if strings.Contains(response, "data:") {
			streams[name] = []byte(response)
		}
	})
	return streams
}

// recordedBodies hands add the bodies of every recorded exchange in ../shared/fixtures (request
// and response of each interaction) and of every translator test file ending in ext (as the
// response), each with a name to report it by; it logs when either kind is missing.
func recordedBodies(t *testing.T, ext string, add func(name, request, response string)) {
	root, _ := filepath.Abs("../..")
	cassettes, _ := filepath.Glob(filepath.Join(root, "../shared/fixtures/cassettes/*/*.yaml"))
	for _, p := range cassettes {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Interactions []struct {
				Request struct {
					Body string `json:"body"`
				} `json:"request"`
				Response struct {
					Body string `json:"body"`
				} `json:"response"`
			} `json:"interactions"`
		}
		if err := yaml.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i, in := range c.Interactions {
			add(fmt.Sprintf("%s#%d", filepath.Base(p), i), in.Request.Body, in.Response.Body)
		}
	}
	files, _ := filepath.Glob(filepath.Join(root, "internal/*/testdata/*/*"+ext))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		add(strings.TrimPrefix(p, root), "", string(raw))
	}
	if len(cassettes) == 0 || len(files) == 0 {
		t.Logf("%d cassettes, %d %s files", len(cassettes), len(files), ext)
	}
}

func TestAssembleFastSameAsGeneral(t *testing.T) {
	streams := testStreams(t)
	if len(streams) < 10 {
		t.Fatalf("only %d streams found", len(streams))
	}
	for name, s := range streams {
		checkSame(t, name, s)
	}
	// The chunks the fast reader is for must not fall back.
	s := newAssembler(translate.EndpointChatCompletions)
	chunks := benchAnswer(true)
	for _, l := range chunks[:len(chunks)-1] {
		if d := strings.TrimSpace(strings.TrimPrefix(string(bytes.TrimSpace(l)), "data:")); !s.fastLine(d) {
			t.Errorf("fell back: %s", d)
		}
	}
}

const chunkHead = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","obfuscation":"x","choices":`

// assembleOdd are streams the fast path must take or decline without changing what is recorded.
var assembleOdd = []string{
	// Tool calls, several choices, out of order.
	chunkHead + `[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":""}}]},"finish_reason":null}]}
data: ` + chunkHead + `[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}
data: ` + chunkHead + `[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}
data: ` + chunkHead + `[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	chunkHead + `[{"index":1,"delta":{"role":"assistant","content":"b"}},{"index":0,"delta":{"role":"assistant","content":"a"}}]}
data: ` + chunkHead + `[{"index":0,"delta":{"content":"<x> & y"}},{"index":1,"delta":{"content":"\u2028\u2029"}}]}
data: ` + chunkHead + `[{"index":1,"finish_reason":"length","delta":{}},{"index":0,"delta":null,"finish_reason":"stop"}]}`,
	// Escapes and unicode.
	chunkHead + `[{"index":0,"delta":{"content":"a\"b\\c\/d\b\f\n\r\t\u0000\u001f\u00e9\ud83d\ude00\ud800x\udc00"}}]}`,
	chunkHead + `[{"index":0,"delta":{"content":"caf` + "\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9 \xff\xfe \xc3 \x7f" + `"}}]}`,
	chunkHead + `[{"index":0,"delta":{"role":"as\u0073istant","content":"x"},"finish_reason":"st\u006fp"}]}`,
	`{"id":"a<b>&c","model":"m\u2028` + "\xe2\x80\xa9" + `","created":-1.5e+3,"x":true,"y":false,"z":null,"o":{"a":[1,2,{"b":null}]},"choices":[]}`,
	`{"id":"a","model":"m1","choices":[{"index":0,"delta":{"content":"a"}}]}
data: {"id":"b","model":"m2","extra":1,"choices":[{"index":0,"delta":{"content":"b"}}]}`,
	// Usage chunks, and usage numbers encoding/json writes its own way.
	chunkHead + `[{"index":0,"delta":{"content":"x"}}]}
data: ` + chunkHead + `[],"usage":{"prompt_tokens":6,"completion_tokens":1,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`,
	chunkHead + `[],"usage":{"prompt_tokens":1e21,"completion_tokens":1.0,"total_tokens":123456789012345678901,"x":1e-7,"y":-0,"z":"<a>","w":[true,null,0.1],"v":{}}}`,
	chunkHead + `[],"usage":{"prompt_tokens":1e400}}`,
	chunkHead + `[],"usage":{"k\u0065y":"a\nb<>","key":2,"é":[],"Z":{},"a":-0,"b":1E+2,"c":0.000001,"d":1e20,"e":5e-324,"f":1e-400,"g":[[1,[2]],{"x":{"y":null}}],"h":{"b":1,"a":{"d":1,"c":2,"d":3}}}}`,
	chunkHead + `[],"usage":{"b":1,"a":2,"b":3}}`,
	chunkHead + `[],"usage":null}`,
	chunkHead + `[],"usage":{"a":1},"usage":{"b":2}}`,
	// Completions, and choices with text.
	`{"id":"cmpl","object":"text_completion","created":1,"model":"m","choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":null}]}
data: {"id":"cmpl","object":"text_completion","created":1,"model":"m","choices":[{"text":" world","index":0,"logprobs":{"tokens":["a"],"token_logprobs":[-0.1]},"finish_reason":"length"}]}`,
	// Leading members repeated (the memo), changed by a later member, by the general path, or
	// followed by something else.
	`{"id":"a","model":"m","choices":[],"id":"b"}
data: {"id":"a","model":"m","choices":[],"id":"b"}
data: {"id":"a","model":"m","choices":[]}`,
	// The usual choices (usualChoices), and near misses that readChoices reads.
	`{"id":"a","choices":[{"index":0,"delta":{"content":"x\u00e9\n"},"logprobs":null,"finish_reason":null}]}
data: {"id":"a","choices":[{"index":0,"delta":{"content":null},"logprobs":null,"finish_reason":null}]}
data: {"id":"a","choices":[{"index":0,"delta":{"content":"y"},"logprobs":null,"finish_reason":"stop"}]}
data: {"id":"a","choices":[{"index":0,"delta":{"content":"z"},"logprobs":null,"finish_reason":null},{"index":1,"delta":{"content":"w"}}]}
data: {"id":"a","choices":[{"index":0,"delta":{"content":"v","role":"assistant"},"logprobs":null,"finish_reason":null}]}
data: {"id":"a","choices":[{"index":0,"delta":{"content":"u"},"logprobs":null,"finish_reason":null}],"choices":[]}
data: {"id":"a","choices":[{"index":0,"delta":{"content":"t\"},"logprobs":null,"finish_reason":null}]}`,
	// More members than tops lists before its map, and choices past the first.
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"choices":[{"index":1,"delta":{"content":"x"}},{"index":0,"delta":{"content":"y"}}]}
data: {"a":1,"b":3,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":11,"k":12,"choices":[{"index":0,"delta":{"content":"z"}},{"index":2,"delta":{"role":"assistant"}}]}
data: {"k":13,"a":0,"choices":[{"index":1,"finish_reason":"stop","delta":{}}]}`,
	`{"id":"a","model":"m","choices":[],"o":"1"}
data: {"id":"a","model":"m","choices":[],"o":"2"}
data: {"id":"a","model":"m","choices":[],"o":"3","model":"n"}
data: {"id":"a","model":"m","choices":[],"o":"4"}`,
	`{"id":"a","model":"m","choices":[]}
data: {"id":"a","model":"m","choices":[],"id":"b"}
data: {"id":"a","model":"m","choices":[]}
data: {"id":"a","model":"m","choices":[]}`,
	`{"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"x"}}]}
data: {"id":"a","model":"X","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f"}}]}}]}
data: {"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"y"}}]}
data: {"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"z"}}]}`,
	`{"id":"a","x":null,"o":{"k":1},"choices":[]}
data: {"id":"a","x":null,"o":{"k":1},"choices":[{"index":0,"delta":{"content":"x"}}]}
data: {"id":"a","x":null,"o":{"k":1},}
data: {"id":"a","x":null,"o":{"k":1}}
data: {"id":"a","x":null,"o":{"k":1},"usage":{"a":1}}
data: {"id":"a","x":null,"o":{"k":1},"choices":[],"choices":[]}
data: {"id":"a","x":null,"o":{"k":1},  "model":"n","choices":[]}
data: {"id":"a","x":null,"o":{"k":1},"choices":[]} x
data: {"id":"a","x":null,"o":{"k":1},"id":"c","choices":[]}
data: {"id":"a","x":null,"o":{"k":1},"choices":[]}
data: {"id":"a","x":null,"o":{"k":1},` + "\t " + `"choices":[{"index":0,"delta":{"content":"y"}}]}`,
	`{"x":null,"choices":[]}
data: {"x":null,"choices":[{"index":0,"delta":{"content":"x"}}]}
data: {"choices":[],"id":"1"}
data: {"choices":[],"id":"2"}`,
	// Odd shapes.
	`{"choices":null}`,
	`{"choices":{"a":{"index":2,"delta":{"content":"x"}}}}`,
	`{"choices":[1,"a",null]}`,
	`{"choices":[{"index":"1","delta":{"content":"x"}}]}`,
	`{"choices":[{"index":1.0,"delta":{"content":"x"}}]}`,
	`{"choices":[{"index":1e0,"delta":{"content":"x"}}]}`,
	`{"choices":[{"index":-3,"delta":{"content":"x"}}]}`,
	`{"choices":[{"index":12345678901234567,"delta":{"content":"x"}}]}`,
	`{"choices":[{"index":0,"index":1,"delta":{"content":"x"}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"x","content":"y","role":1}}]}`,
	`{"choices":[{"index":0,"delta":{"content":1,"role":null},"finish_reason":2,"text":false}]}`,
	`{"choices":[{"index":0,"delta":"x"}]}`,
	`{"choices":[{"index":0,"delta":{"content":"x"}}],"choices":[{"index":0,"delta":{"content":"y"}}]}`,
	`{"ch\u006fices":[{"index":0,"delta":{"content":"x"}}],"k\u0065y":"v"}`,
	`{"id":"1","id":"2","choices":[]}`,
	`{}`,
	` {"id":"x"} `,
	`{"choices":[{"index":0,"delta":{"content":"x"}}]`,
	`{"choices":[{"index":0,"delta":{"content":"x"}},]}`,
	`{"choices":[{"index":0,"delta":{"content":"x",}}]}`,
	`{"choices":[{"index":0,"delta":{"content":"x"}}],}`,
	`{"choices":[{"index":0,"delta":{"content":"x"}}]}x`,
	`{"id":01,"choices":[]}`,
	`{"id":1.,"choices":[]}`,
	`{"id":-,"choices":[]}`,
	`{"id":tru,"choices":[]}`,
	`{"id":"a` + "\x01" + `b","choices":[]}`,
	`{"id":"a\x","choices":[]}`,
	`{"id":"a\u12","choices":[]}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"choices":[]}`,
	`{"choices":[{"index":0,"delta":{"content":"x"}}]}` + "\u00a0",
	`{"choices":[{"index":0,"delta":{"content":"x"}},{"index":1},{"index":2},{"index":3},{"index":4},{"index":5},{"index":6},{"index":7},{"index":8}]}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"choices":[]}`,
	`{"object":"chat.completion.chunk","choices":[{"delta":{"reasoning_content":"r","content":"c","refusal":null,"function_call":{"name":"f"}},"logprobs":{"content":[{"token":"c","logprob":-1,"bytes":[99],"top_logprobs":[]}]}}]}`,
}

func TestAssembleFastOddInputs(t *testing.T) {
	for n, body := range assembleOdd {
		var b strings.Builder
		for l := range strings.SplitSeq(body, "\n") {
			if !strings.HasPrefix(l, "data: ") {
				l = "data: " + l
			}
			b.WriteString(l + "\r\n\r\n")
		}
		b.WriteString("data: [DONE]\n\n")
		checkSame(t, fmt.Sprint("odd input ", n), []byte(b.String()))
	}
}

// TestAssembleFastStrings: strings, raw scalars and usage values are written as encoding/json
// writes them.
func TestAssembleFastStrings(t *testing.T) {
	for _, v := range []string{`{"b":1,"a":[1.5,-0,1e21,1e-7,123456789012345678901,"x<"],"c":{"z":true,"y":false,"y":null},"\u00e9":{}}`,
		`[]`, `{}`, `"\ud800"`, `1e400`, `-1e400`, `[1,{"a":1e999}]`, ` { "a" : [ 1 , 2 ] } `} {
		want, err := json.Marshal(gjson.Parse(v).Value())
		if got, ok := appendValue(nil, strings.TrimSpace(v), 0); ok != (err == nil) || ok && string(got) != string(want) {
			t.Errorf("value %s: %s %v, want %s %v", v, got, ok, want, err)
		}
	}
	for _, s := range []string{"", "plain", `"\` + "\b\f\n\r\t\x00\x1f\x7f", "<a href='x'>&amp;</a>", "\u2028\u2029\u00e9\U0001f600",
		"\xff", "\xc3", "a\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("string %q: %s, want %s", s, got, want)
		}
		raw := gjson.Get(`{"a":`+string(want)+`}`, "a").Raw
		want, _ = json.Marshal(json.RawMessage(raw))
		if got := appendRawScalar(nil, raw); string(got) != string(want) {
			t.Errorf("raw %s: %s, want %s", raw, got, want)
		}
	}
}

// TestAssembleMemoKept: a chunk's leading members are read once per answer, not once per line,
// when a member after the choices changes line after line (OpenAI's "obfuscation").
func TestAssembleMemoKept(t *testing.T) {
	s := newAssembler(translate.EndpointChatCompletions)
	const line = `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"%d"}}],"obfuscation":"%s"}` + "\n\n"
	for i, o := range []string{"a", "bb", "ccc", "dddd"} {
		s.write(fmt.Appendf(nil, line, i, o))
		if want := `{"id":"c","object":"chat.completion.chunk","model":"m",`; s.memo != want {
			t.Fatalf("after line %d: memo %q, want %q", i+1, s.memo, want)
		}
	}
	if got := s.topValue("obfuscation"); got != `"dddd"` {
		t.Errorf("obfuscation %s", got)
	}
}

// FuzzAssemble (go test ./internal/observe -run '^$' -fuzz FuzzAssemble): for any stream, the
// fast path records what the general path records, and takes only lines gjson finds valid.
func FuzzAssemble(f *testing.F) {
	f.Add([]byte(bytes.Join(benchAnswer(true), nil)), uint8(7))
	for _, body := range assembleOdd {
		f.Add([]byte("data: "+strings.ReplaceAll(body, "\ndata: ", "\n\ndata: ")+"\n\n"), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		for _, e := range assembleEndpoints {
			want := assembled(e, [][]byte{stream}, false)
			var blocks [][]byte
			for rest, n := stream, int(cut)+1; len(rest) > 0; {
				k := min(n, len(rest))
				blocks = append(blocks, rest[:k])
				rest = rest[k:]
			}
			if got := assembled(e, blocks, true); got != want {
				t.Fatalf("endpoint %v:\nfast:\n%s\ngeneral:\n%s", e, got, want)
			}
		}
		for l := range strings.SplitSeq(string(stream), "\n") {
			d, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "data:")
			if d = strings.TrimSpace(d); !ok || d == "" || d[0] != '{' {
				continue
			}
			if newAssembler(translate.EndpointChatCompletions).fastLine(d) && !gjson.Valid(d) {
				t.Fatalf("took invalid JSON %q", d)
			}
		}
		s := string(stream)
		if gjson.Valid(s) {
			want, err := json.Marshal(gjson.Parse(s).Value())
			if got, ok := appendValue(nil, strings.TrimSpace(s), 0); ok != (err == nil) || ok && string(got) != string(want) {
				t.Fatalf("value %q: %s %v, want %s %v", s, got, ok, want, err)
			}
		}
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("string %q: %s, want %s", s, got, want)
		}
	})
}

// BenchmarkAssemble is the describer's work on the bench's streamed answer: reading its lines
// and recording the assembled answer (go test ./internal/observe -run '^$' -bench Assemble).
func BenchmarkAssemble(b *testing.B) {
	stream := bytes.Join(benchAnswer(true), nil)
	for _, fast := range []bool{false, true} {
		b.Run(map[bool]string{false: "general", true: "fast"}[fast], func(b *testing.B) {
			a := &attrs{p: &Privacy{Base64ImageMaxLength: 32000}}
			b.ReportAllocs()
			for b.Loop() {
				s := newAssembler(translate.EndpointChatCompletions)
				s.fast = fast
				s.write(stream)
				a.kv = a.kv[:0]
				s.attrs(a)
			}
		})
	}
}

// TestRecorderAssemblerPerAnswer: a stream's assembler is made by the answer's first bytes (not
// by the resets before them), and a reset after an answer forgets it and its text.
func TestRecorderAssemblerPerAnswer(t *testing.T) {
	var r responseRecorder
	r.start(translate.EndpointChatCompletions, true, nil)
	r.reset()
	if r.asm != nil {
		t.Fatal("an assembler before any answer")
	}
	r.write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lost\"}}]}\n\n"))
	first := r.asm
	if first == nil {
		t.Fatal("no assembler for an answer")
	}
	r.reset()
	r.write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"kept\"}}]}\n\n"))
	if r.asm == first {
		t.Fatal("a reset after an answer kept its assembler")
	}
	a := &attrs{p: &Privacy{}}
	r.attrs(a)
	var text strings.Builder
	for _, kv := range a.kv {
		text.WriteString(kv.Value.Emit())
	}
	if got := text.String(); strings.Contains(got, "lost") || !strings.Contains(got, "kept") {
		t.Errorf("attributes %s: want the second answer only", got)
	}
	r.release()
}
