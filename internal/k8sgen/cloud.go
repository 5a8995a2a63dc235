package k8sgen

import (
	"encoding/json"
	"os"

	"github.com/aigw/aigw/internal/config"
)

// This file renders the cloud credentials of a BackendSecurityPolicy: AWSCredentials (region,
// a credentials file Secret and its profile, or an OIDC token exchanged for a role),
// GCPCredentials (project, region, a service account key Secret) and AzureCredentials (tenant,
// client, a client secret Secret). Every credential value is a Secret with Placeholder unless
// real values are asked for; what has no field in the CRD (the default credential chains,
// managed identities) is a warning saying what the cluster does instead.

// Secret keys the loader (and Envoy AI Gateway) read for each cloud credential.
const (
	awsCredentialsKey = "credentials"
	oidcClientSecret  = "client-secret"
	gcpCredentialsKey = "service_account.json"
	azureClientSecret = "client-secret"
)

// cloudAuth fills spec with the credential of a cloud policy and renders its Secrets. It returns
// false when the credential cannot be rendered (a warning says why).
func (r *renderer) cloudAuth(name string, b *config.Backend, spec *config.BackendSecurityPolicySpec) (*config.AWSOIDCExchangeToken, bool) {
	a := b.Auth
	switch a.Type {
	case config.AuthAWSCredentials:
		return r.awsAuth(name, b, spec)
	case config.AuthGCPCredentials:
		return nil, r.gcpAuth(name, b, spec)
	case config.AuthAzureCredentials:
		return nil, r.azureAuth(name, b, spec)
	}
	r.warnf("backend %q: credential type %s is not rendered", b.Name, a.Type)
	return nil, false
}

// awsAuth returns the oidcExchangeToken to write, when there is one: the loader's type keeps it
// as a YAML node, so it is written through awsPolicy.
func (r *renderer) awsAuth(name string, b *config.Backend, spec *config.BackendSecurityPolicySpec) (*config.AWSOIDCExchangeToken, bool) {
	aws := b.Auth.AWS
	if aws == nil || aws.Region == "" {
		r.warnf("backend %q: AWSCredentials without a region cannot be rendered", b.Name)
		return nil, false
	}
	spec.AWSCredentials = &config.AWSCredentials{Region: aws.Region}
	switch {
	case aws.OIDC != nil:
		o := aws.OIDC
		secret := r.secretNames.name(name+"-oidc-client", 0)
		x := &config.AWSOIDCExchangeToken{
			OIDC: config.CRDOIDC{
				Provider:     config.CRDOIDCProvider{Issuer: o.Issuer, TokenEndpoint: o.TokenEndpoint},
				ClientID:     o.ClientID,
				ClientSecret: config.SecretObjRef{Name: secret},
				Scopes:       o.Scopes,
			},
			GrantType:  o.GrantType,
			Aud:        o.Audience,
			AWSRoleArn: o.RoleARN,
		}
		if o.Issuer == "" {
			// The CRD requires the issuer; the token endpoint's origin is the usual one.
			r.warnf("backend %q: the OIDC provider has a token endpoint but no issuer; the CRD requires one: set oidcExchangeToken.oidc.provider.issuer", b.Name)
		}
		r.secret(secret, oidcClientSecret, o.ClientSecret.Reveal(), o.ClientSecretSource)
		return x, true
	case aws.CredentialsFile != "":
		secret := r.secretNames.name(name+"-aws-credentials", 0)
		spec.AWSCredentials.CredentialsFile = &config.AWSCredentialsFile{SecretRef: config.SecretObjRef{Name: secret}, Profile: aws.Profile}
		r.fileSecret(secret, awsCredentialsKey, aws.CredentialsFile.Reveal(), b.Auth.Source)
	default:
		r.warnf("backend %q: AWS credentials come from the default chain; in the cluster that is the pod's identity (EKS Pod Identity or IRSA on Envoy AI Gateway's extproc), which you set up there", b.Name)
	}
	return nil, true
}

