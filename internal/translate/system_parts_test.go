package translate

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// TestSystemNonTextPartIsUntranslatable: Anthropic's system prompt holds text only, so an image
// in a system message is a 422, not silently dropped.
func TestSystemNonTextPartIsUntranslatable(t *testing.T) {
	tr, err := New(EndpointChatCompletions, passthroughTarget(config.SchemaAnthropic, "claude-x"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"model":"claude-x","max_tokens":10,"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]},{"role":"user","content":"hi"}]}`
	_, err = tr.RequestBody(&Request{Endpoint: EndpointChatCompletions, Body: []byte(body), Model: "claude-x", Header: http.Header{}})
	var te *Error
	if !errors.As(err, &te) || te.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got %v, want a 422", err)
	}
}
