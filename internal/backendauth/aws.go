package backendauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// awsService is the SigV4 signing name of Bedrock's runtime API (InvokeModel, Converse).
const awsService = "bedrock"

// awsExpiryWindow is how long before their expiry temporary credentials are refreshed, so a
// request is never signed with credentials that expire while it is in flight.
const awsExpiryWindow = 5 * time.Minute

// awsSignedHeaders are the request headers signed besides host and the x-amz-* headers the
// signer adds. Only these are signed, so a header another stage adds or changes after signing
// (a trace header, a request id) cannot invalidate the signature.
var awsSignedHeaders = []string{"Content-Type", "X-Amzn-Bedrock-Accept", "X-Amzn-Bedrock-Guardrailidentifier", "X-Amzn-Bedrock-Guardrailversion", "X-Amzn-Bedrock-Trace", "X-Amzn-Bedrock-Performanceconfig-Latency", "X-Amzn-Bedrock-Service-Tier"}

// awsHandler signs each upstream request with SigV4 over the exact method, path and body sent,
// with credentials from the policy's source, cached and refreshed before they expire.
type awsHandler struct {
	endpoint *url.URL
	region   string
	source   string // for errors: which credential source failed
	creds    aws.CredentialsProvider
	override *config.CredentialOverride
	signer   *v4.Signer
	now      func() time.Time
	requests sync.Pool // of *signingRequest
}

func newAWSHandler(b *config.Backend) (Handler, error) {
	return newAWSHandlerWindow(b, awsExpiryWindow)
}

// newAWSHandlerWindow builds the handler with an expiry window of its own (tests shorten it).
func newAWSHandlerWindow(b *config.Backend, window time.Duration) (*awsHandler, error) {
	a := b.Auth.AWS
	if a == nil {
		return nil, fmt.Errorf("backend %s: AWSCredentials without its configuration", b.Name)
	}
	if b.Endpoint == nil {
		return nil, fmt.Errorf("backend %s: AWSCredentials needs the backend's endpoint to sign for", b.Name)
	}
	h := &awsHandler{
		endpoint: b.Endpoint, region: a.Region, source: a.Source(), override: b.Auth.Override,
		signer: v4.NewSigner(), now: time.Now,
	}
	h.requests.New = func() any { return new(signingRequest) }
	cacheOpts := func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window }
	switch {
	case a.OIDC != nil:
		p, err := newOIDCRoleProvider(a)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %s: %w", b.Name, h.source, err)
		}
		h.creds = aws.NewCredentialsCache(p, cacheOpts)
	case a.CredentialsFile != "":
		c, err := parseCredentialsFile(a.CredentialsFile.Reveal(), a.Profile)
		if err != nil {
			return nil, fmt.Errorf("backend %s: %s: %w", b.Name, h.source, err)
		}
		h.creds = credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token)
	default:
		// The SDK's chain: environment, shared config and credentials files, SSO, web identity
		// (IRSA), EKS Pod Identity, ECS, IMDS. Nothing is fetched until the first request.
		cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
			awsconfig.WithRegion(a.Region), awsconfig.WithCredentialsCacheOptions(cacheOpts))
		if err != nil {
			return nil, fmt.Errorf("backend %s: %s: %w", b.Name, h.source, err)
		}
		if cfg.Credentials == nil {
			return nil, fmt.Errorf("backend %s: %s: no credential source found", b.Name, h.source)
		}
		h.creds = cfg.Credentials
	}
	return h, nil
}

