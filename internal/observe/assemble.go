package observe

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/translate"
)

// assembler rebuilds a streamed answer from the event stream the client receives, event by
// event as it passes, so a span can describe the whole answer without the stream being held
// back. Text is kept up to maxAssembledBytes per request.
type assembler struct {
	e       translate.Endpoint
	partial []byte // an incomplete line carried to the next chunk
	kept    int
	sawData bool

	top     map[string]any // the last non-null top-level scalars of the chunks
	order   []string
	choices map[int64]*choiceAcc
	usage   gjson.Result // the last usage object seen (OpenAI) or the merged one (Anthropic)
	// Anthropic messages.
	inTokens, outTokens, cacheRead, cacheWrite int64
	anthropicUsage                             bool
	// Responses: the final response object.
	final string
}

type choiceAcc struct {
	role, finish string
	content      strings.Builder
	hasContent   bool
	calls        map[int64]*callAcc
}

type callAcc struct {
	id, typ, name string
	args          strings.Builder
}

func newAssembler(e translate.Endpoint) *assembler {
	return &assembler{e: e, top: map[string]any{}, choices: map[int64]*choiceAcc{}}
}

// write takes the next bytes the client was sent.
func (s *assembler) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(s.partial)+len(p) <= maxAssembledBytes {
				s.partial = append(s.partial, p...)
			}
			return
		}
		line := p[:i]
		if len(s.partial) > 0 {
			line = append(s.partial, line...)
			s.partial = s.partial[:0]
		}
		s.line(bytes.TrimRight(line, "\r"))
		p = p[i+1:]
	}
}

func (s *assembler) line(l []byte) {
	data, ok := bytes.CutPrefix(l, []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !gjson.ValidBytes(data) {
		return
	}
	s.sawData = true
	ev := gjson.ParseBytes(data)
	switch s.e {
	case translate.EndpointMessages:
		s.anthropic(ev)
	case translate.EndpointResponses:
		if ev.Get("type").String() == "response.completed" {
			s.final = ev.Get("response").Raw
		}
	default:
		s.openAI(ev)
	}
}

func (s *assembler) grow(b *strings.Builder, v string) {
	if s.kept+len(v) > maxAssembledBytes {
		return
	}
	s.kept += len(v)
	b.WriteString(v)
}

func (s *assembler) choice(i int64) *choiceAcc {
	c, ok := s.choices[i]
	if !ok {
		c = &choiceAcc{calls: map[int64]*callAcc{}}
		s.choices[i] = c
	}
	return c
}

// openAI accumulates a chat.completion.chunk or a streamed text_completion.
func (s *assembler) openAI(ev gjson.Result) {
	ev.ForEach(func(k, v gjson.Result) bool {
		key := k.String()
		switch {
		case key == "choices" || key == "usage":
		case v.Type == gjson.Null:
		case v.Type == gjson.String || v.Type == gjson.Number || v.Type == gjson.True || v.Type == gjson.False:
			if _, seen := s.top[key]; !seen {
				s.order = append(s.order, key)
			}
			s.top[key] = v.Value()
		}
		return true
	})
	if u := ev.Get("usage"); u.IsObject() {
		s.usage = u
	}
	ev.Get("choices").ForEach(func(_, ch gjson.Result) bool {
		c := s.choice(ch.Get("index").Int())
		if f := ch.Get("finish_reason"); f.Type == gjson.String {
			c.finish = f.String()
		}
		if t := ch.Get("text"); t.Type == gjson.String {
			c.hasContent = true
			s.grow(&c.content, t.String())
		}
		d := ch.Get("delta")
		if r := d.Get("role"); r.Type == gjson.String {
			c.role = r.String()
		}
		if t := d.Get("content"); t.Type == gjson.String {
			c.hasContent = true
			s.grow(&c.content, t.String())
		}
		d.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
			idx := tc.Get("index").Int()
			call, ok := c.calls[idx]
			if !ok {
				call = &callAcc{}
				c.calls[idx] = call
			}
			if v := tc.Get("id"); v.Type == gjson.String {
				call.id = v.String()
			}
			if v := tc.Get("type"); v.Type == gjson.String {
				call.typ = v.String()
			}
			if v := tc.Get("function.name"); v.Type == gjson.String {
				call.name += v.String()
			}
			s.grow(&call.args, tc.Get("function.arguments").String())
			return true
		})
		return true
	})
}

