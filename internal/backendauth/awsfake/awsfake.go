// Package awsfake holds the AWS fakes aigw's tests share: a SigV4 verifier that recomputes a
// request's signature with the SDK's own signer (as the real service does), and a local STS that
// answers AssumeRoleWithWebIdentity with short-lived keys the verifier then accepts until they
// expire. Nothing here is used outside tests.
package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Keys are the credentials a fake service accepts: access key id → secret, session token and
// expiry (zero: never).
type Keys struct {
	mu   sync.Mutex
	keys map[string]key
}

type key struct {
	secret, token string
	expires       time.Time
}

// Add accepts a key pair, with a session token and expiry for temporary credentials.
func (k *Keys) Add(id, secret, token string, expires time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]key{}
	}
	k.keys[id] = key{secret, token, expires}
}

// Verify checks r's SigV4 signature for service and region over body by signing a copy of the
// request with the SDK signer and the same signed headers and time. It returns why the request
// is refused (the real service answers 403), or nil.
func (k *Keys) Verify(r *http.Request, body []byte, service, region string) error {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return fmt.Errorf("missing or non-SigV4 Authorization header")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		n, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[n] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 {
		return fmt.Errorf("malformed credential scope %q", fields["Credential"])
	}
	id := scope[0]
	if scope[2] != region || scope[3] != service {
		return fmt.Errorf("credential scope is for %s/%s, want %s/%s", scope[2], scope[3], region, service)
	}
	k.mu.Lock()
	cred, ok := k.keys[id]
	k.mu.Unlock()
	if !ok {
		return fmt.Errorf("the security token included in the request is invalid (unknown key %s)", id)
	}
	if !cred.expires.IsZero() && time.Now().After(cred.expires) {
		return fmt.Errorf("the security token included in the request is expired")
	}
	if r.Header.Get("X-Amz-Security-Token") != cred.token {
		return fmt.Errorf("the security token included in the request is invalid")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date: %v", err)
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signature expired")
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	cp := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h == "host" || h == "x-amz-date" || h == "x-amz-security-token" {
			continue
		}
		cp.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: cred.secret, SessionToken: cred.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return err
	}
	if cp.Header.Get("Authorization") != auth {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return nil
}

// STS is a local STS answering AssumeRoleWithWebIdentity: each call issues new keys valid for
// TTL, accepted by Keys.
type STS struct {
	*httptest.Server
	Keys *Keys
	// TTL is the lifetime STS announces; Valid, when set, is how long the keys really work (a
	// test of refresh makes it shorter than TTL, so keys used past the refresh point fail).
	TTL   time.Duration
	Valid time.Duration
	// Token is the web identity token it accepts.
	Token string
	Calls atomic.Int64
	// RoleARNs records the roles asked for.
	mu    sync.Mutex
	Roles []string
}

// NewSTS starts a fake STS; close it with Close.
func NewSTS(keys *Keys, token string, ttl time.Duration) *STS {
	s := &STS{Keys: keys, TTL: ttl, Token: token}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r.Body)
	form, err := url.ParseQuery(buf.String())
	if err != nil || form.Get("Action") != "AssumeRoleWithWebIdentity" {
		http.Error(w, "unsupported action", http.StatusBadRequest)
		return
	}
	if form.Get("WebIdentityToken") != s.Token {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>the token is not valid</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
		return
	}
	n := s.Calls.Add(1)
	s.mu.Lock()
	s.Roles = append(s.Roles, form.Get("RoleArn"))
	s.mu.Unlock()
	id, secret, token := fmt.Sprintf("ASIAFAKE%08d", n), fmt.Sprintf("secret-%d", n), fmt.Sprintf("session-%d", n)
	exp := time.Now().Add(s.TTL)
	valid := exp
	if s.Valid > 0 {
		valid = time.Now().Add(s.Valid)
	}
	s.Keys.Add(id, secret, token, valid)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>%s/aigw</Arn><AssumedRoleId>AROAFAKE:aigw</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r%d</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
		id, secret, token, exp.UTC().Format(time.RFC3339Nano), form.Get("RoleArn"), n)
}
