package authz

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// signatureAlgs are the JWS algorithms accepted: asymmetric ones only, so a public key can
// never be used as an HMAC secret, and never "none".
var signatureAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// maxTokenBytes bounds a bearer token before it is parsed.
const maxTokenBytes = 16 << 10

// verify checks a bearer JWT's signature against the key set and its iss, aud, exp, nbf and
// iat, and returns the caller. Error messages are safe to show the client: they never echo the
// token.
func (a *Authorizer) verify(ctx context.Context, token string) (*Principal, error) {
	j := a.cfg.JWT
	if len(token) > maxTokenBytes {
		return nil, errors.New("the token is too large")
	}
	tok, err := jwt.ParseSigned(token, signatureAlgs)
	if err != nil {
		return nil, errors.New("the token is not a JWT signed with an asymmetric algorithm")
	}
	if len(tok.Headers) != 1 {
		return nil, errors.New("the token must have exactly one signature")
	}
	h := tok.Headers[0]
	keys, err := a.keys.lookup(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var all map[string]any
	verified := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if tok.Claims(k.Key, &std, &all) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errors.New("the token's signature does not verify")
	}
	if std.Expiry == nil {
		return nil, errors.New("the token has no expiry (exp)")
	}
	exp := jwt.Expected{Issuer: j.Issuer, AnyAudience: j.Audiences, Time: a.now()}
	if err := std.ValidateWithLeeway(exp, Leeway); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return nil, errors.New("the token has expired")
		case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
			return nil, errors.New("the token is not valid yet")
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return nil, errors.New("the token's issuer is not accepted")
		case errors.Is(err, jwt.ErrInvalidAudience):
			return nil, errors.New("the token's audience is not this resource")
		}
		return nil, errors.New("the token's claims are not valid")
	}
	p := &Principal{Claims: all, Scopes: scopes(all), Expiry: std.Expiry.Time()}
	delete(all, "scope")
	delete(all, "scp")
	sub := std.Subject
	if sub == "" {
		return nil, errors.New("the token has no subject (sub)")
	}
	p.Subject = std.Issuer + "#" + sub
	return p, nil
}

// scopes reads the scope claim (space separated, RFC 8693) and the scp claim (a list or a
// string, as Azure AD and Okta issue it).
func scopes(claims map[string]any) []string {
	var out []string
	for _, k := range []string{"scope", "scp"} {
		switch v := claims[k].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, s := range v {
				if s, ok := s.(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// lookupClaim follows a dotted path ("org.team") through nested claims.
func lookupClaim(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true // a claim whose own name has dots
	}
	var cur any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// claimString renders a claim as a header value: strings as they are, numbers and booleans in
// JSON, lists and objects as JSON text (Envoy's claim_to_headers sends a list's JSON too).
func claimString(claims map[string]any, path string) (string, bool) {
	v, ok := lookupClaim(claims, path)
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		if strings.ContainsAny(v, "\r\n\x00") {
			return "", false
		}
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(raw), true
}
