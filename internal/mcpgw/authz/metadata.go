package authz

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// WellKnownPath is where OAuth 2.0 Protected Resource Metadata is served (RFC 9728 §3): the
// route's path follows it, "/.well-known/oauth-protected-resource/mcp", as the reference serves
// it, so several routes can each have their own.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// UnauthorizedCode is the JSON-RPC error code in the body of a 401.
const UnauthorizedCode = -32001

// MetadataPaths are the paths the protected resource metadata is served at: under the route's
// path, and under the configured resource's path when that differs. Nil without JWT.
func (a *Authorizer) MetadataPaths() []string {
	if a == nil || a.cfg.JWT == nil {
		return nil
	}
	paths := []string{WellKnownPath + strings.TrimSuffix(a.path, "/")}
	if u, err := url.Parse(a.cfg.JWT.Metadata.Resource); err == nil && a.cfg.JWT.Metadata.Resource != "" {
		if p := WellKnownPath + strings.TrimSuffix(u.Path, "/"); p != paths[0] {
			paths = append(paths, p)
		}
	}
	return paths
}

// MetadataHandler serves the protected resource metadata (GET, with CORS for browser clients
// such as the MCP Inspector).
func (a *Authorizer) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Mcp-Protocol-Version")
		switch r.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodGet, http.MethodHead:
		default:
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if a == nil || a.cfg.JWT == nil {
			http.NotFound(w, r)
			return
		}
		j := a.cfg.JWT
		m := oauthex.ProtectedResourceMetadata{
			Resource:                          a.resource(r),
			AuthorizationServers:              []string{j.Issuer},
			BearerMethodsSupported:            []string{"header"},
			ScopesSupported:                   j.Metadata.ScopesSupported,
			ResourceSigningAlgValuesSupported: j.Metadata.ResourceSigningAlgValuesSupported,
			ResourceName:                      j.Metadata.ResourceName,
			ResourceDocumentation:             j.Metadata.ResourceDocumentation,
			ResourcePolicyURI:                 j.Metadata.ResourcePolicyURI,
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_ = json.NewEncoder(w).Encode(m)
	})
}

// resource is the route's resource identifier: the configured one, or the URL the client used.
func (a *Authorizer) resource(r *http.Request) string {
	if res := a.cfg.JWT.Metadata.Resource; res != "" {
		return res
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + a.path
}

// MetadataURL is the absolute URL of the metadata for a request to the route: the well-known
// segment inserted between the resource's origin and its path (RFC 9728 §3.1). "" without JWT.
func (a *Authorizer) MetadataURL(r *http.Request) string {
	if a == nil || a.cfg.JWT == nil {
		return ""
	}
	res, err := url.Parse(a.resource(r))
	if err != nil || res.Host == "" {
		return ""
	}
	return res.Scheme + "://" + res.Host + WellKnownPath + strings.TrimSuffix(res.Path, "/")
}

// challenge answers 401 with a WWW-Authenticate header (RFC 6750 §3, RFC 9728 §5.1): no error
// code when the request had no token, invalid_token with a description otherwise. The body is
// a JSON-RPC error so that MCP clients that read it see why.
func (a *Authorizer) challenge(w http.ResponseWriter, r *http.Request, code, desc string) {
	if a.cfg.JWT == nil { // API keys only: no bearer challenge, as Envoy's api_key_auth answers
		writeJSONRPCError(w, http.StatusUnauthorized, UnauthorizedCode, "unauthorized: "+desc)
		return
	}
	var params []string
	if code != "" {
		params = append(params, fmt.Sprintf("error=%q", code), fmt.Sprintf("error_description=%q", desc))
	}
	if u := a.MetadataURL(r); u != "" {
		params = append(params, fmt.Sprintf("resource_metadata=%q", u))
	}
	if s := a.cfg.JWT.Metadata.ScopesSupported; len(s) > 0 {
		params = append(params, fmt.Sprintf("scope=%q", strings.Join(s, " ")))
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	writeJSONRPCError(w, http.StatusUnauthorized, UnauthorizedCode, "unauthorized: "+desc)
}

// writeJSONRPCError writes a JSON-RPC error response that answers no particular request.
func writeJSONRPCError(w http.ResponseWriter, status int, code int, msg string) {
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]any{"code": code, "message": msg},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
