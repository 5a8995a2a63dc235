package config

import (
	"fmt"
	"strings"
)

// SchemaName names an API schema a backend speaks, with the reference's spelling.
type SchemaName string

// Schemas aigw knows.
const (
	SchemaOpenAI       SchemaName = "OpenAI"
	SchemaAzureOpenAI  SchemaName = "AzureOpenAI"
	SchemaAnthropic    SchemaName = "Anthropic"
	SchemaCohere       SchemaName = "Cohere"
	SchemaAWSBedrock   SchemaName = "AWSBedrock"   // Bedrock Converse, InvokeModel for embeddings
	SchemaAWSAnthropic SchemaName = "AWSAnthropic" // Claude on Bedrock through InvokeModel
	SchemaGCPVertexAI  SchemaName = "GCPVertexAI"  // Gemini on Vertex AI: generateContent, embeddings
	SchemaGCPAnthropic SchemaName = "GCPAnthropic" // Claude on Vertex AI: rawPredict
)

// schemaInfo is what the rest of aigw needs to know about a schema, kept as data.
type schemaInfo struct {
	provider      string // gen_ai.provider.name
	defaultPrefix string
	// checkModel, when set, says why a model name cannot be sent to the schema's API.
	checkModel func(model string) error
	// auth, when set, is the credential type the schema needs (it says where requests go).
	auth AuthType
}

var schemas = map[SchemaName]schemaInfo{
	SchemaOpenAI:       {provider: "openai", defaultPrefix: "/v1"},
	SchemaAzureOpenAI:  {provider: "azure.openai", defaultPrefix: "", checkModel: checkAzureDeployment},
	SchemaAnthropic:    {provider: "anthropic", defaultPrefix: "/v1"},
	SchemaCohere:       {provider: "cohere", defaultPrefix: ""},
	SchemaAWSBedrock:   {provider: "aws.bedrock", defaultPrefix: ""},
	SchemaAWSAnthropic: {provider: "aws.bedrock", defaultPrefix: ""},
	SchemaGCPVertexAI:  {provider: "gcp.vertex_ai", defaultPrefix: "", auth: AuthGCPCredentials},
	SchemaGCPAnthropic: {provider: "gcp.vertex_ai", defaultPrefix: "", auth: AuthGCPCredentials},
}

// ProviderName is the OpenTelemetry gen_ai.provider.name of the schema.
func (s SchemaName) ProviderName() string {
	if i, ok := schemas[s]; ok {
		return i.provider
	}
	return strings.ToLower(string(s))
}

// CheckModel reports why model cannot be sent to a backend of the schema, or nil: Azure OpenAI
// takes it as a deployment name in the URL path, so it must be one.
func (s SchemaName) CheckModel(model string) error {
	if c := schemas[s].checkModel; c != nil {
		return c(model)
	}
	return nil
}

// DefaultPrefix is the path prefix of the schema's endpoints when the backend sets none.
func (s SchemaName) DefaultPrefix() string { return schemas[s].defaultPrefix }

// RequiredAuth is the credential type a backend of the schema must have, or "" for any: Vertex
// AI schemas need GCPCredentials, whose project and region are part of every request's path.
func (s SchemaName) RequiredAuth() AuthType { return schemas[s].auth }

// ParseSchemaName checks a schema name, suggesting the closest known one when it is wrong.
func ParseSchemaName(v string) (SchemaName, error) {
	if _, ok := schemas[SchemaName(v)]; ok {
		return SchemaName(v), nil
	}
	for k := range schemas {
		if strings.EqualFold(string(k), v) {
			return "", fmt.Errorf("unknown schema %q (did you mean %q?)", v, k)
		}
	}
	names := make([]string, 0, len(schemas))
	for k := range schemas {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown schema %q (known: %s)", v, strings.Join(sortedStrings(names), ", "))
}
