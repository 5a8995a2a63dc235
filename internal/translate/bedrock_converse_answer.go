package translate

import "strconv"

// The fast path of the whole Converse answer (see stream_fast.go): the usual answer, text
// blocks with a stopReason and usage (metrics and other members skipped as encoding/json skips
// them), is read without encoding/json and its chat.completion written by hand, byte for byte
// what completion's general path writes. Any other answer (tool calls, reasoning, nulls, keys
// encoding/json might match without case, duplicates, numbers an int64 might read differently)
// goes to the general path.

// The members of each object of a Converse answer that the general path reads.
var (
	cvAnswerFields  = []string{"output", "stopReason", "usage"}
	cvOutputFields  = []string{"message"}
	cvMessageFields = []string{"role", "content"}
	cvBlockFields   = []string{"text", "image", "document", "toolUse", "toolResult", "reasoningContent", "cachePoint", "guardContent"}
	cvUsageFields   = []string{"inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens", "cacheWriteInputTokens"}
)

// maxFastTexts bounds the text blocks the fast path takes; an answer with more is unusual.
const maxFastTexts = 4

// cvFastAnswer is a Converse answer as readFastConverseAnswer reads it: the string literals
// (quotes included) of its text blocks and stopReason, with whether each holds escapes.
type cvFastAnswer struct {
	texts    [maxFastTexts]jsonLiteral
	ntext    int
	stop     jsonLiteral
	usage    cvUsage
	hasUsage bool
}

type jsonLiteral struct {
	raw []byte
	esc bool
}

// scanLiteral reads the string literal at b[v] into l.
func scanLiteral(b []byte, v int, l *jsonLiteral) (int, bool) {
	end, esc, ok := jsonScanString(b, v)
	if !ok {
		return 0, false
	}
	l.raw, l.esc = b[v:end], esc
	return end, true
}

// readFastConverseAnswer reads a whole Converse answer into a; false means the general path
// must read it.
func readFastConverseAnswer(b []byte, a *cvFastAnswer) bool {
	var seenOutput, seenStop, seenUsage bool
	end, ok := jsonObject(b, jsonWS(b, 0), func(key []byte, kesc bool, v int) (int, bool) {
		switch {
		case !kesc && string(key) == "output" && !seenOutput:
			seenOutput = true
			return readFastConverseOutput(b, v, a)
		case !kesc && string(key) == "stopReason" && !seenStop:
			seenStop = true
			return scanLiteral(b, v, &a.stop)
		case !kesc && string(key) == "usage" && !seenUsage:
			seenUsage, a.hasUsage = true, true
			return readFastConverseUsage(b, v, &a.usage)
		case ignorableKey(key, kesc, cvAnswerFields):
			return jsonSkipValue(b, v, 0)
		}
		return 0, false
	})
	return ok && a.ntext > 0 && jsonWS(b, end) == len(b)
}

// readFastConverseOutput reads {"message":{"role":"assistant","content":[text blocks]}}.
func readFastConverseOutput(b []byte, i int, a *cvFastAnswer) (int, bool) {
	seenMessage := false
	return jsonObject(b, i, func(key []byte, kesc bool, v int) (int, bool) {
		switch {
		case !kesc && string(key) == "message" && !seenMessage:
			seenMessage = true
			var seenRole, seenContent bool
			return jsonObject(b, v, func(key []byte, kesc bool, v int) (int, bool) {
				switch {
				case !kesc && string(key) == "role" && !seenRole:
					seenRole = true
					end, _, ok := jsonScanString(b, v)
					return end, ok
				case !kesc && string(key) == "content" && !seenContent:
					seenContent = true
					return jsonArray(b, v, func(v int) (int, bool) { return readFastAnswerText(b, v, a) })
				case ignorableKey(key, kesc, cvMessageFields):
					return jsonSkipValue(b, v, 0)
				}
				return 0, false
			})
		case ignorableKey(key, kesc, cvOutputFields):
			return jsonSkipValue(b, v, 0)
		}
		return 0, false
	})
}

