package config

import (
	"net"
	"slices"
	"strings"
)

// Match picks the route and rule for a request to host with the given headers (header names
// in lower case), with the precedence a cluster gives AIGatewayRoutes, whose rules all match
// every path: the host selects the most specific hostname any route declares (exact, then the
// longest wildcard, then routes with no hostnames), and among the routes of that hostname the
// match with the most header conditions wins, ties going to the earlier route, rule and match
// (the order a cluster gives by creation time). It returns nil when nothing matches: as in
// Envoy, a request whose host selected routes does not fall back to less specific hostnames.
func (m *Model) Match(host string, header func(name string) string) (*Route, *Rule) {
	host = hostOnly(host)
	best := noHost
	for _, r := range m.Routes {
		if rank := r.hostRank(host); rank > best {
			best = rank
		}
	}
	if best == noHost {
		return nil, nil
	}
	for _, e := range m.matchOrder() {
		if e.route.hostRank(host) != best {
			continue
		}
		if e.match == nil || e.match.holds(header) {
			return e.route, e.rule
		}
	}
	return nil, nil
}

// matchEntry is one way to reach a rule: one of its matches, or nil for a rule without any.
type matchEntry struct {
	route *Route
	rule  *Rule
	match *Match
}

// matchOrder lists every match of every rule, most header conditions first, then in
// configuration order. It is computed once per Model.
func (m *Model) matchOrder() []matchEntry {
	m.orderOnce.Do(func() {
		for _, r := range m.Routes {
			for _, rule := range r.Rules {
				if len(rule.Matches) == 0 {
					m.order = append(m.order, matchEntry{route: r, rule: rule})
				}
				for i := range rule.Matches {
					m.order = append(m.order, matchEntry{route: r, rule: rule, match: &rule.Matches[i]})
				}
			}
		}
		slices.SortStableFunc(m.order, func(a, b matchEntry) int { return b.conditions() - a.conditions() })
	})
	return m.order
}

func (e matchEntry) conditions() int {
	if e.match == nil {
		return 0
	}
	return len(e.match.Headers)
}

// holds reports whether every header condition of the match holds.
func (mt *Match) holds(header func(string) string) bool {
	for _, h := range mt.Headers {
		if !h.Matches(header(h.Name)) {
			return false
		}
	}
	return true
}

// noHost ranks a route that does not serve the host at all.
const noHost = -1

// hostRank says how specifically a route serves host: noHost when it does not, 0 for a route
// without hostnames, 1+len for a wildcard (a longer suffix is more specific), and above every
// wildcard for an exact name.
func (r *Route) hostRank(host string) int {
	if len(r.Hostnames) == 0 {
		return 0
	}
	rank := noHost
	for _, h := range r.Hostnames {
		if !HostMatches(h, host) {
			continue
		}
		v := 1 << 16 // exact
		if strings.HasPrefix(h, "*") {
			v = len(h)
		}
		rank = max(rank, v)
	}
	return rank
}

// HostRoutes lists the routes that serve host: those of the most specific hostname, as Match
// chooses them (for /v1/models).
func (m *Model) HostRoutes(host string) []*Route {
	host = hostOnly(host)
	best := noHost
	for _, r := range m.Routes {
		best = max(best, r.hostRank(host))
	}
	var out []*Route
	for _, r := range m.Routes {
		if best != noHost && r.hostRank(host) == best {
			out = append(out, r)
		}
	}
	return out
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
