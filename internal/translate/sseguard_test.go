package translate

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestSSEDecoderLinear is the quadratic rescan of issue 18: a long line fed in small chunks was
// searched again from its start on every chunk. Every byte must now be searched once.
func TestSSEDecoderLinear(t *testing.T) {
	line := append([]byte("data: "), bytes.Repeat([]byte("x"), 1<<20)...)
	in := append(line, "\n\ndata: {}\n\n"...)
	var d SSEDecoder
	events := 0
	for i := 0; i < len(in); i += 7 {
		d.Feed(in[i:min(i+7, len(in))])
		for {
			ev, ok := d.Next()
			if !ok {
				break
			}
			events++
			if events == 1 && len(ev.Data) != 1<<20 {
				t.Fatalf("first event has %d data bytes", len(ev.Data))
			}
		}
	}
	if events != 2 {
		t.Fatalf("%d events, want 2", events)
	}
	if d.scanned > len(in) {
		t.Fatalf("searched %d bytes for line ends in %d bytes of input", d.scanned, len(in))
	}
}

func TestSSEGuard(t *testing.T) {
	ok := "event: message_start\r\ndata: {\"a\":[[1]]}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n"
	for step := 1; step <= len(ok); step++ {
		g := SSEGuard{Max: 64}
		for i := 0; i < len(ok); i += step {
			if err := g.Check([]byte(ok[i:min(i+step, len(ok))])); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	}
	var e *Error
	for name, in := range map[string]string{
		"event too large":        "data: " + strings.Repeat("x", 100) + "\n\n",
		"line without an end":    strings.Repeat("y", 100),
		"many lines in an event": strings.Repeat("data: 1\n", 20),
		"nested too deep":        "data: " + strings.Repeat("[", MaxJSONDepth+1) + "\n\n",
		"deep across data lines": "data: " + strings.Repeat("[", 40) + "\ndata: " + strings.Repeat("[", MaxJSONDepth) + "\n\n",
	} {
		g := SSEGuard{Max: 64}
		if name == "nested too deep" || name == "deep across data lines" {
			g.Max = 1 << 20
		}
		var err error
		for i := 0; i < len(in) && err == nil; i += 5 {
			err = g.Check([]byte(in[i:min(i+5, len(in))]))
		}
		if !errors.As(err, &e) || e.Status != http.StatusBadGateway {
			t.Errorf("%s: got %v, want a 502", name, err)
		}
	}
	// Depth is per event: many shallow events are fine.
	g := SSEGuard{}
	if err := g.Check([]byte(strings.Repeat("data: "+strings.Repeat("[", 200)+"\n\n", 10))); err != nil {
		t.Fatal(err)
	}
}

func TestHasErrorEvent(t *testing.T) {
	for in, want := range map[string]bool{
		"event: error\ndata: {\"type\":\"error\"}\n\n":                         true,
		"event:error\r\ndata: {}\r\n\r\n":                                      true,
		"data: {\"error\":{\"message\":\"x\"}}\n\n":                            true,
		"data: {\"choices\":[{\"delta\":{\"content\":\"event: error\"}}]}\n\n": false,
		"data: {\"id\":\"x\",\"error\":null}\n\n":                              false,
		"data: {\"error\":null,\"choices\":[]}\n\n":                            false,
		"data: {\"error\": \"overloaded\"}\n\n":                                true,
		"event: message_stop\ndata: {}\n\n":                                    false,
		"data: [DONE]\n\n":                                                     false,
	} {
		if got := HasErrorEvent([]byte(in)); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
	if out := AppendStreamError(nil, APIAnthropic, Errorf(502, "x", "boom")); !HasErrorEvent(out) || !bytes.HasPrefix(out, []byte("event: error\ndata: {\"type\":\"error\"")) {
		t.Errorf("anthropic error event %q", out)
	}
	if out := AppendStreamError(nil, APIOpenAI, Errorf(502, "x", "boom")); !HasErrorEvent(out) || !bytes.HasPrefix(out, []byte("data: {\"error\":{")) {
		t.Errorf("openai error event %q", out)
	}
}

// BenchmarkSSEGuard is the guard's cost per byte of a typical chat stream, which it adds in
// front of every translator.
func BenchmarkSSEGuard(b *testing.B) {
	stream := []byte(strings.Repeat(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello, \"world\" [1]"},"finish_reason":null}]}`+"\n\n", 100))
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		var g SSEGuard
		for i := 0; i < len(stream); i += 4096 {
			if err := g.Check(stream[i:min(i+4096, len(stream))]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