func (r *renderer) gcpAuth(name string, b *config.Backend, spec *config.BackendSecurityPolicySpec) bool {
	g := b.Auth.GCP
	if g == nil || g.Project == "" || g.Region == "" {
		r.warnf("backend %q: GCPCredentials without a project and region cannot be rendered", b.Name)
		return false
	}
	spec.GCPCredentials = &config.GCPCredentials{ProjectName: g.Project, Region: g.Region}
	value, source := g.CredentialsJSON.Reveal(), b.Auth.Source
	if value == "" && g.CredentialsFile != "" {
		source = "file:" + g.CredentialsFile
		if r.opts.IncludeSecrets {
			data, err := os.ReadFile(g.CredentialsFile)
			if err != nil {
				r.warnf("backend %q: reading its credentials file for --include-secrets: %v; a placeholder is written", b.Name, err)
			}
			value = string(data)
		}
	}
	if value == "" && source == "" {
		r.warnf("backend %q: Google credentials come from Application Default Credentials; in the cluster that is the pod's identity (GKE Workload Identity on Envoy AI Gateway's extproc), which you set up there", b.Name)
		return true
	}
	secret := r.secretNames.name(name+"-gcp-credentials", 0)
	spec.GCPCredentials.CredentialsFile = &config.SecretKeyRef{SecretRef: config.SecretObjRef{Name: secret}}
	r.fileSecret(secret, gcpCredentialsKey, value, source)
	return true
}

func (r *renderer) azureAuth(name string, b *config.Backend, spec *config.BackendSecurityPolicySpec) bool {
	az := b.Auth.Azure
	if az == nil || az.TenantID == "" || az.ClientID == "" {
		r.warnf("backend %q: AzureCredentials without a tenant and client id cannot be rendered", b.Name)
		return false
	}
	if az.ClientSecret == "" {
		// The CRD takes a client secret or an OIDC token exchange, neither of which this is.
		how := "a managed identity"
		if az.FederatedTokenFile != "" {
			how = "a federated token file (workload identity)"
		}
		r.warnf("backend %q: its Entra ID credential is %s, which an AzureCredentials policy cannot say; not rendered: give the policy a clientSecretRef or an oidcExchangeToken in the cluster", b.Name, how)
		return false
	}
	if az.AuthorityHost != "" {
		r.warnf("backend %q: the Entra ID authority host is kept in the %s annotation, which Envoy AI Gateway ignores: the cluster uses the public cloud's", b.Name, config.AzureAuthorityHostAnnotation)
	}
	if az.Scope != "" {
		r.warnf("backend %q: the Entra ID token scope has no field in AzureCredentials; the cluster uses the default scope", b.Name)
	}
	secret := r.secretNames.name(name+"-azure-client-secret", 0)
	spec.AzureCredentials = &config.AzureCredentials{ClientID: az.ClientID, TenantID: az.TenantID, ClientSecretRef: &config.SecretObjRef{Name: secret}}
	r.secret(secret, azureClientSecret, az.ClientSecret.Reveal(), b.Auth.Source)
	return true
}

// fileSecret is a Secret whose value is a file's content (a credentials file, a service account
// key), for which the kubectl hint is --from-file.
func (r *renderer) fileSecret(name, key, value, source string) {
	r.secret(name, key, value, source)
	r.res.Secrets[len(r.res.Secrets)-1].File = true
}

// awsPolicy is a BackendSecurityPolicy whose awsCredentials.oidcExchangeToken, a YAML node in
// the loader's type, is written from the loader's own type for that subtree.
type awsPolicy struct {
	*config.CRDObject[config.BackendSecurityPolicySpec]
	oidc *config.AWSOIDCExchangeToken
}

// MarshalJSON writes the policy with its oidcExchangeToken.
func (p awsPolicy) MarshalJSON() ([]byte, error) {
	m, err := Plain(p.CRDObject)
	if err != nil {
		return nil, err
	}
	x, err := Plain(p.oidc)
	if err != nil {
		return nil, err
	}
	spec, _ := m["spec"].(map[string]any)
	aws, _ := spec["awsCredentials"].(map[string]any)
	if aws == nil {
		return json.Marshal(m)
	}
	aws["oidcExchangeToken"] = x
	return json.Marshal(m)
}
