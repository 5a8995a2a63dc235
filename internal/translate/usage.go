package translate

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
