package config

import (
	"fmt"
	"strings"
)

// Summary renders a short human description of a resolved Model, for `aigw run --validate-only`.
// It never shows a secret.
func Summary(m *Model) string {
	var b strings.Builder
	port := "from the command line"
	if m.Port != 0 {
		port = fmt.Sprint(m.Port)
	}
	fmt.Fprintf(&b, "%s: %d route(s), %d backend(s), listener port %s\n", m.Source, len(m.Routes), len(m.Backends), port)
	for _, r := range m.Routes {
		hosts := "any host"
		if len(r.Hostnames) > 0 {
			hosts = strings.Join(r.Hostnames, ", ")
		}
		fmt.Fprintf(&b, "  route %s (%s)\n", r.Name, hosts)
		for _, rule := range r.Rules {
			fmt.Fprintf(&b, "    %s: %s -> %s%s\n", rule.Name, describeMatches(rule.Matches), describeRefs(rule.Backends), describeRuleOptions(rule))
		}
		if len(r.Costs) > 0 {
			fmt.Fprintf(&b, "    costs: %s\n", describeCosts(r.Costs))
		}
	}
	for _, be := range m.Backends {
		auth := "no credential"
		if be.Auth != nil {
			auth = string(be.Auth.Type)
			if be.Auth.Override != nil {
				auth += ", per-request from " + be.Auth.Override.Header
			}
		}
		version := ""
		if be.Schema.Version != "" {
			version = " api-version " + be.Schema.Version
		}
		fmt.Fprintf(&b, "  backend %s: %s %s%s%s (%s)\n", be.Name, be.Schema.Name, be.Endpoint, be.Schema.Prefix, version, auth)
	}
	if len(m.GlobalCosts) > 0 {
		fmt.Fprintf(&b, "  global costs: %s\n", describeCosts(m.GlobalCosts))
	}
	for _, w := range m.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}

func describeMatches(ms []Match) string {
	if len(ms) == 0 {
		return "every request"
	}
	alts := make([]string, 0, len(ms))
	for _, m := range ms {
		conds := make([]string, 0, len(m.Headers))
		for _, h := range m.Headers {
			if h.Regex != nil {
				conds = append(conds, fmt.Sprintf("%s ~ %s", h.Name, h.Regex))
			} else {
				conds = append(conds, fmt.Sprintf("%s = %s", h.Name, h.Exact))
			}
		}
		if len(conds) == 0 {
			conds = []string{"every request"}
		}
		alts = append(alts, strings.Join(conds, " and "))
	}
	return strings.Join(alts, " or ")
}

func describeRefs(refs []*BackendRef) string {
	parts := make([]string, 0, len(refs))
	for _, r := range refs {
		s := r.Backend.Name
		var opts []string
		if len(refs) > 1 {
			opts = append(opts, fmt.Sprintf("weight %d", r.Weight))
		}
		if r.Priority != 0 {
			opts = append(opts, fmt.Sprintf("priority %d", r.Priority))
		}
		if r.ModelNameOverride != "" {
			opts = append(opts, "model "+r.ModelNameOverride)
		}
		if len(opts) > 0 {
			s += " (" + strings.Join(opts, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func describeRuleOptions(r *Rule) string {
	opts := []string{"timeout " + r.Timeout.String()}
	if r.Timeout == 0 {
		opts[0] = "no timeout"
	}
	if r.StreamIdleTimeout != 0 {
		opts = append(opts, "stream idle "+r.StreamIdleTimeout.String())
	}
	if r.Retry != nil {
		opts = append(opts, fmt.Sprintf("%d retries", r.Retry.NumRetries))
	}
	return " [" + strings.Join(opts, ", ") + "]"
}

func describeCosts(cs []Cost) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Type == CostCEL {
			parts = append(parts, fmt.Sprintf("%s=CEL(%s)", c.MetadataKey, c.CEL))
		} else {
			parts = append(parts, fmt.Sprintf("%s=%s", c.MetadataKey, c.Type))
		}
	}
	return strings.Join(parts, ", ")
}
