package translate

import (
	"math"
	"strconv"
)

// The fast path of the Converse request (see stream_fast.go): the usual chat body (string
// messages from system, developer, user and assistant, max tokens, temperature, top_p, stream
// and its include_usage, nothing else oaChatRequest or bedrockExtensions read) is read with the
// hand scanner and the Converse body written by hand, byte for byte what converseRequest and
// marshalJSON write for it. Any other body (content parts, tools, stop, reasoning, extensions,
// nulls, escaped or case-variant keys, duplicates) goes to the general path, which also reports
// every error.

// oaChatFields are the members oaChatRequest reads.
var oaChatFields = []string{"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop", "n", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort", "user", "thinking"}

// oaChatBodyFields are the top-level members either decode of a chat body reads.
var oaChatBodyFields = append(append([]string{}, oaChatFields...), bedrockExtensionFields...)

// oaMessageFields are the members oaMessage reads.
var oaMessageFields = []string{"role", "content", "name", "refusal", "tool_calls", "tool_call_id", "reasoning_content", "reasoning", "thinking_blocks", "cache_control", "function_call"}

// fastChatMessage is one message of a body the fast path takes: its role and its content's
// string literal.
type fastChatMessage struct {
	role    string // user, assistant or system (system and developer)
	content jsonLiteral
}

// fastChatRequest is a chat body as readFastChatRequest reads it.
type fastChatRequest struct {
	messages            []fastChatMessage
	maxTokens, maxCompl int64
	hasMax, hasMaxCompl bool
	temperature, topP   float64
	hasTemp, hasTopP    bool
	stream, usage       bool
}

// readFastChatRequest reads a chat body into r; false means the general path must read it.
func readFastChatRequest(b []byte, r *fastChatRequest) bool {
	var seen [8]bool // model, messages, max_tokens, max_completion_tokens, temperature, top_p, stream, stream_options
	once := func(k int) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	end, ok := jsonObject(b, jsonWS(b, 0), func(key []byte, kesc bool, v int) (int, bool) {
		if kesc {
			return 0, false
		}
		switch string(key) {
		case "model":
			if !once(0) {
				return 0, false
			}
			end, _, ok := jsonScanString(b, v)
			return end, ok
		case "messages":
			if !once(1) {
				return 0, false
			}
			return jsonArray(b, v, func(v int) (int, bool) { return readFastChatMessage(b, v, r) })
		case "max_tokens":
			if !once(2) {
				return 0, false
			}
			r.hasMax = true
			return scanInt64(b, v, &r.maxTokens)
		case "max_completion_tokens":
			if !once(3) {
				return 0, false
			}
			r.hasMaxCompl = true
			return scanInt64(b, v, &r.maxCompl)
		case "temperature":
			if !once(4) {
				return 0, false
			}
			r.hasTemp = true
			return scanFloat64(b, v, &r.temperature)
		case "top_p":
			if !once(5) {
				return 0, false
			}
			r.hasTopP = true
			return scanFloat64(b, v, &r.topP)
		case "stream":
			if !once(6) {
				return 0, false
			}
			return scanBool(b, v, &r.stream)
		case "stream_options":
			if !once(7) {
				return 0, false
			}
			seenUsage := false
			return jsonObject(b, v, func(key []byte, kesc bool, v int) (int, bool) {
				if !kesc && string(key) == "include_usage" && !seenUsage {
					seenUsage = true
					return scanBool(b, v, &r.usage)
				}
				if ignorableKey(key, kesc, []string{"include_usage"}) {
					return jsonSkipValue(b, v, 0)
				}
				return 0, false
			})
		}
		if ignorableKey(key, kesc, oaChatBodyFields) {
			return jsonSkipValue(b, v, 0)
		}
		return 0, false
	})
	return ok && jsonWS(b, end) == len(b)
}

// readFastChatMessage reads {"role": ..., "content": "..."} with a role the fast path knows.
func readFastChatMessage(b []byte, i int, r *fastChatRequest) (int, bool) {
	var m fastChatMessage
	var seenRole, seenContent bool
	end, ok := jsonObject(b, i, func(key []byte, kesc bool, v int) (int, bool) {
		switch {
		case !kesc && string(key) == "role" && !seenRole:
			seenRole = true
			end, esc, ok := jsonScanString(b, v)
			if !ok || esc {
				return 0, false
			}
			switch string(b[v+1 : end-1]) {
			case "user":
				m.role = "user"
			case "assistant":
				m.role = "assistant"
			case "system", "developer":
				m.role = "system"
			default:
				return 0, false
			}
			return end, true
		case !kesc && string(key) == "content" && !seenContent:
			seenContent = true
			return scanLiteral(b, v, &m.content)
		case ignorableKey(key, kesc, oaMessageFields):
			return jsonSkipValue(b, v, 0)
		}
		return 0, false
	})
	if !ok || !seenRole || !seenContent {
		return 0, false
	}
	r.messages = append(r.messages, m)
	return end, true
}

// scanInt64 reads a plain non-negative integer (as an int64 field surely decodes it).
func scanInt64(b []byte, v int, dst *int64) (int, bool) {
	n, end, ok := jsonScanInt(b, v)
	*dst = int64(n)
	return end, ok
}

// scanFloat64 reads a number as encoding/json reads it into a float64; one out of range
// declines (encoding/json refuses it).
func scanFloat64(b []byte, v int, dst *float64) (int, bool) {
	end, ok := jsonScanNumber(b, v)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b[v:end]), 64)
	if err != nil {
		return 0, false
	}
	*dst = f
	return end, true
}

