package observe

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// accessLogBuffer is how much the access log gathers before it writes.
const accessLogBuffer = 64 << 10

// AccessLog writes one JSON line per request, buffered (a Queue flushes it when idle). It writes
// whole lines only, so the lines of another writer of the same file (the run's slog handler) or a
// rotation (RotatingFile) never fall inside one. Events carry no secrets by construction: names,
// models, statuses and counts, never headers or bodies.
type AccessLog struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder
}

var (
	_ Subscriber = (*AccessLog)(nil)
	_ Flusher    = (*AccessLog)(nil)
)

// NewAccessLog writes to w.
func NewAccessLog(w io.Writer) *AccessLog {
	l := &AccessLog{w: w}
	l.enc = json.NewEncoder(&l.buf)
	return l
}

// OnRequest writes the event.
func (l *AccessLog) OnRequest(ev *RequestEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(ev) // a failing log write must not fail the request
	if l.buf.Len() >= accessLogBuffer {
		l.flush()
	}
}

// Flush writes buffered lines out.
func (l *AccessLog) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush()
}

func (l *AccessLog) flush() {
	if l.buf.Len() > 0 {
		_, _ = l.w.Write(l.buf.Bytes())
		l.buf.Reset()
	}
}
