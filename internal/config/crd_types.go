package config

import "go.yaml.in/yaml/v3"

// The typed form of the Kubernetes objects a CRD YAML file holds, as the strict decoder
// (decode.go) fills them. Field names follow the CRDs in ../shared/fixtures/crds (the contract)
// and Gateway API; a *yaml.Node field is a subtree aigw accepts without interpreting (it is still
// checked by the CRD schema test for the examples). A test walks these types against the CRD
// schemas so that a field the CRD allows is never rejected as unknown.

// objectMeta is the Kubernetes metadata aigw reads, plus what `kubectl get -o yaml` adds.
type objectMeta struct {
	Name              string            `json:"name" crd:"required"`
	Namespace         string            `json:"namespace"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
	UID               *yaml.Node        `json:"uid"`
	ResourceVersion   *yaml.Node        `json:"resourceVersion"`
	Generation        *yaml.Node        `json:"generation"`
	CreationTimestamp *yaml.Node        `json:"creationTimestamp"`
	DeletionTimestamp *yaml.Node        `json:"deletionTimestamp"`
	ManagedFields     *yaml.Node        `json:"managedFields"`
	Finalizers        *yaml.Node        `json:"finalizers"`
	OwnerReferences   *yaml.Node        `json:"ownerReferences"`
}

// object is a Kubernetes object with a spec.
type object[S any] struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata" crd:"required"`
	Spec       S          `json:"spec" crd:"required"`
	Status     *yaml.Node `json:"status"`
}

// --- aigateway.envoyproxy.io ---

type aiGatewayRouteSpec struct {
	ParentRefs      []parentRef      `json:"parentRefs"`
	Hostnames       []string         `json:"hostnames"`
	Rules           []routeRule      `json:"rules" crd:"required"`
	LLMRequestCosts []llmRequestCost `json:"llmRequestCosts"`
	// Schema was the route's input schema in early v1alpha1; aigw detects it from the endpoint.
	Schema *yaml.Node `json:"schema" crd:"deprecated=the input schema follows from the endpoint a client calls"`
	// FilterConfig was an early v1alpha1 field.
	FilterConfig *yaml.Node `json:"filterConfig" crd:"deprecated=remove it"`
}

type parentRef struct {
	Group       string `json:"group"`
	Kind        string `json:"kind"`
	Name        string `json:"name" crd:"required"`
	Namespace   string `json:"namespace"`
	Port        *int32 `json:"port"`
	SectionName string `json:"sectionName"`
}

type routeRule struct {
	Name              string            `json:"name"`
	Matches           []routeMatch      `json:"matches"`
	BackendRefs       []routeBackendRef `json:"backendRefs"`
	Timeouts          *routeTimeouts    `json:"timeouts"`
	StreamIdleTimeout string            `json:"streamIdleTimeout"`
	ModelsOwnedBy     *string           `json:"modelsOwnedBy"`
	ModelsCreatedAt   string            `json:"modelsCreatedAt"`
}

type routeMatch struct {
	Headers []headerMatch `json:"headers"`
}

type headerMatch struct {
	Type  string `json:"type" crd:"enum=Exact|RegularExpression"`
	Name  string `json:"name" crd:"required"`
	Value string `json:"value" crd:"required"`
}

type routeTimeouts struct {
	Request        string `json:"request"`
	BackendRequest string `json:"backendRequest"`
}

type routeBackendRef struct {
	Name              string          `json:"name" crd:"required"`
	Namespace         string          `json:"namespace"`
	Group             *string         `json:"group"`
	Kind              *string         `json:"kind"`
	Priority          *int32          `json:"priority"`
	Weight            *int32          `json:"weight"`
	ModelNameOverride string          `json:"modelNameOverride"`
	HeaderMutation    *headerMutation `json:"headerMutation"`
	BodyMutation      *bodyMutation   `json:"bodyMutation"`
}

type headerMutation struct {
	Set    []httpHeader `json:"set"`
	Remove []string     `json:"remove"`
}

type httpHeader struct {
	Name  string `json:"name" crd:"required"`
	Value string `json:"value" crd:"required"`
}

type bodyMutation struct {
	Set    []bodyField `json:"set"`
	Remove []string    `json:"remove"`
}

type bodyField struct {
	Path  string `json:"path" crd:"required"`
	Value string `json:"value" crd:"required"`
}

type llmRequestCost struct {
	MetadataKey string `json:"metadataKey" crd:"required"`
	Type        string `json:"type" crd:"required,enum=OutputToken|InputToken|CachedInputToken|CacheCreationInputToken|TotalToken|ReasoningToken|CEL"`
	CEL         string `json:"cel"`
}