// Do signs up in place: any client credential is removed, then Authorization, X-Amz-Date and
// (for temporary credentials) X-Amz-Security-Token are set.
func (h *awsHandler) Do(ctx context.Context, up *translate.Upstream) error {
	creds, err := h.credentials(ctx, up.Header)
	if err != nil {
		return err
	}
	sr := h.requests.Get().(*signingRequest)
	defer h.requests.Put(sr)
	sr.url = *h.endpoint
	if err := setSigningPath(&sr.url, up.Path); err != nil {
		return fmt.Errorf("signing: upstream path %q: %w", up.Path, err)
	}
	if sr.header == nil {
		sr.header = http.Header{}
	}
	clear(sr.header)
	sr.req = http.Request{Method: up.Method, URL: &sr.url, Host: sr.url.Host, Header: sr.header}
	for _, name := range awsSignedHeaders {
		if v, ok := up.Header[name]; ok {
			sr.header[name] = v
		}
	}
	sum := sha256.Sum256(up.Body)
	var hash [2 * sha256.Size]byte
	hex.Encode(hash[:], sum[:])
	if err := h.signer.SignHTTP(ctx, creds, &sr.req, string(hash[:]), awsService, h.region, h.now().UTC()); err != nil {
		return fmt.Errorf("signing the request: %w", err)
	}
	for _, name := range clientCredentialHeaders {
		up.Header.Del(name)
	}
	up.Header.Del("X-Amz-Security-Token")
	// The signer sets each of these once, in canonical form: its slices are taken as they are.
	for _, name := range [...]string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := sr.header[name]; len(v) == 1 && v[0] != "" {
			up.Header[name] = v
		}
	}
	return nil
}

// signingRequest is the request the signer reads and writes, reused across calls (Do keeps no
// reference to it once the headers are copied out).
type signingRequest struct {
	req    http.Request
	url    url.URL
	header http.Header
}

// setSigningPath puts an upstream path (with any query) on u. The usual path (unreserved
// characters, slashes and valid percent escapes, as bedrockModelPath writes it) goes in
// u.Opaque, which the signer takes verbatim as the canonical path: the very string that
// url.Parse's EscapedPath would give it, without parsing. Anything else is parsed.
func setSigningPath(u *url.URL, path string) error {
	if plainEscapedPath(path) {
		u.Opaque, u.Path, u.RawPath, u.RawQuery = path, "", "", ""
		return nil
	}
	p, err := url.Parse(path)
	if err != nil {
		return err
	}
	u.Opaque, u.Path, u.RawPath, u.RawQuery = "", p.Path, p.RawPath, p.RawQuery
	return nil
}

// plainEscapedPath reports whether path is "/" followed by unreserved characters, slashes and
// valid percent escapes only, and does not start with "//" (which url.Parse reads as a host).
func plainEscapedPath(path string) bool {
	if len(path) == 0 || path[0] != '/' || len(path) > 1 && path[1] == '/' {
		return false
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/':
		case c == '%' && i+2 < len(path) && isHexDigit(path[i+1]) && isHexDigit(path[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// credentials returns the credentials to sign with: the request's own when the policy allows
// them in headers (<prefix>access-key-id, <prefix>secret-access-key, <prefix>session-token),
// else the configured source's.
func (h *awsHandler) credentials(ctx context.Context, hdr http.Header) (aws.Credentials, error) {
	if o := h.override; o != nil {
		id, secret, token := hdr.Get(o.Header+"access-key-id"), hdr.Get(o.Header+"secret-access-key"), hdr.Get(o.Header+"session-token")
		for _, s := range []string{"access-key-id", "secret-access-key", "session-token"} {
			hdr.Del(o.Header + s)
		}
		switch {
		case id != "" && secret != "":
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, Source: "request headers"}, nil
		case id != "" || secret != "":
			return aws.Credentials{}, fmt.Errorf("%w: the request needs both %saccess-key-id and %ssecret-access-key", ErrMissingCredential, o.Header, o.Header)
		case !o.FallbackToConfigured:
			return aws.Credentials{}, fmt.Errorf("%w: the request has no %saccess-key-id header", ErrMissingCredential, o.Header)
		}
	}
	c, err := h.creds.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("AWS credentials (%s): %w", h.source, err)
	}
	if !c.HasKeys() {
		return aws.Credentials{}, fmt.Errorf("AWS credentials (%s): %w", h.source, errors.New("no access key"))
	}
	return c, nil
}
