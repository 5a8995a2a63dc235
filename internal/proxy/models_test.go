package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
)

// TestModelRetrieve: GET /v1/models/{id} answers the entry /v1/models lists for the id (declared
// and provider-listed models alike, ids with slashes included), and a 404 in OpenAI's shape for
// anything the list does not have.
func TestModelRetrieve(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.Error(w, "unexpected "+r.URL.Path, http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"meta-llama/Llama-3.1-8B","object":"model","created":7,"owned_by":"vllm"}]}`)
	}))
	defer up.Close()
	b := backend(t, "b", config.SchemaOpenAI, up.URL)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := &config.Model{MaxRequestBodyBytes: 1 << 20, Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{
		{Name: "r/0", Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: "gpt-5.4"}}}},
			Backends: []*config.BackendRef{{Backend: b, Weight: 1}}, ModelsOwnedBy: "team", ModelsCreatedAt: created},
		{Name: "r/1", Backends: []*config.BackendRef{{Backend: b, Weight: 1}}},
	}}}}
	srv := httptest.NewServer(New(extproc.New(m, nil), Options{}).Handler())
	defer srv.Close()

	_, listBody := do(t, "GET", srv.URL+"/v1/models", "")
	var list modelList
	if err := json.Unmarshal(listBody, &list); err != nil || len(list.Data) != 2 {
		t.Fatalf("list: %s", listBody)
	}
	for _, path := range []string{"/v1/models/gpt-5.4", "/v1/models/meta-llama/Llama-3.1-8B", "/v1/models/meta-llama%2FLlama-3.1-8B"} {
		resp, body := do(t, "GET", srv.URL+path, "")
		var got modelEntry
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		found := false
		for _, e := range list.Data {
			found = found || e == got
		}
		if !found {
			t.Errorf("%s: %+v is not what the list says (%+v)", path, got, list.Data)
		}
	}

	resp, body := do(t, "GET", srv.URL+"/v1/models/gpt-nope", "")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown model: %d %s", resp.StatusCode, body)
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Param   string `json:"param"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "model_not_found" || e.Error.Type != "invalid_request_error" ||
		e.Error.Param != "model" || e.Error.Message != "The model 'gpt-nope' does not exist" {
		t.Errorf("404 body: %s", body)
	}
	errorShape(t, false, body)
}
