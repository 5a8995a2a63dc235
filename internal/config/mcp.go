package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
)

// DefaultMCPPath is where an MCP route is served when its input names no path.
const DefaultMCPPath = "/mcp"

// MCPToolSeparator joins a backend's name and a tool's (or prompt's) name in the names the
// gateway exposes: "github__create_issue", as the reference does.
const MCPToolSeparator = "__"

// MCP transports of a url backend.
const (
	MCPTransportStreamableHTTP = "streamable-http"
	MCPTransportSSE            = "sse"
)

// MCPRoute is one MCP endpoint that aggregates several MCP servers (an MCPRoute, or the servers
// of --mcp-config / --mcp-json).
type MCPRoute struct {
	// Name identifies the route in logs, events and metrics.
	Name string
	// Path is where the route is served on the gateway listener (DefaultMCPPath when empty).
	Path string
	// Backends are the MCP servers behind the route, in a stable order; names are unique and
	// contain no MCPToolSeparator, so exposed names cannot collide.
	Backends []*MCPBackend
	// Auth authorises clients of the route; nil lets every client in with an empty subject.
	Auth *MCPAuth
	// SessionSeedPath overrides the file holding the random seed session ids are encrypted with;
	// empty uses the one under the data home.
	SessionSeedPath string
}

// MCPAuth is how clients of an MCP route are authenticated and authorised (an MCPRoute's
// securityPolicy); internal/mcpgw/authz enforces it.
type MCPAuth struct {
	// JWT requires a valid bearer JWT on every request; nil lets requests in without one.
	JWT *MCPJWT
	// Authorization decides which tools/call requests are allowed (and so which tools
	// tools/list shows); nil allows every request.
	Authorization *MCPAuthorization
	// BackendSelector decides which backends a client may reach at all (rules see
	// request.mcp.backend only); nil allows every backend.
	BackendSelector *MCPAuthorization
	// APIKey requires a client API key on every request (apiKeyAuth); with JWT, both are
	// required.
	APIKey *MCPAPIKeyAuth
}

// MCPAPIKeyAuth authenticates clients by API key, as Envoy Gateway's apiKeyAuth does.
type MCPAPIKeyAuth struct {
	// Clients maps each client ID to its API key.
	Clients map[string]string
	// Headers, Params (query) and Cookies are where a request carries its key; the first found
	// is used.
	Headers, Params, Cookies []string
	// ForwardClientIDHeader names the header that tells backends the client ID ("": none).
	ForwardClientIDHeader string
	// Sanitize removes the key from the request once checked.
	Sanitize bool
}

// MCPJWT validates bearer JWTs (oauth in an MCPRoute securityPolicy).
type MCPJWT struct {
	// Issuer must equal the token's iss; it is also the authorization server advertised in the
	// protected resource metadata.
	Issuer string
	// Audiences: the token's aud must contain one of them; empty skips the check.
	Audiences []string
	// JWKSURL is where the signing keys are fetched (https://, http:// or file://); JWKS holds
	// them inline instead. Neither set: the jwks_uri of the issuer's RFC 8414 metadata is used.
	JWKSURL string
	JWKS    []byte
	// JWKSCacheDuration is how long fetched keys are used before they are fetched again (0: 5m).
	JWKSCacheDuration time.Duration
	// Metadata is served as OAuth 2.0 Protected Resource Metadata (RFC 9728).
	Metadata MCPResourceMetadata
	// ClaimToHeaders sends claims of the token to the backends as request headers.
	ClaimToHeaders []MCPClaimToHeader
}

// MCPResourceMetadata is the protected resource metadata of an MCP route (RFC 9728).
type MCPResourceMetadata struct {
	// Resource is the route's URL ("https://api.example.com/mcp"); empty derives it from the
	// request's host and the route's path.
	Resource                          string
	ResourceName                      string
	ResourceDocumentation             string
	ResourcePolicyURI                 string
	ScopesSupported                   []string
	ResourceSigningAlgValuesSupported []string
}

// MCPClaimToHeader copies one claim ("sub", or nested "org.team") into an upstream header.
type MCPClaimToHeader struct {
	Claim, Header string
}

// MCPAuthorization is an ordered list of rules; the first that matches decides.
type MCPAuthorization struct {
	Rules []MCPAuthRule
	// DefaultAllow decides when no rule matches (the reference's default is deny).
	DefaultAllow bool
}

