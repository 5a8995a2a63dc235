package config

import "testing"

func TestCompileCost(t *testing.T) {
	vars := CostVars{Model: "gpt-4o", Backend: "openai", RouteName: "r", InputTokens: 10, CachedInputTokens: 4,
		CacheCreationInputTokens: 2, OutputTokens: 5, ReasoningTokens: 3, TotalTokens: 15}
	cases := []struct {
		expr    string
		want    uint64
		errLike string
	}{
		{expr: "input_tokens + output_tokens", want: 15},
		{expr: "model == 'gpt-4o' ? total_tokens * 2u : 0u", want: 30},
		{expr: "backend == 'openai' && route_name == 'r' ? 1 : 2", want: 1},
		{expr: "cached_input_tokens + cache_creation_input_tokens + reasoning_tokens", want: 9},
		{expr: "int(input_tokens) - 20", errLike: "negative"},
		{expr: "input_tokens * 0.5", errLike: "no matching overload"},
		{expr: "'x'", errLike: "must return an int or a uint"},
		{expr: "cached_write_input_tokens", errLike: "undeclared reference"},
	}
	for _, c := range cases {
		prg, err := CompileCost(c.expr)
		if err == nil {
			var got uint64
			got, err = prg.Eval(vars)
			if err == nil && got != c.want {
				t.Errorf("%s = %d, want %d", c.expr, got, c.want)
			}
		}
		if (err != nil) != (c.errLike != "") || err != nil && !contains(err.Error(), c.errLike) {
			t.Errorf("%s: error %v, want one containing %q", c.expr, err, c.errLike)
		}
	}
}
