package mcpstdio

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLegacySSEOrder reads an HTTP+SSE stream raw: progress notifications come before the
// response of their request, in order. (The Node SDK's SSE client may still drop the last one
// when both arrive in one chunk; that is its own scheduling, see TestNodeClient.)
func TestLegacySSEOrder(t *testing.T) {
	_, srv := startBridge(t, testServerConfig(t))
	resp, err := http.Get(srv.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var endpoint string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			endpoint = strings.TrimPrefix(sc.Text(), "data: ")
			break
		}
	}
	p := func(b string) {
		r, err := http.Post(srv.URL+endpoint, "application/json", strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	p(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	p(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow","arguments":{"steps":3,"delayMs":5},"_meta":{"progressToken":7}}}`)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		line := sc.Text()
		if strings.Contains(line, `"progressToken":7`) {
			got = append(got, "progress")
		}
		if strings.Contains(line, `"id":2`) {
			got = append(got, "response")
			break
		}
	}
	if strings.Join(got, ",") != "progress,progress,progress,response" {
		t.Errorf("stream order %v, want three progress notifications then the response", got)
	}
	resp.Body.Close()
}
