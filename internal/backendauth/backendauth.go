// Package backendauth puts a backend's credential on upstream requests. API keys live here now;
// AWS SigV4, Azure and GCP credentials join as their own files.
package backendauth

import (
	"net/http"

	"github.com/aigw/aigw/internal/config"
)

// clientCredentialHeaders are the headers clients authenticate to the gateway with. They are
// removed before a backend's own credential is set, so a client's key never reaches a provider
// that aigw authenticates to itself.
var clientCredentialHeaders = []string{"Authorization", "X-Api-Key", "Api-Key"}

// apiKeyHeaders says, per credential type, which header carries the key and how.
var apiKeyHeaders = map[config.AuthType]struct{ header, prefix string }{
	config.AuthAPIKey:          {"Authorization", "Bearer "},
	config.AuthAnthropicAPIKey: {"X-Api-Key", ""},
	config.AuthAzureAPIKey:     {"Api-Key", ""},
}

// Apply authenticates an upstream request: with a credential it replaces any the client sent;
// without one (a local server that needs none) the client's headers pass through unchanged.
func Apply(a *config.Auth, h http.Header) {
	if a == nil {
		return
	}
	for _, name := range clientCredentialHeaders {
		h.Del(name)
	}
	if k, ok := apiKeyHeaders[a.Type]; ok {
		h.Set(k.header, k.prefix+a.Key.Reveal())
	}
}

// Supported reports whether Apply knows the credential type.
func Supported(t config.AuthType) bool {
	_, ok := apiKeyHeaders[t]
	return ok
}
