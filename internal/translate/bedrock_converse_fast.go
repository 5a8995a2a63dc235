package translate

import "strconv"

// The fast path of the ConverseStream translation (see stream_fast.go): the frequent
// contentBlockDelta events that carry text, and the events every stream sends once
// (messageStart, contentBlockStop, messageStop, metadata), are read without encoding/json and
// their chat.completion.chunk is written by hand, byte for byte what the general path writes.
// Any other event (tool use, reasoning, exceptions), or one that is in any way unusual, goes to
// the general path.

// cvEventFields are the members cvStreamEvent reads; a member outside them (Bedrock pads events
// with "p") is skipped, as encoding/json skips it.
var cvEventFields = []string{"role", "contentBlockIndex", "start", "delta", "stopReason", "usage", "message", "additionalModelResponseFields"}

// cvDeltaFields are the members cvBlockDelta reads.
var cvDeltaFields = []string{"text", "toolUse", "reasoningContent"}

// readFastConverseText reads a contentBlockDelta payload whose delta is text: the block index
// and the text's string literal (quotes included) with whether it holds escapes. ok is false for
// anything else, and for anything encoding/json might read differently.
func readFastConverseText(b []byte) (index int, raw []byte, esc, ok bool) {
	var seenIndex, seenDelta, seenText bool
	end, ok := jsonObject(b, jsonWS(b, 0), func(key []byte, kesc bool, v int) (int, bool) {
		switch {
		case !kesc && string(key) == "contentBlockIndex" && !seenIndex:
			seenIndex = true
			var end int
			var ok bool
			index, end, ok = jsonScanInt(b, v)
			return end, ok
		case !kesc && string(key) == "delta" && !seenDelta:
			seenDelta = true
			return jsonObject(b, v, func(key []byte, kesc bool, v int) (int, bool) {
				if !kesc && string(key) == "text" && !seenText {
					seenText = true
					end, e, ok := jsonScanString(b, v)
					if !ok {
						return 0, false
					}
					raw, esc = b[v:end], e
					return end, true
				}
				if ignorableKey(key, kesc, cvDeltaFields) {
					return jsonSkipValue(b, v, 0)
				}
				return 0, false
			})
		case ignorableKey(key, kesc, cvEventFields):
			return jsonSkipValue(b, v, 0)
		}
		return 0, false
	})
	if !ok || !seenText || jsonWS(b, end) != len(b) {
		return 0, nil, false, false
	}
	return index, raw, esc, true
}

// fastText is delta for a text delta read by readFastConverseText.
func (s *cvToOAStream) fastText(dst []byte, index int, raw []byte, esc bool) []byte {
	dst = s.start(dst)
	s.block(index, "text")
	text := jsonStringValue(raw, esc, &s.scratch)
	if len(text) == 0 {
		return dst
	}
	dst = s.appendChunkStart(dst)
	dst = append(dst, `,"choices":[{"index":0,"delta":{"content":`...)
	dst = appendJSONString(dst, text)
	return append(dst, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
}

// appendChunkStart appends the start of a chat.completion.chunk event, up to its choices, as
// chunk writes it.
func (s *cvToOAStream) appendChunkStart(dst []byte) []byte {
	dst = append(dst, `data: {"id":`...)
	dst = appendJSONString(dst, s.t.chatID())
	dst = append(dst, `,"object":"chat.completion.chunk","created":`...)
	dst = strconv.AppendInt(dst, s.created, 10)
	dst = append(dst, `,"model":`...)
	return appendJSONString(dst, s.t.target.Model)
}

// The chunks every stream sends once, written by hand as chunk and finish write them.

// roleChunk is the first chunk: the assistant role with empty content.
func (s *cvToOAStream) roleChunk(dst []byte) []byte {
	dst = s.appendChunkStart(dst)
	return append(dst, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"...)
}

// finishChunk is the finishing chunk: an empty delta with the finish reason.
func (s *cvToOAStream) finishChunk(dst []byte, reason string) []byte {
	dst = s.appendChunkStart(dst)
	dst = append(dst, `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":`...)
	dst = appendJSONString(dst, reason)
	return append(dst, "}]}\n\n"...)
}

// usageChunk is the usage chunk: no choices, and the usage.
func (s *cvToOAStream) usageChunk(dst []byte) []byte {
	dst = s.appendChunkStart(dst)
	dst = append(dst, `,"choices":[],"usage":`...)
	dst = appendOAUsage(dst, s.t.usage)
	return append(dst, "}\n\n"...)
}

// readFastConverseEvent reads an event payload that holds only the members role,
// contentBlockIndex, stopReason and usage (and members cvStreamEvent does not read) into e, as
// json.Unmarshal would; false for anything else (start, delta, message, nulls, ...), which the
// general path reads.
func readFastConverseEvent(b []byte, e *cvStreamEvent) bool {
	var seen [4]bool
	var scratch []byte
	end, ok := jsonObject(b, jsonWS(b, 0), func(key []byte, kesc bool, v int) (int, bool) {
		k := -1
		if !kesc {
			switch string(key) {
			case "role":
				k = 0
			case "contentBlockIndex":
				k = 1
			case "stopReason":
				k = 2
			case "usage":
				k = 3
			}
		}
		if k < 0 {
			if ignorableKey(key, kesc, cvEventFields) {
				return jsonSkipValue(b, v, 0)
			}
			return 0, false
		}
		if seen[k] {
			return 0, false
		}
		seen[k] = true
		switch k {
		case 0, 2:
			var l jsonLiteral
			end, ok := scanLiteral(b, v, &l)
			if !ok {
				return 0, false
			}
			str := string(jsonStringValue(l.raw, l.esc, &scratch))
			if k == 0 {
				e.Role = str
			} else {
				e.StopReason = str
			}
			return end, true
		case 1:
			n, end, ok := jsonScanInt(b, v)
			e.ContentBlockIndex = n
			return end, ok
		}
		e.Usage = new(cvUsage)
		return readFastConverseUsage(b, v, e.Usage)
	})
	return ok && jsonWS(b, end) == len(b)
}
