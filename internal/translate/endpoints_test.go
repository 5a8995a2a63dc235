package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/config"
)

var azureBackend = func(version string) *config.Backend {
	return &config.Backend{Name: "azure", Schema: config.Schema{Name: config.SchemaAzureOpenAI, Version: version}}
}

func TestEndpointsTable(t *testing.T) {
	seen := map[string]Endpoint{}
	for e, info := range endpoints {
		if info.operation == "" || len(info.paths) == 0 || info.parse == nil {
			t.Errorf("endpoint %s is incomplete: %+v", e, info)
		}
		for _, p := range info.paths {
			if other, dup := seen[p]; dup {
				t.Errorf("path %s served by both %s and %s", p, e, other)
			}
			seen[p] = e
		}
	}
	for p := range registry {
		if _, ok := endpoints[p.endpoint]; !ok {
			t.Errorf("registry names unknown endpoint %s", p.endpoint)
		}
	}
}

// multipartBody builds a transcription-style form: a file part and text fields.
func multipartBody(t *testing.T, fields ...string) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("file", "speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte("RIFF\x00\x01binary audio"))
	for i := 0; i+1 < len(fields); i += 2 {
		if err := w.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestParseMultipartRequest(t *testing.T) {
	ct, body := multipartBody(t, "model", "gpt-4o-transcribe", "stream", "true", "language", "en")
	model, stream, err := ParseRequest(EndpointAudioTranscriptions, ct, body)
	if err != nil || model != "gpt-4o-transcribe" || !stream {
		t.Errorf("ParseRequest = %q, %v, %v", model, stream, err)
	}
	ct, body = multipartBody(t, "language", "en")
	_, _, err = ParseRequest(EndpointAudioTranslations, ct, body)
	var te *Error
	if !errors.As(err, &te) || te.Status != http.StatusBadRequest || te.Param != "model" {
		t.Errorf("missing model: got %v", err)
	}
	_, _, err = ParseRequest(EndpointAudioTranscriptions, "application/json", []byte(`{"model":"x"}`))
	if !errors.As(err, &te) || te.Status != http.StatusBadRequest {
		t.Errorf("JSON body for a multipart endpoint: got %v", err)
	}
	_, _, err = ParseRequest(EndpointAudioTranscriptions, "multipart/form-data; boundary=x", []byte("--x\r\nbroken"))
	if !errors.As(err, &te) || te.Status != http.StatusBadRequest {
		t.Errorf("malformed multipart: got %v", err)
	}
}

func TestGenericRequests(t *testing.T) {
	openAI := &config.Backend{Name: "openai", Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}}
	cases := []struct {
		name     string
		endpoint Endpoint
		backend  *config.Backend
		model    string // the target's model; the client asks for "client-model"
		wantPath string
	}{
		{"responses", EndpointResponses, openAI, "client-model", "/v1/responses"},
		{"responses on azure, dated version", EndpointResponses, azureBackend("2025-04-01-preview"), "dep", "/openai/v1/responses"},
		{"responses on azure, preview", EndpointResponses, azureBackend("preview"), "dep", "/openai/v1/responses?api-version=preview"},
		{"images", EndpointImageGenerations, openAI, "client-model", "/v1/images/generations"},
		{"images on azure", EndpointImageGenerations, azureBackend("2025-04-01-preview"), "dall-e-3", "/openai/deployments/dall-e-3/images/generations?api-version=2025-04-01-preview"},
		{"speech", EndpointAudioSpeech, openAI, "tts-1", "/v1/audio/speech"},
		{"count tokens", EndpointCountTokens, anthropicBackend, "client-model", "/v1/messages/count_tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := New(c.endpoint, Target{Backend: c.backend, Model: c.model})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"model":"client-model","input":"hi"}`)
			up, err := tr.RequestBody(&Request{Endpoint: c.endpoint, Body: body, Model: "client-model", Header: http.Header{}})
			if err != nil {
				t.Fatal(err)
			}
			if up.Path != c.wantPath {
				t.Errorf("path %s, want %s", up.Path, c.wantPath)
			}
			if got := gjson.GetBytes(up.Body, "model").String(); got != c.model {
				t.Errorf("model %q, want %q", got, c.model)
			}
		})
	}
}

