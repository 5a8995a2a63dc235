package observe

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/translate"
)

// Assembling a traced stream read every line with gjson (validate, parse, walk the event, its
// choices and its delta) and wrote output.value by building maps for encoding/json: most of the
// CPU tracing added to a streamed request. The readers and writers here do the same work by hand
// for the usual case, and must give exactly what the general code gives:
//
//   - fastLine reads a chat.completion.chunk (or a streamed text_completion) in one pass, into a
//     record on the stack, and applies it only once the whole line has been read. It takes a
//     line only when the line is valid JSON by gjson's rules and every member it interprets is
//     plain: keys without escapes; choices, usage and a choice's members at most once; integer
//     indexes; no tool calls; at most maxFastTop scalars and maxFastChoices choices. Anything
//     else is declined before any state changes, and the general path reads the line, so the
//     state is the same either way. The leading members a chunk repeats from the last one are
//     not read again (the memo, see fastLine).
//   - appendOutput writes output.value as json.Marshal writes the general path's map: keys
//     sorted, strings with encoding/json's escaping (HTML characters, U+2028/9, invalid UTF-8 as
//     U+FFFD), raw scalars compacted with HTML escaping, usage as json.Marshal writes gjson's
//     Value() of it.

// assembleFast turns the hand-written readers and writers on for new assemblers; tests turn it
// off to compare with the general path.
var assembleFast = true

const (
	maxFastTop     = 16
	maxFastChoices = 8
	maxFastDepth   = 64
)

// fastChunk is one chunk as fastLine read it, before it is applied.
type fastChunk struct {
	top   [maxFastTop]fastMember
	ntop  int
	usage string
	ch    [maxFastChoices]fastChoice
	nch   int
}

type fastMember struct{ key, raw string }

// fastChoice holds a choice's members as JSON string literals, "" when absent or not a string.
type fastChoice struct {
	idx                         int64
	finish, text, role, content string
}

// fjWS skips JSON whitespace from i.
func fjWS(d string, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// strPlain marks the bytes a JSON string holds as they are.
var strPlain = func() (t [256]bool) {
	for c := ' '; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// fjString reads the string literal at d[i] == '"' and returns the index after it and whether it
// holds escapes; ok is false when gjson.Valid would refuse it.
func fjString(d string, i int) (end int, esc, ok bool) {
	if i >= len(d) || d[i] != '"' {
		return 0, false, false
	}
	i++
	for {
		for i < len(d) && strPlain[d[i]] {
			i++
		}
		if i >= len(d) {
			return 0, false, false
		}
		switch d[i] {
		case '"':
			return i + 1, esc, true
		case '\\':
			esc = true
			i++
			if i >= len(d) {
				return 0, false, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(d) {
					return 0, false, false
				}
				for _, h := range []byte(d[i+1 : i+5]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false, false
					}
				}
				i += 5
			default:
				return 0, false, false
			}
		default: // a control character
			return 0, false, false
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// fjDigits skips digits from i.
func fjDigits(d string, i int) int {
	for i < len(d) && isDigit(d[i]) {
		i++
	}
	return i
}

// fjNumber reads the number at d[i] by JSON's grammar.
func fjNumber(d string, i int) (end int, ok bool) {
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d) || !isDigit(d[i]):
		return 0, false
	case d[i] == '0':
		i++
	default:
		i = fjDigits(d, i)
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return 0, false
		}
		i = fjDigits(d, i)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return 0, false
		}
		i = fjDigits(d, i)
	}
	return i, true
}

// fjSkip reads any value at d[i] and returns the index after it.
func fjSkip(d string, i, depth int) (end int, ok bool) {
	if i >= len(d) || depth > maxFastDepth {
		return 0, false
	}
	switch c := d[i]; {
	case c == '"':
		end, _, ok = fjString(d, i)
		return end, ok
	case c == '-' || isDigit(c):
		return fjNumber(d, i)
	case c == 't':
		return fjLiteral(d, i, "true")
	case c == 'f':
		return fjLiteral(d, i, "false")
	case c == 'n':
		return fjLiteral(d, i, "null")
	case c == '[':
		i = fjWS(d, i+1)
		if i < len(d) && d[i] == ']' {
			return i + 1, true
		}
		for {
			if i, ok = fjSkip(d, i, depth+1); !ok {
				return 0, false
			}
			if i, ok = fjNext(d, i, ']'); !ok || d[i-1] == ']' {
				return i, ok
			}
		}
	case c == '{':
		i = fjWS(d, i+1)
		if i < len(d) && d[i] == '}' {
			return i + 1, true
		}
		for {
			if i, _, ok = fjKey(d, i); !ok {
				return 0, false
			}
			if i, ok = fjSkip(d, i, depth+1); !ok {
				return 0, false
			}
			if i, ok = fjNext(d, i, '}'); !ok || d[i-1] == '}' {
				return i, ok
			}
		}
	}
	return 0, false
}

