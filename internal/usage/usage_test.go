package usage

import "testing"

// TestUsageNonNegative: negative counts from a provider are clamped to 0 and reported.
func TestUsageNonNegative(t *testing.T) {
	u, bad := Usage{InputTokens: -5, CachedInputTokens: 2, OutputTokens: -1, ReasoningTokens: -3, TotalTokens: -6}.NonNegative()
	if want := (Usage{CachedInputTokens: 2}); !bad || u != want {
		t.Errorf("got %+v, %v; want %+v, true", u, bad, want)
	}
	ok := Usage{InputTokens: 5, OutputTokens: 1, TotalTokens: 6}
	if u, bad := ok.NonNegative(); bad || u != ok {
		t.Errorf("valid usage changed: %+v, %v", u, bad)
	}
}

func TestUsagePlus(t *testing.T) {
	a := Usage{InputTokens: 10, CachedInputTokens: 2, CacheCreationInputTokens: 3, OutputTokens: 5, ReasoningTokens: 1, TotalTokens: 15}
	if got, want := a.Plus(a), (Usage{20, 4, 6, 10, 2, 30}); got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
}
