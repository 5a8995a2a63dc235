package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/genai"
)

// fakeGeminiAPI is Google's Gemini API (generativelanguage.googleapis.com) on 127.0.0.1: every
// request must carry the API key in x-goog-api-key; batchEmbedContents bodies are decoded
// strictly into genai's types, generateContent and streamGenerateContent answer with text.
type fakeGeminiAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	paths []string
	embed []json.RawMessage
}

func newFakeGeminiAPI(t *testing.T) *fakeGeminiAPI {
	f := &fakeGeminiAPI{t: t}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGeminiAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("X-Goog-Api-Key") != "AIza-test" || r.Header.Get("Authorization") != "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	model, op, _ := strings.Cut(method, ":")
	body, _ := io.ReadAll(r.Body)
	switch {
	case ok && op == "batchEmbedContents":
		d := json.NewDecoder(bytes.NewReader(body))
		d.DisallowUnknownFields()
		var in struct {
			Requests []struct {
				Model   string         `json:"model"`
				Content *genai.Content `json:"content"`
				genai.EmbedContentConfig
			} `json:"requests"`
		}
		if err := d.Decode(&in); err != nil {
			f.t.Errorf("batchEmbedContents body %s: %v", body, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.embed = append(f.embed, body)
		f.mu.Unlock()
		io.WriteString(w, `{"embeddings":[`)
		for i, q := range in.Requests {
			if q.Model != "models/"+model {
				f.t.Errorf("request %d names %s on the path of %s", i, q.Model, model)
			}
			if i > 0 {
				io.WriteString(w, ",")
			}
			dims := 3
			if q.OutputDimensionality != nil {
				dims = int(*q.OutputDimensionality)
			}
			vals := make([]string, dims)
			for k := range vals {
				vals[k] = fmt.Sprint(len(q.Content.Parts[0].Text) + k)
			}
			fmt.Fprintf(w, `{"values":[%s]}`, strings.Join(vals, ","))
		}
		io.WriteString(w, `]}`)
	case ok && op == "generateContent":
		fmt.Fprintf(w, `{"candidates":[{"content":{"role":"model","parts":[{"text":"from the Gemini API"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7},"modelVersion":%q,"responseId":"r1"}`, model)
	case ok && op == "streamGenerateContent" && r.URL.Query().Get("alt") == "sse":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"from the \"}]}}],\"modelVersion\":%q,\"responseId\":\"r1\"}\r\n\r\n", model)
		fmt.Fprintf(w, "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Gemini API\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":4,\"totalTokenCount\":7},\"modelVersion\":%q,\"responseId\":\"r1\"}\r\n\r\n", model)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":404,"message":"%s is not found","status":"NOT_FOUND"}}`, r.URL.Path)
	}
}

// geminiAPIConfig is a GCPVertexAI backend on the fake with an APIKey policy: the Gemini API.
func geminiAPIConfig(f *fakeGeminiAPI) string {
	_, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return routeConfig("    - backendRefs: [{name: gemini}]\n") + backendConfig("gemini", "{name: GCPVertexAI}", port) + `---
apiVersion: aigateway.envoyproxy.io/v1beta1
kind: BackendSecurityPolicy
metadata: {name: gemini-key}
spec:
  targetRefs: [{group: aigateway.envoyproxy.io, kind: AIServiceBackend, name: gemini}]
  type: APIKey
  apiKey:
    secretRef: {name: gemini-key}
---
apiVersion: v1
kind: Secret
metadata: {name: gemini-key}
stringData: {apiKey: AIza-test}
`
}

// TestGeminiAPIEmbeddingsAndChat drives the Gemini API (a GCPVertexAI backend with an API key)
// with the openai SDK: embeddings through batchEmbedContents (dimensions, task type, base64),
// chat through generateContent, streamed and not, all with the key in x-goog-api-key.
func TestGeminiAPIEmbeddingsAndChat(t *testing.T) {
	f := newFakeGeminiAPI(t)
	c := openAIClient(startGateway(t, Options{ConfigPath: tempConfig(t, geminiAPIConfig(f))}))
	ctx := context.Background()

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:      "gemini-embedding-001",
		Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"ab", "cde"}},
		Dimensions: openai.Int(2),
	}, option.WithJSONSet("task_type", "retrieval_query"))
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || emb.Data[1].Index != 1 || len(emb.Data[1].Embedding) != 2 || emb.Data[1].Embedding[0] != 3 || emb.Data[0].Embedding[1] != 3 {
		t.Errorf("embeddings %+v", emb.Data)
	}
	f.mu.Lock()
	sent := string(f.embed[0])
	f.mu.Unlock()
	if !strings.Contains(sent, `"taskType":"RETRIEVAL_QUERY"`) || !strings.Contains(sent, `"outputDimensionality":2`) {
		t.Errorf("batchEmbedContents got %s", sent)
	}
	// The openai SDK asks for base64 by default when no format is given, and decodes it.
	one, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "gemini-embedding-001", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("abcd")},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
	})
	if err != nil || len(one.Data) != 1 || len(one.Data[0].Embedding) != 3 || one.Data[0].Embedding[2] != 6 {
		t.Errorf("base64 embeddings %v %+v", err, one)
	}

	params := openai.ChatCompletionNewParams{Model: "gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content != "from the Gemini API" || res.Usage.TotalTokens != 7 {
		t.Errorf("chat %+v", res)
	}
	s := c.Chat.Completions.NewStreaming(ctx, params)
	acc := accumulateChat(t, s)
	if acc.Choices[0].Message.Content != "from the Gemini API" {
		t.Errorf("stream %+v", acc.Choices)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []string{"/v1beta/models/gemini-embedding-001:batchEmbedContents", "/v1beta/models/gemini-embedding-001:batchEmbedContents",
		"/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"}
	if strings.Join(f.paths, " ") != strings.Join(want, " ") {
		t.Errorf("paths %v", f.paths)
	}
}
