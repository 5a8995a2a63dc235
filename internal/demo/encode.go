package demo

import (
	"strconv"
	"unicode/utf8"
)

// appendEscaped appends s escaped for the inside of a JSON string (without quotes). Unlike
// encoding/json it leaves <, > and & alone, as the providers do.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hex[r&0xf])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	return append(b, s[start:]...)
}

// appendString appends s as a quoted JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// fnv64 is FNV-1a: a stable hash, so answers and embeddings are the same across processes.
func fnv64(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// fnvOffset is the FNV-1a 64-bit offset basis.
const fnvOffset uint64 = 14695981039346656037

// splitmix64 scrambles a counter or hash into well-mixed bits; used for ids, vectors and
// anything else that must look random but be reproducible.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Identifiers look like the providers' (same prefixes, lengths and alphabets) so anything that
// parses or logs them sees realistic values. They come from a per-server atomic counter run
// through splitmix64: unique, random-looking, and free of locks or crypto/rand on the hot path.

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix followed by n characters drawn from alphabet.
func (s *Server) newID(prefix, alphabet string, n int) string {
	x := splitmix64(s.idBase + s.idCount.Add(1)*0x9e3779b97f4a7c15)
	var buf [64]byte
	b := append(buf[:0], prefix...)
	for i := 0; i < n; i++ {
		if i%8 == 7 {
			x = splitmix64(x)
		}
		b = append(b, alphabet[x%uint64(len(alphabet))])
		x /= uint64(len(alphabet))
	}
	return string(b)
}

// chatID is an OpenAI chat completion id: "chatcmpl-" and 29 alphanumerics.
func (s *Server) chatID() string { return s.newID("chatcmpl-", alnum, 29) }

// completionID is a legacy completion id: "cmpl-" and 29 alphanumerics.
func (s *Server) completionID() string { return s.newID("cmpl-", alnum, 29) }

// toolCallID is an OpenAI tool call id: "call_" and 24 alphanumerics.
func (s *Server) toolCallID() string { return s.newID("call_", alnum, 24) }

// openAIRequestID is OpenAI's x-request-id: "req_" and 32 hex digits.
func (s *Server) openAIRequestID() string { return s.newID("req_", "0123456789abcdef", 32) }

// messageID is an Anthropic message id: "msg_01" and 22 alphanumerics.
func (s *Server) messageID() string { return s.newID("msg_01", alnum, 22) }

// toolUseID is an Anthropic tool_use block id: "toolu_01" and 22 alphanumerics.
func (s *Server) toolUseID() string { return s.newID("toolu_01", alnum, 22) }

// anthropicRequestID is Anthropic's request-id: "req_011C" and 20 alphanumerics.
func (s *Server) anthropicRequestID() string { return s.newID("req_011C", alnum, 20) }

// fingerprint is a stable system_fingerprint per model, as OpenAI keeps one per deployment.
func fingerprint(model string) string {
	h := splitmix64(fnv64(fnvOffset, model))
	b := strconv.AppendUint([]byte("fp_"), h&0xffffffffff, 16)
	for len(b) < 13 {
		b = append(b, '0')
	}
	return string(b)
}
