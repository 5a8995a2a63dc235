package observe

import "strings"

// Describing a whole chat.completion with gjson walked the answer several times over (validate,
// the members, usage and its details, each choice and its message): the largest part of what
// tracing cost a chat request after the span encoding. chatAnswerFast reads the usual answer in
// one pass with the stream assembler's scanner (assemble_fast.go) and writes exactly the
// attributes responseAttrs writes. It takes an answer only when it is valid JSON by gjson's rules
// and every member it interprets is plain: keys without escapes; the message members, usage
// counts and details at most once each; counts as plain integers; a role that is a string;
// content a string or absent; no tool calls; at most maxFastChoices choices, each an object whose
// message is an object, null or absent. Anything else is declined before any attribute is
// written, and the general path describes the answer.

// chatRequestFast does the same for the request of a chat completion (requestAttrs): it takes a
// request whose messages are objects (or null) with plain members as above, whose invocation
// parameters are members with plain keys, and which has no tools (or functions: the general path
// describes those).

// describeFast turns chatAnswerFast and chatRequestFast on; tests turn it off to compare with the
// general path.
var describeFast = true

// Usage counts in the order openAIUsage records them.
const (
	usageTotal = iota
	usagePrompt
	usageCompletion
	usageCached
	usagePromptAudio
	usageReasoning
	usageCompletionAudio
	usageCounts
)

var usageKeys = [usageCounts]string{oiTokensTotal, oiTokensPrompt, oiTokensOutput,
	"llm.token_count.prompt_details.cache_read", "llm.token_count.prompt_details.audio",
	"llm.token_count.completion_details.reasoning", "llm.token_count.completion_details.audio"}

// fastAnswer is a chat.completion as chatAnswerFast read it; strings are JSON string literals,
// "" when absent.
type fastAnswer struct {
	model string
	count [usageCounts]int64
	set   [usageCounts]bool
	msgs  [maxFastChoices]fastMessage
	n     int
}

type fastMessage struct{ role, name, id, content string }

// chatAnswerFast records a whole chat.completion's attributes as responseAttrs does; false, with
// nothing written, when it leaves the answer to the general path.
func chatAnswerFast(a *attrs, out string) bool {
	var f fastAnswer
	if !f.read(out) {
		return false
	}
	a.str(oiOutputValue, out)
	a.str(oiOutputMime, mimeJSON)
	if f.model != "" {
		a.str(oiModelName, fjStr(f.model))
	}
	for k := range usageCounts {
		if f.set[k] {
			a.int(usageKeys[k], f.count[k])
		}
	}
	for i := range f.n {
		msgAttrs(a, &f.msgs[i], messageKeysAt(oiOutputMessages, i))
	}
	return true
}

