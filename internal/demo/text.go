package demo

import (
	"strings"
	"unicode/utf8"
)

// token is one streamed piece of output. Its JSON-escaped form is computed once in New so the
// streaming loop only copies bytes.
type token struct {
	text    string // as it appears in the output, usually with a leading space
	escaped string // text escaped for the inside of a JSON string
}

// answerSentences is the pool answers are drawn from. The pool is cycled from a start sentence
// chosen by a hash of the last user message, so the same question always gets the same answer.
func answerSentences() []string {
	return []string{
		"Hello! This is the aigw demo provider answering your request.",
		"The simulator streams one word at a time, just like a real model.",
		"Every answer is deterministic, so tests can rely on the exact text.",
		"Token usage, cached tokens and latency are reported as a provider would.",
		"Try changing the prompt to get a different canned reply.",
		"Nothing here leaves your machine; no real model was called.",
		"Routing, retries and observability all see ordinary provider traffic.",
		"Streaming responses end with a finish reason and, on request, usage.",
		"The quick brown fox jumps over the lazy dog, twice on Sundays.",
		"Good question; the short answer is that it depends on your configuration.",
		"Here is a concise summary: the gateway received, routed and answered.",
		"If you ask about the weather, tools may be called instead of text.",
	}
}

// thinkingSentences is the pool for Anthropic extended-thinking blocks.
func thinkingSentences() []string {
	return []string{
		"The user asked a question, so I should consider what they need.",
		"Let me reason about it step by step before answering.",
		"A short, direct reply will serve them best here.",
	}
}

// tokenize splits sentences into word tokens, each word carrying its leading space and trailing
// punctuation split off as its own token, which is roughly how BPE tokenizers cut English.
func tokenize(sentences []string) []token {
	var out []token
	for _, sentence := range sentences {
		for _, word := range strings.Fields(sentence) {
			body := strings.TrimRight(word, ".,!?;:")
			if body != "" {
				out = append(out, newToken(" "+body))
			}
			for _, p := range word[len(body):] {
				out = append(out, newToken(string(p)))
			}
		}
	}
	return out
}

func newToken(text string) token {
	return token{text: text, escaped: string(appendEscaped(nil, text))}
}

// pool is a tokenized sentence pool with the indexes where sentences begin.
type pool struct {
	tokens []token
	starts []int
}

func newPool(sentences []string) pool {
	p := pool{tokens: tokenize(sentences)}
	atStart := true
	for i, t := range p.tokens {
		if atStart {
			p.starts = append(p.starts, i)
		}
		atStart = t.text == "." || t.text == "!" || t.text == "?"
	}
	return p
}

// output is n tokens of the pool beginning at the sentence h selects, so an answer always starts
// at a sentence boundary and the same h always gives the same answer.
func (p pool) output(h uint64, n int) output {
	return output{pool: p.tokens, start: p.starts[h%uint64(len(p.starts))], n: n}
}

// output is the sequence of tokens an answer consists of: n tokens of pool cycled from start.
type output struct {
	pool  []token
	start int
	n     int
}

// at returns the i-th token; the first one loses its leading space.
func (o output) at(i int) token {
	t := o.pool[(o.start+i)%len(o.pool)]
	if i == 0 {
		t.text = strings.TrimPrefix(t.text, " ")
		t.escaped = strings.TrimPrefix(t.escaped, " ")
	}
	return t
}

// appendText appends the whole answer as plain text.
func (o output) appendText(b []byte) []byte {
	for i := 0; i < o.n; i++ {
		b = append(b, o.at(i).text...)
	}
	return b
}

// text returns the whole answer as one string.
func (o output) text() string { return string(o.appendText(make([]byte, 0, o.n*6))) }

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
