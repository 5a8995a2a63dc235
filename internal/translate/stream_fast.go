package translate

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The stream translators read every upstream event; decoding each with encoding/json dominated
// their cost. The helpers here let them handle the frequent events (text, reasoning and argument
// deltas) with a strict hand-written reader and write the client's event by hand.
//
// The fast path must produce exactly what the encoding/json path would, so it is deliberately
// narrow: it takes an event only when its reading is certain to be the same as json.Unmarshal's
// (the whole event is valid JSON, each field it reads has the expected JSON type and appears
// once, keys are plain ASCII so that case-insensitive field matching cannot surprise), and
// otherwise declines, leaving the event to the general path.

// maxSkipDepth bounds the nesting of values the reader skips; deeper values go to the general
// path.
const maxSkipDepth = 64

// jsonWS skips JSON whitespace from i.
func jsonWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// jsonScanString reads the string literal starting at b[i] == '"' and returns the index after
// its closing quote and whether it holds escapes. ok is false when it is not a valid JSON
// string by encoding/json's scanner (control characters, unknown escapes).
func jsonScanString(b []byte, i int) (end int, esc, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, false
	}
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				return 0, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) {
					return 0, false, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, false, false
					}
				}
				i += 5
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		default:
			i++
		}
	}
	return 0, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// jsonScanNumber reads a number by the JSON grammar and returns the index after it.
func jsonScanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	return i, true
}

// jsonScanInt reads a small non-negative integer written in plain digits (what an int field
// surely decodes the same), and returns its value and the index after it.
func jsonScanInt(b []byte, i int) (v, end int, ok bool) {
	start := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
	}
	n := i - start
	if n == 0 || n > 9 || (n > 1 && b[start] == '0') {
		return 0, 0, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, 0, false
	}
	return v, i, true
}

// jsonIsNull reports whether the literal null starts at b[i], and returns the index after it.
func jsonIsNull(b []byte, i int) (int, bool) {
	if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
		return i + 4, true
	}
	return 0, false
}

// jsonSkipValue reads any valid JSON value starting at b[i] and returns the index after it.
func jsonSkipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := jsonScanString(b, i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxSkipDepth {
			return 0, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = jsonWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i, _, ok = jsonScanString(b, i); !ok {
					return 0, false
				}
				i = jsonWS(b, i)
				if i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = jsonWS(b, i+1)
			}
			if i, ok = jsonSkipValue(b, i, depth+1); !ok {
				return 0, false
			}
			i = jsonWS(b, i)
			if i >= len(b) {
				return 0, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return 0, false
			}
			i = jsonWS(b, i+1)
		}
	case c == '-' || '0' <= c && c <= '9':
		return jsonScanNumber(b, i)
	case c == 't':
		if len(b)-i >= 4 && string(b[i:i+4]) == "true" {
			return i + 4, true
		}
	case c == 'f':
		if len(b)-i >= 5 && string(b[i:i+5]) == "false" {
			return i + 5, true
		}
	case c == 'n':
		return jsonIsNull(b, i)
	}
	return 0, false
}

// jsonObject reads the object starting at b[i], calling field for each member with the raw key
// (between its quotes) and the index of the value, which field must read and return the index
// after. It returns the index after the object.
func jsonObject(b []byte, i int, field func(key []byte, esc bool, v int) (int, bool)) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = jsonWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		end, esc, ok := jsonScanString(b, i)
		if !ok {
			return 0, false
		}
		key := b[i+1 : end-1]
		i = jsonWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		if i, ok = field(key, esc, jsonWS(b, i+1)); !ok {
			return 0, false
		}
		i = jsonWS(b, i)
		if i >= len(b) {
			return 0, false
		}
		if b[i] == '}' {
			return i + 1, true
		}
		if b[i] != ',' {
			return 0, false
		}
		i = jsonWS(b, i+1)
	}
}

// ignorableKey reports whether encoding/json would ignore key when decoding into a struct with
// the given field names: a plain ASCII key that matches none of them, not even ignoring case.
func ignorableKey(key []byte, esc bool, fields []string) bool {
	if esc {
		return false
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	for _, f := range fields {
		if len(f) == len(key) && strings.EqualFold(f, string(key)) {
			return false
		}
	}
	return true
}

// jsonUnquote appends to buf the value of the string literal raw (quotes included, already
// validated by jsonScanString), decoded as encoding/json decodes it: invalid UTF-8 and unpaired
// surrogates become U+FFFD.
func jsonUnquote(buf, raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				rr := hex4(s[r+1 : r+5])
				r += 5
				if utf16.IsSurrogate(rr) {
					if len(s)-r >= 6 && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != unicode.ReplacementChar {
							r += 6
							buf = utf8.AppendRune(buf, dec)
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				buf = utf8.AppendRune(buf, rr)
				continue
			default: // " \ /
				buf = append(buf, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			buf = utf8.AppendRune(buf, rr)
		}
	}
	return buf
}

// hex4 is the value of four hex digits, already validated.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendJSONString appends s as a JSON string exactly as marshalJSON writes it: encoding/json's
// escaping without HTML escaping (<, > and & stay as they are), invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped.
func appendJSONString[S []byte | string](dst []byte, s S) []byte {
	return appendJSONStringAs(dst, s, &jsonPlain)
}

// AppendJSONHTMLString appends s as a JSON string exactly as json.Marshal writes it, with its
// default HTML escaping (<, > and & as \u003c, \u003e and \u0026).
func AppendJSONHTMLString(dst []byte, s string) []byte {
	return appendJSONStringAs(dst, s, &jsonHTMLSafe)
}

// jsonPlain and jsonHTMLSafe mark the ASCII bytes encoding/json writes as they are in a string,
// without and with HTML escaping.
var jsonPlain, jsonHTMLSafe = func() (plain, html [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
		html[c] = plain[c] && c != '<' && c != '>' && c != '&'
	}
	return plain, html
}()

// appendJSONStringAs appends s as a JSON string, leaving the ASCII bytes safe marks as they are.
func appendJSONStringAs[S []byte | string](dst []byte, s S, safe *[utf8.RuneSelf]bool) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		n := min(len(s)-i, utf8.UTFMax)
		r, size := utf8.DecodeRuneInString(string(s[i : i+n]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonStringValue is the value of the string literal raw (validated by jsonScanString): raw's
// own bytes when they need no decoding, else decoded into *scratch, a reusable buffer.
func jsonStringValue(raw []byte, esc bool, scratch *[]byte) []byte {
	s := raw[1 : len(raw)-1]
	if !esc && utf8.Valid(s) {
		return s
	}
	*scratch = jsonUnquote((*scratch)[:0], raw)
	return *scratch
}

// jsonArray reads the array starting at b[i], calling elem with the index of each element,
// which elem must read and return the index after. It returns the index after the array.
func jsonArray(b []byte, i int, elem func(v int) (int, bool)) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = jsonWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = elem(i); !ok {
			return 0, false
		}
		i = jsonWS(b, i)
		if i >= len(b) {
			return 0, false
		}
		if b[i] == ']' {
			return i + 1, true
		}
		if b[i] != ',' {
			return 0, false
		}
		i = jsonWS(b, i+1)
	}
}