type aiServiceBackendSpec struct {
	Schema         apiSchema       `json:"schema" crd:"required"`
	BackendRef     backendObjRef   `json:"backendRef" crd:"required"`
	HeaderMutation *headerMutation `json:"headerMutation"`
	BodyMutation   *bodyMutation   `json:"bodyMutation"`
	// Timeouts was on AIServiceBackend in early versions; the reference's own generated files still
	// carry it.
	Timeouts *yaml.Node `json:"timeouts" crd:"deprecated=set timeouts on the AIGatewayRoute rule"`
	// BackendSecurityPolicyRef was replaced by BackendSecurityPolicy targetRefs. Ignoring it would
	// silently drop a credential, so it is an error.
	BackendSecurityPolicyRef *yaml.Node `json:"backendSecurityPolicyRef" crd:"removed=point the BackendSecurityPolicy at this backend with spec.targetRefs instead"`
}

// apiSchema is the schema a backend speaks.
type apiSchema struct {
	Name    string  `json:"name" crd:"required,enum=OpenAI|Cohere|AWSBedrock|AzureOpenAI|GCPVertexAI|GCPAnthropic|Anthropic|AWSAnthropic"`
	Version *string `json:"version"`
	Prefix  *string `json:"prefix"`
}

// backendObjRef is a Gateway API BackendObjectReference.
type backendObjRef struct {
	Group     *string `json:"group"`
	Kind      *string `json:"kind"`
	Name      string  `json:"name" crd:"required"`
	Namespace string  `json:"namespace"`
	Port      *int32  `json:"port"`
}

type backendSecurityPolicySpec struct {
	TargetRefs         []crdTargetRef      `json:"targetRefs"`
	Type               string              `json:"type" crd:"required,enum=APIKey|AWSCredentials|AzureAPIKey|AzureCredentials|GCPCredentials|AnthropicAPIKey"`
	APIKey             *secretKeyRef       `json:"apiKey"`
	AnthropicAPIKey    *secretKeyRef       `json:"anthropicAPIKey"`
	AzureAPIKey        *secretKeyRef       `json:"azureAPIKey"`
	AWSCredentials     *awsCredentials     `json:"awsCredentials"`
	AzureCredentials   *azureCredentials   `json:"azureCredentials"`
	GCPCredentials     *gcpCredentials     `json:"gcpCredentials"`
	CredentialOverride *credentialOverride `json:"credentialOverride"`
}

// crdTargetRef is the targetRefs item of the AI Gateway policies (no sectionName).
type crdTargetRef struct {
	Group string `json:"group" crd:"required"`
	Kind  string `json:"kind" crd:"required"`
	Name  string `json:"name" crd:"required"`
}

// policyTargetRef is a Gateway API LocalPolicyTargetReferenceWithSectionName.
type policyTargetRef struct {
	Group       string `json:"group" crd:"required"`
	Kind        string `json:"kind" crd:"required"`
	Name        string `json:"name" crd:"required"`
	SectionName string `json:"sectionName"`
}

type secretKeyRef struct {
	SecretRef secretObjRef `json:"secretRef" crd:"required"`
}

type secretObjRef struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Name      string `json:"name" crd:"required"`
	Namespace string `json:"namespace"`
}

type awsCredentials struct {
	Region            string     `json:"region" crd:"required"`
	CredentialsFile   *awsFile   `json:"credentialsFile"`
	OIDCExchangeToken *yaml.Node `json:"oidcExchangeToken"`
}

type awsFile struct {
	SecretRef secretObjRef `json:"secretRef" crd:"required"`
	Profile   string       `json:"profile"`
}

type azureCredentials struct {
	ClientID          string        `json:"clientID" crd:"required"`
	TenantID          string        `json:"tenantID" crd:"required"`
	ClientSecretRef   *secretObjRef `json:"clientSecretRef"`
	OIDCExchangeToken *yaml.Node    `json:"oidcExchangeToken"`
}

type gcpCredentials struct {
	ProjectName                      string        `json:"projectName" crd:"required"`
	Region                           string        `json:"region" crd:"required"`
	CredentialsFile                  *secretKeyRef `json:"credentialsFile"`
	WorkloadIdentityFederationConfig *yaml.Node    `json:"workloadIdentityFederationConfig"`
}

type credentialOverride struct {
	FromRequestHeaders  *fromRequestHeaders  `json:"fromRequestHeaders"`
	FromDynamicMetadata *fromDynamicMetadata `json:"fromDynamicMetadata"`
}

type fromRequestHeaders struct {
	Header               string `json:"header"`
	FallbackToConfigured *bool  `json:"fallbackToConfigured"`
}

type fromDynamicMetadata struct {
	Namespace            string `json:"namespace" crd:"required"`
	Key                  string `json:"key"`
	FallbackToConfigured *bool  `json:"fallbackToConfigured"`
}