func TestGenericMultipartModelOverride(t *testing.T) {
	ct, body := multipartBody(t, "model", "whisper-1", "response_format", "json")
	tr, err := New(EndpointAudioTranscriptions, Target{Backend: azureBackend("2025-04-01-preview"), Model: "my-whisper"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := tr.RequestBody(&Request{Endpoint: EndpointAudioTranscriptions, Body: body, Model: "whisper-1", Header: http.Header{"Content-Type": {ct}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Header.Get("Content-Type") != ct {
		t.Errorf("content type %q, want the client's %q", up.Header.Get("Content-Type"), ct)
	}
	if want := "/openai/deployments/my-whisper/audio/transcriptions?api-version=2025-04-01-preview"; up.Path != want {
		t.Errorf("path %s, want %s", up.Path, want)
	}
	r := multipart.NewReader(bytes.NewReader(up.Body), strings.TrimPrefix(ct, "multipart/form-data; boundary="))
	form, err := r.ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if got := form.Value["model"]; len(got) != 1 || got[0] != "my-whisper" {
		t.Errorf("model field %v", got)
	}
	if got := form.Value["response_format"]; len(got) != 1 || got[0] != "json" {
		t.Errorf("response_format field %v", got)
	}
	f, _ := form.File["file"][0].Open()
	var audio bytes.Buffer
	_, _ = audio.ReadFrom(f)
	if audio.String() != "RIFF\x00\x01binary audio" {
		t.Errorf("file part changed: %q", audio.String())
	}
}

const responsesStream = `event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec","object":"response","created_at":1741290958,"status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c5","output_index":0,"content_index":0,"delta":"Hi"}

event: response.completed
data: {"type":"response.completed","sequence_number":8,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec","object":"response","created_at":1741290958,"status":"completed","model":"gpt-4.1-2025-04-14","output":[],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":12},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":48}}}

`

func TestGenericResponses(t *testing.T) {
	want := Usage{InputTokens: 37, CachedInputTokens: 12, OutputTokens: 11, ReasoningTokens: 4, TotalTokens: 48}
	for _, final := range []string{"response.completed", "response.incomplete", "response.failed"} {
		stream := []byte(strings.ReplaceAll(responsesStream, "response.completed", final))
		for _, size := range []int{1, 7, 100, len(stream)} {
			tr, _ := New(EndpointResponses, Target{Backend: openAIBackend, Model: "gpt-4.1"})
			_ = tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}})
			got := feedStream(t, tr, stream, []int{size})
			if !bytes.Equal(got, stream) {
				t.Fatalf("%s split %d: the stream changed", final, size)
			}
			if tr.Usage() != want || tr.ResponseModel() != "gpt-4.1-2025-04-14" {
				t.Fatalf("%s split %d: usage %+v model %q", final, size, tr.Usage(), tr.ResponseModel())
			}
		}
	}
	body := []byte(`{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1-2025-04-14","output":[],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":12},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":48}}`)
	tr, _ := New(EndpointResponses, Target{Backend: openAIBackend, Model: "gpt-4.1"})
	_ = tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}})
	out, _ := tr.ResponseBody(body, true)
	if !bytes.Equal(out, body) || tr.Usage() != want {
		t.Errorf("JSON response: usage %+v", tr.Usage())
	}
}

