package demo

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Tool calling. When a request offers tools and the conversation calls for one, the simulator
// answers with a single call whose arguments are synthesised from the tool's JSON schema, so any
// client that validates arguments against the schema gets a well-formed call.

// toolSchema is the part of a JSON schema that shapes the arguments: the properties in the order
// the request declared them.
type toolSchema struct {
	props []toolProperty
}

// toolProperty is one declared parameter.
type toolProperty struct {
	name string
	typ  string          // first type when the schema lists several
	enum json.RawMessage // first enum value verbatim, if any
}

func (s *toolSchema) UnmarshalJSON(b []byte) error {
	var schema struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		return err
	}
	if len(schema.Properties) == 0 || schema.Properties[0] != '{' {
		return nil
	}
	// Walk the object with a decoder to keep declaration order, which a map would lose.
	dec := json.NewDecoder(bytes.NewReader(schema.Properties))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		var prop struct {
			Type json.RawMessage   `json:"type"`
			Enum []json.RawMessage `json:"enum"`
		}
		if err := dec.Decode(&prop); err != nil {
			return err
		}
		name, _ := key.(string)
		p := toolProperty{name: name, typ: firstType(prop.Type)}
		if len(prop.Enum) > 0 {
			p.enum = prop.Enum[0]
		}
		s.props = append(s.props, p)
	}
	return nil
}

// firstType reads "type": "string" or "type": ["string", "null"].
func firstType(raw json.RawMessage) string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many[0]
	}
	return ""
}

// arguments builds a compact JSON object with a plausible value for every declared property.
func (s toolSchema) arguments() string {
	b := []byte{'{'}
	for i, p := range s.props {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p.name)
		b = append(b, ':')
		b = p.appendValue(b)
	}
	return string(append(b, '}'))
}

func (p toolProperty) appendValue(b []byte) []byte {
	if len(p.enum) > 0 {
		var compact bytes.Buffer
		if json.Compact(&compact, p.enum) == nil {
			return append(b, compact.Bytes()...)
		}
	}
	switch p.typ {
	case "integer", "number":
		return append(b, "42"...)
	case "boolean":
		return append(b, "true"...)
	case "array":
		return append(b, "[]"...)
	case "object":
		return append(b, "{}"...)
	case "null":
		return append(b, "null"...)
	}
	name := strings.ToLower(p.name)
	switch {
	case strings.Contains(name, "location"), strings.Contains(name, "city"):
		return append(b, `"San Francisco, CA"`...)
	case strings.Contains(name, "unit"):
		return append(b, `"celsius"`...)
	}
	return append(b, `"demo"`...)
}

// fragments cuts a JSON text into token-sized pieces the way models stream arguments: runs of
// word characters (with one leading space) and runs of punctuation. Non-ASCII bytes count as word
// characters, so a piece never splits a UTF-8 sequence.
func fragments(s string) []string {
	var out []string
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || wordByte(s[i]) != wordByte(s[i-1]) && !(s[i-1] == ' ' && wordByte(s[i])) {
			out = append(out, s[start:i])
			start = i
		}
	}
	return out
}

func wordByte(c byte) bool {
	return c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// toolDef is a tool offered in either API.
type toolDef struct {
	name   string
	schema toolSchema
}

// toolRequest is what decides whether a request is answered with a tool call.
type toolRequest struct {
	tools      []toolDef
	mode       string // "none", "auto" (or ""), "required" or "named"
	name       string // the tool named by the choice
	wantsTools bool   // the last user message asks for something a tool provides
}

// pick returns the tool to call, if any: tools must be offered and not disabled, and the choice
// must force one or the conversation must ask about the weather. A named tool wins; otherwise a
// weather-sounding tool, otherwise the first one.
func (t toolRequest) pick() (toolDef, bool) {
	if len(t.tools) == 0 || t.mode == "none" {
		return toolDef{}, false
	}
	if t.mode != "required" && t.mode != "named" && !t.wantsTools {
		return toolDef{}, false
	}
	if t.mode == "named" {
		for _, d := range t.tools {
			if d.name == t.name {
				return d, true
			}
		}
	}
	for _, d := range t.tools {
		if containsFold(d.name, "weather") {
			return d, true
		}
	}
	return t.tools[0], true
}

// containsFold reports whether s contains the ASCII word sub, ignoring case, without allocating.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	return false
}
