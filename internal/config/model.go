// Package config owns the configuration Model that every input (environment keys, CRD YAML, MCP
// JSON, --demo) compiles to. A Model is immutable once built: the data planes read a snapshot
// per request and a reload swaps in a whole new Model.
package config

import (
	"net/url"
	"regexp"
	"sync"
	"time"
)

// DefaultMaxRequestBodyBytes bounds a client request body unless the configuration says otherwise.
const DefaultMaxRequestBodyBytes = 32 << 20

// DefaultRequestTimeout bounds how long an upstream may take to answer when nothing else is set.
const DefaultRequestTimeout = 60 * time.Second

// ModelHeader is the routing header the gateway sets from the request body's model, as the
// reference does, so that rules can match on it like on any header.
const ModelHeader = "x-ai-eg-model"

// Model is a complete, validated gateway configuration.
type Model struct {
	// Source says where the Model came from ("demo", "environment", a file path), for logs.
	Source string
	// Routes are matched in order; the first rule of the first route that matches wins.
	Routes []*Route
	// Backends lists every backend by name, in a stable order.
	Backends []*Backend
	// MaxRequestBodyBytes bounds client request bodies (413 above it).
	MaxRequestBodyBytes int64
	// Port is the gateway listener port the configuration asks for (a Gateway listener); 0 leaves
	// it to the command line.
	Port int
	// GlobalCosts are computed for every request (GatewayConfig globalLLMRequestCosts); a route's
	// Costs with the same metadata key replace them.
	GlobalCosts []Cost
	// Files lists every file the Model was built from (the config and files it references), so a
	// watcher can reload when any of them changes.
	Files []string
	// Warnings are non-fatal findings of loading (kinds accepted but not honoured, ...).
	Warnings []string
	// MCPRoutes are the MCP endpoints served on the gateway listener (see mcp.go).
	MCPRoutes []*MCPRoute
	// Limits are the rate limits and quotas (ratelimit.go); nil when there are none.
	Limits *Limits

	orderOnce sync.Once
	order     []matchEntry // see matchOrder
	knownOnce sync.Once
	known     map[string]bool // see KnowsModel
}

// Route is a named group of rules, optionally scoped to host names.
type Route struct {
	Name string
	// Hostnames the route serves; empty means every host. "*.example.com" matches one or more labels.
	Hostnames []string
	Rules     []*Rule
	// Costs are the route's llmRequestCosts, computed per request from its token usage.
	Costs []Cost
}

// Rule sends requests that match it to its backends.
type Rule struct {
	// Name identifies the rule in logs and metrics ("route/0").
	Name string
	// Matches are alternatives; the rule applies when any matches. No matches: every request.
	Matches []Match
	// Backends are the candidates, tried by priority (lowest first), weighted within a priority.
	Backends []*BackendRef
	// Timeout bounds one attempt until the upstream's response headers arrive.
	Timeout time.Duration
	// StreamIdleTimeout ends a response stream that sends nothing for this long; 0 for none.
	StreamIdleTimeout time.Duration
	// Retry retries a failed attempt (BackendTrafficPolicy); nil for none.
	Retry *RetryPolicy
	// ModelsOwnedBy and ModelsCreatedAt describe this rule's models in /v1/models.
	ModelsOwnedBy   string
	ModelsCreatedAt time.Time
}

// RetryPolicy says when and how often an attempt is retried (on the next candidate backend
// when there is one, else on the same).
type RetryPolicy struct {
	// NumRetries is how many retries follow the first attempt.
	NumRetries int
	// Statuses are the upstream response statuses that trigger a retry.
	Statuses []int
	// ConnectFailure retries when the upstream cannot be reached, timeouts too.
	ConnectFailure bool
	// BaseBackoff and MaxBackoff shape exponential back-off with jitter between tries.
	BaseBackoff, MaxBackoff time.Duration
	// PerTryTimeout bounds each try until response headers; 0 uses the rule's Timeout.
	PerTryTimeout time.Duration
}

// CostType is what a Cost counts, with the reference's names.
type CostType string

// Cost types.
const (
	CostInputToken              CostType = "InputToken"
	CostCachedInputToken        CostType = "CachedInputToken"
	CostCacheCreationInputToken CostType = "CacheCreationInputToken"
	CostOutputToken             CostType = "OutputToken"
	CostReasoningToken          CostType = "ReasoningToken"
	CostTotalToken              CostType = "TotalToken"
	CostCEL                     CostType = "CEL"
)

// Cost is one llmRequestCosts entry: a named number computed from a request's usage.
type Cost struct {
	MetadataKey string
	Type        CostType
	// CEL is the expression source for Type CEL; Program is it compiled and checked at load time.
	CEL     string
	Program CostProgram
}

// CostProgram evaluates a compiled CEL cost expression.
type CostProgram interface {
	Eval(vars CostVars) (uint64, error)
}

// CostVars are the variables a CEL cost expression sees, with the reference's names.
type CostVars struct {
	Model, Backend, RouteName                                string
	InputTokens, CachedInputTokens, CacheCreationInputTokens uint64
	OutputTokens, ReasoningTokens, TotalTokens               uint64
}

// Match holds header conditions that must all hold.
type Match struct {
	Headers []HeaderMatch
}

// HeaderMatch tests one request header (names are lower case).
type HeaderMatch struct {
	Name string
	// Exact is the value to equal when Regex is nil.
	Exact string
	// Regex, when set, must match the whole value.
	Regex *regexp.Regexp
}

