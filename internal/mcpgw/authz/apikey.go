package authz

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/aigw/aigw/internal/config"
)

// apiKeys checks client API keys (an MCPRoute's apiKeyAuth): the key is looked for in the
// configured headers, query parameters and cookies, in that order, and compared with every
// client's key in constant time (by SHA-256, so that lengths leak nothing either).
type apiKeys struct {
	cfg     *config.MCPAPIKeyAuth
	clients []apiClient
}

type apiClient struct {
	id  string
	sum [32]byte
}

func newAPIKeys(cfg *config.MCPAPIKeyAuth) *apiKeys {
	k := &apiKeys{cfg: cfg}
	for _, id := range sortedKeys(cfg.Clients) {
		k.clients = append(k.clients, apiClient{id: id, sum: sha256.Sum256([]byte(cfg.Clients[id]))})
	}
	return k
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// client returns the ID of the client whose key r carries, removing the key from r when the
// configuration says to sanitize.
func (k *apiKeys) client(r *http.Request) (string, bool) {
	key, found := k.extract(r)
	if !found || key == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	id := ""
	for _, c := range k.clients {
		if subtle.ConstantTimeCompare(sum[:], c.sum[:]) == 1 && id == "" {
			id = c.id
		}
	}
	if id != "" && k.cfg.Sanitize {
		k.sanitize(r)
	}
	return id, id != ""
}

func (k *apiKeys) extract(r *http.Request) (string, bool) {
	for _, h := range k.cfg.Headers {
		if v := r.Header.Get(h); v != "" {
			return strings.TrimSpace(v), true
		}
	}
	if len(k.cfg.Params) > 0 {
		q := r.URL.Query()
		for _, p := range k.cfg.Params {
			if v := q.Get(p); v != "" {
				return v, true
			}
		}
	}
	for _, name := range k.cfg.Cookies {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value, true
		}
	}
	return "", false
}

// sanitize removes every place a key may be in.
func (k *apiKeys) sanitize(r *http.Request) {
	for _, h := range k.cfg.Headers {
		r.Header.Del(h)
	}
	if len(k.cfg.Params) > 0 {
		q := r.URL.Query()
		for _, p := range k.cfg.Params {
			q.Del(p)
		}
		r.URL.RawQuery = q.Encode()
	}
	if len(k.cfg.Cookies) > 0 {
		cookies := r.Cookies()
		r.Header.Del("Cookie")
		for _, c := range cookies {
			if !slices.Contains(k.cfg.Cookies, c.Name) {
				r.AddCookie(c)
			}
		}
	}
}
