package observe

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/aigw/aigw/internal/translate"
)

// responseRecorder keeps the answer a client was sent, to describe it when the request ends: a
// stream is assembled event by event as it passes, a whole body is kept; both up to
// maxAssembledBytes. Traces and the event stream's content both describe answers from it.
type responseRecorder struct {
	e      translate.Endpoint
	stream bool
	asm    *assembler
	body   []byte
	// Speech: the request (for its formats) and the audio's size; the audio is not kept.
	req  []byte
	size int
}

// start readies the recorder for the request req to e.
func (r *responseRecorder) start(e translate.Endpoint, stream bool, req []byte) {
	r.e, r.stream, r.req = e, stream, req
	r.reset()
}

// reset forgets what an earlier attempt sent: each attempt's answer starts afresh. A stream's
// assembler is made by its first bytes (write), so a reset before any costs nothing.
func (r *responseRecorder) reset() {
	r.body, r.asm, r.size = r.body[:0], nil, 0
}

// streamBuffers hold recordings of streams: a short answer's events fit without regrowing.
var streamBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

// release gives the recorder's buffer back once the answer has been described (the described
// values are copies); a write after it would start a buffer of its own.
func (r *responseRecorder) release() {
	if r.stream && r.body != nil && cap(r.body) <= 2*streamBlock {
		b := r.body[:0]
		streamBuffers.Put(&b)
	}
	r.body = nil
}

// streamBlock is how much of a stream the recorder keeps before assembling it: an answer up to
// this size is assembled when described, after the request and off its goroutine; a longer one
// a block at a time as it passes, so a stream's recording never holds more than this.
const streamBlock = 64 << 10

// write takes the next bytes sent to the client. For a stream, body holds what is not yet
// assembled.
func (r *responseRecorder) write(out []byte) {
	switch {
	case len(out) == 0:
	case r.e == translate.EndpointAudioSpeech:
		r.size += len(out)
	case r.stream:
		if r.asm == nil {
			r.asm = newAssembler(r.e)
			if r.body == nil {
				r.body = (*streamBuffers.Get().(*[]byte))[:0]
			}
		}
		r.body = append(r.body, out...)
		if len(r.body) >= streamBlock {
			r.flush()
		}
	case len(r.body)+len(out) <= maxAssembledBytes:
		r.body = append(r.body, out...)
	}
}

// flush assembles the stream's pending bytes.
func (r *responseRecorder) flush() {
	if r.asm != nil && len(r.body) > 0 {
		r.asm.write(r.body)
		r.body = r.body[:0]
	}
}

// attrs describes the answer as OpenInference output attributes.
func (r *responseRecorder) attrs(a *attrs) {
	if r.e == translate.EndpointAudioSpeech {
		if r.size > 0 {
			speechAttrs(a, r.req, r.size)
		}
		return
	}
	if r.asm != nil {
		r.flush()
		r.asm.attrs(a)
	} else if len(r.body) > 0 {
		// The whole answer is the recorder's own (release keeps no whole answer for reuse) and
		// is not written again once described: its attributes share its bytes.
		answerAttrs(a, r.e, r.body, unsafe.String(unsafe.SliceData(r.body), len(r.body)), "")
	}
}

// Content is the messages of one request and of its answer, as the event stream carries them
// when content capture is on (aigw run --capture-content). The privacy settings of traces
// (OPENINFERENCE_HIDE_*) apply: what they hide reads "__REDACTED__".
type Content struct {
	Input  []Message `json:"input,omitempty"`
	Output []Message `json:"output,omitempty"`
	// InputValue and OutputValue are the raw request and answer (cut to MaxContentValueBytes)
	// when no messages could be read from them (the Responses API, embeddings, audio).
	InputValue  string `json:"input_value,omitempty"`
	OutputValue string `json:"output_value,omitempty"`
}