// Matches reports whether the header value satisfies the condition.
func (h HeaderMatch) Matches(v string) bool {
	if h.Regex != nil {
		return h.Regex.MatchString(v)
	}
	return v == h.Exact
}

// BackendRef is a rule's reference to a backend, with per-reference traffic settings.
type BackendRef struct {
	Backend *Backend
	// Weight is the share of traffic within the same priority; 0 gets none.
	Weight int
	// Priority orders fallback: all of priority 0 first, then 1, ...
	Priority int
	// ModelNameOverride replaces the model sent to this backend when set.
	ModelNameOverride string
	// HeaderMutation and BodyMutation edit the upstream request for this reference; they win over
	// the backend's own for the same header or path.
	HeaderMutation *HeaderMutation
	BodyMutation   *BodyMutation
}

// HeaderMutation sets and removes upstream request headers.
type HeaderMutation struct {
	Set    []Header
	Remove []string
}

// BodyMutation sets and removes top-level JSON fields of the upstream request body.
type BodyMutation struct {
	Set    []BodyField
	Remove []string
}

// BodyField is a JSON path and the JSON value to put there.
type BodyField struct {
	Path string
	// Value is JSON text ("0.2", "\"text\"", "{...}").
	Value string
}

// Backend is one upstream AI service.
type Backend struct {
	Name string
	// QualifiedName is "name.namespace", what CEL cost expressions see as `backend`, as in the
	// reference; "" outside CRD configuration (Name is used then).
	QualifiedName string
	Schema        Schema
	// Endpoint is the upstream's scheme, host and port; its path is unused (see Schema.Prefix).
	Endpoint *url.URL
	// Auth is how aigw authenticates to the backend; nil sends no credential of its own.
	Auth *Auth
	// Headers are set on every upstream request (e.g. OpenAI-Organization).
	Headers []Header
	// Models are the model ids this backend is known to serve, for /v1/models. When empty the
	// provider's own list is asked for.
	Models []string
	// ModelsOwnedBy is reported as owned_by in /v1/models for declared models.
	ModelsOwnedBy string
	// HeaderMutation and BodyMutation edit every upstream request to this backend.
	HeaderMutation *HeaderMutation
	BodyMutation   *BodyMutation
	// TLS configures connections to an https endpoint; nil uses system roots.
	TLS *TLS
	// MaxOutputTokens is the max_tokens sent to an Anthropic-schema backend when an OpenAI
	// client sets none (Anthropic requires it); 0 uses the translator's table of Claude models.
	MaxOutputTokens int64
	// ChatCompletionsOnly marks an OpenAI-schema backend that lacks the Responses API (most
	// OpenAI-compatible servers): /v1/responses is then served through its chat completions.
	ChatCompletionsOnly bool
}

// TLS is how aigw verifies a backend (Backend.spec.tls, BackendTLSPolicy).
type TLS struct {
	// ServerName overrides the SNI and verified name.
	ServerName string
	// CACertPEM are extra trusted roots, PEM encoded; empty uses the system roots.
	CACertPEM []byte
	// InsecureSkipVerify disables verification; only when the configuration says so.
	InsecureSkipVerify bool
}

// Header is a name and value to set.
type Header struct {
	Name, Value string
}

// Schema is the API a backend speaks, and where that API is rooted.
type Schema struct {
	Name SchemaName
	// Prefix is the path the API's endpoints hang under, e.g. "/v1" or "/api/v1"; "" for none.
	Prefix string
	// Version is the API version where the API needs one (Azure's api-version).
	Version string
}

// AuthType is the kind of credential a backend takes.
type AuthType string

// Credential kinds with the reference's BackendSecurityPolicy type names.
const (
	AuthAPIKey          AuthType = "APIKey"          // Authorization: Bearer <key>
	AuthAnthropicAPIKey AuthType = "AnthropicAPIKey" // x-api-key: <key>
	AuthAzureAPIKey     AuthType = "AzureAPIKey"     // api-key: <key>
	AuthAWSCredentials  AuthType = "AWSCredentials"  // SigV4 (Auth.AWS)
)

// Auth is a backend credential.
type Auth struct {
	Type AuthType
	Key  Secret
	// Override, when set, takes the credential from a request header per request.
	Override *CredentialOverride
	// GCP and Azure are the configuration of GCPCredentials and AzureCredentials policies
	// (auth_cloud.go).
	GCP   *GCPAuth   `json:",omitempty"`
	Azure *AzureAuth `json:",omitempty"`
	// AWS is the configuration of an AWSCredentials policy.
	AWS *AWSAuth `json:",omitempty"`
	// Source says where the credential's value came from in a config file: "env:VAR" (a Secret
	// value that was ${VAR}, or an env substitution annotation) or "file:PATH"; "" when written
	// inline or unknown. Rendering keeps it; nothing is served differently.
	Source string `json:"-"`
}

// CredentialOverride takes a per-request credential from a request header (credentialOverride
// fromRequestHeaders). The header is always stripped before forwarding.
type CredentialOverride struct {
	Header string
	// FallbackToConfigured uses Key when the header is absent; otherwise the request gets 401.
	FallbackToConfigured bool
}

// Secret is a credential value. It prints as [redacted] so that it cannot leak through logs,
// errors or JSON by accident; Reveal returns the value for the one place that sends it.
type Secret string

// String redacts the secret.
func (Secret) String() string { return "[redacted]" }

// GoString redacts the secret in %#v.
func (Secret) GoString() string { return "[redacted]" }

// MarshalText redacts the secret in JSON, YAML and slog output.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }
