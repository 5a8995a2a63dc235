package observe

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/aigw/aigw/internal/translate"
)

// assembler rebuilds a streamed answer from the event stream the client received. The recorder
// hands it the stream in blocks (responseRecorder.write), so that short answers are assembled
// after the request, off its goroutine, and long ones a block at a time. Text is kept up to
// maxAssembledBytes per request.
type assembler struct {
	e       translate.Endpoint
	partial []byte // an incomplete line carried to the next block
	kept    int
	sawData bool

	// The last non-null top-level scalars of the chunks, in the order first seen, their values as
	// JSON; top is where each key is in tops, once there are more than a chunk usually has.
	tops []topMember
	top  map[string]int
	next int // where in tops the member after the last one set is
	// The choices by index: last is the last chunk's, and the only one while choices is nil (most
	// answers have one).
	choices map[int64]*choiceAcc
	last    *choiceAcc
	lastIdx int64
	usage   gjson.Result // the last usage object seen (OpenAI) or the merged one (Anthropic)
	// Anthropic messages.
	inTokens, outTokens, cacheRead, cacheWrite int64
	anthropicUsage                             bool
	// Responses: the final response object.
	final string

	fast     bool     // the hand-written reader and writer (assemble_fast.go) are on
	memo     string   // the leading members of the last chunk, known to change nothing (fastLine)
	memoKeys []string // the keys of memo's members
	arena    []byte   // the block keep copies into
}

type topMember struct{ key, raw string }

type choiceAcc struct {
	role, finish string
	content      strings.Builder
	hasContent   bool
	calls        map[int64]*callAcc
}

// call keeps a tool call at index i; the map is made by the first call (most answers have none).
func (c *choiceAcc) call(i int64, call *callAcc) {
	if c.calls == nil {
		c.calls = map[int64]*callAcc{}
	}
	c.calls[i] = call
}

type callAcc struct {
	id, typ, name string
	args          strings.Builder
}

func newAssembler(e translate.Endpoint) *assembler {
	return &assembler{e: e, fast: assembleFast}
}

// write takes the next bytes the client was sent; it keeps no reference to p.
func (s *assembler) write(p []byte) {
	if len(s.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(s.partial)+len(p) <= maxAssembledBytes {
				s.partial = append(s.partial, p...)
			}
			return
		}
		s.partial = append(s.partial, p[:i]...)
		s.line(string(bytes.TrimRight(s.partial, "\r")))
		s.partial = s.partial[:0]
		p = p[i+1:]
	}
	end := bytes.LastIndexByte(p, '\n')
	if end < 0 {
		s.partial = append(s.partial, p...)
		return
	}
	// The block's whole lines are read in place, as a string over p that lives only during this
	// call: the fast path clones what it keeps (a few short values per answer), the general path
	// reads a copy of its line (line). Copying the block was a string as long as the answer.
	block := unsafe.String(unsafe.SliceData(p), end)
	s.partial = append(s.partial, p[end+1:]...)
	for block != "" {
		l, rest, _ := strings.Cut(block, "\n")
		s.line(strings.TrimRight(l, "\r"))
		block = rest
	}
}

func (s *assembler) line(l string) {
	data, ok := strings.CutPrefix(l, "data:")
	if !ok {
		return
	}
	data = strings.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return
	}
	if s.fast && s.e != translate.EndpointMessages && s.e != translate.EndpointResponses && s.fastLine(data) {
		s.sawData = true
		return
	}
	s.memo, s.memoKeys = "", nil
	// What the general path keeps points into its line: a copy, since l may be a view of the
	// caller's buffer (write).
	data = strings.Clone(data)
	if !gjson.Valid(data) {
		return
	}
	s.sawData = true
	ev := gjson.Parse(data)
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

// setTop records the value of a top-level member (copies of key and raw, which may point into
// a buffer the caller reuses); false when the member had that value already. A changed value
// leaves the map alone: assigning to a string key stores the key given.
func (s *assembler) setTop(key, raw string) bool {
	// Chunks repeat their members in one order: the member after the last one set is tried
	// before the map.
	i := s.next
	seen := i < len(s.tops) && s.tops[i].key == key
	if !seen {
		i, seen = s.findTop(key)
	}
	if seen {
		s.next = i + 1
		if s.tops[i].raw == raw {
			return false
		}
		s.tops[i].raw = s.keep(raw)
		return true
	}
	key = s.keepKey(key)
	if s.tops == nil {
		s.tops = make([]topMember, 0, maxListedTops)
	}
	s.tops = append(s.tops, topMember{key, s.keep(raw)})
	s.next = len(s.tops)
	switch n := len(s.tops); {
	case s.top != nil:
		s.top[key] = n - 1
	case n > maxListedTops:
		s.top = make(map[string]int, 2*n)
		for j, m := range s.tops {
			s.top[m.key] = j
		}
	}
	return true
}

