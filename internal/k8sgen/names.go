package k8sgen

import (
	"strconv"
	"strings"
)

// maxNameLen keeps names within 63 characters, the strictest length any rendered kind or an
// object Envoy Gateway derives from them applies.
const maxNameLen = 63

// dnsName turns s into a DNS-1123 subdomain of at most max characters: dot-separated labels of
// lower case letters, digits and '-', each starting and ending with an alphanumeric. Other
// characters ("/" of a namespaced name, "_", spaces) become '-'.
func dnsName(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	var labels []string
	for _, l := range strings.Split(b.String(), ".") {
		for strings.Contains(l, "--") {
			l = strings.ReplaceAll(l, "--", "-")
		}
		if l = strings.Trim(l, "-"); l != "" {
			labels = append(labels, l)
		}
	}
	out := strings.Join(labels, ".")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-.")
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
	base := dnsName(s, maxNameLen-reserve)
	if !n.used[base] {
		n.used[base] = true
		return base
	}
	for i := 2; ; i++ {
		suffix := "-" + strconv.Itoa(i)
		c := dnsName(base, maxNameLen-reserve-len(suffix)) + suffix
		if !n.used[c] {
			n.used[c] = true
			return c
		}
	}
}
