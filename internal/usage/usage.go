// Package usage holds the token counts of one answer. It is a leaf: the translators that read
// usage from providers and the observers that record it (metrics, events, traces, the TUI) both
// import it, and it imports nothing of aigw.
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

// Plus is the sum of u and v, count by count.
func (u Usage) Plus(v Usage) Usage {
	return Usage{
		InputTokens:              u.InputTokens + v.InputTokens,
		CachedInputTokens:        u.CachedInputTokens + v.CachedInputTokens,
		CacheCreationInputTokens: u.CacheCreationInputTokens + v.CacheCreationInputTokens,
		OutputTokens:             u.OutputTokens + v.OutputTokens,
		ReasoningTokens:          u.ReasoningTokens + v.ReasoningTokens,
		TotalTokens:              u.TotalTokens + v.TotalTokens,
	}
}

// NonNegative returns u with every negative count set to 0, and whether any was negative. A
// provider that reports negative tokens is wrong; recording it would subtract from token metrics
// and become an enormous unsigned cost, so the gateway clamps it, and counts that it did.
func (u Usage) NonNegative() (Usage, bool) {
	clamped := false
	for _, n := range []*int64{&u.InputTokens, &u.CachedInputTokens, &u.CacheCreationInputTokens, &u.OutputTokens, &u.ReasoningTokens, &u.TotalTokens} {
		if *n < 0 {
			*n, clamped = 0, true
		}
	}
	return u, clamped
}
