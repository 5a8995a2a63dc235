package translate

import "strings"

// Anthropic requires max_tokens; OpenAI clients (the openai SDK, Vercel AI, LangChain, the Agents
// SDK) leave it out by default. A request without one gets the model's maximum output, so that
// the answer is never cut shorter than the model itself would cut it: the backend's own setting
// (config.Backend.MaxOutputTokens, the aigw.run/max-output-tokens annotation) when it has one,
// else this table of the maximum output Anthropic documents per model family, by longest
// matching id prefix (platform.claude.com/docs/en/about-claude/models/overview).
var claudeMaxOutputTokens = []struct {
	prefix string
	tokens int64
}{
	{"claude-opus-4-7", 128000},
	{"claude-opus-4-6", 128000},
	{"claude-sonnet-4-6", 64000},
	{"claude-opus-4-5", 64000},
	{"claude-sonnet-4-5", 64000},
	{"claude-haiku-4-5", 64000},
	{"claude-opus-4-1", 32000},
	{"claude-opus-4", 32000}, // claude-opus-4-0 and the dated claude-opus-4-20250514
	{"claude-sonnet-4", 64000},
	{"claude-3-7-sonnet", 64000},
	{"claude-3-5-sonnet", 8192},
	{"claude-3-5-haiku", 8192},
	{"claude-3-haiku", 4096},
	{"claude-3-opus", 4096},
	{"claude-3-sonnet", 4096},
}

const (
	// newerClaudeMaxOutputTokens is for claude-* models newer than the table: every family since
	// Claude 4.5 writes at least this many.
	newerClaudeMaxOutputTokens = 64000
	// otherMaxOutputTokens is for models that are not Claude at all (Anthropic-compatible
	// servers), which aigw knows nothing about: the smallest maximum of any Claude model, which
	// every such server accepts as far as we know. Configure the backend for more.
	otherMaxOutputTokens = 4096
)

// defaultMaxTokens is the max_tokens for a request that sets none.
func defaultMaxTokens(t Target) int64 {
	if t.Backend != nil && t.Backend.MaxOutputTokens > 0 {
		return t.Backend.MaxOutputTokens
	}
	m := claudeModelName(t.Model)
	best, tokens := 0, int64(0)
	for _, e := range claudeMaxOutputTokens {
		if strings.HasPrefix(m, e.prefix) && len(e.prefix) > best {
			best, tokens = len(e.prefix), e.tokens
		}
	}
	switch {
	case best > 0:
		return tokens
	case strings.HasPrefix(m, "claude-"):
		return newerClaudeMaxOutputTokens
	}
	return otherMaxOutputTokens
}
