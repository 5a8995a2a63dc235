package config

import (
	"net"
	"strings"
)

// Match finds the first route and rule that serve a request to host with the given headers
// (header names in lower case). It returns nil when nothing matches.
func (m *Model) Match(host string, header func(name string) string) (*Route, *Rule) {
	host = hostOnly(host)
	for _, r := range m.Routes {
		if !r.servesHost(host) {
			continue
		}
		for _, rule := range r.Rules {
			if rule.matches(header) {
				return r, rule
			}
		}
	}
	return nil, nil
}

func (r *Rule) matches(header func(string) string) bool {
	if len(r.Matches) == 0 {
		return true
	}
	for _, m := range r.Matches {
		ok := true
		for _, h := range m.Headers {
			if !h.Matches(header(h.Name)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// servesHost applies Gateway API hostname matching: exact, or "*.example.com" for any name with
// one or more labels before example.com.
func (r *Route) servesHost(host string) bool {
	if len(r.Hostnames) == 0 {
		return true
	}
	for _, h := range r.Hostnames {
		if HostMatches(h, host) {
			return true
		}
	}
	return false
}

// HostMatches reports whether a Gateway API hostname pattern matches host.
func HostMatches(pattern, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	pattern = strings.ToLower(pattern)
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return host == pattern
}

// hostOnly strips a port from a Host header value.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