// maxListedTops is how many top-level members are looked up in tops itself before a map
// indexes them: a chunk usually has six or seven.
const maxListedTops = 8

// findTop is where key is in tops.
func (s *assembler) findTop(key string) (int, bool) {
	if s.top != nil {
		i, ok := s.top[key]
		return i, ok
	}
	for i := range s.tops {
		if s.tops[i].key == key {
			return i, true
		}
	}
	return 0, false
}

// choiceAt is the choice of index i, which exists.
func (s *assembler) choiceAt(i int64) *choiceAcc {
	if s.choices == nil {
		return s.last
	}
	return s.choices[i]
}

// keep is a copy of v that the assembler owns, carved from an arena: its bytes are written once
// and never changed, so a copy stays valid after the arena moves on to a new block.
func (s *assembler) keep(v string) string {
	if v == "" {
		return ""
	}
	if cap(s.arena)-len(s.arena) < len(v) {
		s.arena = make([]byte, 0, max(keepBlock, len(v)))
	}
	n := len(s.arena)
	s.arena = append(s.arena, v...)
	return unsafe.String(&s.arena[n], len(v))
}

// keepKey is keep for a top-level key: the keys of OpenAI's chunks are not copied.
func (s *assembler) keepKey(k string) string {
	switch k {
	case "id":
		return "id"
	case "object":
		return "object"
	case "created":
		return "created"
	case "model":
		return "model"
	case "service_tier":
		return "service_tier"
	case "system_fingerprint":
		return "system_fingerprint"
	case "obfuscation":
		return "obfuscation"
	}
	return s.keep(k)
}

// keepBlock is the size of an assembler's arena blocks: a usual answer's kept values in one.
const keepBlock = 512

// keepChanged is old when v equals it, else a copy of v (keep).
func (s *assembler) keepChanged(old, v string) string {
	if v == old {
		return old
	}
	return s.keep(v)
}

// topValue is the value of a top-level member, or "".
func (s *assembler) topValue(key string) string {
	if i, ok := s.findTop(key); ok {
		return s.tops[i].raw
	}
	return ""
}

func (s *assembler) grow(b *strings.Builder, v string) {
	if s.kept+len(v) > maxAssembledBytes {
		return
	}
	s.kept += len(v)
	if b.Cap() == 0 {
		// A usual answer's text without regrowing from a few bytes, token by token.
		b.Grow(max(len(v), 256))
	}
	b.WriteString(v)
}

func (s *assembler) choice(i int64) *choiceAcc {
	switch {
	case s.last != nil && s.lastIdx == i:
		return s.last
	case s.last == nil:
		s.last, s.lastIdx = &choiceAcc{}, i
		return s.last
	case s.choices == nil:
		s.choices = map[int64]*choiceAcc{s.lastIdx: s.last}
	}
	c, ok := s.choices[i]
	if !ok {
		c = &choiceAcc{}
		s.choices[i] = c
	}
	s.last, s.lastIdx = c, i
	return c
}

// openAI accumulates a chat.completion.chunk or a streamed text_completion, in one pass over
// the event.
func (s *assembler) openAI(ev gjson.Result) {
	ev.ForEach(func(k, v gjson.Result) bool {
		switch key := k.Str; {
		case key == "choices":
			v.ForEach(func(_, ch gjson.Result) bool {
				s.openAIChoice(ch)
				return true
			})
		case key == "usage":
			if v.IsObject() {
				s.usage = v
			}
		case v.Type == gjson.String || v.Type == gjson.Number || v.Type == gjson.True || v.Type == gjson.False:
			s.setTop(key, v.Raw)
		}
		return true
	})
}

// openAIChoice accumulates one choice of a chunk.
func (s *assembler) openAIChoice(ch gjson.Result) {
	var idx int64
	var finish, text, delta gjson.Result
	ch.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "index":
			idx = v.Int()
		case "finish_reason":
			finish = v
		case "text":
			text = v
		case "delta":
			delta = v
		}
		return true
	})
	c := s.choice(idx)
	if finish.Type == gjson.String {
		c.finish = finish.String()
	}
	if text.Type == gjson.String {
		c.hasContent = true
		s.grow(&c.content, text.String())
	}
	delta.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role":
			if v.Type == gjson.String {
				c.role = v.String()
			}
		case "content":
			if v.Type == gjson.String {
				c.hasContent = true
				s.grow(&c.content, v.String())
			}
		case "tool_calls":
			v.ForEach(func(_, tc gjson.Result) bool {
				s.toolCallDelta(c, tc)
				return true
			})
		}
		return true
	})
}

