package run

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"sigs.k8s.io/yaml"

	"github.com/aigw/aigw/internal/translate"
)

// cassette is the part of a go-vcr (format 2) recording the replay needs.
type cassette struct {
	Interactions []struct {
		Request struct {
			Body    string              `json:"body"`
			Form    map[string][]string `json:"form"`
			Headers map[string][]string `json:"headers"`
			URL     string              `json:"url"`
			Method  string              `json:"method"`
		} `json:"request"`
		Response struct {
			Body    string              `json:"body"`
			Headers map[string][]string `json:"headers"`
			Code    int                 `json:"code"`
		} `json:"response"`
	} `json:"interactions"`
}

// sharedFixtures finds ../shared/fixtures beside the repository, or skips the test.
func sharedFixtures(t *testing.T, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "fixtures", sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared fixtures not present at %s", p)
	}
	return p
}

// servedPaths are the client paths aigw serves, for skipping cassettes of endpoints to come.
func servedPaths() map[string]bool {
	m := map[string]bool{}
	for _, paths := range translate.Endpoints() {
		for _, p := range paths {
			m[p] = true
		}
	}
	return m
}

// TestCassetteReplay sends every recorded OpenAI and Azure OpenAI request through aigw to an
// upstream that replays the recorded answer, and requires the client to receive the recorded
// body byte for byte and the gateway to count the recorded usage.
func TestCassetteReplay(t *testing.T) {
	dir := sharedFixtures(t, "cassettes/openai")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Skip("no cassettes")
	}
	served := servedPaths()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c cassette
			if err := yaml.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			for _, it := range c.Interactions {
				replayOne(t, served, it.Request.URL, it.Request.Body, it.Request.Form, it.Request.Headers, it.Response.Code, it.Response.Headers, it.Response.Body)
			}
		})
	}
}

func replayOne(t *testing.T, served map[string]bool, rawURL, reqBody string, form, reqHeaders map[string][]string, code int, respHeaders map[string][]string, respBody string) {
	if strings.HasPrefix(reqBody, "[") && strings.HasSuffix(reqBody, "omitted]") {
		t.Skipf("the recorder left out the request body (%s), so it cannot be replayed", reqBody)
	}
	up := newRecordedUpstream(t, served, rawURL, form, code, respHeaders, respBody)
	g := startGateway(t, Options{Getenv: env(up.env...)})
	resp, got := up.send(t, g, reqBody, reqHeaders)
	if resp.StatusCode != code {
		t.Errorf("status %d, recorded %d", resp.StatusCode, code)
	}
	if !bytes.Equal(got, []byte(respBody)) {
		t.Errorf("client body differs from the recording\n got %q\nwant %q", truncate(got), truncate([]byte(respBody)))
	}
	if up.gotPath != up.recorded.Path {
		t.Errorf("upstream path %q, recorded %q", up.gotPath, up.recorded.Path)
	}
	// The upstream gets the client's body, with only stream usage added when the client streams.
	sent := up.gotBody
	if gjson.GetBytes(sent, "stream").Bool() && !gjson.Get(reqBody, "stream_options").Exists() {
		sent, _ = sjson.DeleteBytes(sent, "stream_options")
	}
	if !jsonEqual(sent, []byte(reqBody)) {
		t.Errorf("upstream body differs from the client's\n got %s\nwant %s", sent, reqBody)
	}
	if code != http.StatusOK {
		return
	}
	usage := recordedUsage(respBody)
	if !usage.Exists() {
		return
	}
	model := gjson.Get(reqBody, "model").String()
	for typ, field := range map[string]string{"input": "prompt_tokens", "output": "completion_tokens"} {
		want := usage.Get(field)
		if !want.Exists() {
			continue
		}
		v, _ := g.waitMetric(t, "gen_ai_client_token_usage_sum", `gen_ai_request_model="`+model+`"`, `gen_ai_token_type="`+typ+`"`)
		if v != strconv.FormatInt(want.Int(), 10) {
			t.Errorf("%s tokens in metrics %q, recorded %d", typ, v, want.Int())
		}
	}
}

// recordedUsage finds the usage object of a JSON body or of an SSE stream's last usage chunk.
func recordedUsage(body string) gjson.Result {
	if u := gjson.Get(body, "usage"); u.IsObject() {
		return u
	}
	var last gjson.Result
	for _, line := range strings.Split(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			if u := gjson.Get(data, "usage"); u.IsObject() {
				last = u
			}
		}
	}
	return last
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// recordedUpstream is a fake provider that answers one recorded exchange as it was recorded and
// keeps what aigw sent it.
type recordedUpstream struct {
	*httptest.Server
	recorded   *url.URL // the recorded request's URL
	clientPath string   // where a client of aigw sends the request
	env        []string // the variables that point aigw at the fake
	gotBody    []byte
	gotPath    string
}

// newRecordedUpstream starts the fake for an exchange recorded at rawURL (OpenAI or Azure), or
// skips when aigw does not serve its endpoint.
func newRecordedUpstream(t *testing.T, served map[string]bool, rawURL string, form map[string][]string, code int, respHeaders map[string][]string, respBody string) *recordedUpstream {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	azure := strings.Contains(u.Host, "azure")
	up := &recordedUpstream{recorded: u, clientPath: u.Path}
	if azure {
		up.clientPath = "/v1" + u.Path[strings.LastIndex(u.Path, "/chat/"):]
	}
	if !served[up.clientPath] {
		t.Skipf("%s is not served by aigw yet", up.clientPath)
	}
	up.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.gotBody, _ = io.ReadAll(r.Body)
		up.gotPath = r.URL.Path
		for k, v := range respHeaders {
			if k != "Content-Length" && k != "Content-Encoding" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, respBody)
	}))
	t.Cleanup(up.Close)
	if azure {
		up.env = []string{"AZURE_OPENAI_API_KEY", "az-key", "AZURE_OPENAI_ENDPOINT", up.URL, "OPENAI_API_VERSION", form["api-version"][0]}
	} else {
		up.env = []string{"OPENAI_API_KEY", "sk-test", "OPENAI_BASE_URL", up.URL + "/v1"}
	}
	return up
}

// send posts the recorded request body to g as a client would, and returns the response and its body.
func (up *recordedUpstream) send(t *testing.T, g *gateway, body string, headers map[string][]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.Gateway+up.clientPath, strings.NewReader(body))
	if v := headers["Content-Type"]; len(v) > 0 {
		req.Header.Set("Content-Type", v[0])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, got
}
