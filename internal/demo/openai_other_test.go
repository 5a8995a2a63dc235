package demo

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestCompletions(t *testing.T) {
	url := startServer(t, Options{OutputTokens: 6}) + "/v1/completions"
	tests := []struct {
		name         string
		body         string
		wantFinish   string
		wantTokens   int
		includeUsage bool
	}{
		{name: "string prompt", body: `{"model":"gpt-3.5-turbo-instruct","prompt":"def fib(n):"}`, wantFinish: "stop", wantTokens: 6},
		{name: "max_tokens", body: `{"model":"babbage-002","max_tokens":2,"prompt":["a","b"]}`, wantFinish: "length", wantTokens: 2},
		{name: "token prompt", body: `{"model":"babbage-002","prompt":[1,2,3]}`, wantFinish: "stop", wantTokens: 6},
		{name: "usage", body: `{"model":"babbage-002","stream_options":{"include_usage":true},"prompt":"x"}`, wantFinish: "stop", wantTokens: 6, includeUsage: true},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/non-stream", func(t *testing.T) {
			resp, body := post(t, url, tc.body, nil)
			var c textCompletion
			if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &c) != nil {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if !strings.HasPrefix(c.ID, "cmpl-") || len(c.ID) != 34 || c.Object != "text_completion" || len(c.Choices) != 1 ||
				c.Choices[0].FinishReason != tc.wantFinish || c.Usage == nil || c.Usage.CompletionTokens != tc.wantTokens {
				t.Errorf("body %s", body)
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			resp, body := post(t, url, `{"stream":true,`+tc.body[1:], nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			events := parseSSE(t, body)
			if events[len(events)-1].data != "[DONE]" {
				t.Fatalf("no [DONE]")
			}
			events = events[:len(events)-1]
			if tc.includeUsage {
				var u textCompletion
				if json.Unmarshal([]byte(events[len(events)-1].data), &u) != nil || u.Usage == nil || len(u.Choices) != 0 ||
					u.Usage.CompletionTokens != tc.wantTokens {
					t.Errorf("usage chunk %s", events[len(events)-1].data)
				}
				events = events[:len(events)-1]
			}
			if len(events) != tc.wantTokens {
				t.Errorf("%d chunks, want %d", len(events), tc.wantTokens)
			}
			for i, ev := range events {
				var c textCompletion
				if err := json.Unmarshal([]byte(ev.data), &c); err != nil || c.Object != "text_completion" || len(c.Choices) != 1 {
					t.Fatalf("chunk %s", ev.data)
				}
				last := i == len(events)-1
				if got := c.Choices[0].FinishReason; (last && got != tc.wantFinish) || (!last && got != "") {
					t.Errorf("chunk %d finish_reason %q", i, got)
				}
				if strings.Contains(ev.data, `"usage":null`) != tc.includeUsage {
					t.Errorf("usage:null mismatch in %s", ev.data)
				}
			}
		})
	}
}

