// Package usage holds the token counts of one request. It is a leaf: the translators that extract
// usage and the observers that report it both import it, and it imports nothing of aigw's.
package usage

// Usage counts tokens. InputTokens includes cached and cache-creation tokens, as OpenTelemetry's
// gen_ai.usage.input_tokens does, whatever the provider's own convention.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	CachedInputTokens        int64 `json:"cached_input_tokens,omitempty"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	OutputTokens             int64 `json:"output_tokens"`
	ReasoningTokens          int64 `json:"reasoning_tokens,omitempty"`
	TotalTokens              int64 `json:"total_tokens"`
}

// Add adds o's counts to u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.CachedInputTokens += o.CachedInputTokens
	u.CacheCreationInputTokens += o.CacheCreationInputTokens
	u.OutputTokens += o.OutputTokens
	u.ReasoningTokens += o.ReasoningTokens
	u.TotalTokens += o.TotalTokens
}

// Zero reports whether no token was counted.
func (u Usage) Zero() bool { return u == Usage{} }