// fjMembers calls member for each member of the object at d[i] == '{' with the indexes of its key
// (whose literal is then d[k:k+len(key)+2]) and of its value (after which member returns the
// index), and returns the index after the object. Keys with escapes are declined.
func fjMembers(d string, i int, member func(key string, k, v int) (int, bool)) (end int, ok bool) {
	if i >= len(d) || d[i] != '{' {
		return 0, false
	}
	i = fjWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		return i + 1, true
	}
	for {
		k := i
		var key string
		if i, key, ok = fjKey(d, i); !ok || key == `\` || i >= len(d) {
			return 0, false
		}
		if i, ok = member(key, k, i); !ok {
			return 0, false
		}
		if i, ok = fjNext(d, i, '}'); !ok || d[i-1] == '}' {
			return i, ok
		}
	}
}

// read reads the answer d.
func (f *fastAnswer) read(d string) bool {
	var seenModel, seenUsage, seenChoices bool
	end, ok := fjMembers(d, fjWS(d, 0), func(key string, _, v int) (int, bool) {
		switch {
		case key == "model" && !seenModel:
			seenModel = true
			if d[v] == '"' {
				end, lit, ok := fjStringValue(d, v)
				f.model = lit
				return end, ok
			}
		case key == "usage" && !seenUsage:
			seenUsage = true
			if d[v] == '{' {
				return f.readUsage(d, v)
			}
		case key == "choices" && !seenChoices:
			seenChoices = true
			switch d[v] {
			case '[':
				return f.readChoices(d, v)
			case 'n':
				return fjLiteral(d, v, "null")
			}
			return 0, false
		}
		return fjSkip(d, v, 1)
	})
	return ok && fjWS(d, end) == len(d)
}

// readUsage reads the usage object at d[i].
func (f *fastAnswer) readUsage(d string, i int) (int, bool) {
	var seen [usageCounts + 2]bool // the counts, then the two details objects
	count := func(k int, v int) (int, bool) {
		if seen[k] {
			return 0, false
		}
		seen[k] = true
		if d[v] != '-' && !isDigit(d[v]) {
			return fjSkip(d, v, 2) // not a number: not recorded
		}
		end, ok := fjNumber(d, v)
		if !ok {
			return 0, false
		}
		n, ok := fjIndex(d[v:end])
		f.count[k], f.set[k] = n, ok
		return end, ok
	}
	details := func(k int, v int, a, b string, ka, kb int) (int, bool) {
		if seen[k] {
			return 0, false
		}
		seen[k] = true
		if d[v] != '{' {
			return fjSkip(d, v, 2) // not an object: nothing in it is recorded
		}
		return fjMembers(d, v, func(key string, _, v int) (int, bool) {
			switch key {
			case a:
				return count(ka, v)
			case b:
				return count(kb, v)
			}
			return fjSkip(d, v, 3)
		})
	}
	return fjMembers(d, i, func(key string, _, v int) (int, bool) {
		switch key {
		case "total_tokens":
			return count(usageTotal, v)
		case "prompt_tokens":
			return count(usagePrompt, v)
		case "completion_tokens":
			return count(usageCompletion, v)
		case "prompt_tokens_details":
			return details(usageCounts, v, "cached_tokens", "audio_tokens", usageCached, usagePromptAudio)
		case "completion_tokens_details":
			return details(usageCounts+1, v, "reasoning_tokens", "audio_tokens", usageReasoning, usageCompletionAudio)
		}
		return fjSkip(d, v, 2)
	})
}

// readChoices reads the choices array at d[i] == '['.
func (f *fastAnswer) readChoices(d string, i int) (int, bool) {
	i = fjWS(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for {
		if f.n == maxFastChoices || i >= len(d) || d[i] != '{' {
			return 0, false
		}
		m := &f.msgs[f.n]
		f.n++
		seenMessage := false
		end, ok := fjMembers(d, i, func(key string, _, v int) (int, bool) {
			if key != "message" || seenMessage {
				return fjSkip(d, v, 2)
			}
			seenMessage = true
			switch d[v] {
			case '{':
				return readMessage(m, d, v)
			case 'n':
				return fjLiteral(d, v, "null")
			}
			return 0, false
		})
		if !ok {
			return 0, false
		}
		if i, ok = fjNext(d, end, ']'); !ok || d[i-1] == ']' {
			return i, ok
		}
	}
}

// readMessage reads a choice's message object at d[i] into m.
func readMessage(m *fastMessage, d string, i int) (int, bool) {
	var seen [5]bool
	once := func(k int) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	// str reads a member counted only when it is a string.
	str := func(dst *string, v int) (int, bool) {
		if d[v] != '"' {
			return fjSkip(d, v, 3)
		}
		end, lit, ok := fjStringValue(d, v)
		*dst = lit
		return end, ok
	}
	return fjMembers(d, i, func(key string, _, v int) (int, bool) {
		switch key {
		case "role":
			if !once(0) || d[v] != '"' {
				return 0, false
			}
			return str(&m.role, v)
		case "name":
			if !once(1) {
				return 0, false
			}
			return str(&m.name, v)
		case "tool_call_id":
			if !once(2) {
				return 0, false
			}
			return str(&m.id, v)
		case "content":
			if !once(3) || d[v] == '[' {
				return 0, false
			}
			return str(&m.content, v)
		case "tool_calls":
			if !once(4) {
				return 0, false
			}
			if d[v] == '[' {
				// Only an empty list: calls are described by the general path.
				j := fjWS(d, v+1)
				if j < len(d) && d[j] == ']' {
					return j + 1, true
				}
				return 0, false
			}
		}
		return fjSkip(d, v, 3)
	})
}

// maxFastMessages bounds the messages chatRequestFast reads (a longer conversation is described
// by the general path).
const maxFastMessages = 64

// chatRequestFast records a chat completion request's attributes as requestAttrs does after the
// span kind and system; false, with nothing written, when it leaves the request to the general
// path.
func chatRequestFast(a *attrs, in string) bool {
	var msgs [maxFastMessages]fastMessage
	n := 0
	var seenMessages bool
	var inv strings.Builder
	inv.Grow(len(in))
	inv.WriteByte('{')
	end, ok := fjMembers(in, fjWS(in, 0), func(key string, k, v int) (int, bool) {
		switch key {
		case "tools", "functions":
			return 0, false
		case "messages":
			if seenMessages {
				// The general path reads the first; the others are left out of the
				// invocation parameters all the same.
				return fjSkip(in, v, 1)
			}
			seenMessages = true
			switch in[v] {
			case 'n':
				return fjLiteral(in, v, "null")
			case '[':
			default:
				return 0, false
			}
			i := fjWS(in, v+1)
			if i < len(in) && in[i] == ']' {
				return i + 1, true
			}
			for {
				if n == len(msgs) || i >= len(in) {
					return 0, false
				}
				m := &msgs[n]
				n++
				var ok bool
				switch in[i] {
				case '{':
					i, ok = readMessage(m, in, i)
				case 'n':
					i, ok = fjLiteral(in, i, "null")
				}
				if !ok {
					return 0, false
				}
				if i, ok = fjNext(in, i, ']'); !ok || in[i-1] == ']' {
					return i, ok
				}
			}
		}
		end, ok := fjSkip(in, v, 1)
		if ok {
			if inv.Len() > 1 {
				inv.WriteByte(',')
			}
			inv.WriteString(in[k : k+len(key)+2])
			inv.WriteByte(':')
			inv.WriteString(in[v:end])
		}
		return end, ok
	})
	if !ok || fjWS(in, end) != len(in) {
		return false
	}
	inv.WriteByte('}')
	a.str(oiInputValue, in)
	a.str(oiInputMime, mimeJSON)
	a.str(oiInvocation, inv.String())
	for i := range n {
		msgAttrs(a, &msgs[i], messageKeysAt(oiInputMessages, i))
	}
	return true
}

// msgAttrs records a message as chatMessage does.
func msgAttrs(a *attrs, m *fastMessage, k *messageKeys) {
	if m.role != "" {
		a.str(k.role, fjStr(m.role))
	}
	if m.name != "" {
		a.str(k.name, fjStr(m.name))
	}
	if m.id != "" {
		a.str(k.toolCallID, fjStr(m.id))
	}
	if m.content != "" {
		if c := fjStr(m.content); c != "" {
			a.str(k.content, c)
		}
	}
}
