package observe

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/aigw/aigw/configs"
	"github.com/aigw/aigw/internal/usage"
)

func builtinPrices(t *testing.T) *Prices {
	t.Helper()
	c, err := NewPrices(configs.Prices, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBuiltinCatalog: every built-in entry parses, names its source and date, and every pattern
// is reachable (no other pattern of the same length shadows it).
func TestBuiltinCatalog(t *testing.T) {
	ps, err := ParsePrices("prices.yaml", configs.Prices)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 40 {
		t.Errorf("only %d prices", len(ps))
	}
	seen := map[string]bool{}
	providers := map[string]bool{}
	for _, p := range ps {
		if seen[p.Model] {
			t.Errorf("pattern %q twice", p.Model)
		}
		seen[p.Model] = true
		providers[p.Provider] = true
	}
	for _, want := range []string{"openai", "anthropic", "gcp.gemini", "aws.bedrock", "mistral_ai", "groq", "deepseek"} {
		if !providers[want] {
			t.Errorf("no %s prices", want)
		}
	}
}

// TestCostHandComputed: costs of recorded usages equal the arithmetic done by hand.
func TestCostHandComputed(t *testing.T) {
	c := builtinPrices(t)
	for _, tc := range []struct {
		name   string
		models []string
		u      usage.Usage
		want   float64
	}{
		// chat-basic cassette: gpt-5-nano at $0.05 in, $0.40 out; 320 of the 377 output tokens are
		// reasoning, billed as output: 8×0.05 + 377×0.40 = 151.2 µ$.
		{"gpt-5-nano", []string{"gpt-5-nano-2025-08-07", "gpt-5-nano"}, usage.Usage{InputTokens: 8, OutputTokens: 377, ReasoningTokens: 320, TotalTokens: 385}, 151.2e-6},
		// gpt-4o-mini: 1000 in with 600 cached, 200 out: 400×0.15 + 600×0.075 + 200×0.60 = 225 µ$.
		{"gpt-4o-mini cached", []string{"gpt-4o-mini-2024-07-18"}, usage.Usage{InputTokens: 1000, CachedInputTokens: 600, OutputTokens: 200}, 225e-6},
		// Claude Sonnet 4.5 with a cache write and a cache read: 2000 in = 500 fresh + 1000 read +
		// 500 written; 500×3 + 1000×0.30 + 500×3.75 + 100×15 = 5175 µ$.
		{"claude cache", []string{"claude-sonnet-4-5-20250929"}, usage.Usage{InputTokens: 2000, CachedInputTokens: 1000, CacheCreationInputTokens: 500, OutputTokens: 100}, 5175e-6},
		// The response model is unknown: the override's model prices it.
		{"fallback to the backend model", []string{"my-finetune-xyz", "gpt-4.1-mini"}, usage.Usage{InputTokens: 1e6, OutputTokens: 1e6}, 0.40 + 1.60},
		// Embeddings: input only.
		{"embeddings", []string{"text-embedding-3-small"}, usage.Usage{InputTokens: 7, TotalTokens: 7}, 7 * 0.02e-6},
		// Claude Opus 5.5 is not Opus 5 ("claude-opus-5*" priced it at $5 / $25): 1000 in = 500 fresh +
		// 300 read + 200 written, 100 out; 500×4 + 300×0.20 + 200×5 + 100×20 = 5060 µ$.
		{"opus 5.5", []string{"claude-opus-5-5"}, usage.Usage{InputTokens: 1000, CachedInputTokens: 300, CacheCreationInputTokens: 200, OutputTokens: 100}, 5060e-6},
	} {
		got, p := c.Cost(tc.u, tc.models...)
		if got == nil || got.Unknown || p == nil {
			t.Errorf("%s: no price (%v)", tc.name, got)
			continue
		}
		if math.Abs(got.Amount-tc.want) > 1e-12 {
			t.Errorf("%s: $%.9f by %q, want $%.9f", tc.name, got.Amount, p.Model, tc.want)
		}
	}
	if got, _ := c.Cost(usage.Usage{InputTokens: 5}, "nobody-knows-me", ""); got == nil || !got.Unknown {
		t.Errorf("unknown model cost %v, want unknown", got)
	}
	if got, _ := c.Cost(usage.Usage{}, "gpt-4o"); got != nil {
		t.Errorf("no usage cost %v, want none", got)
	}
}

func TestLongestPatternWins(t *testing.T) {
	c := builtinPrices(t)
	for model, pattern := range map[string]string{
		"gpt-4o-mini-2024-07-18": "gpt-4o-mini*",
		"gpt-4o-2024-08-06":      "gpt-4o*",
		"gpt-5-nano":             "gpt-5-nano*",
		"gpt-5":                  "gpt-5*",
		"o3":                     "o3",
		"us.anthropic.claude-sonnet-4-5-20250929-v1:0": "*anthropic.claude-sonnet-4*",
		"openai/gpt-oss-120b":                          "openai/gpt-oss-120b",
		"claude-opus-5-5":                              "claude-opus-5-5*",
		"claude-sonnet-5":                              "claude-sonnet-5*",
	} {
		p, ok := c.Lookup(model)
		if !ok || p.Model != pattern {
			t.Errorf("%s priced by %v, want %s", model, p, pattern)
		}
	}
	if _, ok := c.Lookup("o3-pro-unknown-thing"); ok {
		t.Error("o3-pro-unknown-thing has a price")
	}
}

// TestOverrideFirst: an override file's entries win over built-in ones, even shorter patterns;
// a required override that is missing is an error, an optional one is skipped.
func TestOverrideFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nprices:\n  - {provider: openai, model: \"gpt-*\", input: 1, output: 2, date: 2026-11-30, source: \"contract\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewPrices(configs.Prices, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Cost(usage.Usage{InputTokens: 1e6, OutputTokens: 1e6}, "gpt-4o-mini"); got.Amount != 3 {
		t.Errorf("override cost %v, want 3", got)
	}
	if got, _ := c.Cost(usage.Usage{InputTokens: 1e6}, "claude-haiku-4-5"); got.Amount != 1 {
		t.Errorf("built-in cost behind the override %v, want 1", got)
	}
	if _, err := NewPrices(configs.Prices, path+".missing", true); err == nil {
		t.Error("a missing --prices file was accepted")
	}
	if _, err := NewPrices(configs.Prices, path+".missing", false); err != nil {
		t.Errorf("a missing optional prices file: %v", err)
	}
	for _, bad := range []string{
		"version: 1\nprices:\n  - {model: x, input: 1, output: 1, date: d}\n",             // no source
		"version: 1\nprices:\n  - {model: x, input: -1, output: 1, date: d, source: s}\n", // negative
		"version: 1\nprices:\n  - {model: x, inptu: 1, output: 1, date: d, source: s}\n",  // typo
		"version: 2\nprices: []\n", // version
	} {
		if _, err := ParsePrices("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"a*", "abc", true}, {"a*", "a", true}, {"*c", "abc", true}, {"a*c", "ac", true},
		{"a*c", "abcd", false}, {"*b*", "abc", true}, {"abc", "abcd", false}, {"a*bc*c", "abc", false},
		{"*x*", "abc", false}, {"a**", "a/b:c", true},
	} {
		if got := globMatch(c.pattern, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}
