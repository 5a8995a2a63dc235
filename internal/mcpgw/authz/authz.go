// Package authz authenticates and authorises the clients of one MCP route, as an MCPRoute's
// securityPolicy (config.MCPAuth) says: bearer JWTs checked against a JWKS (inline, fetched and
// cached, or discovered from the issuer), OAuth 2.0 Protected Resource Metadata (RFC 9728) and
// WWW-Authenticate challenges that point clients at it, ordered rules (CEL, JWT scopes and
// claims, target tools) enforced on tools/call and used to filter tools/list, and claims
// forwarded to backends as headers.
//
// The gateway wraps a route's handler in Middleware, which rejects unauthenticated requests with
// 401 and puts the caller (Principal) and the request's attributes in the context; the MCP layer
// then asks Allow before a tools/call, VisibleTool for each tool of a tools/list, and
// VisibleBackend for each backend, and adds UpstreamHeaders to its requests to a backend.
package authz

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aigw/aigw/internal/config"
)

// Leeway is the clock skew allowed when checking exp, nbf and iat, as Envoy's JWT filter allows.
const Leeway = 60 * time.Second

// Options are what an Authorizer needs besides the configuration.
type Options struct {
	// Path is the route's path ("/mcp"); the metadata is served under it.
	Path string
	// Client fetches JWKS and issuer metadata; nil uses a client with the default transport.
	Client *http.Client
	// Logger receives fetch failures and rule evaluation errors (never tokens).
	Logger *slog.Logger
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Authorizer enforces one route's MCPAuth. A nil *Authorizer allows everything.
type Authorizer struct {
	cfg      *config.MCPAuth
	path     string
	keys     *keySet
	apiKeys  *apiKeys
	rules    *ruleSet
	selector *ruleSet
	log      *slog.Logger
	now      func() time.Time
	// claimHeaders are the lower-cased headers claims are written to, stripped from clients.
	claimHeaders []string
}

// New builds the Authorizer of a route; nil auth gives a nil Authorizer (everything allowed).
func New(auth *config.MCPAuth, opts Options) (*Authorizer, error) {
	if auth == nil {
		return nil, nil
	}
	a := &Authorizer{cfg: auth, path: opts.Path, log: opts.Logger, now: opts.Now}
	if a.path == "" {
		a.path = config.DefaultMCPPath
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if j := auth.JWT; j != nil {
		client := opts.Client
		if client == nil {
			client = &http.Client{Timeout: fetchTimeout}
		}
		ks := &keySet{source: j.JWKSURL, issuer: j.Issuer, ttl: j.JWKSCacheDuration, client: client, log: a.log, now: a.now, minWait: minJWKSRefetch}
		if ks.ttl <= 0 {
			ks.ttl = defaultJWKSCache
		}
		if len(j.JWKS) > 0 {
			keys, err := parseJWKS(j.JWKS, a.log)
			if err != nil {
				return nil, err
			}
			ks.keys, ks.static = keys, true
		}
		a.keys = ks
		for _, c := range j.ClaimToHeaders {
			a.claimHeaders = append(a.claimHeaders, strings.ToLower(c.Header))
		}
	}
	if k := auth.APIKey; k != nil {
		a.apiKeys = newAPIKeys(k)
		if k.ForwardClientIDHeader != "" {
			a.claimHeaders = append(a.claimHeaders, strings.ToLower(k.ForwardClientIDHeader))
		}
	}
	var err error
	if a.rules, err = compileRules(auth.Authorization); err != nil {
		return nil, err
	}
	if a.selector, err = compileRules(auth.BackendSelector); err != nil {
		return nil, err
	}
	return a, nil
}

// Principal is an authenticated caller.
type Principal struct {
	// Subject is the token's sub, qualified by its issuer ("https://issuer#alice") so that two
	// issuers' subjects never collide; bind sessions to it.
	Subject string
	// Claims are the token's claims as JSON decodes them (scope and scp removed, see Scopes).
	Claims map[string]any
	// Scopes are the token's scope (space separated) and scp claims.
	Scopes []string
	// Expiry is when the token expires.
	Expiry time.Time
	// ClientID is the client whose API key the request carried (apiKeyAuth), or "".
	ClientID string
}

// request is what the rules see of the HTTP request; the middleware puts it in the context.
type request struct {
	principal *Principal
	method    string
	path      string
	host      string
	headers   map[string]string
	all       map[string][]string
	upstream  http.Header // claimToHeaders
}

type ctxKey struct{}

// FromContext returns the caller the middleware authenticated, or nil.
func FromContext(ctx context.Context) *Principal {
	if r, ok := ctx.Value(ctxKey{}).(*request); ok {
		return r.principal
	}
	return nil
}

// Subject returns the authenticated subject of ctx, or "" for an anonymous caller.
func Subject(ctx context.Context) string {
	if p := FromContext(ctx); p != nil {
		return p.Subject
	}
	return ""
}

// UpstreamHeaders returns the headers to add to requests sent to a backend on behalf of the
// caller (claimToHeaders): those Middleware or Routes.WithUpstreamHeaders put in ctx, or nil.
func UpstreamHeaders(ctx context.Context) http.Header {
	if r, ok := ctx.Value(ctxKey{}).(*request); ok {
		return r.upstream
	}
	if rr, ok := ctx.Value(requestKey{}).(routeRequest); ok {
		return rr.upstream
	}
	return nil
}

// Middleware authenticates each request: without a valid token (when the route requires one)
// it answers 401 with a WWW-Authenticate challenge naming the protected resource metadata;
// otherwise it removes client-sent copies of the claim headers and passes the request on with
// the caller in its context. A nil Authorizer returns next.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r) // CORS preflight carries no credentials
			return
		}
		p, err := a.authenticate(r)
		if err != nil {
			err.ServeHTTP(w, r)
			return
		}
		req := a.newRequest(r, p)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, req)))
	})
}