// MCPAuthRule matches when all of its parts match: the CEL expression (if any), the JWT
// scopes and claims (if any) and the target tools (if any).
type MCPAuthRule struct {
	Allow bool
	// CEL is a boolean expression over `request` (see CompileMCPRule); Program is it compiled.
	CEL     string
	Program cel.Program
	// Scopes must all be in the token's scope (or scp) claim.
	Scopes []string
	// Claims must each have one of their values in the token.
	Claims []MCPClaimMatch
	// Tools lists the backend-local tools the rule is about; empty: every tool.
	Tools []MCPToolRef
}

// MCPClaimMatch requires a claim (dotted path for a nested one) to hold one of Values; an
// array claim (Array) matches when any element does.
type MCPClaimMatch struct {
	Name   string
	Values []string
	Array  bool
}

// MCPToolRef names one tool of one backend.
type MCPToolRef struct {
	Backend, Tool string
}

// MCPBackend is one MCP server behind a route: a stdio command aigw runs itself, or a remote
// server reached by URL.
type MCPBackend struct {
	// Name is the prefix of the backend's tools, prompts and resources.
	Name string
	// Command, Args, Env and Cwd describe a stdio server (Command set).
	Command string
	Args    []string
	Env     []EnvVar
	Cwd     string
	// URL, Transport and Headers describe a remote server (URL set).
	URL       string
	Transport string // MCPTransportStreamableHTTP or MCPTransportSSE
	// Headers are sent on every request to a remote server (all of them, not only Authorization).
	Headers []Header
	// Query parameters are added to every request's URL (an API key in a queryParam): kept out
	// of URL so that it never shows in a logged error.
	Query []Header
	// KeySources says where the credential of a header or query parameter (by its name as in
	// Headers and Query) came from: "env:VAR" or "file:PATH", as Auth.Source; for an
	// Authorization header, where its bearer token came from. Rendering keeps it.
	KeySources map[string]string `json:"-"`
	// Tools filters which of the server's tools the route exposes.
	Tools ToolFilter
	// ForwardHeaders copies headers of the client's request onto the requests to a remote
	// server (an MCPRoute backendRef's forwardHeaders, for per-user tokens).
	ForwardHeaders []MCPForwardHeader
}

// MCPForwardHeader sends the client's header Name to the server as BackendHeader (Name when
// empty).
type MCPForwardHeader struct {
	Name, BackendHeader string
}

// EnvVar is one variable set in a stdio server's environment.
type EnvVar struct {
	Name, Value string
}

// Stdio reports whether the backend is a command aigw runs.
func (b *MCPBackend) Stdio() bool { return b.Command != "" }

// ToolFilter selects tools by their backend-local names. A tool is kept when it passes the
// include side (no Include and no IncludeRegex, or listed in Include, or matching an
// IncludeRegex) and is neither in Exclude nor matching an ExcludeRegex.
type ToolFilter struct {
	Include      []string
	Exclude      []string
	IncludeRegex []*regexp.Regexp
	ExcludeRegex []*regexp.Regexp
}

// Empty reports whether the filter keeps every tool.
func (f ToolFilter) Empty() bool {
	return len(f.Include) == 0 && len(f.Exclude) == 0 && len(f.IncludeRegex) == 0 && len(f.ExcludeRegex) == 0
}

// Allows reports whether the filter keeps the tool.
func (f ToolFilter) Allows(tool string) bool {
	if slices.Contains(f.Exclude, tool) {
		return false
	}
	for _, re := range f.ExcludeRegex {
		if re.MatchString(tool) {
			return false
		}
	}
	if len(f.Include) == 0 && len(f.IncludeRegex) == 0 {
		return true
	}
	if slices.Contains(f.Include, tool) {
		return true
	}
	for _, re := range f.IncludeRegex {
		if re.MatchString(tool) {
			return true
		}
	}
	return false
}

// ValidateMCPBackendName says why name cannot name an MCP backend, or nil.
func ValidateMCPBackendName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an MCP server needs a name")
	case strings.Contains(name, MCPToolSeparator):
		return fmt.Errorf("MCP server name %q contains %q, which separates server and tool names", name, MCPToolSeparator)
	case strings.ContainsAny(name, "/ \t\r\n"):
		return fmt.Errorf("MCP server name %q contains a slash or white space", name)
	}
	return nil
}
