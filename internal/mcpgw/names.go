package mcpgw

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/aigw/aigw/internal/config"
)

// Exposed names. Tools and prompts are "backend__name" (config.MCPToolSeparator); backend names
// cannot contain the separator, so the first one splits a name back without ambiguity.
// Resource URIs (and URI templates) get a scheme prefix: "<token>+<original URI>", where token
// is the backend's name reduced to URI scheme characters (and made unique within the route);
// the first "+" splits it back. Both are reversible and collision-free by construction.

func exposedName(backend, name string) string { return backend + config.MCPToolSeparator + name }

func splitName(exposed string) (backend, name string, ok bool) {
	return strings.Cut(exposed, config.MCPToolSeparator)
}

// schemeToken reduces a backend name to characters a URI scheme may hold (no "+").
func schemeToken(name string) string {
	var b strings.Builder
	for i, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
			b.WriteRune(r)
		default:
			b.WriteByte('x')
		}
	}
	return b.String()
}

func exposedURI(token, uri string) string { return token + "+" + uri }

func splitURI(exposed string) (token, uri string, ok bool) {
	scheme, _, hasColon := strings.Cut(exposed, ":")
	if !hasColon {
		return "", "", false
	}
	token, _, ok = strings.Cut(scheme, "+")
	if !ok {
		return "", "", false
	}
	return token, exposed[len(token)+1:], true
}

// Cursors page through the aggregated list: an offset into it, opaque to clients.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("aigw:" + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, bool) {
	if c == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(b), "aigw:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// page cuts one page out of all; size 0 returns everything from the offset.
func page[T any](all []T, cursor string, size int) ([]T, string, bool) {
	off, ok := decodeCursor(cursor)
	if !ok || off > len(all) {
		return nil, "", false
	}
	rest := all[off:]
	if size <= 0 || len(rest) <= size {
		return rest, "", true
	}
	return rest[:size], encodeCursor(off + size), true
}
