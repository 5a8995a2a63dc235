package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// defaultJWKSCache is how long fetched keys are used before they are fetched again, as
	// Envoy Gateway's remoteJWKS cacheDuration defaults.
	defaultJWKSCache = 5 * time.Minute
	// minJWKSRefetch spaces out fetches caused by tokens with unknown key ids, so a stream of
	// forged tokens cannot make the gateway hammer the issuer.
	minJWKSRefetch = 10 * time.Second
	// maxJWKSBytes bounds a key set or metadata document.
	maxJWKSBytes = 1 << 20
	// fetchTimeout bounds one fetch of a key set or of the issuer's metadata.
	fetchTimeout = 10 * time.Second
)

// keySet holds the verification keys of one route: inline, or fetched from a URL (or read from
// a file) and cached, fetched again when the cache expires or a token names a key id the set
// does not have (key rotation). A failed refresh keeps the keys it had.
type keySet struct {
	source  string // URL of the set; "" with inline keys or discovery
	issuer  string // for discovery when source and inline are empty
	ttl     time.Duration
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	minWait time.Duration

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	static    bool      // inline keys: never fetched
	fetched   time.Time // when keys were last fetched successfully
	attempted time.Time // when a fetch was last tried
}

// errNoKey is a token whose key is not in the set (after a refresh).
var errNoKey = errors.New("no key in the JWKS matches the token")

// lookup returns the keys that may have signed a token with key id kid (every key when kid
// is empty).
func (k *keySet) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	expired := !k.static && (k.fetched.IsZero() || now.Sub(k.fetched) >= k.ttl)
	if expired && now.Sub(k.attempted) >= k.minWait {
		k.refresh(ctx, now)
	}
	match := k.match(kid)
	if len(match) == 0 && !k.static && now.Sub(k.attempted) >= k.minWait {
		// A new key id: the issuer may have rotated its keys since the last fetch.
		k.refresh(ctx, now)
		match = k.match(kid)
	}
	if len(match) == 0 {
		if k.keys == nil && !k.static {
			return nil, errors.New("the JWKS could not be fetched")
		}
		return nil, errNoKey
	}
	return match, nil
}

func (k *keySet) match(kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if (kid == "" || key.KeyID == kid) && (key.Use == "" || key.Use == "sig") {
			out = append(out, key)
		}
	}
	return out
}

// refresh fetches the set; k.mu is held. Requests wait for it, which bounds fetches to one at a
// time.
func (k *keySet) refresh(ctx context.Context, now time.Time) {
	k.attempted = now
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	src := k.source
	if src == "" {
		u, err := discoverJWKS(ctx, k.client, k.issuer)
		if err != nil {
			k.log.Warn("mcp authz: JWKS discovery failed; keeping the keys already fetched", "issuer", k.issuer, "error", err)
			return
		}
		src = u
	}
	raw, err := fetch(ctx, k.client, src)
	if err != nil {
		k.log.Warn("mcp authz: JWKS fetch failed; keeping the keys already fetched", "jwks", src, "error", err)
		return
	}
	keys, err := parseJWKS(raw, k.log)
	if err != nil {
		k.log.Warn("mcp authz: JWKS unreadable; keeping the keys already fetched", "jwks", src, "error", err)
		return
	}
	k.keys, k.fetched = keys, now
}

// parseJWKS reads a JWK Set, keeping the public keys it understands: one unsupported key (a
// new key type, a symmetric key) does not make the whole set unusable.
func parseJWKS(raw []byte, log *slog.Logger) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys"`)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for i, r := range set.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(r); err != nil {
			log.Warn("mcp authz: JWKS key skipped", "index", i, "error", err)
			continue
		}
		if !key.Valid() || !key.IsPublic() {
			log.Warn("mcp authz: JWKS key skipped: not a public signature key", "index", i, "kid", key.KeyID)
			continue
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// fetch reads a document from an http(s) or file URL, bounded in size.
func fetch(ctx context.Context, client *http.Client, src string) ([]byte, error) {
	u, err := url.Parse(src)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readBounded(f)
	case "http", "https":
	default:
		return nil, fmt.Errorf("unsupported URL scheme %q", u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, fmt.Errorf("%s answered %s", src, resp.Status)
	}
	return readBounded(resp.Body)
}

func readBounded(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxJWKSBytes {
		return nil, fmt.Errorf("document larger than %d bytes", maxJWKSBytes)
	}
	return raw, nil
}

// discoverJWKS finds the jwks_uri of an issuer from its RFC 8414 authorization server metadata,
// or else its OpenID Connect discovery document, as the reference does when no JWKS is given.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	var errs []error
	for _, u := range metadataURLs(issuer) {
		raw, err := fetch(ctx, client, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil || meta.JWKSURI == "" {
			errs = append(errs, fmt.Errorf("%s: no jwks_uri", u))
			continue
		}
		return meta.JWKSURI, nil
	}
	return "", errors.Join(errs...)
}

// metadataURLs are the well-known locations of an issuer's metadata: RFC 8414 inserts the
// well-known segment before the issuer's path; OpenID Connect appends it.
func metadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil
	}
	path := strings.TrimSuffix(u.Path, "/")
	base := u.Scheme + "://" + u.Host
	return []string{
		base + "/.well-known/oauth-authorization-server" + path,
		base + path + "/.well-known/openid-configuration",
	}
}
