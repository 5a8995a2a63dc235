package k8sgen

import (
	"strconv"
	"strings"
)

// maxNameLen keeps names valid as DNS-1123 labels (63), the strictest rule any rendered kind or
// the objects Envoy Gateway derives from them (Services, HTTPRoutes) applies.
const maxNameLen = 63

// dnsLabel turns s into a DNS-1123 label: lower case letters, digits and '-', starting and ending
// with an alphanumeric, at most max characters. Other characters become '-'.
func dnsLabel(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	out = strings.Trim(out, "-")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	if out == "" {
		out = "x"
	}
	return out
}

// namer hands out unique DNS-1123 names. Collisions are resolved in the order names are asked
// for, which follows the Model's stable order, so the same Model always gets the same names:
// the second "a" becomes "a-2", the third "a-3".
type namer struct {
	used map[string]bool
}

func newNamer() *namer { return &namer{used: map[string]bool{}} }

// name returns a unique label for s, leaving room for a suffix of up to reserve characters that
// the caller appends (e.g. "-api-key").
func (n *namer) name(s string, reserve int) string {
	base := dnsLabel(s, maxNameLen-reserve)
	if !n.used[base] {
		n.used[base] = true
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		c := dnsLabel(base, maxNameLen-reserve-len(suffix)) + suffix
		if !n.used[c] {
			n.used[c] = true
			return c
		}
	}
}
