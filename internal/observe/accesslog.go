package observe

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
)

// AccessLog writes one JSON line per request, buffered (a Queue flushes it when idle). Events
// carry no secrets by construction: names, models, statuses and counts, never headers or bodies.
type AccessLog struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
}

var (
	_ Subscriber = (*AccessLog)(nil)
	_ Flusher    = (*AccessLog)(nil)
)

// NewAccessLog writes to w.
func NewAccessLog(w io.Writer) *AccessLog {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &AccessLog{w: bw, enc: json.NewEncoder(bw)}
}

// OnRequest writes the event.
func (l *AccessLog) OnRequest(ev *RequestEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(ev) // a failing log write must not fail the request
}

// Flush writes buffered lines out.
func (l *AccessLog) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
}
