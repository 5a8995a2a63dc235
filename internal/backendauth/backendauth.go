// Package backendauth puts a backend's credential on upstream requests. API keys live here now;
// AWS SigV4, Azure and GCP credentials join as their own files.
package backendauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aigw/aigw/internal/config"
)

// ErrMissingCredential means a per-request credential was required and the request had none.
var ErrMissingCredential = errors.New("missing credential")

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

// Apply authenticates an upstream request whose headers are h (a copy of the client's): with a
// credential it replaces any the client sent; without one (a local server that needs none) the
// client's headers pass through. A credential override header is always removed; when it is
// absent and the override may not fall back, Apply returns ErrMissingCredential.
func Apply(a *config.Auth, h http.Header) error {
	if a == nil {
		return nil
	}
	key := a.Key.Reveal()
	if o := a.Override; o != nil {
		v := h.Get(o.Header)
		h.Del(o.Header)
		switch {
		case v != "":
			key = v
		case !o.FallbackToConfigured || key == "":
			return fmt.Errorf("%w: the request has no %s header", ErrMissingCredential, o.Header)
		}
	}
	k, ok := apiKeyHeaders[a.Type]
	if !ok {
		return fmt.Errorf("credential type %s is not supported by this data plane yet", a.Type)
	}
	for _, name := range clientCredentialHeaders {
		h.Del(name)
	}
	h.Set(k.header, k.prefix+key)
	return nil
}
