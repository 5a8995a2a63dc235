package config

import "strings"

// Cloud credentials: the typed forms of GCPCredentials and AzureCredentials that the backendauth
// handlers read. Secrets in them are Secret values, so they never print.

// Credential kinds with the reference's BackendSecurityPolicy type names (cloud providers).
const (
	AuthGCPCredentials   AuthType = "GCPCredentials"   // OAuth2 access token for Vertex AI
	AuthAzureCredentials AuthType = "AzureCredentials" // Entra ID access token for Azure OpenAI
)

// GCPAuth is a Google Cloud credential and where the Vertex AI API is called.
type GCPAuth struct {
	// Project and Region name the Vertex AI location requests go to; Region "global" has no
	// regional host.
	Project, Region string
	// CredentialsJSON is a credential file's content: a service-account key, an external account
	// (Workload Identity Federation) or an authorized user. Empty uses Application Default
	// Credentials.
	CredentialsJSON Secret
	// CredentialsFile is a path to such a file, read when the handler is built; an alternative to
	// CredentialsJSON.
	CredentialsFile string
}

// VertexPathPrefix is the path every Vertex AI model call of this credential hangs under:
// /v1/projects/<project>/locations/<region>.
func (g *GCPAuth) VertexPathPrefix() string {
	return "/v1/projects/" + g.Project + "/locations/" + g.Region
}

// VertexHost is the host of the Vertex AI API for the region: <region>-aiplatform.googleapis.com,
// or aiplatform.googleapis.com for the global region.
func (g *GCPAuth) VertexHost() string {
	if g.Region == "" || strings.EqualFold(g.Region, "global") {
		return "aiplatform.googleapis.com"
	}
	return g.Region + "-aiplatform.googleapis.com"
}

// AzureAuth is a Microsoft Entra ID application (or managed identity) that gets tokens for Azure
// OpenAI.
type AzureAuth struct {
	TenantID, ClientID string
	// ClientSecret authenticates the application with a secret (client credentials).
	ClientSecret Secret
	// FederatedTokenFile is a file holding a federated token (Kubernetes workload identity); it is
	// re-read whenever a new access token is needed.
	FederatedTokenFile string
	// ManagedIdentity uses the host's managed identity (ClientID, when set, picks a user-assigned
	// one).
	ManagedIdentity bool
	// AuthorityHost is the Entra ID endpoint; empty is the public cloud's.
	AuthorityHost string
	// Scope is the token's scope; empty is https://cognitiveservices.azure.com/.default.
	Scope string
}
