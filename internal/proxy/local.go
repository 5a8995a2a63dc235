package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aigw/aigw/internal/translate"
)

// localCall is a translator's own answer (translate.Upstream.Local) in the shape of a backend's,
// so that it goes through the same response path (translation, usage, events) without any
// request to the backend.
func localCall(l *translate.LocalResponse) *upstreamCall {
	h := l.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Length", strconv.Itoa(len(l.Body)))
	resp := &http.Response{
		StatusCode:    l.Status,
		Status:        strconv.Itoa(l.Status) + " " + http.StatusText(l.Status),
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(l.Body)),
		ContentLength: int64(len(l.Body)),
	}
	deadline := time.AfterFunc(time.Hour, func() {})
	deadline.Stop()
	return &upstreamCall{resp: resp, cancel: func(error) {}, deadline: deadline}
}
