package tui

import (
	"strings"
	"testing"
)

// TestLayout: optional columns give way until names have the width they want; every row fills
// the width exactly.
func TestLayout(t *testing.T) {
	cases := []struct {
		width int
		want  string
	}{
		{78, "TIME API→BACKEND MODEL STAT LAT IN OUT COST"},
		{98, "TIME API→BACKEND MODEL STAT LAT TTFT IN OUT COST"},
		{118, "TIME API→BACKEND MODEL STAT LAT TTFT IN OUT CACHED REASON COST"},
		{40, "TIME API→BACKEND MODEL STAT LAT IN OUT COST"}, // too narrow: the essentials, truncated by the caller
	}
	for _, c := range cases {
		idx, widths := layout(liveCols, c.width)
		var names []string
		total := len(idx) - 1
		for k, i := range idx {
			names = append(names, liveCols[i].title)
			total += widths[k]
		}
		if got := strings.Join(names, " "); got != c.want {
			t.Errorf("width %d: %s, want %s", c.width, got, c.want)
		}
		if c.width >= 78 && total != c.width {
			t.Errorf("width %d: columns fill %d", c.width, total)
		}
		if c.width >= 98 && (widths[1] < 19 || widths[2] < 20) {
			t.Errorf("width %d: names got %d and %d cells", c.width, widths[1], widths[2])
		}
	}
}
