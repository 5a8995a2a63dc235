package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file is the strict decoder of CRD YAML. It decodes a yaml.Node tree into the typed structs
// of crd_types.go by reflection, the way the API server decodes with strict field validation:
// unknown fields, wrong types, missing required fields and values outside an enum are errors, each
// with the file and line of the offending node. It also remembers the line of every decoded value
// so that later validation can point at the field it complains about.
//
// Struct fields are named by their json tag. The crd tag adds schema facts:
//
//	crd:"required"           the field must be present (and not null)
//	crd:"enum=A|B|C"         a string field must be one of the values
//	crd:"removed=hint"       the field is not in the CRD any more: an error that says what to do
//	crd:"deprecated=hint"    the field is not in the CRD any more but harmless: accepted, warned
//
// A *yaml.Node field keeps the subtree as it is (parts of the schema aigw does not interpret).

// posKey identifies a decoded value by address and type (a struct and its first field share an
// address).
type posKey struct {
	addr uintptr
	typ  reflect.Type
}

// decoder decodes the documents of one file.
type decoder struct {
	file     string
	lines    map[posKey]int
	errs     []diag
	warnings []diag
	// subject prefixes messages about the current object: `AIServiceBackend "openai": `.
	subject string
	// substituted are the plain scalars ${...} substitution retyped: they may still fill a string
	// field ("apiKey: ${KEY}" with an all-digit key).
	substituted map[*yaml.Node]bool
	// envOf maps the value of a scalar that was one ${VAR} to VAR, so that a Secret's value can
	// name its source (renderers keep it; nothing is served differently).
	envOf map[string]string
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: map[posKey]int{}, substituted: map[*yaml.Node]bool{}}
}

// diag is one error or warning; messages are sorted by line before they are reported.
type diag struct {
	line int
	msg  string
}

// errorf records an error at line.
func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, diag{line, fmt.Sprintf("%s:%d: %s%s", d.file, line, d.subject, fmt.Sprintf(format, args...))})
}

// warnf records a warning at line.
func (d *decoder) warnf(line int, format string, args ...any) {
	d.warnings = append(d.warnings, diag{line, fmt.Sprintf("%s:%d: %s%s", d.file, line, d.subject, fmt.Sprintf(format, args...))})
}

// sortedMessages returns the messages in file order.
func sortedMessages(ds []diag) []string {
	slices.SortStableFunc(ds, func(a, b diag) int { return a.line - b.line })
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		if len(out) == 0 || out[len(out)-1] != d.msg {
			out = append(out, d.msg)
		}
	}
	return out
}

// line returns the line a decoded value came from; ptr points at the value. 0 when unknown.
func (d *decoder) line(ptr any) int {
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return 0
	}
	return d.lines[posKey{v.Pointer(), v.Type().Elem()}]
}

func (d *decoder) remember(v reflect.Value, line int) {
	if v.CanAddr() {
		d.lines[posKey{v.Addr().Pointer(), v.Type()}] = line
	}
}

var yamlNodeType = reflect.TypeFor[*yaml.Node]()

