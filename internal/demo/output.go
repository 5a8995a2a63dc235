package demo

import "strings"

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

// plan is what one generation request will produce, decided entirely before anything is sent so
// the streamed and non-streamed forms of the same request carry the same content and usage.
type plan struct {
	text      output    // the answer text; n is 0 when answering with a tool call
	tool      *toolPlan // the tool call, if the request is answered with one
	reasoning int       // hidden reasoning tokens (OpenAI reasoning models)
	truncated bool      // the request's token limit cut the answer short
}

// toolPlan is one synthesised tool call.
type toolPlan struct {
	name   string
	args   string
	pieces []string // args cut into streamed fragments
}

// outputTokens is the visible output size: exactly one token per streamed delta.
func (p plan) outputTokens() int {
	if p.tool != nil {
		return len(p.tool.pieces)
	}
	return p.text.n
}

// planFor decides the answer. h selects the canned text; limit is the request's token cap
// (0 = none), which hidden reasoning shares with the visible answer as it does at OpenAI.
func (s *Server) planFor(h uint64, limit int, reasons bool, tools toolRequest) plan {
	var p plan
	budget := limit
	if reasons {
		p.reasoning = 64 * int(1+h%4)
		if limit > 0 {
			p.reasoning = min(p.reasoning, limit/2)
			budget = limit - p.reasoning
		}
	}
	if d, ok := tools.pick(); ok {
		args := d.schema.arguments(codeSpan(tools.prompt))
		p.tool = &toolPlan{name: d.name, args: args, pieces: fragments(args)}
		return p
	}
	n := s.opts.OutputTokens
	if limit > 0 && n > budget {
		n = budget
		p.truncated = true
	}
	p.text = s.answer.output(h, n)
	return p
}

// obfuscation returns the padding OpenAI adds to stream chunks so their sizes do not reveal the
// token lengths; the simulator pads each delta to a multiple of 16 bytes.
func obfuscation(deltaLen int) string {
	const pad = "Xq7LmZp2Rt9KwV4n"
	return pad[:(16-deltaLen%16)%16]
}

// AnswerSentences returns the sentences every simulated answer is cut from, so tests of clients
// in front of the simulator can check that what a client printed came from it.
func AnswerSentences() []string { return answerSentences() }
