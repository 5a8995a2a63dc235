package mcpgw

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"
)

// order keeps what one backend session sends in the order the backend sent it. The go-sdk client
// hands a response to the caller as soon as it reads it, while the notifications read before it
// wait in the session's handler queue: without order, the gateway could answer a tools/call
// before it relayed the call's last progress notification, and the client would get that
// progress after the result (or never). order sits in the HTTP client of the backend session:
// it counts the relayed notifications passed to the go-sdk and, before passing on the end of a
// response, waits until the client handlers have finished every notification passed before it.
type order struct {
	mu      sync.Mutex
	seen    uint64        // relayed notifications passed to the go-sdk
	handled uint64        // relayed notifications the client handlers finished
	wake    chan struct{} // closed (and replaced) when handled grows
}

// orderWait bounds the wait for a response's notifications: a notification the go-sdk could not
// decode never reaches a handler, and must not hold the response forever.
const orderWait = 2 * time.Second

func newOrder() *order { return &order{wake: make(chan struct{})} }

// relayed reports whether the gateway's client handlers count a notification method (every
// notification the go-sdk queues for a handler that the gateway relays).
func relayed(method string) bool {
	switch method {
	case "notifications/progress", "notifications/message", "notifications/resources/updated",
		"notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed":
		return true
	}
	return false
}

func (o *order) passed() {
	o.mu.Lock()
	o.seen++
	o.mu.Unlock()
}

// done records that a handler finished a relayed notification.
func (o *order) done() {
	o.mu.Lock()
	o.handled++
	close(o.wake)
	o.wake = make(chan struct{})
	o.mu.Unlock()
}

// wait returns when every relayed notification passed so far is handled, ctx ends or orderWait
// passes.
func (o *order) wait(ctx context.Context) {
	o.mu.Lock()
	target := o.seen
	o.mu.Unlock()
	timer := time.NewTimer(orderWait)
	defer timer.Stop()
	for {
		o.mu.Lock()
		handled, wake := o.handled, o.wake
		o.mu.Unlock()
		if handled >= target {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}

// roundTripper wraps base so that event-stream responses go through o.
func (o *order) roundTripper(base http.RoundTripper) http.RoundTripper {
	return orderTransport{o: o, base: base}
}

type orderTransport struct {
	o    *order
	base http.RoundTripper
}

func (t orderTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		resp.Body = &orderedBody{o: t.o, ctx: r.Context(), body: resp.Body, r: bufio.NewReader(resp.Body)}
	}
	return resp, nil
}

// maxClassified bounds the data of an event that orderedBody decodes to classify it; a larger
// event passes unclassified (no MCP notification or response is that large in practice).
const maxClassified = 4 << 20

// orderedBody passes an SSE stream on line by line. At the blank line that ends an event (where
// the go-sdk's reader dispatches it) it classifies the event: a relayed notification is counted;
// a response waits for the notifications counted before it. The reader asks for the next line
// only after it dispatched the previous event, so everything counted has reached the go-sdk.
type orderedBody struct {
	o    *order
	ctx  context.Context
	body io.ReadCloser
	r    *bufio.Reader

	out     []byte       // the rest of the current line, not yet returned
	line    bytes.Buffer // the current line so far, when it is a field worth keeping
	midLine bool         // the bytes read last did not end a line
	name    string       // the event's name
	data    bytes.Buffer // the event's data lines, joined
	hasData bool
	tooBig  bool
}

func (b *orderedBody) Read(p []byte) (int, error) {
	if len(b.out) == 0 {
		chunk, err := b.r.ReadSlice('\n')
		if len(chunk) == 0 {
			if err == bufio.ErrBufferFull {
				err = nil
			}
			return 0, err
		}
		b.take(chunk)
		b.out = chunk
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// take looks at the next bytes of the stream (a whole line, or part of a long one) before they
// are returned; at the end of an event it counts or waits.
func (b *orderedBody) take(chunk []byte) {
	ends := chunk[len(chunk)-1] == '\n'
	if !b.midLine && ends && len(bytes.TrimRight(chunk, "\r\n")) == 0 {
		b.endEvent()
		return
	}
	if b.line.Len()+len(chunk) <= maxClassified {
		b.line.Write(chunk)
	} else {
		b.tooBig = true
	}
	b.midLine = !ends
	if ends {
		b.field(bytes.TrimRight(b.line.Bytes(), "\r\n"))
		b.line.Reset()
	}
}

// field records one line of the event.
func (b *orderedBody) field(line []byte) {
	key, val, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return
	}
	val = bytes.TrimSpace(val)
	switch string(key) {
	case "event":
		b.name = string(val)
	case "data":
		if b.hasData {
			b.data.WriteByte('\n')
		}
		b.hasData = true
		if b.data.Len()+len(val) <= maxClassified {
			b.data.Write(val)
		} else {
			b.tooBig = true
		}
	}
}

// endEvent classifies the event that ends now, as the go-sdk will see it.
func (b *orderedBody) endEvent() {
	defer func() {
		b.name, b.hasData, b.tooBig = "", false, false
		b.data.Reset()
	}()
	if b.tooBig || b.data.Len() == 0 || (b.name != "" && b.name != "message") {
		return
	}
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(b.data.Bytes(), &m) != nil {
		return
	}
	switch {
	case m.Method == "" && len(m.ID) > 0:
		b.o.wait(b.ctx)
	case len(m.ID) == 0 && relayed(m.Method):
		b.o.passed()
	}
}

func (b *orderedBody) Close() error { return b.body.Close() }
