package extproc_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// titanFake answers Titan InvokeModel calls with an embedding whose one value is the length of
// the text, and records the texts it was sent.
func titanFake(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var texts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			InputText string `json:"inputText"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &in); err != nil || !strings.HasSuffix(r.URL.Path, "/invoke") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		texts = append(texts, in.InputText)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"embedding":[`+jsonInt(len(in.InputText))+`],"inputTextTokenCount":1}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), texts...) }
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestSplitRequestPlanes: a request the translator splits into parts (Titan with several
// inputs) is answered by the builtin plane, one call per part, and refused by the Envoy plane
// with a 422 that says why (Envoy sends one upstream request per attempt); one input goes
// through both planes alike.
func TestSplitRequestPlanes(t *testing.T) {
	srv, texts := titanFake(t)
	b := backend("titan", config.SchemaAWSBedrock, srv.URL)
	b.Auth = nil
	pl := newPlanes(t, testModel(rule("titan", "amazon.titan-embed-text-v2:0", &config.BackendRef{Backend: b, Weight: 1})))
	hdr := [2]string{config.ModelHeader, "amazon.titan-embed-text-v2:0"}

	got, ev := pl.both("/v1/embeddings", `{"model":"amazon.titan-embed-text-v2:0","input":["abc"]}`, hdr)
	if got.status != http.StatusOK || ev.Usage.InputTokens != 1 {
		t.Fatalf("one input: %d %s", got.status, got.body)
	}

	body := `{"model":"amazon.titan-embed-text-v2:0","input":["a","bb","ccc"]}`
	env := pl.envoy.do(request{path: "/v1/embeddings", header: headerList{{"content-type", "application/json"}, {hdr[0], hdr[1]}}, body: []byte(body)})
	if env.status != http.StatusUnprocessableEntity || !strings.Contains(string(env.body), "--data-plane builtin") {
		t.Errorf("envoy plane: %d %s", env.status, env.body)
	}
	waitIdle(t, pl.grpc)

	req := httptest.NewRequest("POST", "/v1/embeddings", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(hdr[0], hdr[1])
	rec := httptest.NewRecorder()
	pl.builtin.ServeHTTP(rec, req)
	var res struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusOK || len(res.Data) != 3 || res.Usage.PromptTokens != 3 {
		t.Fatalf("builtin plane: %d %s", rec.Code, rec.Body.Bytes())
	}
	for i, d := range res.Data {
		if d.Index != i || len(d.Embedding) != 1 || d.Embedding[0] != float64(i+1) {
			t.Errorf("data[%d] = %+v, want the embedding of input %d", i, d, i)
		}
	}
	if ev := pl.evBuilt.last(t); ev.Status != http.StatusOK || ev.Attempts != 1 || ev.Usage.InputTokens != 3 {
		t.Errorf("builtin plane event: status %d, %d attempts, usage %+v; want one attempt with the parts' tokens summed", ev.Status, ev.Attempts, ev.Usage)
	}
	if n := len(texts()); n != 2+3 {
		t.Errorf("the backend got %d calls (%v), want 2 (one input, each plane) + 3", n, texts())
	}
}
