package config

import (
	"path/filepath"
	"slices"
	"testing"
)

// exampleEnv are dummy values for the variables the examples in configs/ substitute.
var exampleEnv = map[string]string{
	"OPENAI_API_KEY":        "sk-example",
	"ANTHROPIC_API_KEY":     "sk-ant-example",
	"AZURE_OPENAI_API_KEY":  "az-example",
	"AZURE_OPENAI_RESOURCE": "example",
	"GEMINI_API_KEY":        "example",
	"COHERE_API_KEY":        "example",
	"MISTRAL_API_KEY":       "example",
	"GROQ_API_KEY":          "example",
	"TOGETHER_API_KEY":      "example",
	"DEEPINFRA_API_KEY":     "example",
	"DEEPSEEK_API_KEY":      "example",
	"SAMBANOVA_API_KEY":     "example",
	"XAI_API_KEY":           "example",
	"HUNYUAN_API_KEY":       "example",
	"OPENROUTER_API_KEY":    "example",
	"AZURE_CLIENT_SECRET":   "example",
}

func exampleConfigs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations in configs/: %v", err)
	}
	// prices.yaml is the price catalog (observe), not a gateway configuration.
	return slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "prices.yaml" })
}

// TestExampleConfigsLoad loads every example without errors or warnings.
func TestExampleConfigsLoad(t *testing.T) {
	for _, f := range exampleConfigs(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m, err := LoadFile(f, envOf(exampleEnv))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) > 0 {
				t.Errorf("warnings: %q", m.Warnings)
			}
			if len(m.Routes) == 0 || len(m.Backends) == 0 {
				t.Errorf("nothing to serve:\n%s", Summary(m))
			}
		})
	}
}
