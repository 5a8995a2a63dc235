package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata from the current output")

// fixedNow is the clock of every golden test, so that created timestamps are stable.
var fixedNow = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

// goldenSuite is one translator's fixtures in testdata/<dir>. Each case is named by its input
// file, its kind by the name's prefix:
//
//	req_<case>.in.json     client body       → req_<case>.out.json   upstream request (or the error)
//	resp_<case>.in.json    upstream body     → resp_<case>.out.json  client body
//	stream_<case>.in.sse   upstream events   → stream_<case>.out.sse client events
//	err_<status>_<case>.in upstream error    → err_<status>_<case>.out.json client error
//
// resp_ and stream_ cases may have a <case>.req.json with the client's request (default: the
// suite's defaultReq); req_ cases may have a <case>.headers.json with client headers.
type goldenSuite struct {
	dir        string
	endpoint   Endpoint
	backend    func(name string) *config.Backend
	defaultReq string
}

var openAIToAnthropicSuite = goldenSuite{
	dir:      "openai_anthropic",
	endpoint: EndpointChatCompletions,
	backend: func(string) *config.Backend {
		return &config.Backend{Name: "anthropic", Schema: config.Schema{Name: config.SchemaAnthropic, Prefix: "/v1"}}
	},
	defaultReq: `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}`,
}

var anthropicToOpenAISuite = goldenSuite{
	dir:      "anthropic_openai",
	endpoint: EndpointMessages,
	backend: func(name string) *config.Backend {
		if strings.Contains(name, "azure") {
			return &config.Backend{Name: "azure", Schema: config.Schema{Name: config.SchemaAzureOpenAI, Version: "2025-04-01-preview"}}
		}
		return &config.Backend{Name: "openai", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}}
	},
	defaultReq: `{"model":"gpt-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}`,
}

func TestGoldenOpenAIToAnthropic(t *testing.T) { openAIToAnthropicSuite.run(t) }
func TestGoldenAnthropicToOpenAI(t *testing.T) { anthropicToOpenAISuite.run(t) }

func (s goldenSuite) run(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", s.dir, "*.in.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", s.dir, err)
	}
	for _, in := range files {
		name := strings.SplitN(filepath.Base(in), ".", 2)[0]
		t.Run(name, func(t *testing.T) {
			input := readFile(t, in)
			var got []byte
			outExt := ".out.json"
			switch {
			case strings.HasPrefix(name, "req_"):
				got = s.request(t, name, input)
			case strings.HasPrefix(name, "resp_"):
				tr := s.prepared(t, name, "application/json")
				out, err := tr.ResponseBody(input, true)
				got = resultOrError(out, err)
			case strings.HasPrefix(name, "stream_"):
				outExt = ".out.sse"
				got = feedStream(t, s.prepared(t, name, "text/event-stream"), input, nil)
			case strings.HasPrefix(name, "err_"):
				status, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "err_"), "_", 2)[0])
				if err != nil {
					t.Fatalf("error case %s does not name a status", name)
				}
				got = s.translator(t, name).ResponseError(status, http.Header{}, input)
			default:
				t.Fatalf("unknown case kind %s", name)
			}
			if outExt == ".out.json" {
				got = indentJSON(t, got)
			}
			compareGolden(t, filepath.Join("testdata", s.dir, name+outExt), got)
		})
	}
}

// request runs RequestBody and renders the upstream request, or the error, as JSON.
func (s goldenSuite) request(t *testing.T, name string, body []byte) []byte {
	h := http.Header{}
	if hb, err := os.ReadFile(filepath.Join("testdata", s.dir, name+".headers.json")); err == nil {
		if err := json.Unmarshal(hb, &h); err != nil {
			t.Fatal(err)
		}
	}
	up, err := s.translatorFor(t, name, body).RequestBody(&Request{Endpoint: s.endpoint, Body: body, Model: modelOf(body), Header: h})
	if err != nil {
		return errorJSON(t, err)
	}
	out, err := marshalJSON(struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Header http.Header     `json:"header"`
		Body   json.RawMessage `json:"body"`
	}{up.Method, up.Path, up.Header, up.Body})
	if err != nil {
		t.Fatalf("upstream body is not JSON: %v\n%s", err, up.Body)
	}
	return out
}

// translator makes the suite's translator for a case whose request body is the case's
// .req.json, or the default one.
func (s goldenSuite) translator(t *testing.T, name string) Translator {
	body := []byte(s.defaultReq)
	if b, err := os.ReadFile(filepath.Join("testdata", s.dir, name+".req.json")); err == nil {
		body = b
	}
	tr := s.translatorFor(t, name, body)
	if _, err := tr.RequestBody(&Request{Endpoint: s.endpoint, Body: body, Model: modelOf(body), Header: http.Header{}}); err != nil {
		t.Fatalf("request of case %s: %v", name, err)
	}
	return tr
}

// prepared is translator after a 200 response with the given content type.
func (s goldenSuite) prepared(t *testing.T, name, contentType string) Translator {
	tr := s.translator(t, name)
	h := http.Header{"Content-Type": {contentType}}
	if err := tr.ResponseHeaders(http.StatusOK, h); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (s goldenSuite) translatorFor(t *testing.T, name string, body []byte) Translator {
	tr, err := New(s.endpoint, Target{Backend: s.backend(name), Model: modelOf(body)})
	if err != nil {
		t.Fatal(err)
	}
	setClock(tr)
	return tr
}

// setClock fixes the clock of translators that have one.
func setClock(tr Translator) {
	if r, ok := tr.(*responsesToChat); ok {
		tr = r.inner
	}
	if o, ok := tr.(*openAIToAnthropic); ok {
		o.now = func() time.Time { return fixedNow }
	}
}

func modelOf(body []byte) string {
	var m struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(body, &m)
	return m.Model
}

// feedStream feeds a stream to tr in the given chunk sizes (cycled; nil means whole) and returns
// everything the client would receive.
func feedStream(t *testing.T, tr Translator, stream []byte, sizes []int) []byte {
	t.Helper()
	var out []byte
	for i := 0; len(stream) > 0; i++ {
		n := len(stream)
		if len(sizes) > 0 {
			n = min(sizes[i%len(sizes)], len(stream))
		}
		// Each chunk comes in a buffer that is clobbered once it has been translated, as the
		// gateway's read loop reuses its buffer: nothing may still point into it.
		chunk := append([]byte(nil), stream[:n]...)
		b, err := tr.ResponseBody(chunk, n == len(stream))
		if err != nil {
			t.Fatalf("ResponseBody: %v", err)
		}
		out = append(out, b...)
		for k := range chunk {
			chunk[k] = 'X'
		}
		stream = stream[n:]
	}
	return out
}

func resultOrError(out []byte, err error) []byte {
	if err != nil {
		b, _ := json.Marshal(map[string]any{"translator_error": err.Error()})
		return b
	}
	return out
}

func errorJSON(t *testing.T, err error) []byte {
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("error is not a *translate.Error: %v", err)
	}
	b, _ := json.Marshal(map[string]any{"status": te.Status, "code": te.Code, "param": te.Param, "message": te.Message})
	return b
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// goldenStreams lists every stream fixture of both suites, for the split and fuzz tests.
func goldenStreams(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, suite := range goldenSuites() {
		files, _ := filepath.Glob(filepath.Join("testdata", suite.dir, "stream_*.in.sse"))
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = b
		}
	}
	return out
}