// authenticate verifies r's bearer token and API key when the route requires them and removes
// client-sent copies of the claim (and client ID) headers. It returns the caller (nil when no token is required) or the
// 401 to answer.
func (a *Authorizer) authenticate(r *http.Request) (*Principal, *Unauthorized) {
	var p *Principal
	if a.keys != nil {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			return nil, &Unauthorized{a: a, desc: "a bearer token is required"}
		}
		var err error
		if p, err = a.verify(r.Context(), token); err != nil {
			return nil, &Unauthorized{a: a, code: "invalid_token", desc: err.Error()}
		}
	}
	if a.apiKeys != nil {
		id, ok := a.apiKeys.client(r)
		if !ok {
			return nil, &Unauthorized{a: a, desc: "a valid API key is required"}
		}
		if p == nil {
			p = &Principal{Subject: "api-key#" + id, Expiry: a.now().Add(time.Hour)}
		}
		p.ClientID = id
	}
	for _, h := range a.claimHeaders {
		r.Header.Del(h)
	}
	return p, nil
}

// Unauthorized is a request refused for want of a valid token; as an http.Handler it answers
// 401 with the WWW-Authenticate challenge.
type Unauthorized struct {
	a          *Authorizer
	code, desc string
}

func (u *Unauthorized) Error() string { return "unauthorized: " + u.desc }

// ServeHTTP writes the 401.
func (u *Unauthorized) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.a.challenge(w, r, u.code, u.desc)
}

func (a *Authorizer) newRequest(r *http.Request, p *Principal) *request {
	req := &request{principal: p, method: r.Method, path: r.URL.Path, host: r.Host}
	req.setHeaders(r.Header)
	req.upstream = a.upstreamHeaders(p)
	return req
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// setHeaders gives the rules the request's headers, lower-cased, first value and all values.
func (req *request) setHeaders(h http.Header) {
	req.headers = make(map[string]string, len(h))
	req.all = make(map[string][]string, len(h))
	for k, v := range h {
		if len(v) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		req.headers[lk] = v[0]
		req.all[lk] = append([]string(nil), v...)
	}
}
