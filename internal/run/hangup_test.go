package run

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/observe"
)

// anthropicHolding streams an Anthropic answer and then, instead of ending the response, holds
// the connection until the gateway hangs up; with cut set it stops after the first text delta.
func anthropicHolding(t *testing.T, cut bool) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		events := []string{
			`event: message_start` + "\n" + `data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}`,
			`event: content_block_start` + "\n" + `data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
			`event: content_block_stop` + "\n" + `data: {"type":"content_block_stop","index":0}`,
			`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}`,
			`event: message_stop` + "\n" + `data: {"type":"message_stop"}`,
		}
		if cut {
			events = events[:3]
		}
		for _, ev := range events {
			_, _ = io.WriteString(w, ev+"\n\n")
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	return up
}

// TestClientHangsUpAfterLastEvent: a client may close the connection as soon as it has the
// stream's last event ([DONE]), before the gateway reads the backend's end of stream; that is a
// complete answer (200 with its usage), not a broken upstream (it was a 502). A client that
// hangs up before the end is a 499.
func TestClientHangsUpAfterLastEvent(t *testing.T) {
	for _, c := range []struct {
		name   string
		cut    bool
		status int
		output int64
	}{{"after [DONE]", false, 200, 3}, {"mid-stream", true, 499, 0}} {
		t.Run(c.name, func(t *testing.T) {
			up := anthropicHolding(t, c.cut)
			g := startGateway(t, Options{Getenv: env("ANTHROPIC_API_KEY", "sk-ant-test", "ANTHROPIC_BASE_URL", up.URL)})
			evResp, err := http.Get(g.Admin + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer evResp.Body.Close()
			evs := make(chan *observe.Event, 64)
			go sseEvents(evResp.Body, evs)

			req, _ := http.NewRequest("POST", g.Gateway+"/v1/chat/completions", strings.NewReader(
				`{"model":"claude-sonnet-4-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(resp.Body)
			want := "data: [DONE]"
			if c.cut {
				want = `"content":"Hello"`
			}
			for sc.Scan() && !strings.Contains(sc.Text(), want) {
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // hang up, with the backend's stream still open

			timeout := time.After(10 * time.Second)
			for {
				select {
				case ev, ok := <-evs:
					if !ok {
						t.Fatal("the event stream ended")
					}
					if ev.Kind != observe.KindEnd {
						continue
					}
					if ev.End.Status != c.status || ev.End.Usage.OutputTokens < c.output {
						t.Fatalf("end event: status %d, output tokens %d; want %d, ≥ %d (error %q)",
							ev.End.Status, ev.End.Usage.OutputTokens, c.status, c.output, ev.End.Error)
					}
					return
				case <-timeout:
					t.Fatal("no end event")
				}
			}
		})
	}
}
