package k8sgen

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

// mcpKeyHeader says whether a url server's header is the one rendered as its API key (the
// test inputs have at most one per server): the rest have no field in an MCPRoute.
func mcpKeyHeader(h config.Header) bool {
	if _, ok := bearer(h); ok {
		return true
	}
	n := strings.ToLower(h.Name)
	return n != "authorization" && (strings.Contains(n, "key") || strings.Contains(n, "token") || strings.Contains(n, "auth"))
}

// normalMCP is what a cluster can serve of the Model's MCP routes, as comparable values: stdio
// servers, headers other than the API key and the SSE transport are not rendered (each with a
// warning); names become DNS labels; without real values every credential is a placeholder.
func normalMCP(routes []*config.MCPRoute, masked bool) any {
	type rule struct {
		Allow          bool
		CEL            string
		Scopes, Claims []string
		Tools          []string
	}
	type authz struct {
		DefaultAllow bool
		Rules        []rule
	}
	type backend struct {
		Name, URL, Transport string
		Headers, Query       []string
		Forward              []config.MCPForwardHeader
		Include, Exclude     []string
		IncludeRe, ExcludeRe []string
	}
	type route struct {
		Name, Path              string
		Backends                []backend
		JWT                     *config.MCPJWT
		APIKey                  *config.MCPAPIKeyAuth
		Authz, BackendSelection *authz
	}
	mask := func(v string) string {
		if masked {
			return "masked"
		}
		return v
	}
	conv := func(a *config.MCPAuthorization) *authz {
		if a == nil {
			return nil
		}
		out := &authz{DefaultAllow: a.DefaultAllow}
		for _, r := range a.Rules {
			nr := rule{Allow: r.Allow, CEL: r.CEL, Scopes: r.Scopes}
			for _, c := range r.Claims {
				nr.Claims = append(nr.Claims, c.Name+"="+strings.Join(c.Values, ",")+"/"+map[bool]string{true: "array", false: "string"}[c.Array])
			}
			for _, t := range r.Tools {
				nr.Tools = append(nr.Tools, dnsName(t.Backend, maxNameLen)+"/"+t.Tool)
			}
			out.Rules = append(out.Rules, nr)
		}
		return out
	}
	var out []route
	for _, r := range routes {
		nr := route{Name: r.Name, Path: r.Path}
		if nr.Path == "" {
			nr.Path = config.DefaultMCPPath
		}
		for _, b := range r.Backends {
			if b.Stdio() {
				continue
			}
			u, _ := url.Parse(b.URL)
			if u.Path == "" {
				u.Path = "/"
			}
			// A query parameter in the URL (MCP JSON) and one the Model adds (an MCPRoute's
			// queryParam key) reach the server the same way.
			var query []string
			for k, vs := range u.Query() {
				for _, v := range vs {
					query = append(query, k+"="+mask(v))
				}
			}
			u.RawQuery = ""
			nb := backend{Name: dnsName(b.Name, maxNameLen), URL: u.String(), Transport: config.MCPTransportStreamableHTTP,
				Include: b.Tools.Include, Exclude: b.Tools.Exclude, IncludeRe: regexps(b.Tools.IncludeRegex), ExcludeRe: regexps(b.Tools.ExcludeRegex)}
			for _, h := range b.Headers {
				if mcpKeyHeader(h) {
					v := h.Value
					if masked && strings.EqualFold(h.Name, "Authorization") {
						v = "Bearer " + Placeholder
					} else if masked {
						v = Placeholder
					}
					nb.Headers = append(nb.Headers, h.Name+": "+v)
				}
			}
			for _, p := range b.Query {
				query = append(query, p.Name+"="+mask(p.Value))
			}
			slices.Sort(query)
			nb.Query = query
			nb.Forward = b.ForwardHeaders
			nr.Backends = append(nr.Backends, nb)
		}
		if a := r.Auth; a != nil {
			nr.JWT, nr.Authz, nr.BackendSelection = a.JWT, conv(a.Authorization), conv(a.BackendSelector)
			nr.APIKey = a.APIKey
		}
		out = append(out, nr)
	}
	return out
}

// modelSecrets lists every credential value in a Model, for the grep of the default output.
func modelSecrets(m *config.Model) []string {
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v != "" && v != Placeholder {
				out = append(out, v)
			}
		}
	}
	for _, b := range m.Backends {
		a := b.Auth
		if a == nil {
			continue
		}
		add(a.Key.Reveal())
		if a.AWS != nil {
			add(a.AWS.CredentialsFile.Reveal())
			if a.AWS.OIDC != nil {
				add(a.AWS.OIDC.ClientSecret.Reveal())
			}
		}
		if a.GCP != nil {
			add(a.GCP.CredentialsJSON.Reveal())
		}
		if a.Azure != nil {
			add(a.Azure.ClientSecret.Reveal())
		}
	}
	for _, r := range m.MCPRoutes {
		if r.Auth != nil && r.Auth.APIKey != nil {
			for _, id := range slices.Sorted(mapKeys(r.Auth.APIKey.Clients)) {
				add(r.Auth.APIKey.Clients[id])
			}
		}
		for _, b := range r.Backends {
			for _, h := range b.Headers {
				if v, ok := bearer(h); ok {
					add(v)
				} else {
					add(h.Value)
				}
			}
			for _, e := range b.Env {
				add(e.Value)
			}
			for _, p := range b.Query {
				add(p.Value)
			}
			if u, err := url.Parse(b.URL); err == nil {
				for _, vs := range u.Query() {
					add(vs...)
				}
			}
		}
	}
	return out
}

// TestMCPSecretsNotWritten: every MCP credential of the inputs (API key headers, query keys,
// stdio environments and command-line tokens) is absent from the default output, warnings
// included, and the API keys are written with --include-secrets.
func TestMCPSecretsNotWritten(t *testing.T) {
	var checked int
	for _, c := range cases(t) {
		m := c.load(t)
		if len(m.MCPRoutes) == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			res, out := render(t, m, false)
			all := string(out) + strings.Join(res.Warnings, "\n")
			for _, s := range append(modelSecrets(m), mapValues(c.env)...) {
				checked++
				if strings.Contains(all, s) {
					t.Errorf("%q is in the default output", s)
				}
			}
			_, with := render(t, m, true)
			for _, r := range m.MCPRoutes {
				for _, b := range r.Backends {
					for _, h := range b.Headers {
						if v, ok := bearer(h); ok && !bytes.Contains(with, []byte(v)) {
							t.Errorf("server %s: --include-secrets did not write its token", b.Name)
						}
					}
				}
			}
		})
	}
	if checked < 5 {
		t.Fatalf("only %d secrets checked", checked)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(mapKeys(m)) {
		if strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_TOKEN") {
			out = append(out, m[k])
		}
	}
	return out
}

// clientKeys reports whether a route of m authenticates clients by API key.
func clientKeys(m *config.Model) bool {
	for _, r := range m.MCPRoutes {
		if r.Auth != nil && r.Auth.APIKey != nil {
			return true
		}
	}
	return false
}