func TestGenericRawBodyStreamsThrough(t *testing.T) {
	tr, _ := New(EndpointAudioSpeech, Target{Backend: openAIBackend, Model: "tts-1"})
	_ = tr.ResponseHeaders(200, http.Header{"Content-Type": {"audio/mpeg"}})
	for _, chunk := range []string{"ID3", "\x00\xff", ""} {
		out, err := tr.ResponseBody([]byte(chunk), chunk == "")
		if err != nil || string(out) != chunk {
			t.Errorf("chunk %q came out as %q, %v", chunk, out, err)
		}
	}
	if tr.Usage() != (Usage{}) {
		t.Errorf("usage %+v from audio bytes", tr.Usage())
	}
}

func TestImageUsage(t *testing.T) {
	tr, _ := New(EndpointImageGenerations, Target{Backend: openAIBackend, Model: "gpt-image-1"})
	_ = tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}})
	_, _ = tr.ResponseBody([]byte(`{"created":1713833628,"data":[{"b64_json":"iVBOR"}],"usage":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"input_tokens_details":{"text_tokens":10,"image_tokens":40}}}`), true)
	if want := (Usage{InputTokens: 50, OutputTokens: 50, TotalTokens: 100}); tr.Usage() != want {
		t.Errorf("usage %+v, want %+v", tr.Usage(), want)
	}
}

func TestCountTokens(t *testing.T) {
	tr, _ := New(EndpointCountTokens, Target{Backend: anthropicBackend, Model: "claude-sonnet-4-5"})
	up, err := tr.RequestBody(&Request{Endpoint: EndpointCountTokens, Body: []byte(`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hello"}]}`), Model: "claude-sonnet-4-5", Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Path != "/v1/messages/count_tokens" || up.Header.Get("Anthropic-Version") != DefaultAnthropicVersion {
		t.Errorf("upstream %s %v", up.Path, up.Header)
	}
	_ = tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}})
	out, _ := tr.ResponseBody([]byte(`{"input_tokens":2095}`), true)
	if string(out) != `{"input_tokens":2095}` || tr.Usage() != (Usage{}) {
		t.Errorf("response %s, usage %+v", out, tr.Usage())
	}
}

func TestEmbeddingsBase64(t *testing.T) {
	floats := []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1.25,3]},{"object":"embedding","index":1,"embedding":[1e-3]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
	run := func(reqBody string, resp []byte) ([]byte, Usage) {
		tr, _ := New(EndpointEmbeddings, Target{Backend: openAIBackend, Model: "text-embedding-3-small"})
		if _, err := tr.RequestBody(&Request{Endpoint: EndpointEmbeddings, Body: []byte(reqBody), Model: "text-embedding-3-small"}); err != nil {
			t.Fatal(err)
		}
		_ = tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}})
		out, err := tr.ResponseBody(resp, true)
		if err != nil {
			t.Fatal(err)
		}
		return out, tr.Usage()
	}
	out, usage := run(`{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"base64"}`, floats)
	for i, want := range [][]float32{{0.5, -1.25, 3}, {1e-3}} {
		s := gjson.GetBytes(out, "data."+string(rune('0'+i))+".embedding")
		if s.Type != gjson.String {
			t.Fatalf("embedding %d is not a string: %s", i, out)
		}
		raw, err := base64.StdEncoding.DecodeString(s.Str)
		if err != nil || len(raw) != 4*len(want) {
			t.Fatalf("embedding %d: %v, %d bytes", i, err, len(raw))
		}
		for j, w := range want {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); got != w {
				t.Errorf("embedding %d[%d] = %v, want %v", i, j, got, w)
			}
		}
	}
	if usage.InputTokens != 8 || gjson.GetBytes(out, "model").String() != "text-embedding-3-small" {
		t.Errorf("usage %+v or model lost: %s", usage, out)
	}
	already := []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAPw=="}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
	if out, _ := run(`{"model":"m","input":"a","encoding_format":"base64"}`, already); !bytes.Equal(out, already) {
		t.Errorf("base64 embeddings were rewritten: %s", out)
	}
	if out, _ := run(`{"model":"m","input":"a"}`, floats); !bytes.Equal(out, floats) {
		t.Errorf("float embeddings were rewritten without encoding_format base64: %s", out)
	}
}
