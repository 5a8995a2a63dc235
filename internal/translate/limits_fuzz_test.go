package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// refDepth is the deepest nesting of b outside strings, by the simplest possible scan.
func refDepth(b []byte) int {
	depth, deepest, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case (c == ']' || c == '}') && depth > 0:
			depth--
		}
	}
	return deepest
}

// FuzzDepthScanner checks the depth scanner against the simple scan, whatever the pieces it is
// fed in: it refuses exactly the documents that go past its limit, and never panics.
func FuzzDepthScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"[["}]}`, `"\\"[[[`, `"\"[[[`, `[[[[[[`, `{"x":"\\\\\"]"}`} {
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	f.Fuzz(func(t *testing.T, in []byte, limit, step uint8) {
		max := int(limit%16) + 1
		s := DepthScanner{Max: max}
		n := int(step%8) + 1
		var err error
		for i := 0; i < len(in) && err == nil; i += n {
			err = s.Feed(in[i:min(i+n, len(in))])
		}
		deep := refDepth(in) > max
		if deep != errors.Is(err, ErrJSONTooDeep) {
			t.Fatalf("%q (max %d): deepest %d, scanner error %v", in, max, refDepth(in), err)
		}
		if s.Depth() > max {
			t.Fatalf("depth %d past the limit %d", s.Depth(), max)
		}
	})
}

// FuzzParseRequest runs request parsing on any body: no panic, nothing past the depth limit
// accepted, no body with two top-level model keys accepted, and what it accepts is valid JSON.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"a","model":"b"}`, `{"mod\u0065l":"a","model":"b"}`, `{"model":"m","x":[[[[[]]]]]}`,
		`[[[[[[[[`, `{"model":"m","stream":true,"stream":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		model, _, err := ParseRequest(EndpointChatCompletions, "application/json", body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if refDepth(body) > MaxJSONDepth {
			t.Fatalf("accepted a body %d levels deep", refDepth(body))
		}
		// The provider reads the last model key; it must be the one routed on.
		var keys map[string]json.RawMessage
		if json.Unmarshal(body, &keys) == nil {
			var last string
			// (A model that is not UTF-8 is refused by the pipeline's routing check.)
			if json.Unmarshal(keys["model"], &last) == nil && last != model && utf8.ValidString(model) {
				t.Fatalf("routed on %q, the provider reads %q", model, last)
			}
		}
	})
}

// FuzzSSEGuard feeds any stream through the guard and the decoder, as the data plane does: the
// guard's verdict does not depend on chunking, and while it passes a stream no event the decoder
// returns is larger than the limit or nested past MaxJSONDepth.
func FuzzSSEGuard(f *testing.F) {
	for _, b := range goldenStreams(f) {
		f.Add(b, uint8(7))
	}
	f.Add([]byte("data: [[[[[[[\n\ndata: {\"a\":\"]]]\"}\r\n\r\n"+string(bytes.Repeat([]byte("x"), 300))), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		const limit = 256
		whole := SSEGuard{Max: limit}
		wholeErr := whole.Check(in)
		g := SSEGuard{Max: limit}
		var d SSEDecoder
		step := int(cut%32) + 1
		var err error
		for i := 0; i < len(in); i += step {
			chunk := in[i:min(i+step, len(in))]
			if err = g.Check(chunk); err != nil {
				break
			}
			d.Feed(chunk)
			if len(d.buf) > limit+step {
				t.Fatalf("decoder holds %d bytes with a %d-byte limit", len(d.buf), limit)
			}
			for {
				ev, ok := d.Next()
				if !ok {
					break
				}
				if len(ev.Raw) > limit {
					t.Fatalf("event of %d bytes passed", len(ev.Raw))
				}
				if refDepth(ev.Data) > MaxJSONDepth {
					t.Fatalf("event %d levels deep passed", refDepth(ev.Data))
				}
			}
		}
		if (err == nil) != (wholeErr == nil) {
			t.Fatalf("in pieces of %d: %v; whole: %v", step, err, wholeErr)
		}
		if d.scanned > len(in) {
			t.Fatalf("decoder searched %d bytes of %d", d.scanned, len(in))
		}
	})
}
