package translate

import "bytes"

// DefaultMaxSSEEventBytes bounds one server-sent event from a backend. The largest real events
// (a whole tool-call argument or an image in one chunk) are far below it.
const DefaultMaxSSEEventBytes = 8 << 20

// SSEGuard checks an upstream event stream's bounds as it passes, before any decoder buffers
// it: no event longer than Max bytes (so no line either), and no event's data nested deeper
// than MaxJSONDepth. It is one linear pass in constant memory, whatever the chunking.
type SSEGuard struct {
	// Max is the largest event allowed, in bytes; 0 means DefaultMaxSSEEventBytes.
	Max int

	size      int     // bytes of the current event so far, line ends included
	lineLen   int     // bytes of the current line so far
	lineFirst byte    // first byte of the current line
	field     [4]byte // the start of the current line's field name
	fieldLen  int     // length of the field name so far (may exceed len(field))
	fieldDone bool    // the field name ended (':' seen)
	isData    bool    // the current line is a data line
	depth     DepthScanner
	err       *Error
}

// Check scans the next chunk of the stream. Once it has returned an error (a 502 for the
// client) it keeps returning it.
func (g *SSEGuard) Check(chunk []byte) error {
	if g.err != nil {
		return g.err
	}
	limit := g.Max
	if limit <= 0 {
		limit = DefaultMaxSSEEventBytes
	}
	for len(chunk) > 0 {
		seg, rest, eol := chunk, []byte(nil), false
		if nl := bytes.IndexByte(chunk, '\n'); nl >= 0 {
			seg, rest, eol = chunk[:nl], chunk[nl+1:], true
		}
		chunk = rest
		g.size += len(seg)
		if eol {
			g.size++
		}
		if g.size > limit {
			g.err = upstreamInvalid("the backend sent a stream event larger than %d bytes", limit)
			return g.err
		}
		if len(seg) > 0 {
			if g.lineLen == 0 {
				g.lineFirst = seg[0]
			}
			g.lineLen += len(seg)
			if err := g.line(seg); err != nil {
				g.err = upstreamInvalid("the backend sent a stream event nested more than %d levels deep", MaxJSONDepth)
				return g.err
			}
		}
		if eol {
			if g.lineLen == 0 || (g.lineLen == 1 && g.lineFirst == '\r') {
				// A blank line ends the event.
				g.size = 0
				g.depth.Reset()
			}
			g.lineLen, g.fieldLen, g.fieldDone, g.isData = 0, 0, false, false
		}
	}
	return nil
}

// line takes the next piece of the current line: the field name until ':', then the value,
// which for data lines goes through the depth scanner (data lines of one event join into one
// document, separated by line ends, which are JSON whitespace).
func (g *SSEGuard) line(seg []byte) error {
	if !g.fieldDone {
		name := seg
		c := bytes.IndexByte(seg, ':')
		if c >= 0 {
			name, seg = seg[:c], seg[c+1:]
		} else {
			seg = nil
		}
		if g.fieldLen < len(g.field) {
			copy(g.field[g.fieldLen:], name)
		}
		g.fieldLen += len(name)
		if c < 0 {
			return nil
		}
		g.fieldDone = true
		g.isData = g.fieldLen == 4 && string(g.field[:]) == "data"
	}
	if !g.isData || len(seg) == 0 {
		return nil
	}
	return g.depth.Feed(seg)
}

// AppendStreamError appends e as the error event of the client's API: OpenAI streams end with
// `data: {"error":{...}}`, Anthropic streams with `event: error`. It is how a stream that fails
// after its first byte tells the client, since the status line has already gone.
func AppendStreamError(dst []byte, api API, e *Error) []byte {
	event := ""
	if api == APIAnthropic {
		event = "error"
	}
	return AppendSSE(dst, event, ErrorBody(api, e))
}

// HasErrorEvent reports whether translated stream bytes hold an error event in either API's
// shape: a line `event: error`, or a data line that is an object whose first key is "error"
// holding an object or a message.
// Inside JSON a line end is always escaped, so such a line cannot come from event content.
func HasErrorEvent(b []byte) bool {
	for len(b) > 0 {
		line := b
		if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
			line, b = b[:nl], b[nl+1:]
		} else {
			b = nil
		}
		if len(line) < 6 || (line[0] != 'e' && line[0] != 'd') {
			continue
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if v, ok := bytes.CutPrefix(line, []byte("event:")); ok {
			if string(bytes.TrimLeft(v, " ")) == "error" {
				return true
			}
		} else if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			// An error object or message; "error":null on an ordinary chunk is not one.
			if v, ok := bytes.CutPrefix(bytes.TrimLeft(v, " "), []byte(`{"error":`)); ok {
				if v = bytes.TrimLeft(v, " "); len(v) > 0 && (v[0] == '{' || v[0] == '"') {
					return true
				}
			}
		}
	}
	return false
}
