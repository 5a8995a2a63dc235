package run

import (
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tenantLimitedGateway serves model gpt-x from up with a budget of 12 tokens an hour per
// x-tenant (tenantTokenLimit), and closes up when the test ends.
func tenantLimitedGateway(t *testing.T, up *httptest.Server) *gateway {
	t.Helper()
	t.Cleanup(up.Close)
	u, _ := neturl.Parse(up.URL)
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, crdConfig(map[string]string{"up": u.Port()}, `
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt-x}]}]
      backendRefs: [{name: up}]
`+tokenCosts)+tenantTokenLimit)
	return startGateway(t, Options{ConfigPath: path})
}

// TestBackendAfterLastEvent: a stream is finished (charged, recorded) before its last event
// goes out, so what the backend does after that event changes nothing for the client: bytes
// after [DONE] and a connection that then breaks give no error event and no aborted response.
func TestBackendAfterLastEvent(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, ev := range []string{
			`{"id":"s","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`,
			`{"id":"s","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
			`[DONE]`,
		} {
			_, _ = io.WriteString(w, "data: "+ev+"\n\n")
			fl.Flush()
		}
		// Then, in a read of its own, bytes no client should get.
		time.Sleep(100 * time.Millisecond)
		_, _ = io.WriteString(w, "data: {\"not json\n\n")
		fl.Flush()
		// Break the connection instead of ending the chunked body.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	g := tenantLimitedGateway(t, up)
	req, _ := http.NewRequest("POST", g.Gateway+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-x","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-tenant", "acme")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the response did not complete: %v\n%s", err, body)
	}
	s := string(body)
	if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(s), "data: [DONE]") || strings.Contains(s, "error") {
		t.Fatalf("status %d, body:\n%s", resp.StatusCode, s)
	}
}
