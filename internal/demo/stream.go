package demo

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Response headers and pacing shared by every endpoint.

// Rate limits the simulator advertises: generous fixed quotas, with the remaining counts
// reflecting the request so header parsers see plausible, changing numbers.
const (
	rateLimitRequests = 10000
	rateLimitTokens   = 30000000
)

// openAIHeaders sets the headers OpenAI sends with every response. processing-ms is measured to
// the moment headers go out, as OpenAI's is.
func (s *Server) openAIHeaders(w http.ResponseWriter, start time.Time, promptTokens int) {
	h := w.Header()
	h.Set("X-Request-Id", s.openAIRequestID())
	h.Set("Openai-Version", "2020-10-01")
	h.Set("Openai-Processing-Ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(rateLimitRequests))
	h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(rateLimitTokens))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(rateLimitRequests-1))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(rateLimitTokens-promptTokens))
	h.Set("X-Ratelimit-Reset-Requests", "6ms")
	h.Set("X-Ratelimit-Reset-Tokens", "0s")
}

// anthropicHeaders sets the headers Anthropic sends with every response.
func (s *Server) anthropicHeaders(w http.ResponseWriter, start time.Time, inputTokens int) {
	h := w.Header()
	h.Set("Request-Id", s.anthropicRequestID())
	reset := start.UTC().Add(time.Minute).Truncate(time.Second).Format(time.RFC3339)
	h.Set("Anthropic-Ratelimit-Requests-Limit", "4000")
	h.Set("Anthropic-Ratelimit-Requests-Remaining", "3999")
	h.Set("Anthropic-Ratelimit-Requests-Reset", reset)
	h.Set("Anthropic-Ratelimit-Input-Tokens-Limit", "2000000")
	h.Set("Anthropic-Ratelimit-Input-Tokens-Remaining", strconv.Itoa(2000000-inputTokens))
	h.Set("Anthropic-Ratelimit-Input-Tokens-Reset", reset)
	h.Set("Anthropic-Ratelimit-Output-Tokens-Limit", "400000")
	h.Set("Anthropic-Ratelimit-Output-Tokens-Remaining", "400000")
	h.Set("Anthropic-Ratelimit-Output-Tokens-Reset", reset)
}

// sleep waits d or until ctx is done, reporting ctx's error in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sse writes server-sent events, flushing each so the client sees it at once, and paces deltas.
// Deadlines are computed from the stream's start so pacing does not drift with write latency.
type sse struct {
	ctx      context.Context
	w        http.ResponseWriter
	rc       *http.ResponseController
	buf      []byte
	interval time.Duration
	start    time.Time
	deltas   int
	timer    *time.Timer
}

func (s *Server) newSSE(ctx context.Context, w http.ResponseWriter, buf []byte) *sse {
	return &sse{ctx: ctx, w: w, rc: http.NewResponseController(w), buf: buf[:0], interval: s.interval}
}

// begin writes the status line and headers; pacing starts now.
func (e *sse) begin(contentType string) {
	h := e.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	e.w.WriteHeader(http.StatusOK)
	e.start = time.Now()
}

// flush sends the event accumulated in buf and empties it. An error means the client is gone
// (or the server is closing) and the stream must stop.
func (e *sse) flush() error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	if _, err := e.w.Write(e.buf); err != nil {
		return err
	}
	e.buf = e.buf[:0]
	return e.rc.Flush()
}

// pace waits until the next delta is due. The first delta is due at once; the n-th one
// n-1 intervals after the stream began.
func (e *sse) pace() error {
	e.deltas++
	if e.interval <= 0 || e.deltas == 1 {
		return e.ctx.Err()
	}
	d := time.Until(e.start.Add(time.Duration(e.deltas-1) * e.interval))
	if d <= 0 {
		return e.ctx.Err()
	}
	if e.timer == nil {
		e.timer = time.NewTimer(d)
	} else {
		e.timer.Reset(d)
	}
	select {
	case <-e.ctx.Done():
		return e.ctx.Err()
	case <-e.timer.C:
		return nil
	}
}

// end releases the timer and returns the buffer for reuse.
func (e *sse) end() []byte {
	if e.timer != nil {
		e.timer.Stop()
	}
	return e.buf
}
