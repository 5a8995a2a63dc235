package backendauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// gcpScope is the OAuth2 scope Vertex AI takes.
const gcpScope = "https://www.googleapis.com/auth/cloud-platform"

// tokenFetchTimeout bounds one token request to an identity provider, so a hung token endpoint
// fails requests instead of holding them.
const tokenFetchTimeout = 30 * time.Second

// gcpCredentialTypes are the credential file types aigw accepts, by their "type" field: a
// service-account key, an external account (Workload Identity Federation), a gcloud user login
// and an impersonated service account.
var gcpCredentialTypes = map[string]google.CredentialsType{
	string(google.ServiceAccount):                google.ServiceAccount,
	string(google.ExternalAccount):               google.ExternalAccount,
	string(google.AuthorizedUser):                google.AuthorizedUser,
	string(google.ExternalAccountAuthorizedUser): google.ExternalAccountAuthorizedUser,
	string(google.ImpersonatedServiceAccount):    google.ImpersonatedServiceAccount,
}

// gcpHandler puts a Google OAuth2 access token on Vertex AI requests and roots their paths at
// the policy's project and location. Vertex translators write paths relative to the location
// ("/publishers/google/models/<model>:generateContent"); the handler prefixes
// "/v1/projects/<project>/locations/<region>".
type gcpHandler struct {
	auth   *config.Auth
	prefix string
	ts     oauth2.TokenSource // cached; refreshed before expiry
}

func newGCPHandler(b *config.Backend) (Handler, error) {
	g := b.Auth.GCP
	if g == nil || g.Project == "" || g.Region == "" {
		return nil, fmt.Errorf("backend %s: GCPCredentials needs a project and a region", b.Name)
	}
	ts, err := gcpTokenSource(g)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", b.Name, err)
	}
	return &gcpHandler{auth: b.Auth, prefix: g.VertexPathPrefix(), ts: ts}, nil
}

// gcpTokenSource makes the token source of a credential: Workload Identity Federation from the
// policy, its file's JSON when given, else Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the metadata
// server). Nothing is fetched until the first request.
func gcpTokenSource(g *config.GCPAuth) (oauth2.TokenSource, error) {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: tokenFetchTimeout})
	data := []byte(g.CredentialsJSON.Reveal())
	if g.CredentialsFile != "" {
		b, err := os.ReadFile(g.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("gcp credentials file: %w", err)
		}
		data = b
	}
	if w := g.WorkloadIdentity; w != nil {
		ts, err := gcpWorkloadIdentitySource(w, nil)
		if err != nil {
			return nil, err
		}
		return oauth2.ReuseTokenSource(nil, ts), nil
	}
	var creds *google.Credentials
	if len(data) == 0 {
		c, err := google.FindDefaultCredentialsWithParams(ctx, google.CredentialsParams{
			Scopes:            []string{gcpScope},
			EarlyTokenRefresh: 5 * time.Minute,
		})
		if err != nil {
			return nil, fmt.Errorf("gcp application default credentials: %w", err)
		}
		creds = c
	} else {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, errors.New("gcp credentials: the credential file is not JSON")
		}
		t, ok := gcpCredentialTypes[head.Type]
		if !ok {
			return nil, fmt.Errorf("gcp credentials: credential file type %q is not one of service_account, external_account, authorized_user, external_account_authorized_user, impersonated_service_account", head.Type)
		}
		c, err := google.CredentialsFromJSONWithTypeAndParams(ctx, data, t, google.CredentialsParams{Scopes: []string{gcpScope}})
		if err != nil {
			return nil, fmt.Errorf("gcp credentials: %w", err)
		}
		creds = c
	}
	// The credential's own source already caches; this one is the single place every request of
	// the backend takes its token from, refreshed when the current one is about to expire.
	return oauth2.ReuseTokenSource(nil, creds.TokenSource), nil
}

func (h *gcpHandler) Do(_ context.Context, up *translate.Upstream) error {
	if strings.HasPrefix(up.Path, "/publishers/") {
		up.Path = h.prefix + up.Path
	}
	token := ""
	if o := h.auth.Override; o != nil {
		token = up.Header.Get(o.Header)
		up.Header.Del(o.Header)
		if token == "" && !o.FallbackToConfigured {
			return fmt.Errorf("%w: the request has no %s header", ErrMissingCredential, o.Header)
		}
	}
	if token == "" {
		t, err := h.ts.Token()
		if err != nil {
			return translate.Errorf(http.StatusBadGateway, "backend_auth", "gcp access token: %v", redactTokenError(err))
		}
		token = t.AccessToken
	}
	for _, name := range clientCredentialHeaders {
		up.Header.Del(name)
	}
	up.Header.Set("Authorization", "Bearer "+token)
	return nil
}

// redactTokenError keeps an identity provider's error short: its status and error code, never a
// response body that could echo a credential.
func redactTokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = re.Response.Status
		}
		return fmt.Errorf("the token endpoint refused: %s", code)
	}
	return err
}
