package translate

import (
	"bytes"
	"net/http"
	"strings"
)

// SSEEvent is one server-sent event. Raw holds the event's bytes exactly as received, up to and
// including the blank line that ended it, so a passthrough can forward it untouched.
type SSEEvent struct {
	Event string
	Data  []byte
	Raw   []byte
}

// SSEDecoder splits a byte stream into server-sent events as chunks arrive, whatever the
// network did to event boundaries. Lines may end in LF, CRLF or CR-LF mixes; "data:" may or may
// not be followed by a space. An event's Data is valid until the next call to Next, and Raw until
// the next Feed; both may point into the chunk fed, so the caller must not change that chunk
// before it is done with the events decoded from it.
//
// Decoding is linear in the input: every byte is searched for a line end once and parsed once,
// however finely the network splits a long line (a line fed a byte at a time costs the same as
// one fed whole). Bounding the size of one event is the job of SSEGuard, in front of it.
//
// Events are decoded where they lie: a chunk is copied only for the partial event at its end,
// carried to the next chunk, and data only when an event has more than one data line.
type SSEDecoder struct {
	buf      []byte // the bytes being decoded: the chunk fed, or own
	borrowed bool   // buf is the caller's chunk
	own      []byte // storage for a partial event carried over from one chunk to the next
	pos      int    // start of the first unconsumed byte in buf: the current event's first byte
	line     int    // start of the first line of the current event not parsed yet
	seen     int    // buf[line:seen] is known to hold no line end
	// The current event as parsed so far. data points into buf until the event's second data
	// line, or until buf is moved or compacted, when it is copied to dataBuf.
	event     string
	data      []byte
	dataBuf   []byte
	dataOwned bool
	hasData   bool
	done      bool // an event was returned: start afresh on the next Next
	// scanned counts the bytes searched for line ends, which the tests hold to the input size.
	scanned int
}

// Feed appends a chunk of the stream.
func (d *SSEDecoder) Feed(chunk []byte) {
	if d.pos == len(d.buf) {
		// Nothing is pending: decode the chunk where it lies.
		d.buf, d.borrowed = chunk, true
		d.pos, d.line, d.seen = 0, 0, 0
		return
	}
	// A partial event is pending, in own (Next moved it there).
	if d.pos > 0 {
		// Drop consumed bytes before growing, so the buffer holds at most one partial event.
		d.ownData()
		n := copy(d.buf, d.buf[d.pos:])
		d.buf = d.buf[:n]
		d.line -= d.pos
		d.seen -= d.pos
		d.pos = 0
	}
	d.buf = append(d.buf, chunk...)
	d.own = d.buf
}

// ownData copies the current event's data out of buf, before buf moves or changes.
func (d *SSEDecoder) ownData() {
	if d.hasData && !d.dataOwned {
		if d.dataBuf == nil {
			d.dataBuf = make([]byte, 0, max(len(d.data), 64)) // never nil: the event has data
		}
		d.dataBuf = append(d.dataBuf[:0], d.data...)
		d.data, d.dataOwned = d.dataBuf, true
	}
}

// keepPartial moves the partial event at the end of a borrowed chunk to own storage, since the
// caller will reuse the chunk.
func (d *SSEDecoder) keepPartial() {
	if !d.borrowed {
		return
	}
	d.ownData()
	d.own = append(d.own[:0], d.buf[d.pos:]...)
	d.line -= d.pos
	d.seen -= d.pos
	d.pos = 0
	d.buf, d.borrowed = d.own, false
}

// Next returns the next complete event, or false when the buffered bytes end mid-event.
// Comment-only blocks (": keep-alive") are returned as events with no data and no name.
func (d *SSEDecoder) Next() (SSEEvent, bool) {
	if d.done {
		d.event, d.data, d.hasData, d.dataOwned, d.done = "", nil, false, false, false
	}
	for {
		from := max(d.line, d.seen)
		nl := bytes.IndexByte(d.buf[from:], '\n')
		if nl < 0 {
			d.scanned += len(d.buf) - from
			d.seen = len(d.buf)
			if d.pos < len(d.buf) {
				d.keepPartial()
			}
			return SSEEvent{}, false
		}
		d.scanned += nl + 1
		end := from + nl
		line := bytes.TrimSuffix(d.buf[d.line:end], []byte{'\r'})
		d.line, d.seen = end+1, end+1
		if len(line) == 0 {
			ev := SSEEvent{Event: d.event, Raw: d.buf[d.pos:d.line]}
			if d.hasData {
				ev.Data = d.data
			}
			d.pos = d.line
			d.done = true
			return ev, true
		}
		field, value := line, line[len(line):] // a field with no colon has an empty value
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			switch {
			case !d.hasData:
				d.data, d.dataOwned = value, false
			default:
				d.ownData()
				d.data = append(d.data, '\n')
				d.data = append(d.data, value...)
				d.dataBuf = d.data
			}
			d.hasData = true
		case "event":
			d.event = string(value)
		}
	}
}

// Rest returns the bytes of an incomplete trailing event, for a stream that ended without the
// final blank line.
func (d *SSEDecoder) Rest() []byte { return d.buf[d.pos:] }

// AppendSSE appends one event in wire form: an optional "event:" line, "data:" lines, a blank line.
func AppendSSE(dst []byte, event string, data []byte) []byte {
	if event != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, event...)
		dst = append(dst, '\n')
	}
	for {
		nl := bytes.IndexByte(data, '\n')
		dst = append(dst, "data: "...)
		if nl < 0 {
			dst = append(dst, data...)
			break
		}
		dst = append(dst, data[:nl]...)
		dst = append(dst, '\n')
		data = data[nl+1:]
	}
	return append(dst, '\n', '\n')
}

// Each feeds a chunk and appends to dst what fn makes of every event it completes.
func (d *SSEDecoder) Each(dst, chunk []byte, fn func(dst []byte, ev SSEEvent) []byte) []byte {
	d.Feed(chunk)
	for {
		ev, ok := d.Next()
		if !ok {
			return dst
		}
		dst = fn(dst, ev)
	}
}

// IsEventStream reports whether a response is a server-sent event stream, which is relayed
// event by event rather than read whole.
func IsEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= len("text/event-stream") && strings.EqualFold(ct[:len("text/event-stream")], "text/event-stream")
}