func TestEmbeddings(t *testing.T) {
	url := startServer(t, Options{}) + "/v1/embeddings"
	type embedding struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	}
	type response struct {
		Object string      `json:"object"`
		Data   []embedding `json:"data"`
		Model  string      `json:"model"`
		Usage  struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	vectors := func(t *testing.T, body string) [][]float32 {
		t.Helper()
		resp, got := post(t, url, body, nil)
		var r response
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(got), &r) != nil || r.Object != "list" ||
			r.Usage.PromptTokens < 1 || r.Usage.PromptTokens != r.Usage.TotalTokens {
			t.Fatalf("status %d: %.300s", resp.StatusCode, got)
		}
		var out [][]float32
		for i, d := range r.Data {
			if d.Index != i || d.Object != "embedding" {
				t.Errorf("entry %d: %+v", i, d)
			}
			var v []float32
			var b64 string
			if json.Unmarshal(d.Embedding, &b64) == nil {
				raw, err := base64.StdEncoding.DecodeString(b64)
				if err != nil || len(raw)%4 != 0 {
					t.Fatalf("base64: %v", err)
				}
				for j := 0; j < len(raw); j += 4 {
					v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
				}
			} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
				t.Fatalf("embedding: %v", err)
			}
			var norm float64
			for _, f := range v {
				norm += float64(f) * float64(f)
			}
			if math.Abs(norm-1) > 1e-4 {
				t.Errorf("norm %f", norm)
			}
			out = append(out, v)
		}
		return out
	}
	tests := []struct {
		name  string
		input string
		extra string
		count int
		dims  int
	}{
		{"small default", `"hello"`, ``, 1, 1536},
		{"large default", `"hello"`, `,"model":"text-embedding-3-large"`, 1, 3072},
		{"dimensions", `["a","b","c"]`, `,"dimensions":256`, 3, 256},
		{"tokens", `[1,2,3]`, `,"dimensions":8`, 1, 8},
		{"token arrays", `[[1,2],[3]]`, `,"dimensions":8`, 2, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := `"model":"text-embedding-3-small"`
			if strings.Contains(tc.extra, "model") {
				model = tc.extra[1:]
				tc.extra = ""
			}
			body := `{` + model + `,"input":` + tc.input + tc.extra
			floats := vectors(t, body+`}`)
			absent := vectors(t, body+`,"encoding_format":"float"}`)
			b64 := vectors(t, body+`,"encoding_format":"base64"}`)
			if len(floats) != tc.count {
				t.Fatalf("%d vectors, want %d", len(floats), tc.count)
			}
			for i := range floats {
				if len(floats[i]) != tc.dims {
					t.Errorf("dims %d, want %d", len(floats[i]), tc.dims)
				}
				for j := range floats[i] {
					if floats[i][j] != b64[i][j] || floats[i][j] != absent[i][j] {
						t.Fatalf("vector %d differs at %d: %v vs %v", i, j, floats[i][j], b64[i][j])
					}
				}
			}
			if tc.count > 1 && floats[0][0] == floats[1][0] {
				t.Errorf("different inputs, same vector")
			}
		})
	}
}

func TestModels(t *testing.T) {
	url := startServer(t, Options{})
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list modelList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || list.Object != "list" || len(list.Data) != len(Models()) {
		t.Fatalf("list %+v: %v", list, err)
	}
	for i, m := range list.Data {
		if m.ID != Models()[i] || m.Object != "model" || m.Created == 0 || m.OwnedBy == "" {
			t.Errorf("model %+v", m)
		}
	}
}

