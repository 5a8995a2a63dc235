package extproc

import (
	"context"
	"math"
	"net/http"
	"testing"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

func ruleModel(refs ...*config.BackendRef) *config.Model {
	return &config.Model{MaxRequestBodyBytes: 1 << 20, Routes: []*config.Route{{Name: "r", Rules: []*config.Rule{{Name: "r/0", Backends: refs}}}}}
}

func openAI(name string) *config.Backend {
	return &config.Backend{Name: name, Schema: config.Schema{Name: config.SchemaOpenAI, Prefix: "/v1"}}
}

// TestCandidatesWeighted: first choices follow the weights; zero weights are never tried; lower
// priorities come only after higher ones.
func TestCandidatesWeighted(t *testing.T) {
	a, b, z, f := openAI("a"), openAI("b"), openAI("zero"), openAI("fallback")
	p := New(ruleModel(
		&config.BackendRef{Backend: a, Weight: 3},
		&config.BackendRef{Backend: b, Weight: 1},
		&config.BackendRef{Backend: z, Weight: 0},
		&config.BackendRef{Backend: f, Weight: 1, Priority: 1},
	), nil)
	const n = 20000
	first := map[string]int{}
	for i := 0; i < n; i++ {
		s := p.NewStream(translate.EndpointChatCompletions)
		s.RequestHeaders("id", "h", http.Header{})
		if err := s.RequestBody("application/json", []byte(`{"model":"m"}`)); err != nil {
			t.Fatal(err)
		}
		c := s.Candidates()
		if len(c) != 3 || c[2].Backend != f {
			t.Fatalf("candidates %v", c)
		}
		first[c[0].Backend.Name]++
	}
	if share := float64(first["a"]) / n; math.Abs(share-0.75) > 0.02 {
		t.Errorf("a first in %.3f of requests, want 0.75", share)
	}
	if first["zero"] != 0 || first["fallback"] != 0 {
		t.Errorf("first choices %v", first)
	}
}

func TestAttemptOverridesModelAndAuth(t *testing.T) {
	b := openAI("b")
	b.Auth = &config.Auth{Type: config.AuthAPIKey, Key: "sk-b"}
	b.Headers = []config.Header{{Name: "OpenAI-Project", Value: "p"}}
	p := New(ruleModel(&config.BackendRef{Backend: b, Weight: 1, ModelNameOverride: "real-model"}), nil)
	s := p.NewStream(translate.EndpointChatCompletions)
	h := http.Header{}
	h.Set("Authorization", "Bearer client")
	h.Set("Connection", "keep-alive")
	h.Set("Expect", "100-continue")
	h.Set("X-Custom", "kept")
	s.RequestHeaders("id", "h", h)
	if err := s.RequestBody("application/json", []byte(`{"model":"alias","messages":[]}`)); err != nil {
		t.Fatal(err)
	}
	a, err := s.Attempt(context.Background(), s.Candidates()[0])
	if err != nil {
		t.Fatal(err)
	}
	up := a.Upstream
	if string(up.Body) != `{"model":"real-model","messages":[]}` {
		t.Errorf("body %s", up.Body)
	}
	// Only the allow-list of the backend's API passes (headers.go): not X-Custom, not the
	// gateway's own routing header.
	if up.Header.Get("Authorization") != "Bearer sk-b" || up.Header.Get("Connection") != "" || up.Header.Get("Expect") != "" || up.Header.Get("X-Custom") != "" || up.Header.Get("OpenAI-Project") != "p" {
		t.Errorf("headers %v", up.Header)
	}
	if up.Header.Get(config.ModelHeader) != "" {
		t.Errorf("routing header %q went upstream", up.Header.Get(config.ModelHeader))
	}
	if h.Get("Authorization") != "Bearer client" {
		t.Error("the client's headers were modified")
	}
}
