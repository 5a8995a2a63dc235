package config

import (
	"fmt"
	"strings"
)

// maxAzureDeploymentName is the longest deployment name Azure OpenAI accepts.
const maxAzureDeploymentName = 64

// checkAzureDeployment accepts what Azure OpenAI accepts as a deployment name: 1 to 64 letters,
// digits, '-', '_' and '.', not only dots. The name becomes a path segment
// (/openai/deployments/<name>/...), so anything else ("..", "/", "%2f", control characters)
// could address another path upstream.
func checkAzureDeployment(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an Azure OpenAI deployment name is required as the model")
	case len(name) > maxAzureDeploymentName:
		return fmt.Errorf("%.32q... is not an Azure OpenAI deployment name: longer than %d characters", name, maxAzureDeploymentName)
	case strings.Trim(name, ".") == "":
		return fmt.Errorf("%q is not an Azure OpenAI deployment name", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q is not an Azure OpenAI deployment name: only letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	return nil
}
