package config

import (
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// substitute replaces ${VAR} and ${VAR:=default} (also spelled ${VAR:-default}) in every scalar
// of the tree, the way the reference aigw runs its config through envsubst, and $${ for a literal
// ${. It works on parsed scalars rather than on the file's text, so a value cannot inject YAML,
// comments are left alone, and every line number stays true. A plain (unquoted) scalar is typed
// again after substitution, so `port: ${PORT:=1975}` is a number.
//
// A ${VAR} without a default whose variable is empty or unset is an error: sending an empty API
// key upstream only turns into a confusing 401 later. A bare $VAR, which the reference's envsubst
// also replaces, is left as it is and warned about when that variable is set.
func (d *decoder) substitute(n *yaml.Node, getenv func(string) string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			d.substitute(c, getenv)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		out, changed := d.expand(n.Line, n.Value, getenv)
		if m := prefixedVar.FindStringSubmatch(n.Value); changed && m != nil && strings.HasPrefix(out, m[1]) {
			// "${VAR}", or "Bearer ${VAR}": VAR's value is the end of the scalar.
			if d.envOf == nil {
				d.envOf = map[string]string{}
			}
			d.envOf[out[len(m[1]):]] = m[2]
		}
		if changed {
			n.Value = out
			if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				n.Tag = "" // type the new text again, as if it had been written there
				d.substituted[n] = true
			}
		}
	}
}

var (
	varName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bareVars = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)
	// prefixedVar is a scalar that ends with its one ${VAR} (literal text before it).
	prefixedVar = regexp.MustCompile(`^([^$]*)\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
)

// expand substitutes one scalar's text.
func (d *decoder) expand(line int, s string, getenv func(string) string) (string, bool) {
	var b strings.Builder
	changed := false
	for {
		i := strings.Index(s, "$")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$${"):
			b.WriteString("${")
			s = s[3:]
			changed = true
		case strings.HasPrefix(s, "${"):
			end := strings.IndexByte(s, '}')
			if end < 0 {
				d.errorf(line, "unterminated ${ in %q", s)
				return "", false
			}
			val, ok := d.lookup(line, s[2:end], getenv)
			if !ok {
				return "", false
			}
			b.WriteString(val)
			s = s[end+1:]
			changed = true
		default:
			if m := bareVars.FindStringSubmatch(s); m != nil && strings.HasPrefix(s, m[0]) && getenv(m[1]) != "" {
				d.warnf(line, "$%s is not substituted: write ${%s}", m[1], m[1])
			}
			b.WriteByte('$')
			s = s[1:]
		}
	}
	return b.String(), changed
}

// lookup resolves the inside of ${...}.
func (d *decoder) lookup(line int, expr string, getenv func(string) string) (string, bool) {
	name, def, hasDefault := expr, "", false
	for _, op := range []string{":=", ":-", "=", "-"} {
		if n, v, ok := strings.Cut(expr, op); ok && varName.MatchString(n) {
			name, def, hasDefault = n, v, true
			break
		}
	}
	if !varName.MatchString(name) {
		d.errorf(line, "${%s}: %q is not a variable name", expr, name)
		return "", false
	}
	if v := getenv(name); v != "" {
		return v, true
	}
	if hasDefault {
		return def, true
	}
	d.errorf(line, "${%s}: environment variable %s is not set (set it, or give a default: ${%s:=value})", name, name, name)
	return "", false
}