type gatewayConfigSpec struct {
	GlobalLLMRequestCosts []llmRequestCost `json:"globalLLMRequestCosts"`
	ExtProc               *yaml.Node       `json:"extProc"`
	ForwardProxy          *yaml.Node       `json:"forwardProxy"`
}

type mcpRouteSpec struct {
	ParentRefs      []parentRef         `json:"parentRefs" crd:"required"`
	Hostnames       []string            `json:"hostnames"`
	Path            *string             `json:"path"`
	Headers         []headerMatch       `json:"headers"`
	BackendRefs     []mcpBackendRef     `json:"backendRefs" crd:"required"`
	BackendSelector *mcpBackendSelector `json:"backendSelector"`
	SecurityPolicy  *mcpSecurityPolicy  `json:"securityPolicy"`
}

type mcpBackendRef struct {
	Name           string                    `json:"name" crd:"required"`
	Namespace      string                    `json:"namespace"`
	Group          *string                   `json:"group"`
	Kind           *string                   `json:"kind"`
	Port           *int32                    `json:"port"`
	Path           *string                   `json:"path"`
	ToolSelector   *toolSelector             `json:"toolSelector"`
	ForwardHeaders []forwardHeader           `json:"forwardHeaders"`
	SecurityPolicy *mcpBackendSecurityPolicy `json:"securityPolicy"`
}

type toolSelector struct {
	Include      []string `json:"include"`
	IncludeRegex []string `json:"includeRegex"`
	Exclude      []string `json:"exclude"`
	ExcludeRegex []string `json:"excludeRegex"`
}

type forwardHeader struct {
	Name          string `json:"name" crd:"required"`
	BackendHeader string `json:"backendHeader"`
}

type quotaPolicySpec struct {
	TargetRefs     []crdTargetRef  `json:"targetRefs"`
	ServiceQuota   *serviceQuota   `json:"serviceQuota"`
	PerModelQuotas []perModelQuota `json:"perModelQuotas"`
}

type serviceQuota struct {
	CostExpression *string     `json:"costExpression"`
	Quota          quotaBucket `json:"quota" crd:"required"`
}

type quotaBucket struct {
	Duration string `json:"duration" crd:"required,enum=1s|1m|1h|1d"`
	Limit    int64  `json:"limit" crd:"required"`
}

type perModelQuota struct {
	ModelName string     `json:"modelName" crd:"required"`
	Quota     modelQuota `json:"quota" crd:"required"`
}

type modelQuota struct {
	CostExpression *string      `json:"costExpression"`
	Mode           string       `json:"mode" crd:"enum=Shared"`
	DefaultBucket  *quotaBucket `json:"defaultBucket"`
	BucketRules    *yaml.Node   `json:"bucketRules"`
}

// --- gateway.envoyproxy.io ---

type egBackendSpec struct {
	Type         string       `json:"type" crd:"enum=Endpoints|DynamicResolver"`
	Endpoints    []egEndpoint `json:"endpoints"`
	AppProtocols []string     `json:"appProtocols"`
	Fallback     *bool        `json:"fallback"`
	TLS          *egTLS       `json:"tls"`
}

type egEndpoint struct {
	FQDN     *egFQDN    `json:"fqdn"`
	IP       *egIP      `json:"ip"`
	Unix     *yaml.Node `json:"unix"`
	Hostname string     `json:"hostname"`
	Zone     string     `json:"zone"`
}

type egFQDN struct {
	Hostname string `json:"hostname" crd:"required"`
	Port     int32  `json:"port" crd:"required"`
}

type egIP struct {
	Address string `json:"address" crd:"required"`
	Port    int32  `json:"port" crd:"required"`
}

type egTLS struct {
	SNI                         string      `json:"sni"`
	InsecureSkipVerify          *bool       `json:"insecureSkipVerify"`
	CACertificateRefs           []objectRef `json:"caCertificateRefs"`
	WellKnownCACertificates     string      `json:"wellKnownCACertificates"`
	AutoSNIFromEndpointHostname *bool       `json:"autoSNIFromEndpointHostname"`
	ClientCertificateRef        *yaml.Node  `json:"clientCertificateRef"`
	ALPNProtocols               []string    `json:"alpnProtocols"`
	Ciphers                     []string    `json:"ciphers"`
	ECDHCurves                  []string    `json:"ecdhCurves"`
	SignatureAlgorithms         []string    `json:"signatureAlgorithms"`
	Fingerprints                []string    `json:"fingerprints"`
	MinVersion                  string      `json:"minVersion" crd:"enum=Auto|1.0|1.1|1.2|1.3"`
	MaxVersion                  string      `json:"maxVersion" crd:"enum=Auto|1.0|1.1|1.2|1.3"`
}

