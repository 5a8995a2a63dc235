package translate

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// cvToOAStream turns ConverseStream events into chat.completion.chunk events.
//
//   - messageStart → a first chunk with the assistant role.
//   - contentBlockDelta text → content; reasoningContent text → reasoning_content, its signature
//     kept until the block stops, when one chunk carries the whole block in thinking_blocks (so
//     a client can send it back); redactedContent → a redacted_thinking block.
//   - contentBlockStart toolUse → a tool call numbered among tool calls from 0, with id, type and
//     name; toolUse input deltas → argument fragments.
//   - messageStop → the finishing chunk; metadata → usage, the usage chunk when the client asked
//     for it, and data: [DONE]. A stream that ends after messageStop without metadata still ends
//     with [DONE]; one that ends before messageStop gets an error event.
//   - exception frames (throttlingException, modelStreamErrorException, ...) and error frames →
//     data: {"error":{...}} in OpenAI's shape, and the end of the stream.
type cvToOAStream struct {
	t       *openAIToBedrock
	created int64
	started bool
	blocks  map[int]*cvStreamBlock
	tools   int
	stopped bool
	done    bool
	// generalOnly turns the fast paths for events (bedrock_converse_fast.go) off, for tests
	// that compare them with the general path; scratch is its buffer for text that needs
	// unescaping.
	generalOnly bool
	scratch     []byte
}

type cvStreamBlock struct {
	kind      string // text, reasoning, tool
	toolIndex int
	hasArgs   bool
	reasoning strings.Builder
	signature string
}

// frame handles one event-stream frame.
func (s *cvToOAStream) frame(ev awsEvent) error {
	if s.done {
		return nil
	}
	if ev.messageType == "exception" || ev.messageType == "error" {
		s.t.out = s.fail(s.t.out, bedrockStreamError(ev))
		return nil
	}
	if ev.eventType == "contentBlockDelta" && ev.messageType == "event" && !s.generalOnly {
		if index, raw, esc, ok := readFastConverseText(ev.payload); ok {
			s.t.out = s.fastText(s.t.out, index, raw, esc)
			return nil
		}
	}
	var e cvStreamEvent
	if s.generalOnly || !readFastConverseEvent(ev.payload, &e) {
		e = cvStreamEvent{}
		if err := json.Unmarshal(ev.payload, &e); err != nil {
			s.t.out = s.fail(s.t.out, upstreamInvalid("the Bedrock backend sent a %s event aigw cannot read", ev.eventType))
			return nil
		}
	}
	s.t.out = s.event(s.t.out, ev.eventType, &e)
	return nil
}

func (s *cvToOAStream) event(dst []byte, typ string, e *cvStreamEvent) []byte {
	switch typ {
	case "messageStart":
		return s.start(dst)
	case "contentBlockStart":
		dst = s.start(dst)
		if e.Start != nil && e.Start.ToolUse != nil && s.t.jsonTool && e.Start.ToolUse.Name == jsonToolName {
			// The forced JSON tool's input is the answer: its fragments go out as content.
			s.block(e.ContentBlockIndex, "json")
			return dst
		}
		if e.Start != nil && e.Start.ToolUse != nil {
			b := s.block(e.ContentBlockIndex, "tool")
			b.toolIndex = s.tools
			s.tools++
			tc := oaToolCall{Index: ptr(b.toolIndex), ID: e.Start.ToolUse.ToolUseID, Type: "function", Function: oaFunctionCall{Name: e.Start.ToolUse.Name}}
			return s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
		}
	case "contentBlockDelta":
		dst = s.start(dst)
		return s.delta(dst, e)
	case "contentBlockStop":
		return s.blockStop(dst, e.ContentBlockIndex)
	case "messageStop":
		dst = s.start(dst)
		s.stopped = true
		if !s.generalOnly {
			return s.finishChunk(dst, s.t.finishReason(e.StopReason))
		}
		return s.chunk(dst, oaDelta{}, ptr(s.t.finishReason(e.StopReason)))
	case "metadata":
		if e.Usage != nil {
			s.t.usage = e.Usage.usage()
		}
		if s.stopped {
			return s.finish(dst)
		}
	}
	return dst
}

// start sends the role chunk once, before anything else.
func (s *cvToOAStream) start(dst []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	s.created = s.t.now().Unix()
	if !s.generalOnly {
		return s.roleChunk(dst)
	}
	return s.chunk(dst, oaDelta{Role: "assistant", Content: ptr("")}, nil)
}

