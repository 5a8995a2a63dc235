package demo

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Tool calling. When a request offers tools and the conversation calls for one, the simulator
// answers with a single call whose arguments are synthesised from the tool's JSON schema, so any
// client that validates arguments against the schema gets a well-formed call. After a tool
// result the simulated model answers in text, so an agent's tool loop ends as it would with a
// real model.

// toolSchema is the part of a JSON schema that shapes the arguments: the properties in the order
// the request declared them, and which of them are required.
type toolSchema struct {
	props    []toolProperty
	required []string
}

// toolProperty is one declared parameter.
type toolProperty struct {
	name  string
	typ   string          // first type when the schema lists several
	items string          // the item type of an array
	enum  json.RawMessage // first enum value verbatim, if any
}

func (s *toolSchema) UnmarshalJSON(b []byte) error {
	var schema struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		return err
	}
	s.required = schema.Required
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
			Type  json.RawMessage   `json:"type"`
			Enum  []json.RawMessage `json:"enum"`
			Items struct {
				Type json.RawMessage `json:"type"`
			} `json:"items"`
		}
		if err := dec.Decode(&prop); err != nil {
			return err
		}
		name, _ := key.(string)
		p := toolProperty{name: name, typ: firstType(prop.Type), items: firstType(prop.Items.Type)}
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

// arguments builds a compact JSON object with a plausible value for every required property (or
// every declared one when the schema requires none), as models fill what they must and leave
// optional switches alone. span, the first `code span` of the prompt, becomes the value of
// free-text strings ("Run `ls` with Bash" calls Bash with {"command":"ls"}).
func (s toolSchema) arguments(span string) string {
	b := []byte{'{'}
	n := 0
	for _, p := range s.props {
		if len(s.required) > 0 && !slices.Contains(s.required, p.name) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, p.name)
		b = append(b, ':')
		b = p.appendValue(b, span)
	}
	return string(append(b, '}'))
}

func (p toolProperty) appendValue(b []byte, span string) []byte {
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
		if p.items != "string" || span == "" {
			return append(b, "[]"...)
		}
		b = append(b, '[')
		for i, f := range strings.Fields(span) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f)
		}
		return append(b, ']')
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
	case span != "":
		return appendString(b, span)
	}
	return append(b, `"demo"`...)
}

// codeSpan returns the text of the first `code span` in s, or "".
func codeSpan(s string) string {
	open := strings.IndexByte(s, '`')
	if open < 0 {
		return ""
	}
	end := strings.IndexByte(s[open+1:], '`')
	if end <= 0 {
		return ""
	}
	return s[open+1 : open+1+end]
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
	tools    []toolDef
	mode     string // "none", "auto" (or ""), "required" or "named"
	name     string // the tool named by the choice
	prompt   string // the text of the last user message
	answered bool   // the conversation ends with a tool result
}

// pick returns the tool to call, if any. Tools must be offered and not disabled. A forced choice
// ("required" or a named tool) always calls, as the real APIs do. Otherwise the model calls only
// when the last user message asks for it, by naming a tool (its exact name as a word) or by
// mentioning the weather, and never right after a tool result: it answers that in text. The
// tool is the named one, else one the prompt names, else a weather-sounding one, else the first.
func (t toolRequest) pick() (toolDef, bool) {
	if len(t.tools) == 0 || t.mode == "none" {
		return toolDef{}, false
	}
	forced := t.mode == "required" || t.mode == "named"
	if t.mode == "named" {
		for _, d := range t.tools {
			if d.name == t.name {
				return d, true
			}
		}
	}
	if !forced && t.answered {
		return toolDef{}, false
	}
	for _, d := range t.tools {
		if containsWord(t.prompt, d.name) {
			return d, true
		}
	}
	if !forced && !containsFold(t.prompt, "weather") {
		return toolDef{}, false
	}
	for _, d := range t.tools {
		if containsFold(d.name, "weather") {
			return d, true
		}
	}
	return t.tools[0], true
}

// containsWord reports whether word occurs in s as a whole word, case-sensitively.
func containsWord(s, word string) bool {
	if word == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], word)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(word)
		if (j == 0 || !wordByte(s[j-1])) && (end == len(s) || !wordByte(s[end])) {
			return true
		}
		i = j + 1
	}
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