// objectRef is a Gateway API LocalObjectReference (CA certificate references).
type objectRef struct {
	Group string `json:"group" crd:"required"`
	Kind  string `json:"kind" crd:"required"`
	Name  string `json:"name" crd:"required"`
}

// backendTrafficPolicySpec models the retry and timeout parts of Envoy Gateway's
// BackendTrafficPolicy; every other field is accepted and warned about (Rest).
type backendTrafficPolicySpec struct {
	TargetRef       *policyTargetRef      `json:"targetRef"`
	TargetRefs      []policyTargetRef     `json:"targetRefs"`
	TargetSelectors *yaml.Node            `json:"targetSelectors"`
	Retry           *btpRetry             `json:"retry"`
	Timeout         *btpTimeout           `json:"timeout"`
	Rest            map[string]*yaml.Node `crd:"rest"`
}

type btpRetry struct {
	NumRetries             *int32       `json:"numRetries"`
	NumAttemptsPerPriority *int32       `json:"numAttemptsPerPriority"`
	RetryOn                *btpRetryOn  `json:"retryOn"`
	PerRetry               *btpPerRetry `json:"perRetry"`
}

type btpRetryOn struct {
	Triggers        []string `json:"triggers"`
	HTTPStatusCodes []int32  `json:"httpStatusCodes"`
}

type btpPerRetry struct {
	Timeout string      `json:"timeout"`
	BackOff *btpBackOff `json:"backOff"`
}

type btpBackOff struct {
	BaseInterval string `json:"baseInterval"`
	MaxInterval  string `json:"maxInterval"`
}

type btpTimeout struct {
	HTTP *btpHTTPTimeout `json:"http"`
	TCP  *btpTCPTimeout  `json:"tcp"`
}

type btpHTTPTimeout struct {
	RequestTimeout        string `json:"requestTimeout"`
	ConnectionIdleTimeout string `json:"connectionIdleTimeout"`
	MaxConnectionDuration string `json:"maxConnectionDuration"`
	MaxStreamDuration     string `json:"maxStreamDuration"`
	StreamIdleTimeout     string `json:"streamIdleTimeout"`
}

type btpTCPTimeout struct {
	ConnectTimeout string `json:"connectTimeout"`
}

// --- gateway.networking.k8s.io ---

type gatewaySpec struct {
	GatewayClassName string     `json:"gatewayClassName" crd:"required"`
	Listeners        []listener `json:"listeners" crd:"required"`
	Addresses        *yaml.Node `json:"addresses"`
	Infrastructure   *yaml.Node `json:"infrastructure"`
	BackendTLS       *yaml.Node `json:"backendTLS"`
	AllowedListeners *yaml.Node `json:"allowedListeners"`
	TLS              *yaml.Node `json:"tls"`
	DefaultScope     *yaml.Node `json:"defaultScope"`
}

type listener struct {
	Name          string     `json:"name" crd:"required"`
	Hostname      string     `json:"hostname"`
	Port          int32      `json:"port" crd:"required"`
	Protocol      string     `json:"protocol" crd:"required"`
	TLS           *yaml.Node `json:"tls"`
	AllowedRoutes *yaml.Node `json:"allowedRoutes"`
}

type gatewayClassSpec struct {
	ControllerName string     `json:"controllerName" crd:"required"`
	ParametersRef  *yaml.Node `json:"parametersRef"`
	Description    string     `json:"description"`
}

type backendTLSPolicySpec struct {
	TargetRefs []policyTargetRef `json:"targetRefs" crd:"required"`
	Validation tlsValidation     `json:"validation" crd:"required"`
	Options    map[string]string `json:"options"`
}

type tlsValidation struct {
	CACertificateRefs       []objectRef `json:"caCertificateRefs"`
	WellKnownCACertificates string      `json:"wellKnownCACertificates" crd:"enum=System"`
	Hostname                string      `json:"hostname" crd:"required"`
	SubjectAltNames         *yaml.Node  `json:"subjectAltNames"`
}

// --- core v1 ---

type secretObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata" crd:"required"`
	Type       string            `json:"type"`
	Data       map[string]string `json:"data"`
	StringData map[string]string `json:"stringData"`
	Immutable  *bool             `json:"immutable"`
}

type configMapObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata" crd:"required"`
	Data       map[string]string `json:"data"`
	BinaryData map[string]string `json:"binaryData"`
	Immutable  *bool             `json:"immutable"`
}

// looseObject is an object of a kind aigw accepts without honouring: only its name is read.
type looseObject struct {
	APIVersion string                `json:"apiVersion"`
	Kind       string                `json:"kind"`
	Metadata   objectMeta            `json:"metadata" crd:"required"`
	Rest       map[string]*yaml.Node `crd:"rest"`
}