func (s *cvToOAStream) block(i int, kind string) *cvStreamBlock {
	if s.blocks == nil {
		s.blocks = map[int]*cvStreamBlock{}
	}
	b := s.blocks[i]
	if b == nil {
		b = &cvStreamBlock{kind: kind}
		s.blocks[i] = b
	}
	return b
}

func (s *cvToOAStream) delta(dst []byte, e *cvStreamEvent) []byte {
	d := e.Delta
	if d == nil {
		return dst
	}
	switch {
	case d.Text != nil:
		s.block(e.ContentBlockIndex, "text")
		if *d.Text != "" {
			return s.chunk(dst, oaDelta{Content: d.Text}, nil)
		}
	case d.ToolUse != nil:
		b := s.block(e.ContentBlockIndex, "tool")
		if b.kind == "json" && d.ToolUse.Input != "" {
			b.hasArgs = true
			return s.chunk(dst, oaDelta{Content: &d.ToolUse.Input}, nil)
		}
		if b.kind != "tool" || d.ToolUse.Input == "" {
			return dst
		}
		b.hasArgs = true
		tc := oaToolCall{Index: ptr(b.toolIndex), Function: oaFunctionCall{Arguments: d.ToolUse.Input}}
		return s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
	case d.ReasoningContent != nil:
		b := s.block(e.ContentBlockIndex, "reasoning")
		rc := d.ReasoningContent
		switch {
		case rc.Text != nil && *rc.Text != "":
			b.reasoning.WriteString(*rc.Text)
			return s.chunk(dst, oaDelta{ReasoningContent: rc.Text}, nil)
		case rc.Signature != nil:
			b.signature += *rc.Signature
		case len(rc.RedactedContent) > 0:
			tb := oaThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(rc.RedactedContent)}
			return s.chunk(dst, oaDelta{ThinkingBlocks: []oaThinkingBlock{tb}}, nil)
		}
	}
	return dst
}

func (s *cvToOAStream) blockStop(dst []byte, i int) []byte {
	b := s.blocks[i]
	if b == nil {
		return dst
	}
	delete(s.blocks, i)
	switch {
	case b.kind == "reasoning" && (b.reasoning.Len() > 0 || b.signature != ""):
		text := b.reasoning.String()
		tb := oaThinkingBlock{Type: "thinking", Thinking: &text, Signature: ptr(b.signature)}
		return s.chunk(dst, oaDelta{ThinkingBlocks: []oaThinkingBlock{tb}}, nil)
	case b.kind == "json" && !b.hasArgs:
		return s.chunk(dst, oaDelta{Content: ptr("{}")}, nil)
	case b.kind == "tool" && !b.hasArgs:
		tc := oaToolCall{Index: ptr(b.toolIndex), Function: oaFunctionCall{Arguments: "{}"}}
		return s.chunk(dst, oaDelta{ToolCalls: []oaToolCall{tc}}, nil)
	}
	return dst
}

// finish ends a complete stream: the usage chunk if asked for, then [DONE].
func (s *cvToOAStream) finish(dst []byte) []byte {
	s.done = true
	switch {
	case !s.t.includeUsage:
	case !s.generalOnly:
		dst = s.usageChunk(dst)
	default:
		u, _ := marshalJSON(oaUsageOf(s.t.usage))
		dst = appendSSEJSON(dst, "", oaChunk{
			ID: s.t.chatID(), Object: "chat.completion.chunk", Created: s.created, Model: s.t.target.Model,
			Choices: []oaChunkChoice{}, Usage: u,
		})
	}
	return AppendSSE(dst, "", []byte("[DONE]"))
}

// end is called when the upstream body ends.
func (s *cvToOAStream) end(dst []byte) []byte {
	switch {
	case s.done:
		return dst
	case s.stopped && s.t.frames.complete():
		return s.finish(dst)
	}
	return s.fail(dst, &Error{Status: http.StatusBadGateway, Code: "upstream_stream_truncated", Message: "the Bedrock backend's stream ended before the message was complete"})
}

// fail appends an OpenAI error event and ends the stream.
func (s *cvToOAStream) fail(dst []byte, e *Error) []byte {
	s.done = true
	return AppendStreamError(dst, APIOpenAI, e)
}

// chunk appends one chat.completion.chunk with a single choice.
func (s *cvToOAStream) chunk(dst []byte, d oaDelta, finish *string) []byte {
	return appendSSEJSON(dst, "", oaChunk{
		ID: s.t.chatID(), Object: "chat.completion.chunk", Created: s.created, Model: s.t.target.Model,
		Choices: []oaChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	})
}