// readFastAnswerText reads a content block that holds text and nothing else the general path
// reads.
func readFastAnswerText(b []byte, i int, a *cvFastAnswer) (int, bool) {
	if a.ntext == maxFastTexts {
		return 0, false
	}
	seenText := false
	end, ok := jsonObject(b, i, func(key []byte, kesc bool, v int) (int, bool) {
		switch {
		case !kesc && string(key) == "text" && !seenText:
			seenText = true
			return scanLiteral(b, v, &a.texts[a.ntext])
		case ignorableKey(key, kesc, cvBlockFields):
			return jsonSkipValue(b, v, 0)
		}
		return 0, false
	})
	if !ok || !seenText {
		return 0, false
	}
	a.ntext++
	return end, true
}

// readFastConverseUsage reads the usage object, each count a plain non-negative integer.
func readFastConverseUsage(b []byte, i int, u *cvUsage) (int, bool) {
	var seen [5]bool
	return jsonObject(b, i, func(key []byte, kesc bool, v int) (int, bool) {
		if ignorableKey(key, kesc, cvUsageFields) {
			return jsonSkipValue(b, v, 0)
		}
		var k int
		var f *int64
		switch {
		case kesc:
			return 0, false
		case string(key) == "inputTokens":
			k, f = 0, &u.InputTokens
		case string(key) == "outputTokens":
			k, f = 1, &u.OutputTokens
		case string(key) == "totalTokens":
			k, f = 2, &u.TotalTokens
		case string(key) == "cacheReadInputTokens":
			k, f = 3, &u.CacheReadInputTokens
		case string(key) == "cacheWriteInputTokens":
			k, f = 4, &u.CacheWriteInputTokens
		default:
			return 0, false
		}
		if seen[k] {
			return 0, false
		}
		seen[k] = true
		n, end, ok := jsonScanInt(b, v)
		*f = int64(n)
		return end, ok
	})
}

// fastCompletion is completion for an answer readFastConverseAnswer takes; ok is false for
// any other.
func (t *openAIToBedrock) fastCompletion(body []byte) (_ []byte, ok bool) {
	var a cvFastAnswer
	if !readFastConverseAnswer(body, &a) {
		return nil, false
	}
	if a.hasUsage {
		t.usage = a.usage.usage()
	}
	var scratch []byte
	text := jsonStringValue(a.texts[0].raw, a.texts[0].esc, &scratch)
	if a.ntext > 1 {
		scratch = append(scratch[:0], text...)
		for _, l := range a.texts[1:a.ntext] {
			scratch = jsonUnquote(scratch, l.raw)
		}
		text = scratch
	}
	var stop []byte
	if a.stop.raw != nil {
		var buf []byte
		stop = jsonStringValue(a.stop.raw, a.stop.esc, &buf)
	}
	out := make([]byte, 0, 256+len(text)+len(t.requestID)+len(t.target.Model))
	out = append(out, `{"id":`...)
	out = appendJSONString(out, t.chatID())
	out = append(out, `,"object":"chat.completion","created":`...)
	out = strconv.AppendInt(out, t.now().Unix(), 10)
	out = append(out, `,"model":`...)
	out = appendJSONString(out, t.target.Model)
	out = append(out, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	out = appendJSONString(out, text)
	out = append(out, `},"logprobs":null,"finish_reason":`...)
	out = appendJSONString(out, t.finishReason(string(stop)))
	out = append(out, `}],"usage":`...)
	out = appendOAUsage(out, t.usage)
	return append(out, '}'), true
}

// appendOAUsage appends u as OpenAI reports it, exactly as marshalJSON(oaUsageOf(u)) writes it.
func appendOAUsage(dst []byte, u Usage) []byte {
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, u.InputTokens, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, u.OutputTokens, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.TotalTokens, 10)
	if u.CachedInputTokens > 0 {
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, u.CachedInputTokens, 10)
		dst = append(dst, '}')
	}
	if u.ReasoningTokens > 0 {
		dst = append(dst, `,"completion_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
		dst = append(dst, '}')
	}
	if u.CacheCreationInputTokens != 0 {
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = strconv.AppendInt(dst, u.CacheCreationInputTokens, 10)
	}
	return append(dst, '}')
}
