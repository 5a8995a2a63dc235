package backendauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aigw/aigw/internal/backendauth/awsfake"
	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// noIMDS keeps every test in this file away from the instance metadata address and from the
// machine's own AWS configuration.
func noIMDS(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(v, "")
	}
}

func awsBackend(t *testing.T, a *config.AWSAuth) *config.Backend {
	t.Helper()
	u, _ := url.Parse("https://bedrock-runtime.us-east-1.amazonaws.com")
	return &config.Backend{Name: "bedrock", Endpoint: u, Auth: &config.Auth{Type: config.AuthAWSCredentials, AWS: a}}
}

// signAndVerify signs a Converse request with h and checks it as the service would.
func signAndVerify(t *testing.T, h Handler, keys *awsfake.Keys, region string, mutate func(*http.Request, *[]byte)) error {
	t.Helper()
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	up := &translate.Upstream{Method: http.MethodPost, Path: "/model/" + url.PathEscape("us.anthropic.claude-3-5-haiku-20241022-v1:0") + "/converse", Header: http.Header{}, Body: body}
	up.Path = strings.ReplaceAll(up.Path, ":", "%3A")
	up.Header.Set("Content-Type", "application/json")
	up.Header.Set("Authorization", "Bearer client-key")
	up.Header.Set("X-Request-Id", "changed-after-signing-is-fine")
	if err := h.Do(context.Background(), up); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if strings.Contains(up.Header.Get("Authorization"), "client-key") {
		t.Fatal("the client's key reached the upstream request")
	}
	r := httptest.NewRequest(up.Method, "https://bedrock-runtime.us-east-1.amazonaws.com"+up.Path, nil)
	r.Header = up.Header.Clone()
	r.Header.Set("X-Request-Id", "other")
	if mutate != nil {
		mutate(r, &body)
	}
	return keys.Verify(r, body, "bedrock", region)
}

