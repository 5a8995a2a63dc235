package run

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestSpeechSpanExported: a speech request relayed to OpenAI is traced with the answer's size
// and media type, and no audio byte reaches the collector.
func TestSpeechSpanExported(t *testing.T) {
	marker := []byte("AIGW-AUDIO-FRAME")
	audio := append([]byte("ID3\x04\x00\x00"), bytes.Repeat(marker, 4096)...)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path != "/v1/audio/speech" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(audio)
	}))
	defer up.Close()
	recv, endpoint := newHTTPReceiver(t)
	g := startGateway(t, Options{Getenv: env("OPENAI_BASE_URL", up.URL+"/v1", "OPENAI_API_KEY", "sk-test",
		"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none")})
	req := `{"model":"gpt-4o-mini-tts","input":"Today is a wonderful day","voice":"coral"}`
	resp, body := post(t, g.Gateway+"/v1/audio/speech", req)
	if resp.StatusCode != 200 || body != string(audio) {
		t.Fatalf("status %d, %d bytes (want the %d bytes of audio)", resp.StatusCode, len(body), len(audio))
	}
	g.stop(t)
	var server *tracepb.Span
	for _, s := range recv.Spans() {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
	}
	if server == nil || server.Name != "Speech" {
		t.Fatalf("no Speech server span: %v", server)
	}
	a := spanAttrs(server)
	for k, want := range map[string]string{
		"output.value": "[audio/mpeg, 65542 bytes]", "output.mime_type": "text/plain", "audio.mime_type": "audio/mpeg",
		"aigw.response.bytes": "65542", "input.value": req, "gen_ai.original.model": "gpt-4o-mini-tts",
		"http.response.status_code": "200",
	} {
		if a[k] != want {
			t.Errorf("%s = %q, want %q", k, a[k], want)
		}
	}
	if strings.Contains(recv.Raw(), string(marker)) {
		t.Error("audio bytes were exported")
	}
}
