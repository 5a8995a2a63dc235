package translate

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// suiteFor is the golden suite a fixture file belongs to.
func suiteFor(path string) goldenSuite {
	for _, s := range goldenSuites() {
		if filepath.Base(filepath.Dir(path)) == s.dir {
			return s
		}
	}
	return anthropicToOpenAISuite
}

// TestStreamSplits feeds every stream fixture in chunks of every size from 1 byte to 64, and in
// random splits, and requires the same client bytes and usage as when fed whole: the network may
// cut events anywhere.
func TestStreamSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for path, stream := range goldenStreams(t) {
		s := suiteFor(path)
		name := strings.SplitN(filepath.Base(path), ".", 2)[0]
		t.Run(filepath.Base(filepath.Dir(path))+"/"+name, func(t *testing.T) {
			whole := s.prepared(t, name, "text/event-stream")
			want := feedStream(t, whole, stream, nil)
			wantUsage := whole.Usage()
			var splits [][]int
			for n := 1; n <= 64; n++ {
				splits = append(splits, []int{n})
			}
			for range 50 {
				sizes := make([]int, 1+rng.IntN(8))
				for i := range sizes {
					sizes[i] = 1 + rng.IntN(len(stream))
				}
				splits = append(splits, sizes)
			}
			for _, sizes := range splits {
				tr := s.prepared(t, name, "text/event-stream")
				got := feedStream(t, tr, stream, sizes)
				if !bytes.Equal(got, want) {
					t.Fatalf("split %v: output differs from whole feed:\n--- got\n%s\n--- want\n%s", sizes, got, want)
				}
				if tr.Usage() != wantUsage {
					t.Fatalf("split %v: usage %+v, want %+v", sizes, tr.Usage(), wantUsage)
				}
			}
		})
	}
}

// TestStreamEmptyFinalChunk covers the data plane's last call, which may carry no bytes.
func TestStreamEmptyFinalChunk(t *testing.T) {
	for path, stream := range goldenStreams(t) {
		s := suiteFor(path)
		name := strings.SplitN(filepath.Base(path), ".", 2)[0]
		whole := feedStream(t, s.prepared(t, name, "text/event-stream"), stream, nil)
		tr := s.prepared(t, name, "text/event-stream")
		first, err := tr.ResponseBody(stream, false)
		if err != nil {
			t.Fatal(err)
		}
		got := append([]byte(nil), first...)
		last, err := tr.ResponseBody(nil, true)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, last...)
		if !bytes.Equal(got, whole) {
			t.Errorf("%s: output with an empty final chunk differs:\n%s\n--- want\n%s", path, got, whole)
		}
	}
}

// FuzzSSEDecoder checks that the decoder never panics, that the events it returns, with the
// rest, account for every byte fed, however the input is cut, and that each event's data is
// what its raw bytes say. Chunks are fed from one scratch buffer that is clobbered after each
// chunk's events are read, as the gateway's read loop reuses its buffer, so an event or a
// carried partial event that still pointed into an old chunk would show.
func FuzzSSEDecoder(f *testing.F) {
	for _, b := range goldenStreams(f) {
		f.Add(b, uint8(7))
	}
	f.Add([]byte("data: a\r\ndata: b\r\n\r\n: comment\n\nevent: x\ndata\n\n"), uint8(1))
	f.Add([]byte("data: one\ndata: two\ndata: three\n\ndata: {\"a\":1}\n\n"), uint8(4))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		var d SSEDecoder
		var raw []byte
		step := int(cut%32) + 1
		scratch := make([]byte, step)
		for i := 0; i < len(in); i += step {
			chunk := scratch[:copy(scratch, in[i:min(i+step, len(in))])]
			d.Feed(chunk)
			for {
				ev, ok := d.Next()
				if !ok {
					break
				}
				if want, has := referenceData(ev.Raw); has != (ev.Data != nil) || !bytes.Equal(ev.Data, want) {
					t.Fatalf("event %q: data %q, want %q", ev.Raw, ev.Data, want)
				}
				raw = append(raw, ev.Raw...)
			}
			for k := range scratch {
				scratch[k] = 'X'
			}
		}
		raw = append(raw, d.Rest()...)
		if !bytes.Equal(raw, in) {
			t.Fatalf("events and rest do not add up to the input:\n%q\n%q", raw, in)
		}
	})
}

// referenceData is one event's data as the SSE specification builds it from its raw lines:
// every "data" field's value, joined by line feeds.
func referenceData(raw []byte) (data []byte, has bool) {
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSuffix(line, "\r")
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		if field == "data" {
			if has {
				data = append(data, '\n')
			}
			data, has = append(data, value...), true
		}
	}
	return data, has
}

// fuzzStreamTranslator feeds arbitrary bytes to a stream translator, which must never panic and
// must end the stream (with a finish or an error) once the input ends.
func fuzzStreamTranslator(f *testing.F, s goldenSuite) {
	for path, b := range goldenStreams(f) {
		if strings.Contains(path, s.dir) {
			f.Add(b, uint8(5))
		}
	}
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n"), uint8(3))
	f.Add([]byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":9,\"delta\":null}\n\n"), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		tr, err := New(s.endpoint, Target{Backend: s.backend(""), Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		setClock(tr)
		if _, err := tr.RequestBody(&Request{Endpoint: s.endpoint, Body: []byte(s.defaultReq), Model: "m", Stream: true}); err != nil {
			t.Fatal(err)
		}
		if err := tr.ResponseHeaders(http.StatusOK, http.Header{"Content-Type": {"text/event-stream"}}); err != nil {
			t.Fatal(err)
		}
		step := int(cut%64) + 1
		var out []byte
		scratch := make([]byte, step) // reused and clobbered, as the gateway's read loop does
		for i := 0; i < len(in) || i == 0; i += step {
			end := min(i+step, len(in))
			b, err := tr.ResponseBody(scratch[:copy(scratch, in[i:end])], end == len(in))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
			for k := range scratch {
				scratch[k] = 'X'
			}
		}
		_ = tr.Usage()
		if !bytes.HasSuffix(out, []byte("\n\n")) {
			t.Fatalf("the stream does not end with a complete event: %q", out)
		}
	})
}

func FuzzOpenAIToAnthropicStream(f *testing.F) { fuzzStreamTranslator(f, openAIToAnthropicSuite) }
func FuzzAnthropicToOpenAIStream(f *testing.F) { fuzzStreamTranslator(f, anthropicToOpenAISuite) }