// decode decodes n into v (settable), path naming v in messages ("spec.rules[0]").
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.remember(v, n.Line)
	if v.Type() == yamlNodeType {
		v.Set(reflect.ValueOf(n))
		return
	}
	if isNull(n) {
		return // a null is an unset field, as in Kubernetes
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		d.remember(v.Elem(), n.Line)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n.Line, "%s: expected a list, got %s", path, describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n.Line, "%s: expected a mapping, got %s", path, describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.errorf(k.Line, "%s: duplicate key %q", path, k.Value)
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, e, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
	case reflect.String:
		s, ok := scalarString(n)
		if !ok && n.Kind == yaml.ScalarNode && d.substituted[n] {
			s, ok = n.Value, true
		}
		if !ok {
			d.errorf(n.Line, "%s: expected a string, got %s", path, describe(n))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.errorf(n.Line, "%s: expected true or false, got %s", path, describe(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.errorf(n.Line, "%s: expected an integer, got %s", path, describe(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if err != nil {
			d.errorf(n.Line, "%s: %s is out of range", path, n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: decoder cannot decode into %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "%s: expected a mapping, got %s", trimDot(path), describe(n))
		return
	}
	fields := structFields(v.Type())
	rest := restField(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := k.Value
		fpath := joinPath(path, name)
		if seen[name] {
			d.errorf(k.Line, "%s: duplicate field", fpath)
			continue
		}
		seen[name] = true
		f, ok := fields[name]
		if !ok && rest >= 0 {
			m := v.Field(rest)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			m.SetMapIndex(reflect.ValueOf(name), reflect.ValueOf(val))
			continue
		}
		if !ok {
			d.errorf(k.Line, "%s: unknown field%s", fpath, suggest(name, slices.Sorted(mapKeys(fields))))
			continue
		}
		switch {
		case f.removed != "":
			d.errorf(k.Line, "%s: field is not supported any more: %s", fpath, f.removed)
			continue
		case f.deprecated != "":
			d.warnf(k.Line, "%s: field is not in the CRD any more and is ignored: %s", fpath, f.deprecated)
		}
		fv := v.Field(f.index)
		d.decode(val, fv, fpath)
		// A field's line is its key's line: that is where a reader looks for it.
		d.remember(fv, k.Line)
		if fv.Kind() == reflect.Pointer && !fv.IsNil() {
			d.remember(fv.Elem(), k.Line)
		}
		if len(f.enum) > 0 && fv.Kind() == reflect.String && !isNull(val) && !slices.Contains(f.enum, fv.String()) {
			d.errorf(val.Line, "%s: unsupported value %q%s", fpath, fv.String(), suggestValue(fv.String(), f.enum))
		}
		if f.required && isNull(val) {
			d.errorf(k.Line, "%s: required field is null", fpath)
		}
	}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if f, ok := fields[name]; ok && f.required && !seen[name] {
			d.errorf(n.Line, "%s: missing required field", joinPath(path, name))
		}
	}
}

// fieldInfo is what the decoder knows about one struct field.
type fieldInfo struct {
	index      int
	required   bool
	enum       []string
	removed    string
	deprecated string
}

func structFields(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fi := fieldInfo{index: i}
		if tag := sf.Tag.Get("crd"); tag != "" {
			// Hints may contain commas, so removed= and deprecated= take the rest of the tag.
			for tag != "" {
				var part string
				if strings.HasPrefix(tag, "removed=") || strings.HasPrefix(tag, "deprecated=") {
					part, tag = tag, ""
				} else {
					part, tag, _ = strings.Cut(tag, ",")
				}
				switch {
				case part == "required":
					fi.required = true
				case strings.HasPrefix(part, "enum="):
					fi.enum = strings.Split(strings.TrimPrefix(part, "enum="), "|")
				case strings.HasPrefix(part, "removed="):
					fi.removed = strings.TrimPrefix(part, "removed=")
				case strings.HasPrefix(part, "deprecated="):
					fi.deprecated = strings.TrimPrefix(part, "deprecated=")
				}
			}
		}
		out[name] = fi
	}
	return out
}

// restField is the index of the field that collects unknown keys (crd:"rest"), or -1.
func restField(t reflect.Type) int {
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("crd") == "rest" {
			return i
		}
	}
	return -1
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalarString returns a scalar's text when it is a string. Numbers and booleans are not strings
// (Kubernetes rejects `name: 123` for a string field); a timestamp is, as text.
func scalarString(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, true
	}
	return "", false
}

// describe names a node's kind for a type error.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return fmt.Sprintf("the number %s (quote it to make it a string)", n.Value)
	case "!!bool":
		return fmt.Sprintf("the boolean %s (quote it to make it a string)", n.Value)
	}
	return fmt.Sprintf("%q", n.Value)
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func trimDot(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

// suggest returns ` (did you mean "x"?)` for the known name closest to name, or "".
func suggest(name string, known []string) string {
	if best := closest(name, known); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// suggestValue is suggest for enum values, listing them when none is close.
func suggestValue(v string, known []string) string {
	if best := closest(v, known); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (supported: %s)", strings.Join(known, ", "))
}

// closest returns the candidate that equals name ignoring case, or else the one within a small
// edit distance, or "".
func closest(name string, candidates []string) string {
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
	}
	best, bestDist := "", 3
	if len(name) <= 4 {
		bestDist = 2
	}
	for _, c := range candidates {
		if dist := editDistance(strings.ToLower(name), strings.ToLower(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