func TestPromptCache(t *testing.T) {
	url := startServer(t, Options{})
	long := strings.Repeat("You are a helpful assistant. ", 300) // ~8700 bytes, ~2175 tokens
	chat := func(model, system, user string, header map[string]string) chatUsage {
		t.Helper()
		body := `{"model":"` + model + `","messages":[{"role":"system","content":"` + system + `"},{"role":"user","content":"` + user + `"}]}`
		resp, got := post(t, url+"/v1/chat/completions", body, header)
		var c chatCompletion
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(got), &c) != nil {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		return c.Usage
	}
	first := chat("gpt-4o", long, "q1", nil)
	if first.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("first sight cached %d", first.PromptTokensDetails.CachedTokens)
	}
	for _, tc := range []struct {
		name     string
		model    string
		user     string
		wantSome bool
	}{
		{"repeat", "gpt-4o", "q1", true},
		{"same prefix other question", "gpt-4o", "another question", true},
		{"other model", "gpt-4o-mini", "q1", false},
	} {
		u := chat(tc.model, long, tc.user, nil)
		c := u.PromptTokensDetails.CachedTokens
		if tc.wantSome && (c < minCacheTokens || c%cacheStepTokens != 0 || c > u.PromptTokens) {
			t.Errorf("%s: cached %d of %d", tc.name, c, u.PromptTokens)
		}
		if !tc.wantSome && c != 0 {
			t.Errorf("%s: cached %d, want 0", tc.name, c)
		}
	}
	if u := chat("gpt-4o", "short", "q", nil); u.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("short prompt cached")
	}
	if u := chat("gpt-4o", "short", "q", nil); u.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("short prompt cached on repeat")
	}
	u := chat("gpt-4o", "short", "q", map[string]string{"X-Demo-Cached-Tokens": "77"})
	if u.PromptTokensDetails.CachedTokens != 77 || u.PromptTokens < 77 {
		t.Errorf("override: %+v", u)
	}

	// Anthropic: only with cache_control; written on first sight, read after.
	messages := func(cacheControl string, header map[string]string) anthropicUsage {
		t.Helper()
		body := `{"model":"claude-sonnet-4-5","max_tokens":100,"system":[{"type":"text","text":"` + long + `"` + cacheControl +
			`}],"messages":[{"role":"user","content":"hi"}]}`
		resp, got := post(t, url+"/v1/messages", body, header)
		var m anthropicMessageResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(got), &m) != nil {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
		return m.Usage
	}
	cc := `,"cache_control":{"type":"ephemeral"}`
	if u := messages("", nil); u.CacheCreationInputTokens != 0 || u.CacheReadInputTokens != 0 {
		t.Errorf("no cache_control: %+v", u)
	}
	w := messages(cc, nil)
	if w.CacheCreationInputTokens < minCacheTokens || w.CacheReadInputTokens != 0 || w.InputTokens > 10 {
		t.Errorf("first sight: %+v", w)
	}
	r := messages(cc, nil)
	if r.CacheReadInputTokens != w.CacheCreationInputTokens || r.CacheCreationInputTokens != 0 || r.InputTokens != w.InputTokens {
		t.Errorf("repeat: %+v after %+v", r, w)
	}
	if o := messages("", map[string]string{"X-Demo-Cached-Tokens": "5"}); o.CacheReadInputTokens != 5 {
		t.Errorf("override: %+v", o)
	}
}

func TestPrefixCacheEvicts(t *testing.T) {
	c := newPrefixCache(4)
	for i := 0; i < 10; i++ {
		c.lookupInsert([]mark{{bytes: 1, key: uint64(i)}})
	}
	if len(c.index) != 4 {
		t.Fatalf("%d entries, want 4", len(c.index))
	}
	for i := 0; i < 10; i++ {
		_, ok := c.index[uint64(i)]
		if ok != (i >= 6) {
			t.Errorf("key %d present = %v", i, ok)
		}
	}
	c.lookupInsert([]mark{{bytes: 1, key: 6}}) // touch 6 so 7 is the oldest
	c.lookupInsert([]mark{{bytes: 1, key: 100}})
	if _, ok := c.index[7]; ok {
		t.Errorf("LRU evicted the wrong key")
	}
	if hit := c.lookupInsert([]mark{{bytes: 10, key: 6}, {bytes: 20, key: 100}, {bytes: 30, key: 999}}); hit != 20 {
		t.Errorf("longest hit %d, want 20", hit)
	}
}