func fjLiteral(d string, i int, lit string) (int, bool) {
	if strings.HasPrefix(d[i:], lit) {
		return i + len(lit), true
	}
	return 0, false
}

// fjKey reads a member's key and its colon at d[i] and returns the index of its value and the
// key, which is "\\" when it holds escapes (no key the readers look for has any).
func fjKey(d string, i int) (val int, key string, ok bool) {
	end, esc, ok := fjString(d, i)
	if !ok {
		return 0, "", false
	}
	key = d[i+1 : end-1]
	if esc {
		key = `\`
	}
	i = fjWS(d, end)
	if i >= len(d) || d[i] != ':' {
		return 0, "", false
	}
	return fjWS(d, i+1), key, true
}

// fjNext reads what follows a member or an element: a comma (then the index of the next one) or
// the closing bracket (then the index after it, with d[end-1] == closing).
func fjNext(d string, i int, closing byte) (end int, ok bool) {
	i = fjWS(d, i)
	if i >= len(d) {
		return 0, false
	}
	switch d[i] {
	case ',':
		i = fjWS(d, i+1)
		// A closing bracket after a comma is invalid; make sure the caller does not take
		// d[i-1] for one.
		if i >= len(d) || d[i] == closing {
			return 0, false
		}
		return i, true
	case closing:
		return i + 1, true
	}
	return 0, false
}

// fjStr is the text of a string literal as gjson gives it.
func fjStr(lit string) string {
	if strings.IndexByte(lit, '\\') < 0 {
		return lit[1 : len(lit)-1]
	}
	return gjson.Parse(lit).Str
}

// fjStringValue reads a value that counts only when it is a string: its literal, or "".
func fjStringValue(d string, i int) (end int, lit string, ok bool) {
	if i < len(d) && d[i] == '"' {
		if end, _, ok = fjString(d, i); !ok {
			return 0, "", false
		}
		return end, d[i:end], true
	}
	end, ok = fjSkip(d, i, 0)
	return end, "", ok
}

// fastLine takes an OpenAI chunk (d starts with '{'); false leaves it to the general path,
// with nothing changed.
//
// Chunks repeat their leading members (id, object, created, model, ...) line after line. When a
// line begins with the same bytes as s.memo, the leading members of a line already applied whose
// values the state still holds, those bytes are valid, change nothing, and are not read again:
// reading resumes at the next key, where the grammar's state is known (in the top-level object,
// after a comma). Any other write of a top-level value forgets the memo.
func (s *assembler) fastLine(d string) bool {
	var fc fastChunk
	var seenChoices, seenUsage, ok bool
	i := fjWS(d, 1)
	memo := s.memo
	if memo != "" && strings.HasPrefix(d, memo) {
		i = fjWS(d, len(memo))
	} else {
		memo = ""
	}
	fromStart := memo == ""
	lead, nlead := -1, 0 // where the first member that is not a plain scalar (or ignored) begins, and the scalars before it
	if memo == "" && i < len(d) && d[i] == '}' {
		i++
	} else {
		for {
			k := i
			var key string
			if i, key, ok = fjKey(d, i); !ok || i >= len(d) {
				return false
			}
			switch key {
			case `\`:
				return false
			case "choices":
				if seenChoices {
					return false
				}
				seenChoices = true
				if lead < 0 {
					lead, nlead = k, fc.ntop
				}
				if end, content, ok := usualChoices(d, i); ok {
					fc.ch[0], fc.nch, i = fastChoice{content: content}, 1, end
				} else if i, ok = readChoices(&fc, d, i); !ok {
					return false
				}
			case "usage":
				if seenUsage {
					return false
				}
				seenUsage = true
				if lead < 0 {
					lead, nlead = k, fc.ntop
				}
				v := i
				if i, ok = fjSkip(d, i, 0); !ok {
					return false
				}
				if d[v] == '{' {
					fc.usage = d[v:i]
				}
			default:
				v, scalar := i, false
				switch c := d[i]; {
				case c == '"':
					i, _, ok = fjString(d, i)
					scalar = true
				case c == '-' || isDigit(c):
					i, ok = fjNumber(d, i)
					scalar = true
				case c == 't':
					i, ok = fjLiteral(d, i, "true")
					scalar = true
				case c == 'f':
					i, ok = fjLiteral(d, i, "false")
					scalar = true
				default:
					i, ok = fjSkip(d, i, 0)
				}
				if !ok {
					return false
				}
				if scalar {
					if fc.ntop == maxFastTop {
						return false
					}
					fc.top[fc.ntop] = fastMember{key, d[v:i]}
					fc.ntop++
				}
			}
			if i, ok = fjNext(d, i, '}'); !ok {
				return false
			}
			if d[i-1] == '}' {
				break
			}
		}
	}
	if fjWS(d, i) != len(d) {
		return false
	}

	// The line is read: apply it as openAI would. d may be a view of a buffer the caller reuses
	// (write): what is kept is cloned.
	for _, m := range fc.top[:fc.ntop] {
		if !s.setTop(m.key, m.raw) {
			continue
		}
		// A member of the memo no longer holds the state's value (a later member with its key);
		// other members (a chunk's changing "obfuscation", after its choices) leave it true.
		if memo != "" && slices.Contains(s.memoKeys, m.key) {
			memo = ""
		}
	}
	if fc.usage != "" {
		s.usage = gjson.Result{Type: gjson.JSON, Raw: s.keep(fc.usage)}
	}
	for n := range fc.nch {
		ch := &fc.ch[n]
		c := s.choice(ch.idx)
		if ch.finish != "" {
			c.finish = s.keepChanged(c.finish, fjStr(ch.finish))
		}
		if ch.text != "" {
			c.hasContent = true
			s.grow(&c.content, fjStr(ch.text))
		}
		if ch.role != "" {
			c.role = s.keepChanged(c.role, fjStr(ch.role))
		}
		if ch.content != "" {
			c.hasContent = true
			s.grow(&c.content, fjStr(ch.content))
		}
	}

	// The leading members of a line read from its start are the next memo when the state now
	// holds their values: none of their keys comes again in the line (a later member would have
	// overwritten it).
	if memo == "" {
		s.memo, s.memoKeys = "", s.memoKeys[:0]
	}
	if fromStart && nlead > 0 {
		for a := range nlead {
			for b := a + 1; b < fc.ntop; b++ {
				if fc.top[a].key == fc.top[b].key {
					return true
				}
			}
		}
		s.memo = s.keep(d[:lead])
		if cap(s.memoKeys) < nlead {
			s.memoKeys = make([]string, 0, nlead)
		}
		for _, m := range fc.top[:nlead] {
			s.memoKeys = append(s.memoKeys, s.keepKey(m.key))
		}
	}
	return true
}

// The choices of nearly every chunk of an OpenAI stream after its first, byte for byte, but for
// the content string between them.
const (
	usualChoicesHead = `[{"index":0,"delta":{"content":`
	usualChoicesTail = `},"logprobs":null,"finish_reason":null}]`
)

// usualChoices reads the choices array at d[i] when it is exactly the usual one (usualChoicesHead,
// a string, usualChoicesTail), which readChoices would read as one choice of index 0 with that
// content; ok is false for anything else, readChoices then reads it.
func usualChoices(d string, i int) (end int, content string, ok bool) {
	if !strings.HasPrefix(d[i:], usualChoicesHead) {
		return 0, "", false
	}
	i += len(usualChoicesHead)
	if i >= len(d) || d[i] != '"' {
		return 0, "", false
	}
	j, _, ok := fjString(d, i)
	if !ok || !strings.HasPrefix(d[j:], usualChoicesTail) {
		return 0, "", false
	}
	return j + len(usualChoicesTail), d[i:j], true
}

// readChoices reads the choices array at d[i] == '['.
func readChoices(fc *fastChunk, d string, i int) (end int, ok bool) {
	if d[i] != '[' {
		return 0, false
	}
	i = fjWS(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for {
		if i, ok = readChoice(fc, d, i); !ok {
			return 0, false
		}
		if i, ok = fjNext(d, i, ']'); !ok || d[i-1] == ']' {
			return i, ok
		}
	}
}

// readChoice reads one choice at d[i] into the next slot of fc.
func readChoice(fc *fastChunk, d string, i int) (end int, ok bool) {
	if i >= len(d) || d[i] != '{' || fc.nch == maxFastChoices {
		return 0, false
	}
	ch := &fc.ch[fc.nch]
	fc.nch++
	*ch = fastChoice{}
	const (
		seenIndex = 1 << iota
		seenFinish
		seenText
		seenDelta
		seenRole
		seenContent
	)
	seen := 0
	once := func(bit int) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	i = fjWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		return i + 1, true
	}
	for {
		var key string
		if i, key, ok = fjKey(d, i); !ok || i >= len(d) {
			return 0, false
		}
		switch key {
		case `\`:
			return 0, false
		case "index":
			if !once(seenIndex) {
				return 0, false
			}
			v := i
			if i, ok = fjNumber(d, i); !ok {
				return 0, false
			}
			if ch.idx, ok = fjIndex(d[v:i]); !ok {
				return 0, false
			}
		case "finish_reason":
			if !once(seenFinish) {
				return 0, false
			}
			i, ch.finish, ok = fjStringValue(d, i)
		case "text":
			if !once(seenText) {
				return 0, false
			}
			i, ch.text, ok = fjStringValue(d, i)
		case "delta":
			if !once(seenDelta) {
				return 0, false
			}
			switch d[i] {
			case '{':
				i = fjWS(d, i+1)
				if i < len(d) && d[i] == '}' {
					i++
					break
				}
				for {
					if i, key, ok = fjKey(d, i); !ok || i >= len(d) {
						return 0, false
					}
					switch key {
					case `\`, "tool_calls":
						return 0, false
					case "role":
						if !once(seenRole) {
							return 0, false
						}
						i, ch.role, ok = fjStringValue(d, i)
					case "content":
						if !once(seenContent) {
							return 0, false
						}
						i, ch.content, ok = fjStringValue(d, i)
					default:
						i, ok = fjSkip(d, i, 1)
					}
					if !ok {
						return 0, false
					}
					if i, ok = fjNext(d, i, '}'); !ok {
						return 0, false
					}
					if d[i-1] == '}' {
						break
					}
				}
			case 'n':
				i, ok = fjLiteral(d, i, "null")
			default:
				return 0, false
			}
		default:
			i, ok = fjSkip(d, i, 1)
		}
		if !ok {
			return 0, false
		}
		if i, ok = fjNext(d, i, '}'); !ok || d[i-1] == '}' {
			return i, ok
		}
	}
}

// fjIndex is a choice's index as gjson's Int gives it, for plain integers that a float64 holds
// exactly.
func fjIndex(n string) (int64, bool) {
	neg := n[0] == '-'
	if neg {
		n = n[1:]
	}
	if len(n) > 15 {
		return 0, false
	}
	var v int64
	for _, c := range []byte(n) {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as encoding/json writes a string with HTML escaping.
func appendJSONString(dst []byte, s string) []byte { return translate.AppendJSONHTMLString(dst, s) }

// appendRawScalar writes a JSON scalar's text as json.Marshal writes a json.RawMessage holding
// it: compacted (a scalar has nothing to compact) with <, >, & and U+2028/9 escaped.
func appendRawScalar(dst []byte, raw string) []byte {
	start := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, raw[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			dst = append(dst, raw[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			start = i + 3
			i += 2
		}
	}
	return append(dst, raw[start:]...)
}

// outputValue is output.value of an OpenAI-shaped answer: the choices in idx order.
func (s *assembler) outputValue(idx []int64) string {
	if s.fast {
		if b, ok := s.appendOutput(nil, idx); ok {
			// b is this call's own and never written again.
			return unsafe.String(unsafe.SliceData(b), len(b))
		}
	}
	return compactJSON(s.outputMap(idx))
}

// appendOutput writes what json.Marshal(s.outputMap(idx)) writes; false when it cannot be sure
// to (the general path then writes it).
func (s *assembler) appendOutput(dst []byte, idx []int64) ([]byte, bool) {
	var buf [maxFastTop + 2]string
	keys := append(buf[:0], "choices")
	for _, m := range s.tops {
		k := m.key
		if k == "choices" || k == "usage" {
			return nil, false
		}
		keys = append(keys, k)
	}
	if s.usage.Exists() {
		keys = append(keys, "usage")
	}
	slices.Sort(keys)

	size := 64 + 2*len(s.usage.Raw)
	for _, i := range idx {
		c := s.choiceAt(i)
		size += 96 + c.content.Len() + len(c.role) + len(c.finish)
		for _, call := range c.calls {
			size += 96 + call.args.Len() + len(call.name) + len(call.id) + len(call.typ)
		}
	}
	for _, m := range s.tops {
		size += len(m.key) + len(m.raw) + 4
	}
	if dst == nil {
		dst = make([]byte, 0, size)
	}

	dst = append(dst, '{')
	for n, k := range keys {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		switch k {
		case "choices":
			dst = s.appendChoices(dst, idx)
		case "usage":
			var ok bool
			if dst, ok = appendValue(dst, s.usage.Raw, 0); !ok {
				return nil, false
			}
		default:
			dst = appendRawScalar(dst, s.topValue(k))
		}
	}
	return append(dst, '}'), true
}

func (s *assembler) appendChoices(dst []byte, idx []int64) []byte {
	completion := s.e == translate.EndpointCompletions
	dst = append(dst, '[')
	for n, i := range idx {
		if n > 0 {
			dst = append(dst, ',')
		}
		c := s.choiceAt(i)
		dst = append(dst, '{')
		if c.finish != "" {
			dst = append(dst, `"finish_reason":`...)
			dst = appendJSONString(dst, c.finish)
			dst = append(dst, ',')
		}
		dst = append(dst, `"index":`...)
		dst = strconv.AppendInt(dst, i, 10)
		if completion {
			dst = append(dst, `,"text":`...)
			dst = appendJSONString(dst, c.content.String())
			dst = append(dst, '}')
			continue
		}
		dst = append(dst, `,"message":{`...)
		comma := false
		if c.hasContent {
			dst = append(dst, `"content":`...)
			dst = appendJSONString(dst, c.content.String())
			comma = true
		}
		if c.role != "" {
			if comma {
				dst = append(dst, ',')
			}
			dst = append(dst, `"role":`...)
			dst = appendJSONString(dst, c.role)
			comma = true
		}
		if len(c.calls) > 0 {
			if comma {
				dst = append(dst, ',')
			}
			dst = append(dst, `"tool_calls":[`...)
			for m, k := range sortedKeys(c.calls) {
				call := c.calls[k]
				if m > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, `{"function":{"arguments":`...)
				dst = appendJSONString(dst, call.args.String())
				dst = append(dst, `,"name":`...)
				dst = appendJSONString(dst, call.name)
				dst = append(dst, `},"id":`...)
				dst = appendJSONString(dst, call.id)
				dst = append(dst, `,"type":`...)
				dst = appendJSONString(dst, call.typ)
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, "}}"...)
	}
	return append(dst, ']')
}

// appendValue writes a valid JSON value as json.Marshal writes gjson's Value() of it: objects
// as maps (keys sorted, the first of equal keys kept), numbers as float64; false when that
// would fail (a number beyond float64's range) or the value is deeper than maxFastDepth.
func appendValue(dst []byte, raw string, depth int) ([]byte, bool) {
	if raw == "" || depth > maxFastDepth {
		return nil, false
	}
	var ok bool
	switch c := raw[0]; c {
	case '{':
		type member struct{ key, val string }
		var buf [16]member
		ms := buf[:0]
		i := fjWS(raw, 1)
		if i < len(raw) && raw[i] == '}' {
			return append(dst, "{}"...), true
		}
		for {
			kend, _, ok := fjString(raw, i)
			if !ok {
				return nil, false
			}
			key := fjStr(raw[i:kend])
			v := fjWS(raw, kend)
			if v >= len(raw) || raw[v] != ':' {
				return nil, false
			}
			v = fjWS(raw, v+1)
			if i, ok = fjSkip(raw, v, depth+1); !ok {
				return nil, false
			}
			dup := false
			for _, o := range ms {
				if o.key == key {
					dup = true
					break
				}
			}
			if !dup {
				ms = append(ms, member{key, raw[v:i]})
			}
			if i, ok = fjNext(raw, i, '}'); !ok {
				return nil, false
			}
			if raw[i-1] == '}' {
				break
			}
		}
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for n, m := range ms {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, m.key)
			dst = append(dst, ':')
			if dst, ok = appendValue(dst, m.val, depth+1); !ok {
				return nil, false
			}
		}
		return append(dst, '}'), true
	case '[':
		dst = append(dst, '[')
		i := fjWS(raw, 1)
		if i < len(raw) && raw[i] == ']' {
			return append(dst, ']'), true
		}
		for n := 0; ; n++ {
			v := i
			if i, ok = fjSkip(raw, v, depth+1); !ok {
				return nil, false
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = appendValue(dst, raw[v:i], depth+1); !ok {
				return nil, false
			}
			if i, ok = fjNext(raw, i, ']'); !ok {
				return nil, false
			}
			if raw[i-1] == ']' {
				return append(dst, ']'), true
			}
		}
	case '"':
		return appendJSONString(dst, fjStr(raw)), true
	case 't':
		return append(dst, "true"...), true
	case 'f':
		return append(dst, "false"...), true
	case 'n':
		return append(dst, "null"...), true
	}
	f, _ := strconv.ParseFloat(raw, 64)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false
	}
	return appendJSONFloat(dst, f), true
}

// appendJSONFloat writes f as encoding/json writes a float64.
func appendJSONFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		// e-09 is written e-9.
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst
}
