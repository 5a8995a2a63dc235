package demo

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
		args := d.schema.arguments()
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
