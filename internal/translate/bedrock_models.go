package translate

import "strings"

// claudeModelName is a model id as Anthropic names it, lower-cased, with what Bedrock puts
// around Claude ids taken off, so that the tables keyed by Anthropic's names (maximum output
// tokens, budget or adaptive thinking) know Bedrock's ids too:
//
//	anthropic.claude-sonnet-4-5-20250929-v1:0          → claude-sonnet-4-5-20250929-v1:0
//	us.anthropic.claude-opus-4-6-v1 (inference profile) → claude-opus-4-6-v1
//	global.anthropic.claude-haiku-4-5-20251001-v1:0     → claude-haiku-4-5-20251001-v1:0
//	arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0
//	                                                    → claude-3-7-sonnet-20250219-v1:0
//
// Other ids come back lower-cased and otherwise as they are. An application inference profile
// ARN names no model: it is not recognised as Claude (set the backend's max output tokens).
func claudeModelName(model string) string {
	m := strings.ToLower(model)
	if !strings.Contains(m, "anthropic.claude-") {
		return m
	}
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	if i := strings.Index(m, "anthropic.claude-"); i == 0 || i > 0 && m[i-1] == '.' {
		m = m[i+len("anthropic."):]
	}
	return m
}

// isClaude reports whether model is a Claude model, by Anthropic's id or Bedrock's.
func isClaude(model string) bool {
	return strings.HasPrefix(claudeModelName(model), "claude-")
}
