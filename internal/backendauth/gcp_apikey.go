package backendauth

import (
	"context"
	"fmt"
	"strings"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// geminiAPIPrefix roots Vertex-relative paths on the Gemini API: the v1beta surface, where the
// features aigw maps (thinking, JSON schema, output dimensionality) are served.
const geminiAPIPrefix = "/v1beta/models/"

// vertexModelsPath is where the Gemini translators' paths start (relative to a Vertex location).
const vertexModelsPath = "/publishers/google/models/"

// geminiAPIHandler authenticates a GCPVertexAI backend with an API key, which makes it the Gemini
// API (config.Backend.GeminiAPI): the key goes in x-goog-api-key (the Gemini API takes no bearer
// API key on its native surface) and "/publishers/google/models/<model>:<method>" becomes
// "/v1beta/models/<model>:<method>".
type geminiAPIHandler struct{ auth *config.Auth }

func (h geminiAPIHandler) Do(_ context.Context, up *translate.Upstream) error {
	if rest, ok := strings.CutPrefix(up.Path, vertexModelsPath); ok {
		up.Path = geminiAPIPrefix + rest
	}
	key := h.auth.Key.Reveal()
	if o := h.auth.Override; o != nil {
		v := up.Header.Get(o.Header)
		up.Header.Del(o.Header)
		switch {
		case v != "":
			key = v
		case !o.FallbackToConfigured || key == "":
			return fmt.Errorf("%w: the request has no %s header", ErrMissingCredential, o.Header)
		}
	}
	for _, name := range clientCredentialHeaders {
		up.Header.Del(name)
	}
	up.Header.Set("X-Goog-Api-Key", key)
	return nil
}
