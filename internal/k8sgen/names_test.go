package k8sgen

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/config"
)

func TestDNSName(t *testing.T) {
	for in, want := range map[string]string{
		"openai":                "openai",
		"ns/OpenAI_Backend":     "ns-openai-backend",
		"edge.route":            "edge.route",
		"-a..b-":                "a.b",
		"a.-b":                  "a.b",
		"!!!":                   "x",
		strings.Repeat("a", 70): strings.Repeat("a", 63),
	} {
		if got := dnsName(in, maxNameLen); got != want {
			t.Errorf("dnsName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNamerCollisions: names that collide after cleaning get -2, -3 in the order asked, and a
// suffixed name never collides with a later plain one.
func TestNamerCollisions(t *testing.T) {
	n := newNamer()
	var got []string
	for _, s := range []string{"a/b", "a_b", "A-B", "a-b-2", strings.Repeat("z", 70), strings.Repeat("z", 64)} {
		got = append(got, n.name(s, len("-api-key")))
	}
	want := []string{"a-b", "a-b-2", "a-b-3", "a-b-2-2", strings.Repeat("z", 55), strings.Repeat("z", 53) + "-2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("names %q, want %q", got, want)
	}
}

func TestRenderRejectsBadNamespace(t *testing.T) {
	for _, ns := range []string{"Prod", "a.b", "a_b"} {
		if _, err := Render(&config.Model{}, Options{Namespace: ns}); err == nil {
			t.Errorf("namespace %q accepted", ns)
		}
	}
}
