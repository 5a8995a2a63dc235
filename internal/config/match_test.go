package config

import (
	"regexp"
	"testing"
)

// TestMatchPrecedence: routes are chosen as a cluster would: the most specific hostname first,
// then the match with the most header conditions, then configuration order.
func TestMatchPrecedence(t *testing.T) {
	rule := func(name string, matches ...Match) *Rule { return &Rule{Name: name, Matches: matches} }
	model := func(v string) Match { return Match{Headers: []HeaderMatch{{Name: ModelHeader, Exact: v}}} }
	modelAndTier := Match{Headers: []HeaderMatch{{Name: ModelHeader, Exact: "gpt"}, {Name: "x-tier", Exact: "gold"}}}
	claude := Match{Headers: []HeaderMatch{{Name: ModelHeader, Regex: regexp.MustCompile(`^claude-.*$`)}}}
	m := &Model{Routes: []*Route{
		{Name: "catchall", Rules: []*Rule{rule("catchall/0")}},
		{Name: "models", Rules: []*Rule{rule("models/gpt", model("gpt")), rule("models/claude", claude)}},
		{Name: "tiers", Rules: []*Rule{rule("tiers/gold", modelAndTier)}},
		{Name: "exact-host", Hostnames: []string{"api.example.com"}, Rules: []*Rule{rule("exact-host/gpt", model("gpt"))}},
		{Name: "wild-host", Hostnames: []string{"*.example.com"}, Rules: []*Rule{rule("wild-host/0")}},
		{Name: "deeper-wild", Hostnames: []string{"*.eu.example.com"}, Rules: []*Rule{rule("deeper-wild/0")}},
	}}
	for _, c := range []struct {
		host, model, tier string
		want              string
	}{
		// A catch-all route declared first does not shadow more specific matches in later routes.
		{"localhost:1975", "gpt", "", "models/gpt"},
		{"localhost", "claude-x", "", "models/claude"},
		{"localhost", "gpt", "gold", "tiers/gold"},
		{"localhost", "other", "", "catchall/0"},
		// The most specific hostname wins, and its routes alone are considered.
		{"api.example.com", "gpt", "", "exact-host/gpt"},
		{"api.example.com", "other", "", ""},
		{"x.example.com", "gpt", "", "wild-host/0"},
		{"a.eu.example.com", "gpt", "", "deeper-wild/0"},
	} {
		_, got := m.Match(c.host, func(h string) string {
			switch h {
			case ModelHeader:
				return c.model
			case "x-tier":
				return c.tier
			}
			return ""
		})
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != c.want {
			t.Errorf("%s %s/%s: got %q, want %q", c.host, c.model, c.tier, name, c.want)
		}
	}
	if routes := m.HostRoutes("api.example.com"); len(routes) != 1 || routes[0].Name != "exact-host" {
		t.Errorf("HostRoutes(api.example.com) = %v", routes)
	}
}