func (s *assembler) toolCallDelta(c *choiceAcc, tc gjson.Result) {
	idx := tc.Get("index").Int()
	call, ok := c.calls[idx]
	if !ok {
		call = &callAcc{}
		c.call(idx, call)
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
}

// anthropic accumulates a Messages stream.
func (s *assembler) anthropic(ev gjson.Result) {
	c := s.choice(0)
	switch ev.Get("type").String() {
	case "message_start":
		m := ev.Get("message")
		for _, k := range []string{"id", "type", "role", "model"} {
			if v := m.Get(k); v.Type == gjson.String {
				s.setTop(k, v.Raw)
			}
		}
		c.role = m.Get("role").String()
		s.anthropicCounts(m.Get("usage"))
	case "content_block_start":
		b := ev.Get("content_block")
		if b.Get("type").String() == "tool_use" {
			c.call(ev.Get("index").Int(), &callAcc{id: b.Get("id").String(), typ: "function", name: b.Get("name").String()})
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
	var idx []int64
	if s.choices == nil {
		if s.last != nil {
			idx = []int64{s.lastIdx}
		}
	} else {
		idx = make([]int64, 0, len(s.choices))
		for i := range s.choices {
			idx = append(idx, i)
		}
		sort.Slice(idx, func(x, y int) bool { return idx[x] < idx[y] })
	}
	completion := s.e == translate.EndpointCompletions
	for _, i := range idx {
		c := s.choiceAt(i)
		if completion {
			a.str("llm.choices."+strconv.FormatInt(i, 10)+".completion.text", c.content.String())
			continue
		}
		k := messageKeysAt(oiOutputMessages, int(i))
		p := k.prefix
		if c.role != "" {
			a.str(k.role, c.role)
		}
		if c.hasContent && c.content.Len() > 0 {
			a.str(k.content, c.content.String())
		}
		for n, k := range sortedKeys(c.calls) {
			call := c.calls[k]
			tp := p + "tool_calls." + strconv.Itoa(n) + ".tool_call."
			if call.id != "" {
				a.str(tp+"id", call.id)
			}
			a.str(tp+"function.name", call.name)
			a.str(tp+"function.arguments", call.args.String())
		}
	}
	if m := gjson.Parse(s.topValue("model")); m.Type == gjson.String {
		a.str(oiModelName, m.String())
	}
	if s.usage.Exists() {
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
	a.str(oiOutputValue, s.outputValue(idx))
	a.str(oiOutputMime, mimeJSON)
}

// sortedKeys is the keys of a choice's tool calls, in order.
func sortedKeys(m map[int64]*callAcc) []int64 {
	if len(m) == 0 {
		return nil
	}
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(x, y int) bool { return ks[x] < ks[y] })
	return ks
}

// outputMap is the answer as the general path writes output.value: json.Marshal of this map.
func (s *assembler) outputMap(idx []int64) map[string]any {
	completion := s.e == translate.EndpointCompletions
	choices := make([]any, 0, len(idx))
	for _, i := range idx {
		c := s.choiceAt(i)
		ch := map[string]any{"index": i}
		if c.finish != "" {
			ch["finish_reason"] = c.finish
		}
		if completion {
			ch["text"] = c.content.String()
			choices = append(choices, ch)
			continue
		}
		msg := map[string]any{}
		if c.role != "" {
			msg["role"] = c.role
		}
		if c.hasContent {
			msg["content"] = c.content.String()
		}
		if len(c.calls) > 0 {
			var calls []any
			for _, k := range sortedKeys(c.calls) {
				call := c.calls[k]
				calls = append(calls, map[string]any{"id": call.id, "type": call.typ,
					"function": map[string]any{"name": call.name, "arguments": call.args.String()}})
			}
			msg["tool_calls"] = calls
		}
		ch["message"] = msg
		choices = append(choices, ch)
	}
	out := map[string]any{"choices": choices}
	for _, m := range s.tops {
		out[m.key] = json.RawMessage(m.raw)
	}
	if s.usage.Exists() {
		out["usage"] = s.usage.Value()
	}
	return out
}