func TestErrors(t *testing.T) {
	url := startServer(t, Options{})
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		anthropic                bool
		wantType, wantCode       string
		wantMessage              string
	}{
		{name: "malformed chat", path: "/v1/chat/completions", body: `{"model":`, status: 400, wantType: "invalid_request_error", wantMessage: "could not parse"},
		{name: "missing model", path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"x"}]}`, status: 400, wantType: "invalid_request_error", wantMessage: "model"},
		{name: "empty messages", path: "/v1/chat/completions", body: `{"model":"m","messages":[]}`, status: 400, wantCode: "empty_array"},
		{name: "bad max_tokens", path: "/v1/chat/completions", body: `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, status: 400, wantCode: "integer_below_min_value"},
		{name: "wrong type", path: "/v1/chat/completions", body: `{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}`, status: 400, wantCode: "invalid_type"},
		{name: "unknown model", path: "/v1/chat/completions", body: `{"model":"unknown-model","messages":[{"role":"user","content":"x"}]}`, status: 404, wantCode: "model_not_found"},
		{name: "does-not-exist", path: "/v1/completions", body: `{"model":"does-not-exist-2","prompt":"x"}`, status: 404, wantCode: "model_not_found"},
		{name: "embeddings unknown", path: "/v1/embeddings", body: `{"model":"does-not-exist","input":"x"}`, status: 404, wantCode: "model_not_found"},
		{name: "embeddings dims", path: "/v1/embeddings", body: `{"model":"m","input":"x","dimensions":-1}`, status: 400, wantMessage: "minimum of 1"},
		{name: "embeddings format", path: "/v1/embeddings", body: `{"model":"m","input":"x","encoding_format":"hex"}`, status: 400, wantMessage: "encoding_format"},
		{name: "embeddings empty", path: "/v1/embeddings", body: `{"model":"m","input":[]}`, status: 400, wantMessage: "input"},
		{name: "cached header", path: "/v1/chat/completions", body: `{"model":"m","messages":[{"role":"user","content":"x"}]}`, header: map[string]string{"X-Demo-Cached-Tokens": "lots"}, status: 400, wantMessage: "X-Demo-Cached-Tokens"},
		{name: "unknown path", path: "/v1/nothing", body: `{}`, status: 404, wantMessage: "Invalid URL (POST /v1/nothing)"},
		{name: "wrong method", method: http.MethodGet, path: "/v1/chat/completions", status: 404, wantMessage: "Invalid URL"},
		{name: "anthropic malformed", path: "/v1/messages", body: `{`, status: 400, anthropic: true, wantType: "invalid_request_error"},
		{name: "anthropic no max_tokens", path: "/v1/messages", body: `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]}`, status: 400, anthropic: true, wantType: "invalid_request_error", wantMessage: "max_tokens: Field required"},
		{name: "anthropic no model", path: "/v1/messages", body: `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, status: 400, anthropic: true, wantType: "invalid_request_error", wantMessage: "model: Field required"},
		{name: "anthropic unknown model", path: "/v1/messages", body: `{"model":"unknown-model","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, status: 404, anthropic: true, wantType: "not_found_error"},
		{name: "anthropic thinking budget", path: "/v1/messages", body: `{"model":"c","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":10},"messages":[{"role":"user","content":"x"}]}`, status: 400, anthropic: true, wantType: "invalid_request_error", wantMessage: "budget_tokens"},
		{name: "count_tokens unknown", path: "/v1/messages/count_tokens", body: `{"model":"does-not-exist","messages":[{"role":"user","content":"x"}]}`, status: 404, anthropic: true, wantType: "not_found_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			resp, body := send(t, method, url+tc.path, tc.body, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("content-type %q", resp.Header.Get("Content-Type"))
			}
			if tc.anthropic {
				var e anthropicErrorBody
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Type != "error" || e.Error.Type != tc.wantType ||
					!strings.HasPrefix(e.RequestID, "req_") || !strings.Contains(e.Error.Message, tc.wantMessage) {
					t.Errorf("body %s", body)
				}
				return
			}
			var e struct {
				Error map[string]*string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := e.Error[k]; !ok {
					t.Errorf("error lacks %q: %s", k, body)
				}
			}
			if e.Error["type"] == nil || *e.Error["type"] != "invalid_request_error" ||
				!strings.Contains(*e.Error["message"], tc.wantMessage) {
				t.Errorf("body %s", body)
			}
			if tc.wantCode != "" && (e.Error["code"] == nil || *e.Error["code"] != tc.wantCode) {
				t.Errorf("code = %v, want %s: %s", e.Error["code"], tc.wantCode, body)
			}
		})
	}
}
