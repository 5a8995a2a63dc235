package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/aigw/aigw/internal/config"
)

// geminiAPIBackend is a GCPVertexAI backend with an API key: the Gemini API.
func geminiAPIBackend(string) *config.Backend {
	return &config.Backend{Name: "gemini", Schema: config.Schema{Name: config.SchemaGCPVertexAI}, Auth: &config.Auth{Type: config.AuthAPIKey, Key: "k"}}
}

var geminiAPIEmbeddingsSuite = goldenSuite{
	dir:        "gemini_api_embeddings",
	endpoint:   EndpointEmbeddings,
	backend:    geminiAPIBackend,
	defaultReq: `{"model":"gemini-embedding-001","input":["a","b"]}`,
}

func TestGoldenGeminiAPIEmbeddings(t *testing.T) { geminiAPIEmbeddingsSuite.run(t) }

// genaiBatchEmbed is batchEmbedContents' body as google.golang.org/genai writes it for the Gemini
// API: each request is the model, the content and EmbedContentConfig's fields.
type genaiBatchEmbed struct {
	Requests []struct {
		Model   string         `json:"model"`
		Content *genai.Content `json:"content"`
		genai.EmbedContentConfig
	} `json:"requests"`
}

// TestGeminiAPIEmbeddingsMatchGenAI decodes every request the fixtures make strictly into genai's
// types, and every answer but the one with usageMetadata (which genai does not model) into
// genai's EmbedContentResponse.
func TestGeminiAPIEmbeddingsMatchGenAI(t *testing.T) {
	reqs, _ := filepath.Glob(filepath.Join("testdata", geminiAPIEmbeddingsSuite.dir, "req_*.in.json"))
	checked := 0
	for _, f := range reqs {
		body := readFile(t, f)
		tr, err := New(EndpointEmbeddings, Target{Backend: geminiAPIBackend(""), Model: modelOf(body)})
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr.RequestBody(&Request{Endpoint: EndpointEmbeddings, Body: body, Model: modelOf(body), Header: http.Header{}})
		if err != nil {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(up.Body))
		d.DisallowUnknownFields()
		var r genaiBatchEmbed
		if err := d.Decode(&r); err != nil {
			t.Fatalf("%s: the body does not decode strictly into genai types: %v\n%s", f, err, up.Body)
		}
		for _, q := range r.Requests {
			if q.Model != "models/"+modelOf(body) || len(q.Content.Parts) != 1 || q.Content.Parts[0].Text == "" {
				t.Errorf("%s: request %+v", f, q)
			}
		}
		if strings.Contains(f, "basic") && (len(r.Requests) != 2 || r.Requests[1].TaskType != "RETRIEVAL_DOCUMENT" || *r.Requests[1].OutputDimensionality != 768) {
			t.Errorf("%s: %+v", f, r)
		}
		checked++
	}
	if checked < 2 {
		t.Errorf("%d request fixtures checked", checked)
	}
	resps, _ := filepath.Glob(filepath.Join("testdata", geminiAPIEmbeddingsSuite.dir, "resp_*.in.json"))
	for _, f := range resps {
		if strings.Contains(f, "usage") {
			continue
		}
		d := json.NewDecoder(bytes.NewReader(readFile(t, f)))
		d.DisallowUnknownFields()
		var r genai.EmbedContentResponse
		if err := d.Decode(&r); err != nil || len(r.Embeddings) == 0 {
			t.Errorf("%s is not a genai EmbedContentResponse: %v", f, err)
		}
	}
}

// TestGeminiAPIEmbeddingsChosenByCredential: the same schema embeds through predict on Vertex AI
// and through batchEmbedContents on the Gemini API.
func TestGeminiAPIEmbeddingsChosenByCredential(t *testing.T) {
	body := []byte(`{"model":"gemini-embedding-001","input":"x"}`)
	for backend, want := range map[*config.Backend]string{
		vertexEmbeddingsSuite.backend(""): "/publishers/google/models/gemini-embedding-001:predict",
		geminiAPIBackend(""):              "/publishers/google/models/gemini-embedding-001:batchEmbedContents",
	} {
		tr, err := New(EndpointEmbeddings, Target{Backend: backend, Model: "gemini-embedding-001"})
		if err != nil {
			t.Fatal(err)
		}
		up, err := tr.RequestBody(&Request{Endpoint: EndpointEmbeddings, Body: body, Model: "gemini-embedding-001", Header: http.Header{}})
		if err != nil || up.Path != want {
			t.Errorf("%s: %v %q, want %q", backend.Name, err, up.Path, want)
		}
	}
}

// TestGeminiAPIRefusesVertexOnly: Vertex AI's enterprise search and gs:// files are refused for
// the Gemini API with a 422 that says why, and pass to Vertex AI.
func TestGeminiAPIRefusesVertexOnly(t *testing.T) {
	for _, body := range []string{
		`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}],"tools":[{"type":"enterprise_search"}]}`,
		`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"gs://b/cat.png"}}]}]}`,
	} {
		for _, backend := range []*config.Backend{geminiAPIBackend(""), geminiSuite.backend("")} {
			tr, err := New(EndpointChatCompletions, Target{Backend: backend, Model: "gemini-2.5-flash"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(body), Model: "gemini-2.5-flash", Header: http.Header{}})
			var e *Error
			refused := errors.As(err, &e) && e.Status == http.StatusUnprocessableEntity && strings.Contains(e.Message, "Vertex AI")
			if refused != backend.GeminiAPI() {
				t.Errorf("%s to %s: %v", body, backend.Name, err)
			}
		}
	}
}
