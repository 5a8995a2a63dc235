package backendauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
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

func TestSetKeepsHandlersAcrossReloads(t *testing.T) {
	u, _ := url.Parse("https://api.example.com")
	mk := func(key string) *config.Backend {
		return &config.Backend{Name: "b", Endpoint: u, Auth: &config.Auth{Type: config.AuthAPIKey, Key: config.Secret(key)}}
	}
	var s Set
	first, second, changed := mk("k1"), mk("k1"), mk("k2")
	h1, err := s.For(first)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := s.For(first); h != h1 {
		t.Error("the same backend got a second handler")
	}
	if h, _ := s.For(second); h != h1 {
		t.Error("a reloaded backend with the same credential did not keep its handler")
	}
	h3, _ := s.For(changed)
	if h3 == h1 {
		t.Error("a changed credential kept the old handler")
	}
	up := &translate.Upstream{Header: http.Header{}}
	if err := h3.Do(context.Background(), up); err != nil || up.Header.Get("Authorization") != "Bearer k2" {
		t.Errorf("the new handler set %q (%v)", up.Header.Get("Authorization"), err)
	}

	_, err = s.For(&config.Backend{Name: "x", Endpoint: u, Auth: &config.Auth{Type: "Nope"}})
	if err == nil || !strings.Contains(err.Error(), "Nope") || !strings.Contains(err.Error(), "APIKey") {
		t.Errorf("an unknown credential type: %v", err)
	}
	if h, err := s.For(&config.Backend{Name: "local", Endpoint: u}); err != nil || h.Do(context.Background(), up) != nil {
		t.Errorf("a backend without credential: %v", err)
	}
}
