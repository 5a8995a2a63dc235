package config

// envKeyVariables names, per backend FromEnv builds, the variable its key comes from.
var envKeyVariables = map[string]string{
	"openai":       "OPENAI_API_KEY",
	"azure-openai": "AZURE_OPENAI_API_KEY",
	"anthropic":    "ANTHROPIC_API_KEY",
}

// EnvKeyVariable returns the environment variable a backend of an environment Model (FromEnv)
// took its key from, or "" for a backend of any other Model.
func EnvKeyVariable(m *Model, b *Backend) string {
	if m.Source != "environment" || b.Auth == nil {
		return ""
	}
	return envKeyVariables[b.Name]
}