// Message is one message of a conversation: its text and the tool calls it makes or answers.
type Message struct {
	Role       string     `json:"role,omitempty"`
	Name       string     `json:"name,omitempty"`
	Text       string     `json:"text,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
}

// ToolCall is a call of a tool by the model.
type ToolCall struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments string `json:"arguments,omitempty"`
}

// MaxContentValueBytes bounds InputValue and OutputValue, and each message text.
const MaxContentValueBytes = 16 << 10

// ContentRecorder captures a request's content for its end event. When the request's span is
// recording, it reads the answer the span keeps instead of assembling the stream a second time.
type ContentRecorder struct {
	privacy     Privacy
	e           translate.Endpoint
	contentType string
	reqBody     []byte
	own         responseRecorder
	resp        *responseRecorder // own, or the recording span's
}

// NewContentRecorder captures the content of a request to e under privacy; span is the
// request's span (nil when not traced).
func NewContentRecorder(e translate.Endpoint, privacy Privacy, span *RequestSpan) *ContentRecorder {
	c := &ContentRecorder{e: e, privacy: privacy}
	c.resp = &c.own
	if span.Recording() {
		c.resp = &span.resp
	}
	return c
}

// shared reports whether the span keeps the answer (and so starts, resets and feeds it).
func (c *ContentRecorder) shared() bool { return c.resp != &c.own }

// Request keeps the client's request; body must not change afterwards.
func (c *ContentRecorder) Request(contentType string, body []byte, stream bool) {
	if c == nil {
		return
	}
	c.contentType, c.reqBody = contentType, body
	if !c.shared() {
		c.own.start(c.e, stream, body)
	}
}

// Attempt forgets the answer of an earlier attempt.
func (c *ContentRecorder) Attempt() {
	if c != nil && !c.shared() {
		c.own.reset()
	}
}

// Response takes the next bytes sent to the client of a successful answer.
func (c *ContentRecorder) Response(out []byte) {
	if c != nil && !c.shared() {
		c.own.write(out)
	}
}

// Content describes the request and, when answered is set, the answer. Call it before the span
// ends (its description runs off the request's goroutine and reads the same answer).
func (c *ContentRecorder) Content(answered bool) *Content {
	if c == nil || c.reqBody == nil {
		return nil
	}
	in := &attrs{p: &c.privacy}
	requestAttrs(in, c.e, c.contentType, c.reqBody)
	out := &attrs{p: &c.privacy}
	if answered {
		c.resp.attrs(out)
	}
	ct := &Content{Input: messagesOf(in, oiInputMessages), Output: messagesOf(out, oiOutputMessages)}
	// The raw values stand in for messages only where messages could not be read, never where
	// the privacy settings hid them (input.value holds the same messages).
	if len(ct.Input) == 0 && !c.privacy.HideInputMessages {
		ct.InputValue = cut(in.value(oiInputValue), MaxContentValueBytes)
	}
	if len(ct.Output) == 0 && !c.privacy.HideOutputMessages {
		ct.OutputValue = cut(out.value(oiOutputValue), MaxContentValueBytes)
	}
	return ct
}

// value is the string value of the attribute key, or "".
func (a *attrs) value(key string) string {
	for _, kv := range a.kv {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// messagesOf reads the OpenInference message attributes under prefix
// ("llm.input_messages.N.message.…") back into messages, in order.
func messagesOf(a *attrs, prefix string) []Message {
	var msgs []Message
	for _, kv := range a.kv {
		rest, ok := strings.CutPrefix(string(kv.Key), prefix)
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ".message.")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i > 10_000 {
			continue
		}
		for len(msgs) <= i {
			msgs = append(msgs, Message{})
		}
		m, v := &msgs[i], kv.Value.Emit()
		switch {
		case field == "role":
			m.Role = v
		case field == "name":
			m.Name = v
		case field == "content":
			m.Text = cut(m.Text+v, MaxContentValueBytes)
		case field == "tool_call_id":
			m.ToolCallID = v
		case strings.HasPrefix(field, "contents.") && strings.HasSuffix(field, ".message_content.text"):
			if m.Text != "" {
				m.Text += "\n"
			}
			m.Text = cut(m.Text+v, MaxContentValueBytes)
		case strings.HasPrefix(field, "tool_calls."):
			k, sub, ok := strings.Cut(strings.TrimPrefix(field, "tool_calls."), ".tool_call.")
			j, err := strconv.Atoi(k)
			if !ok || err != nil || j < 0 || j > 1000 {
				continue
			}
			for len(m.ToolCalls) <= j {
				m.ToolCalls = append(m.ToolCalls, ToolCall{})
			}
			switch sub {
			case "id":
				m.ToolCalls[j].ID = v
			case "function.name":
				m.ToolCalls[j].Name = v
			case "function.arguments":
				m.ToolCalls[j].Arguments = cut(v, MaxContentValueBytes)
			}
		}
	}
	return msgs
}

// cut shortens s to at most n bytes, at a rune boundary, marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
