package translate

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckRequestJSON(t *testing.T) {
	deep := func(n int) string { return `{"model":"m","x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	for _, tc := range []struct {
		name, body string
		param      string // "" for accepted
		status     int
	}{
		{"plain", `{"model":"m","stream":true}`, "", 0},
		{"at the depth limit", deep(MaxJSONDepth - 1), "", 0},
		{"one past the limit", deep(MaxJSONDepth), "-", 400},
		{"brackets inside strings do not count", `{"model":"m","x":"` + strings.Repeat("[{", 5000) + `"}`, "", 0},
		{"escaped quotes keep the string open", `{"model":"m","x":"\"` + strings.Repeat("[", 5000) + `\\\"","y":1}`, "", 0},
		{"escaped backslash closes the string", `{"model":"m","x":"\\",` + `"y":` + strings.Repeat("[", 300) + `}`, "-", 400},
		{"duplicate model", `{"model":"cheap-model","model":"o1-pro"}`, "model", 400},
		{"duplicate stream", `{"model":"m","stream":false,"stream":true}`, "stream", 400},
		{"escaped duplicate key", `{"model":"cheap","mod\u0065l":"o1-pro"}`, "model", 400},
		{"nested model keys are not top-level", `{"model":"m","metadata":{"model":"x","stream":1},"tools":[{"model":"y"}]}`, "", 0},
		{"model as a value", `{"model":"model","other":"model"}`, "", 0},
		{"top-level array", `[{"model":"a"},{"model":"b"}]`, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRequestJSON([]byte(tc.body))
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status {
				t.Fatalf("got %v, want a %d", err, tc.status)
			}
			if tc.param != "-" && e.Param != tc.param {
				t.Fatalf("param %q, want %q (%s)", e.Param, tc.param, e.Message)
			}
		})
	}
}

// TestRequestDeepNesting is the crash of issue 18: ten million `[` once overflowed gjson's
// recursive validator. The scan must refuse it at once, without allocating.
func TestRequestDeepNesting(t *testing.T) {
	body := bytes.Repeat([]byte("["), 10<<20)
	start := time.Now()
	_, _, err := ParseRequest(EndpointChatCompletions, "application/json", body)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Fatalf("got %v, want a 400", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
	// Balanced deep nesting inside an object, refused the same way.
	body = []byte(`{"model":"m","messages":` + strings.Repeat(`[{"a":`, 1<<20))
	if _, _, err := ParseRequest(EndpointMessages, "application/json", body); !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Fatalf("got %v, want a 400", err)
	}
	var s DepthScanner
	doc := []byte(`{"model":"m","messages":[{"role":"user","content":"hello \"there\" [x]"}]}`)
	allocs := testing.AllocsPerRun(100, func() {
		s.Reset()
		_ = s.Feed(doc)
	})
	if allocs != 0 {
		t.Fatalf("DepthScanner.Feed allocates %v times per document", allocs)
	}
}

func TestDepthScannerPieces(t *testing.T) {
	doc := []byte(`{"a":"x\\\"[[","b":[[[1]]],"c":"\\\\"}`)
	var whole DepthScanner
	if err := whole.Feed(doc); err != nil || whole.Depth() != 0 {
		t.Fatalf("whole: depth %d, %v", whole.Depth(), err)
	}
	for cut := 0; cut <= len(doc); cut++ {
		for step := 1; step <= 3; step++ {
			var s DepthScanner
			s.Max = 4
			_ = s.Feed(doc[:cut])
			for i := cut; i < len(doc); i += step {
				_ = s.Feed(doc[i:min(i+step, len(doc))])
			}
			if s.Depth() != 0 || s.err != nil {
				t.Fatalf("cut %d step %d: depth %d, %v", cut, step, s.Depth(), s.err)
			}
		}
	}
	s := DepthScanner{Max: 2}
	if err := s.Feed([]byte(`[[[`)); !errors.Is(err, ErrJSONTooDeep) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckUpstreamJSON(t *testing.T) {
	if err := CheckUpstreamJSON([]byte(`{"choices":[{"message":{"content":"hi"}}]}`)); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := CheckUpstreamJSON(bytes.Repeat([]byte("{\"a\":"), 1000)); !errors.As(err, &e) || e.Status != http.StatusBadGateway {
		t.Fatalf("got %v, want a 502", err)
	}
}

// BenchmarkCheckRequestJSON measures the depth and duplicate-key pass on a typical chat request,
// next to the validation that follows it, which it must not dwarf.
func BenchmarkCheckRequestJSON(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},` +
		strings.Repeat(`{"role":"user","content":"Tell me about \"JSON\" [nesting] and {braces} in strings, please."},{"role":"assistant","content":"Sure."},`, 20) +
		`{"role":"user","content":"thanks"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}}}}]}`)
	b.Run("CheckRequestJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := CheckRequestJSON(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseRequest", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := ParseRequest(EndpointChatCompletions, "application/json", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
