package backendauth

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

func TestApply(t *testing.T) {
	override := &config.CredentialOverride{Header: "X-Aigw-Api-Key", FallbackToConfigured: true}
	strict := &config.CredentialOverride{Header: "X-Aigw-Api-Key"}
	cases := []struct {
		name    string
		auth    *config.Auth
		in      map[string]string
		want    map[string]string
		missing bool
	}{
		{"none passes client headers", nil, map[string]string{"Authorization": "Bearer c"}, map[string]string{"Authorization": "Bearer c"}, false},
		{"api key replaces client's", &config.Auth{Type: config.AuthAPIKey, Key: "k"}, map[string]string{"Authorization": "Bearer c", "X-Api-Key": "c"}, map[string]string{"Authorization": "Bearer k", "X-Api-Key": ""}, false},
		{"anthropic", &config.Auth{Type: config.AuthAnthropicAPIKey, Key: "k"}, map[string]string{"Authorization": "Bearer c"}, map[string]string{"X-Api-Key": "k", "Authorization": ""}, false},
		{"azure", &config.Auth{Type: config.AuthAzureAPIKey, Key: "k"}, nil, map[string]string{"Api-Key": "k"}, false},
		{"override used and stripped", &config.Auth{Type: config.AuthAPIKey, Key: "k", Override: override}, map[string]string{"X-Aigw-Api-Key": "per-req"}, map[string]string{"Authorization": "Bearer per-req", "X-Aigw-Api-Key": ""}, false},
		{"override falls back", &config.Auth{Type: config.AuthAPIKey, Key: "k", Override: override}, nil, map[string]string{"Authorization": "Bearer k"}, false},
		{"override required", &config.Auth{Type: config.AuthAPIKey, Key: "k", Override: strict}, nil, nil, true},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.in {
			h.Set(k, v)
		}
		err := Apply(c.auth, h)
		if c.missing {
			if !errors.Is(err, ErrMissingCredential) {
				t.Errorf("%s: error %v", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for k, v := range c.want {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", c.name, k, h.Get(k), v)
			}
		}
	}
}