// anthropic accumulates a Messages stream.
func (s *assembler) anthropic(ev gjson.Result) {
	c := s.choice(0)
	switch ev.Get("type").String() {
	case "message_start":
		m := ev.Get("message")
		for _, k := range []string{"id", "type", "role", "model"} {
			if v := m.Get(k); v.Type == gjson.String {
				if _, seen := s.top[k]; !seen {
					s.order = append(s.order, k)
				}
				s.top[k] = v.String()
			}
		}
		c.role = m.Get("role").String()
		s.anthropicCounts(m.Get("usage"))
	case "content_block_start":
		b := ev.Get("content_block")
		if b.Get("type").String() == "tool_use" {
			c.calls[ev.Get("index").Int()] = &callAcc{id: b.Get("id").String(), typ: "function", name: b.Get("name").String()}
		}
	case "content_block_delta":
		d := ev.Get("delta")
		switch d.Get("type").String() {
		case "text_delta":
			c.hasContent = true
			s.grow(&c.content, d.Get("text").String())
		case "input_json_delta":
			if call, ok := c.calls[ev.Get("index").Int()]; ok {
				s.grow(&call.args, d.Get("partial_json").String())
			}
		}
	case "message_delta":
		if r := ev.Get("delta.stop_reason"); r.Type == gjson.String {
			c.finish = r.String()
		}
		s.anthropicCounts(ev.Get("usage"))
	}
}

func (s *assembler) anthropicCounts(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	s.anthropicUsage = true
	if v := u.Get("input_tokens"); v.Exists() {
		s.inTokens = v.Int()
	}
	if v := u.Get("output_tokens"); v.Exists() {
		s.outTokens = v.Int()
	}
	if v := u.Get("cache_read_input_tokens"); v.Exists() {
		s.cacheRead = v.Int()
	}
	if v := u.Get("cache_creation_input_tokens"); v.Exists() {
		s.cacheWrite = v.Int()
	}
}

// attrs records the assembled answer.
func (s *assembler) attrs(a *attrs) {
	if !s.sawData {
		return
	}
	if s.e == translate.EndpointResponses {
		if s.final != "" {
			responseAttrs(a, s.e, []byte(s.final), mimeJSON)
		}
		return
	}
	idx := make([]int64, 0, len(s.choices))
	for i := range s.choices {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(x, y int) bool { return idx[x] < idx[y] })
	completion := s.e == translate.EndpointCompletions
	choices := make([]any, 0, len(idx))
	for _, i := range idx {
		c := s.choices[i]
		ch := map[string]any{"index": i}
		if c.finish != "" {
			ch["finish_reason"] = c.finish
		}
		if completion {
			ch["text"] = c.content.String()
			a.str("llm.choices."+strconv.FormatInt(i, 10)+".completion.text", c.content.String())
			choices = append(choices, ch)
			continue
		}
		msg := map[string]any{}
		p := "llm.output_messages." + strconv.FormatInt(i, 10) + ".message."
		if c.role != "" {
			msg["role"] = c.role
			a.str(p+"role", c.role)
		}
		if c.hasContent {
			msg["content"] = c.content.String()
			if c.content.Len() > 0 {
				a.str(p+"content", c.content.String())
			}
		}
		if len(c.calls) > 0 {
			var calls []any
			ks := make([]int64, 0, len(c.calls))
			for k := range c.calls {
				ks = append(ks, k)
			}
			sort.Slice(ks, func(x, y int) bool { return ks[x] < ks[y] })
			for n, k := range ks {
				call := c.calls[k]
				tp := p + "tool_calls." + strconv.Itoa(n) + ".tool_call."
				if call.id != "" {
					a.str(tp+"id", call.id)
				}
				a.str(tp+"function.name", call.name)
				a.str(tp+"function.arguments", call.args.String())
				calls = append(calls, map[string]any{"id": call.id, "type": call.typ,
					"function": map[string]any{"name": call.name, "arguments": call.args.String()}})
			}
			msg["tool_calls"] = calls
		}
		ch["message"] = msg
		choices = append(choices, ch)
	}
	out := map[string]any{"choices": choices}
	for _, k := range s.order {
		out[k] = s.top[k]
	}
	if m, ok := s.top["model"].(string); ok {
		a.str(oiModelName, m)
	}
	if s.usage.Exists() {
		out["usage"] = s.usage.Value()
		openAIUsage(a, s.usage)
	}
	if s.anthropicUsage {
		in := s.inTokens + s.cacheRead + s.cacheWrite
		a.int(oiTokensPrompt, in)
		a.int(oiTokensOutput, s.outTokens)
		a.int(oiTokensTotal, in+s.outTokens)
		if s.cacheRead > 0 {
			a.int("llm.token_count.prompt_details.cache_read", s.cacheRead)
		}
		if s.cacheWrite > 0 {
			a.int("llm.token_count.prompt_details.cache_write", s.cacheWrite)
		}
	}
	a.str(oiOutputValue, compactJSON(out))
	a.str(oiOutputMime, mimeJSON)
}
