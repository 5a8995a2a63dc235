package backendauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

func geminiAPIBackend(o *config.CredentialOverride) *config.Backend {
	u, _ := url.Parse("https://generativelanguage.googleapis.com")
	return &config.Backend{Name: "gemini", Endpoint: u, Schema: config.Schema{Name: config.SchemaGCPVertexAI},
		Auth: &config.Auth{Type: config.AuthAPIKey, Key: "AIza-test", Override: o}}
}

// TestGeminiAPIKey: an API key on a GCPVertexAI backend goes in x-goog-api-key, never as a bearer
// token, and the Vertex-relative path is rooted on the Gemini API's v1beta models.
func TestGeminiAPIKey(t *testing.T) {
	h, err := New(geminiAPIBackend(nil))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse": "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		"/publishers/google/models/gemini-embedding-001:batchEmbedContents":        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
		"/v1beta/models": "/v1beta/models",
	} {
		up := &translate.Upstream{Path: path, Header: http.Header{"Authorization": {"Bearer client"}, "X-Api-Key": {"client"}}}
		if err := h.Do(context.Background(), up); err != nil {
			t.Fatal(err)
		}
		if up.Path != want || up.Header.Get("X-Goog-Api-Key") != "AIza-test" || up.Header.Get("Authorization") != "" || up.Header.Get("X-Api-Key") != "" {
			t.Errorf("%s → %s %v", path, up.Path, up.Header)
		}
	}

	h, _ = New(geminiAPIBackend(&config.CredentialOverride{Header: "x-user-key", FallbackToConfigured: false}))
	up := &translate.Upstream{Path: "/publishers/google/models/m:generateContent", Header: http.Header{"X-User-Key": {"AIza-user"}}}
	if err := h.Do(context.Background(), up); err != nil || up.Header.Get("X-Goog-Api-Key") != "AIza-user" || up.Header.Get("X-User-Key") != "" {
		t.Errorf("override: %v %v", err, up.Header)
	}
	err = h.Do(context.Background(), &translate.Upstream{Path: "/publishers/google/models/m:generateContent", Header: http.Header{}})
	if !errors.Is(err, ErrMissingCredential) {
		t.Errorf("no override header and no fallback: %v", err)
	}

	// An API key elsewhere stays a bearer token.
	u, _ := url.Parse("https://api.openai.com")
	h, _ = New(&config.Backend{Name: "openai", Endpoint: u, Schema: config.Schema{Name: config.SchemaOpenAI}, Auth: &config.Auth{Type: config.AuthAPIKey, Key: "sk"}})
	up = &translate.Upstream{Path: "/v1/chat/completions", Header: http.Header{}}
	if err := h.Do(context.Background(), up); err != nil || up.Header.Get("Authorization") != "Bearer sk" || up.Header.Get("X-Goog-Api-Key") != "" {
		t.Errorf("OpenAI key: %v %v", err, up.Header)
	}
}
