package config

// Exported names for the CRD types of crd_types.go, so that k8sgen writes manifests with the very
// types the loader reads (one definition of every field, checked against the CRD schemas by
// TestTypesCoverCRDs). They are aliases: the loader keeps its own names.
type (
	CRDObject[S any]          = object[S]
	ObjectMeta                = objectMeta
	AIGatewayRouteSpec        = aiGatewayRouteSpec
	ParentRef                 = parentRef
	RouteRule                 = routeRule
	RouteMatch                = routeMatch
	CRDHeaderMatch            = headerMatch
	RouteTimeouts             = routeTimeouts
	RouteBackendRef           = routeBackendRef
	CRDHeaderMutation         = headerMutation
	HTTPHeader                = httpHeader
	CRDBodyMutation           = bodyMutation
	CRDBodyField              = bodyField
	LLMRequestCost            = llmRequestCost
	AIServiceBackendSpec      = aiServiceBackendSpec
	APISchema                 = apiSchema
	BackendObjRef             = backendObjRef
	BackendSecurityPolicySpec = backendSecurityPolicySpec
	CRDTargetRef              = crdTargetRef
	PolicyTargetRef           = policyTargetRef
	SecretKeyRef              = secretKeyRef
	SecretObjRef              = secretObjRef
	CRDCredentialOverride     = credentialOverride
	FromRequestHeaders        = fromRequestHeaders
	GatewayConfigSpec         = gatewayConfigSpec
	EGBackendSpec             = egBackendSpec
	EGEndpoint                = egEndpoint
	EGFQDN                    = egFQDN
	EGIP                      = egIP
	EGTLS                     = egTLS
	LocalObjectRef            = objectRef
	BackendTrafficPolicySpec  = backendTrafficPolicySpec
	BTPRetry                  = btpRetry
	BTPRetryOn                = btpRetryOn
	BTPPerRetry               = btpPerRetry
	BTPBackOff                = btpBackOff
	GatewaySpec               = gatewaySpec
	GatewayListener           = listener
	GatewayClassSpec          = gatewayClassSpec
	BackendTLSPolicySpec      = backendTLSPolicySpec
	ConfigMapObject           = configMapObject

	// MCPRoute (crd_types.go, crd_mcproute.go). The Model has types of the same meaning
	// (MCPAuthorization, ...); the CRD forms are prefixed with CRD where the names would clash.
	MCPRouteSpec             = mcpRouteSpec
	MCPBackendRef            = mcpBackendRef
	MCPToolSelector          = toolSelector
	MCPBackendSecurityPolicy = mcpBackendSecurityPolicy
	MCPBackendAPIKey         = mcpBackendAPIKey
	MCPSecurityPolicy        = mcpSecurityPolicy
	MCPOAuth                 = mcpOAuth
	MCPJWKS                  = mcpJWKS
	MCPRemoteJWKS            = mcpRemoteJWKS
	MCPLocalJWKS             = mcpLocalJWKS
	CRDMCPResourceMetadata   = mcpResourceMetadata
	CRDMCPClaimToHeader      = mcpClaimToHeader
	CRDMCPAuthorization      = mcpAuthorization
	CRDMCPAuthRule           = mcpAuthRule
	MCPAuthSource            = mcpAuthSource
	MCPJWTSource             = mcpJWTSource
	MCPJWTClaim              = mcpJWTClaim
	MCPAuthTarget            = mcpAuthTarget
	MCPToolCall              = mcpToolCall
	MCPBackendSelector       = mcpBackendSelector
	MCPBackendSelectorRule   = mcpBackendSelectorRule
	CRDMCPForwardHeader      = forwardHeader
	CRDMCPAPIKeyAuth         = mcpAPIKeyAuth
	MCPExtractFrom           = mcpExtractFrom

	// Cloud credentials of a BackendSecurityPolicy (crd_types.go, auth_aws.go). The loader keeps
	// oidcExchangeToken as a node and decodes it as AWSOIDCExchangeToken.
	AWSCredentials       = awsCredentials
	AWSCredentialsFile   = awsFile
	AzureCredentials     = azureCredentials
	GCPCredentials       = gcpCredentials
	AWSOIDCExchangeToken = crdAWSOIDCExchange
	CRDOIDC              = crdOIDC
	CRDOIDCProvider      = crdOIDCProvider
)

// Names the loader gives meaning to, for writers of CRD YAML.
const (
	GroupAIGateway  = groupAIGateway
	GroupEG         = groupEG
	GroupGatewayAPI = groupGatewayAPI
	// GatewayConfigAnnotation on a Gateway names the GatewayConfig whose costs apply.
	GatewayConfigAnnotation = gatewayConfigAnnotation
	// SubstEnvPrefix + key on a Secret names the environment variable that supplies key.
	SubstEnvPrefix = substEnvPrefix
	// SubstFilePrefix + key on a Secret names the file whose content is key's value.
	SubstFilePrefix = substFilePrefix
	// SecretAPIKey is the key a BackendSecurityPolicy reads from its Secret.
	SecretAPIKey                  = secretAPIKey
	MaxOutputTokensAnnotation     = maxOutputTokensAnnotation
	ChatCompletionsOnlyAnnotation = chatCompletionsOnlyAnnotation
	DefaultModelsOwnedBy          = defaultModelsOwnedBy
)