// scanBool reads true or false.
func scanBool(b []byte, v int, dst *bool) (int, bool) {
	switch {
	case len(b)-v >= 4 && string(b[v:v+4]) == "true":
		*dst = true
		return v + 4, true
	case len(b)-v >= 5 && string(b[v:v+5]) == "false":
		*dst = false
		return v + 5, true
	}
	return 0, false
}

// appendJSONFloat appends f as encoding/json writes a float64: like strconv's shortest 'f',
// switching to 'e' below 1e-6 and from 1e21, with a one-digit negative exponent unpadded.
func appendJSONFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst
}

// fastConverseRequest is the Converse body for a chat body readFastChatRequest takes, with
// t.stream and t.includeUsage set; ok is false for any other body (and for one without a user
// or assistant message, which the general path refuses).
func (t *openAIToBedrock) fastConverseRequest(body []byte) (_ []byte, ok bool) {
	var buf [8]fastChatMessage
	r := fastChatRequest{messages: buf[:0]}
	if !readFastChatRequest(body, &r) {
		return nil, false
	}
	var scratch []byte
	out := make([]byte, 0, len(body)+64)
	out = append(out, `{"messages":[`...)
	role, turns := "", 0
	for i := range r.messages {
		m := &r.messages[i]
		if m.role == "system" {
			continue
		}
		text := jsonStringValue(m.content.raw, m.content.esc, &scratch)
		if m.role == "assistant" && len(text) == 0 {
			continue // an empty assistant turn has no block, and is not sent
		}
		switch {
		case m.role == role:
			out = append(out, ',')
		case turns > 0:
			out = append(out, "]},"...)
			fallthrough
		default:
			out = append(out, `{"role":"`...)
			out = append(out, m.role...)
			out = append(out, `","content":[`...)
			role = m.role
			turns++
		}
		out = append(out, `{"text":`...)
		out = appendJSONString(out, text)
		out = append(out, '}')
	}
	if turns == 0 {
		return nil, false
	}
	out = append(out, "]}]"...)
	system := false
	for i := range r.messages {
		m := &r.messages[i]
		if m.role != "system" {
			continue
		}
		if system {
			out = append(out, ',')
		} else {
			out = append(out, `,"system":[`...)
			system = true
		}
		out = append(out, `{"text":`...)
		out = appendJSONString(out, jsonStringValue(m.content.raw, m.content.esc, &scratch))
		out = append(out, '}')
	}
	if system {
		out = append(out, ']')
	}
	if r.hasMax || r.hasMaxCompl || r.hasTemp || r.hasTopP {
		out = append(out, `,"inferenceConfig":{`...)
		sep := false
		field := func(name string) {
			if sep {
				out = append(out, ',')
			}
			sep = true
			out = append(out, name...)
		}
		switch {
		case r.hasMaxCompl:
			field(`"maxTokens":`)
			out = strconv.AppendInt(out, r.maxCompl, 10)
		case r.hasMax:
			field(`"maxTokens":`)
			out = strconv.AppendInt(out, r.maxTokens, 10)
		}
		if r.hasTemp {
			field(`"temperature":`)
			out = appendJSONFloat(out, r.temperature)
		}
		if r.hasTopP {
			field(`"topP":`)
			out = appendJSONFloat(out, r.topP)
		}
		out = append(out, '}')
	}
	t.stream = r.stream
	t.includeUsage = r.stream && r.usage
	return append(out, '}'), true
}

// bedrockExtensionFields are the members bedrockExtensions reads.
var bedrockExtensionFields = []string{"guardrailConfig", "additionalModelRequestFields", "additionalModelResponseFieldPaths", "performanceConfig", "promptVariables", "requestMetadata", "service_tier"}

// mayHaveBedrockExtensions reports whether decoding body into bedrockExtensions could set
// anything: false only when body is an object none of whose top-level keys encoding/json could
// match to one of its fields (plain ASCII keys that equal none of them, even ignoring case).
// Anything the scanner cannot read with certainty (escaped or non-ASCII keys, values nested
// deeper than maxSkipDepth, invalid JSON) answers true, leaving the decision to encoding/json.
// Most chat bodies carry no extension, and this saves decoding every one of them twice.
func mayHaveBedrockExtensions(body []byte) bool {
	found := false
	end, ok := jsonObject(body, jsonWS(body, 0), func(key []byte, esc bool, v int) (int, bool) {
		if !ignorableKey(key, esc, bedrockExtensionFields) {
			found = true
			return 0, false
		}
		return jsonSkipValue(body, v, 0)
	})
	return found || !ok || jsonWS(body, end) != len(body)
}
