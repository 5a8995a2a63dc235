package observe

import (
	"encoding/json"
	"io"
	"sync"
)

// AccessLog writes one JSON line per request. Events carry no secrets by construction: they
// hold names, models, statuses and counts, never headers or bodies.
type AccessLog struct {
	mu  sync.Mutex
	enc *json.Encoder
}

var _ Subscriber = (*AccessLog)(nil)

// NewAccessLog writes to w.
func NewAccessLog(w io.Writer) *AccessLog { return &AccessLog{enc: json.NewEncoder(w)} }

// OnRequest writes the event.
func (l *AccessLog) OnRequest(ev *RequestEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(ev) // a failing log write must not fail the request
}
