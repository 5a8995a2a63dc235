package backendauth

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aigw/aigw/internal/config"
)

// fileCredentials are the static keys of one profile of a shared credentials file.
type fileCredentials struct{ id, secret, token string }

// parseCredentialsFile reads the profile's keys from the content of a shared credentials file
// (INI: [profile] sections of key = value lines, # and ; comments). The content comes from a
// Secret and never touches the disk. A profile that names another source (role_arn,
// credential_process, sso_*) is refused: only static keys can live in a Secret.
func parseCredentialsFile(content, profile string) (fileCredentials, error) {
	if profile == "" {
		profile = "default"
	}
	var c fileCredentials
	found := false
	section := ""
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			section = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[1:len(line)-1]), "profile "))
			found = found || section == profile
			continue
		}
		if section != profile {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "aws_access_key_id":
			c.id = v
		case "aws_secret_access_key":
			c.secret = v
		case "aws_session_token":
			c.token = v
		case "role_arn", "credential_process", "sso_session", "sso_start_url", "source_profile", "web_identity_token_file":
			return c, fmt.Errorf("profile %q uses %s; a credentials file in a Secret must hold static keys (use the default credential chain for other sources)", profile, k)
		}
	}
	switch {
	case !found:
		return c, fmt.Errorf("profile %q is not in the credentials file", profile)
	case c.id == "" || c.secret == "":
		return c, fmt.Errorf("profile %q has no aws_access_key_id and aws_secret_access_key", profile)
	}
	return c, nil
}

// newOIDCRoleProvider exchanges an OIDC provider's token for the role's credentials
// (oidcExchangeToken): the token from the provider's token endpoint (client credentials
// grant), then STS AssumeRoleWithWebIdentity in the policy's region. STS is reached as the SDK
// resolves it (AWS_ENDPOINT_URL_STS included), without credentials of its own.
func newOIDCRoleProvider(a *config.AWSAuth) (aws.CredentialsProvider, error) {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion(a.Region), awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}))
	if err != nil {
		return nil, err
	}
	tok := &oidcToken{x: a.OIDC, client: &http.Client{Timeout: 30 * time.Second}}
	return stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), a.OIDC.RoleARN, tok, func(o *stscreds.WebIdentityRoleOptions) {
		o.RoleSessionName = "aigw"
	}), nil
}

// oidcToken fetches the token an OIDC exchange presents to STS.
type oidcToken struct {
	x      *config.AWSOIDCExchange
	client *http.Client

	mu       sync.Mutex
	endpoint string // the token endpoint, once known
}

// GetIdentityToken implements stscreds.IdentityTokenRetriever.
func (o *oidcToken) GetIdentityToken() ([]byte, error) {
	ep, err := o.tokenEndpoint()
	if err != nil {
		return nil, err
	}
	grant := o.x.GrantType
	if grant == "" {
		grant = "client_credentials"
	}
	form := url.Values{"grant_type": {grant}, "client_id": {o.x.ClientID}, "client_secret": {o.x.ClientSecret.Reveal()}}
	if len(o.x.Scopes) > 0 {
		form.Set("scope", strings.Join(o.x.Scopes, " "))
	}
	if o.x.Audience != "" {
		form.Set("audience", o.x.Audience)
	}
	resp, err := o.client.PostForm(ep, form)
	if err != nil {
		return nil, fmt.Errorf("OIDC token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("OIDC token endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OIDC token endpoint %s answered %s", ep, resp.Status)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("OIDC token endpoint: the answer is not a token response: %w", err)
	}
	// An ID token is what STS verifies when the provider issues one; otherwise the access token
	// (a JWT at every provider STS federates with).
	if t.IDToken != "" {
		return []byte(t.IDToken), nil
	}
	if t.AccessToken == "" {
		return nil, errors.New("OIDC token endpoint: the answer has no token")
	}
	return []byte(t.AccessToken), nil
}

// tokenEndpoint is the configured token endpoint, or the issuer's discovered one.
func (o *oidcToken) tokenEndpoint() (string, error) {
	if o.x.TokenEndpoint != "" {
		return o.x.TokenEndpoint, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.endpoint != "" {
		return o.endpoint, nil
	}
	u := strings.TrimSuffix(o.x.Issuer, "/") + "/.well-known/openid-configuration"
	resp, err := o.client.Get(u)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("OIDC discovery %s answered %s", u, resp.Status)
	}
	var d struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil || d.TokenEndpoint == "" {
		return "", fmt.Errorf("OIDC discovery %s: no token_endpoint", u)
	}
	o.endpoint = d.TokenEndpoint
	return o.endpoint, nil
}
