package observe

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/aigw/aigw/internal/translate"
)

// TestSpeechSpan: a speech answer is described by its size and media type, never its bytes, and
// the recorder does not keep the audio.
func TestSpeechSpan(t *testing.T) {
	audio := append([]byte("ID3\x04\x00"), bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, 25_000)...)
	for _, tc := range []struct {
		name, req, mime string
		privacy         Privacy
		value           string
	}{
		{name: "mp3 by default", req: `{"model":"gpt-4o-mini-tts","input":"Hello there","voice":"alloy"}`, mime: "audio/mpeg"},
		{name: "wav", req: `{"model":"tts-1","input":"Hi","voice":"alloy","response_format":"wav"}`, mime: "audio/wav"},
		{name: "sse", req: `{"model":"gpt-4o-mini-tts","input":"Hi","voice":"alloy","stream_format":"sse"}`, mime: "text/event-stream"},
		{name: "unknown format", req: `{"model":"tts-1","input":"Hi","voice":"alloy","response_format":"<x>"}`, mime: "application/octet-stream"},
		{name: "outputs hidden", req: `{"model":"tts-1","input":"Hi","voice":"alloy"}`, mime: "audio/mpeg", privacy: Privacy{HideOutputs: true}, value: RedactedValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tr := NewTracing(TracingConfig{Processor: rec, Privacy: tc.privacy})
			start := time.Now()
			s := tr.Start(translate.EndpointAudioSpeech, start, http.Header{})
			s.Request("application/json", []byte(tc.req), false)
			s.Attempt(1, "openai", "openai", "tts-1", "api.openai.com", http.Header{})
			for i := 0; i < len(audio); i += 16 << 10 {
				s.Response(audio[i:min(i+16<<10, len(audio))])
			}
			if len(s.resp.body) != 0 {
				t.Errorf("the recorder kept %d bytes of audio", len(s.resp.body))
			}
			s.End(&RequestEvent{Start: start, Duration: time.Second, Operation: "speech", Status: 200, Attempts: 1}, nil)
			tr.wait(context.Background())
			var got map[string]string
			for _, sp := range rec.Ended() {
				if sp.Name() == "Speech" {
					got = map[string]string{}
					for _, kv := range sp.Attributes() {
						got[string(kv.Key)] = kv.Value.Emit()
					}
				}
			}
			if got == nil {
				t.Fatal("no Speech span")
			}
			want := "[" + tc.mime + ", 100005 bytes]"
			if tc.value != "" {
				want = tc.value
			}
			if got["output.value"] != want || got["aigw.response.bytes"] != "100005" || got["audio.mime_type"] != tc.mime {
				t.Errorf("output.value %q, aigw.response.bytes %q, audio.mime_type %q; want %q, 100005, %q",
					got["output.value"], got["aigw.response.bytes"], got["audio.mime_type"], want, tc.mime)
			}
			if tc.value == "" && got["output.mime_type"] != "text/plain" {
				t.Errorf("output.mime_type %q", got["output.mime_type"])
			}
			if got["input.value"] != tc.req {
				t.Errorf("input.value %q", got["input.value"])
			}
			for k, v := range got {
				if strings.Contains(v, "ID3") || strings.ContainsRune(v, 0xfffd) {
					t.Errorf("%s carries audio bytes", k)
				}
			}
		})
	}
}