func TestAWSStaticCredentialsFile(t *testing.T) {
	noIMDS(t)
	keys := &awsfake.Keys{}
	keys.Add("AKIAFILE", "file-secret", "", time.Time{})
	file := "# comment\n[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = x\n\n[profile bedrock]\naws_access_key_id=AKIAFILE\naws_secret_access_key = file-secret\n"
	h, err := New(awsBackend(t, &config.AWSAuth{Region: "us-east-1", CredentialsFile: config.Secret(file), Profile: "bedrock"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := signAndVerify(t, h, keys, "us-east-1", nil); err != nil {
		t.Fatalf("a correctly signed request was refused: %v", err)
	}
	// The fake refuses what the real service refuses: another body, region or key.
	if err := signAndVerify(t, h, keys, "us-west-2", nil); err == nil {
		t.Error("a request signed for us-east-1 verified for us-west-2")
	}
	if err := signAndVerify(t, h, keys, "us-east-1", func(_ *http.Request, b *[]byte) { *b = append(*b, ' ') }); err == nil {
		t.Error("a changed body verified")
	}
	if err := signAndVerify(t, h, keys, "us-east-1", func(r *http.Request, _ *[]byte) { r.URL.Path = "/model/other/converse"; r.URL.RawPath = "" }); err == nil {
		t.Error("a changed path verified")
	}
	wrong := &awsfake.Keys{}
	wrong.Add("AKIAFILE", "another-secret", "", time.Time{})
	if err := signAndVerify(t, h, wrong, "us-east-1", nil); err == nil {
		t.Error("a request signed with another secret verified")
	}
}

func TestAWSCredentialsFileErrors(t *testing.T) {
	noIMDS(t)
	cases := []struct{ file, profile, want string }{
		{"[default]\naws_access_key_id=a\naws_secret_access_key=b\n", "prod", `profile "prod" is not in the credentials file`},
		{"[default]\naws_access_key_id=a\n", "", `profile "default" has no aws_access_key_id`},
		{"[default]\nrole_arn=arn:aws:iam::1:role/x\nsource_profile=y\n", "", "uses role_arn"},
	}
	for _, c := range cases {
		_, err := New(awsBackend(t, &config.AWSAuth{Region: "us-east-1", CredentialsFile: config.Secret(c.file), Profile: c.profile}))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "credentials file") {
			t.Errorf("profile %q: err = %v, want one naming the credentials file and %q", c.profile, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "b\n") {
			t.Errorf("the error shows the file: %v", err)
		}
	}
}

func TestAWSDefaultChainFromEnvironment(t *testing.T) {
	noIMDS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_SESSION_TOKEN", "env-token")
	keys := &awsfake.Keys{}
	keys.Add("AKIAENV", "env-secret", "env-token", time.Time{})
	h, err := New(awsBackend(t, &config.AWSAuth{Region: "eu-central-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := signAndVerify(t, h, keys, "eu-central-1", nil); err != nil {
		t.Fatalf("refused: %v", err)
	}
}

func TestAWSDefaultChainNothingFound(t *testing.T) {
	noIMDS(t)
	h, err := New(awsBackend(t, &config.AWSAuth{Region: "us-east-1"}))
	if err != nil {
		t.Fatal(err)
	}
	up := &translate.Upstream{Method: "POST", Path: "/model/m/converse", Header: http.Header{}}
	err = h.Do(context.Background(), up)
	if err == nil || !strings.Contains(err.Error(), "default credential chain") {
		t.Fatalf("err = %v, want one naming the default credential chain", err)
	}
}

// oidcProvider is a local OIDC provider with discovery and a client-credentials token endpoint.
func oidcProvider(t *testing.T, token string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"issuer":"` + srv.URL + `","token_endpoint":"` + srv.URL + `/token"}`))
		case "/token":
			_ = r.ParseForm()
			if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_id") != "aigw" || r.Form.Get("client_secret") != "oidc-secret" || r.Form.Get("scope") != "openid sts" {
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"` + token + `","token_type":"Bearer","expires_in":3600}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAWSOIDCExchangeAndRefresh(t *testing.T) {
	noIMDS(t)
	keys := &awsfake.Keys{}
	sts := awsfake.NewSTS(keys, "jwt-from-oidc", 3*time.Second)
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	idp := oidcProvider(t, "jwt-from-oidc")
	a := &config.AWSAuth{Region: "us-east-1", OIDC: &config.AWSOIDCExchange{
		Issuer: idp.URL, ClientID: "aigw", ClientSecret: "oidc-secret", Scopes: []string{"openid", "sts"},
		RoleARN: "arn:aws:iam::123456789012:role/bedrock",
	}}
	h, err := newAWSHandlerWindow(awsBackend(t, a), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := signAndVerify(t, h, keys, "us-east-1", nil); err != nil {
		t.Fatalf("refused: %v", err)
	}
	if err := signAndVerify(t, h, keys, "us-east-1", nil); err != nil {
		t.Fatalf("refused: %v", err)
	}
	if n := sts.Calls.Load(); n != 1 {
		t.Fatalf("STS calls = %d, want 1 (cached)", n)
	}
	// The keys live 3 s and are refreshed 2 s before they expire: after 1.2 s a new pair is used.
	time.Sleep(1200 * time.Millisecond)
	if err := signAndVerify(t, h, keys, "us-east-1", nil); err != nil {
		t.Fatalf("refused after refresh: %v", err)
	}
	if n := sts.Calls.Load(); n != 2 {
		t.Fatalf("STS calls = %d, want 2 (refreshed before expiry)", n)
	}
	if sts.Roles[0] != a.OIDC.RoleARN {
		t.Errorf("role = %q", sts.Roles[0])
	}
}

func TestAWSOIDCExchangeFailureNamesSource(t *testing.T) {
	noIMDS(t)
	keys := &awsfake.Keys{}
	sts := awsfake.NewSTS(keys, "jwt-from-oidc", time.Hour)
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	idp := oidcProvider(t, "jwt-from-oidc")
	a := &config.AWSAuth{Region: "us-east-1", OIDC: &config.AWSOIDCExchange{
		Issuer: idp.URL, ClientID: "aigw", ClientSecret: "wrong", RoleARN: "arn:aws:iam::1:role/r",
	}}
	h, err := New(awsBackend(t, a))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Do(context.Background(), &translate.Upstream{Method: "POST", Path: "/model/m/converse", Header: http.Header{}})
	if err == nil || !strings.Contains(err.Error(), "OIDC exchange for role arn:aws:iam::1:role/r") || !strings.Contains(err.Error(), "token endpoint") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the client secret is in the error: %v", err)
	}
}

func TestAWSCredentialOverride(t *testing.T) {
	noIMDS(t)
	keys := &awsfake.Keys{}
	keys.Add("AKIAREQ", "req-secret", "", time.Time{})
	b := awsBackend(t, &config.AWSAuth{Region: "us-east-1"})
	b.Auth.Override = &config.CredentialOverride{Header: "x-aigw-aws-"}
	h, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	up := &translate.Upstream{Method: "POST", Path: "/model/m/converse", Header: http.Header{}}
	if err := h.Do(context.Background(), up); !errors.Is(err, ErrMissingCredential) {
		t.Fatalf("no override headers: err = %v, want ErrMissingCredential", err)
	}
	up.Header.Set("X-Aigw-Aws-Access-Key-Id", "AKIAREQ")
	up.Header.Set("X-Aigw-Aws-Secret-Access-Key", "req-secret")
	if err := h.Do(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	if up.Header.Get("X-Aigw-Aws-Secret-Access-Key") != "" {
		t.Error("the override header reached the upstream")
	}
	r := httptest.NewRequest("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", nil)
	r.Header = up.Header
	if err := keys.Verify(r, nil, "bedrock", "us-east-1"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAWSSign is the SigV4 cost of one Converse request of about 1 KiB with static keys.
func BenchmarkAWSSign(b *testing.B) {
	u, _ := url.Parse("https://bedrock-runtime.us-east-1.amazonaws.com")
	h, err := New(&config.Backend{Name: "bedrock", Endpoint: u, Auth: &config.Auth{Type: config.AuthAWSCredentials, AWS: &config.AWSAuth{
		Region: "us-east-1", CredentialsFile: "[default]\naws_access_key_id = AKIABENCH\naws_secret_access_key = s\n", Profile: "default"}}})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("x", 1000) + `"}]}]}`)
	b.ReportAllocs()
	for b.Loop() {
		up := &translate.Upstream{Method: http.MethodPost, Path: "/model/amazon.nova-pro-v1%3A0/converse", Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
		if err := h.Do(context.Background(), up); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAWSSigningPath: a path put on the URL unparsed (u.Opaque) is signed exactly as the
// parsed path was, and the usual Bedrock paths take that way.
func TestAWSSigningPath(t *testing.T) {
	paths := []struct {
		path  string
		plain bool
	}{
		{"/model/amazon.nova-pro-v1%3A0/converse", true},
		{"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream", true},
		{"/model/amazon.titan-embed-text-v2%3A0/invoke", true},
		{"/model/a%20b%2Bc%3Fd%23e/invoke-with-response-stream", true},
		{"/model/x%3a0/converse", true},
		{"/model/%41%7e~/converse", true},
		{"/", true},
		{"/model/a:b/converse", false},
		{"/model/a b/converse", false},
		{"/model/x/converse?trace=1&a=b", false},
		{"/model/%zz/converse", false},
		{"/model/%4/converse", false},
		{"//host/converse", false},
		{"model/x", false},
	}
	for _, c := range paths {
		if got := plainEscapedPath(c.path); got != c.plain {
			t.Errorf("%s: plain %v, want %v", c.path, got, c.plain)
		}
		checkSigningPath(t, c.path)
	}
}

// FuzzAWSSigningPath: whatever the path, it is signed as the parsed path is.
func FuzzAWSSigningPath(f *testing.F) {
	for _, p := range []string{"/model/amazon.nova-pro-v1%3A0/converse", "/a%2fb/%41", "/x?y=1", "//h/p", "/%zz"} {
		f.Add(p)
	}
	f.Fuzz(checkSigningPath)
}

// checkSigningPath fails when setSigningPath's URL is signed differently from the URL of the
// parsed path, or accepts a path url.Parse refuses.
func checkSigningPath(t *testing.T, path string) {
	t.Helper()
	endpoint, _ := url.Parse("https://bedrock-runtime.us-east-1.amazonaws.com")
	creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sign := func(u *url.URL) string {
		r := &http.Request{Method: http.MethodPost, URL: u, Host: u.Host, Header: http.Header{"Content-Type": {"application/json"}}}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, strings.Repeat("0", 64), "bedrock", "us-east-1", when); err != nil {
			t.Fatal(err)
		}
		return r.Header.Get("Authorization")
	}
	parsed, err := url.Parse(path)
	got := *endpoint
	if gerr := setSigningPath(&got, path); err != nil || gerr != nil {
		if (err == nil) != (gerr == nil) {
			t.Errorf("%q: url.Parse: %v, setSigningPath: %v", path, err, gerr)
		}
		return
	}
	want := *endpoint
	want.Path, want.RawPath, want.RawQuery = parsed.Path, parsed.RawPath, parsed.RawQuery
	if a, b := sign(&got), sign(&want); a != b {
		t.Errorf("%q: signed as\n%s\nwant\n%s", path, a, b)
	}
}

// TestAWSSignConcurrent: requests signed at once, each with its own body, path and session
// token, all verify, and none carries another's headers (the signing requests are pooled).
func TestAWSSignConcurrent(t *testing.T) {
	noIMDS(t)
	keys := &awsfake.Keys{}
	keys.Add("AKIACONC", "conc-secret", "tok", time.Time{})
	file := "[default]\naws_access_key_id = AKIACONC\naws_secret_access_key = conc-secret\naws_session_token = tok\n"
	h, err := New(awsBackend(t, &config.AWSAuth{Region: "us-east-1", CredentialsFile: config.Secret(file), Profile: "default"}))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				body := []byte(fmt.Sprintf(`{"messages":[{"role":"user","content":[{"text":"%d-%d"}]}]}`, g, i))
				path := fmt.Sprintf("/model/m%d%%3A%d/converse", g, i)
				if i%2 == 1 {
					path += "?x=" + strconv.Itoa(i)
				}
				up := &translate.Upstream{Method: http.MethodPost, Path: path, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
				if err := h.Do(context.Background(), up); err != nil {
					errs <- err
					return
				}
				r := httptest.NewRequest(up.Method, "https://bedrock-runtime.us-east-1.amazonaws.com"+path, nil)
				r.Header = up.Header
				if err := keys.Verify(r, body, "bedrock", "us-east-1"); err != nil {
					errs <- fmt.Errorf("%s: %w", path, err)
					return
				}
				if len(up.Header["Authorization"]) != 1 || len(up.Header["X-Amz-Date"]) != 1 || up.Header.Get("X-Amz-Security-Token") != "tok" {
					errs <- fmt.Errorf("%s: headers %v", path, up.Header)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
