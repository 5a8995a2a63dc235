package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/translate"
)

const (
	// maxUpstreamErrorBody bounds an upstream error body; errors are small.
	maxUpstreamErrorBody = 1 << 20
	// streamBufSize is the read size for streamed responses.
	streamBufSize = 32 << 10
)

// streamBufs recycles the read buffers of streamed responses.
var streamBufs = sync.Pool{New: func() any { b := make([]byte, streamBufSize); return &b }}

// responseHopHeaders are upstream response headers the data plane does not copy to the client.
var responseHopHeaders = []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Trailer", "Upgrade", "Content-Length", "Content-Encoding"}

// errUpstream are the data plane's own failure modes, rendered in the client's shape.
var (
	errUnreachable = errors.New("upstream unreachable")
	errTimeout     = errors.New("upstream timed out")
	errStreamIdle  = errors.New("upstream stream idle")
)

func (s *Server) endpointHandler(e translate.Endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.pipeline.NewStream(e)
		st.RequestHeaders(r.Header.Get(requestIDHeader), r.Host, r.Header)
		status, err := s.serve(w, r, st)
		st.Finish(status, err)
		if err != nil && status >= 500 {
			s.log.Warn("request failed", "id", r.Header.Get(requestIDHeader), "status", status, "error", err)
		}
		var aborted *streamAborted
		if errors.As(err, &aborted) {
			// The error event is out; end the response without its final chunk, so HTTP clients
			// see a failed transfer rather than a complete one.
			panic(http.ErrAbortHandler)
		}
	})
}

// serve runs the pipeline for one request and returns the status the client got.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, st *extproc.Stream) (int, error) {
	body, err := s.readBody(w, r, st.MaxRequestBodyBytes())
	if err != nil {
		return s.fail(w, st, err)
	}
	if err := st.RequestBody(r.Header.Get("Content-Type"), body); err != nil {
		return s.fail(w, st, err)
	}
	cands := st.Candidates()
	if len(cands) == 0 {
		return s.fail(w, st, translate.Errorf(http.StatusServiceUnavailable, "no_backend", "no backend can take this request: every backend of the rule has weight 0"))
	}
	plan := newTryPlan(cands, st.Retry(), st.Timeout())
	var lastErr error
	for i := 0; i < plan.tries; i++ {
		ref, last := plan.ref(i), i == plan.tries-1
		if d := plan.backoff(i); d > 0 {
			if err := sleep(r.Context(), d); err != nil {
				return 499, err
			}
		}
		a, err := st.Attempt(r.Context(), ref)
		if err != nil {
			// A request this backend cannot take (422) may suit the next one; other client
			// errors (400, 401) would be the same anywhere.
			var te *translate.Error
			if last || (errors.As(err, &te) && te.Status < 500 && te.Status != http.StatusUnprocessableEntity) {
				return s.fail(w, st, err)
			}
			lastErr = err
			continue
		}
		call, err := s.roundTrip(r.Context(), a, plan.timeout)
		if err != nil {
			if r.Context().Err() != nil {
				return 499, r.Context().Err() // the client went away
			}
			lastErr = err
			a.Done(0, err)
			if last || !plan.retryError(i) {
				return s.fail(w, st, upstreamError(err))
			}
			s.log.Info("backend failed; trying again", "backend", ref.Backend.Name, "error", err, "next", plan.ref(i+1).Backend.Name)
			continue
		}
		if !last && plan.retryStatus(i, call.resp.StatusCode) {
			s.log.Info("backend answered with a retryable status; trying again", "backend", ref.Backend.Name, "status", call.resp.StatusCode, "next", plan.ref(i+1).Backend.Name)
			drain(call.resp.Body)
			call.close()
			a.Done(call.resp.StatusCode, nil)
			lastErr = fmt.Errorf("backend %s: %s", ref.Backend.Name, call.resp.Status)
			continue
		}
		status, err := s.respond(w, a, call, st.StreamIdleTimeout())
		call.close()
		return status, err
	}
	return s.fail(w, st, upstreamError(lastErr))
}

// upstreamCall is one attempt's response and the means to end it.
type upstreamCall struct {
	resp   *http.Response
	cancel context.CancelCauseFunc
	// deadline fires errTimeout; it runs until stopped (after headers for streams, after the
	// whole body otherwise).
	deadline *time.Timer
}

func (c *upstreamCall) close() {
	c.deadline.Stop()
	c.resp.Body.Close()
	c.cancel(nil)
}

// roundTrip sends one attempt with a deadline that the caller stops when it is satisfied.
func (s *Server) roundTrip(ctx context.Context, a *extproc.Attempt, timeout time.Duration) (*upstreamCall, error) {
	if a.Upstream.Local != nil {
		return localCall(a.Upstream.Local), nil
	}
	if len(a.Parts) > 0 {
		return s.fanOut(ctx, a, timeout)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	deadline := time.AfterFunc(timeout, func() { cancel(errTimeout) })
	up := a.Upstream
	b := a.Ref.Backend
	req, err := http.NewRequestWithContext(ctx, up.Method, b.Endpoint.Scheme+"://"+b.Endpoint.Host+up.Path, bytes.NewReader(up.Body))
	if err != nil {
		deadline.Stop()
		cancel(nil)
		return nil, fmt.Errorf("%w: %v", errUnreachable, err)
	}
	req.Header = up.Header
	req.ContentLength = int64(len(up.Body))
	resp, err := s.transports.get(b).RoundTrip(req)
	if err != nil {
		deadline.Stop()
		timedOut := errors.Is(context.Cause(ctx), errTimeout)
		cancel(nil)
		if timedOut {
			return nil, fmt.Errorf("%w after %s: backend %s", errTimeout, timeout, b.Name)
		}
		return nil, fmt.Errorf("%w: backend %s: %v", errUnreachable, b.Name, err)
	}
	return &upstreamCall{resp: resp, cancel: cancel, deadline: deadline}, nil
}

// respond copies a backend's answer to the client through the attempt's translator.
func (s *Server) respond(w http.ResponseWriter, a *extproc.Attempt, call *upstreamCall, idle time.Duration) (int, error) {
	resp := call.resp
	body, err := decodedBody(resp)
	if err != nil {
		return s.failAttempt(w, a, translate.Errorf(http.StatusBadGateway, "bad_upstream_encoding", "%v", err))
	}
	h := w.Header()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(body, maxUpstreamErrorBody))
		out := a.ResponseError(resp.StatusCode, resp.Header, raw)
		copyHeaders(h, resp.Header)
		h.Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
		return resp.StatusCode, fmt.Errorf("backend %s: %s", a.Ref.Backend.Name, resp.Status)
	}
	// An AWS event stream (Bedrock) is binary frames that its translator re-encodes as SSE: it
	// is relayed chunk by chunk like SSE, but the SSE bounds apply only to SSE from the backend.
	upstreamSSE := translate.IsEventStream(resp.Header)
	if err := a.ResponseHeaders(resp.StatusCode, resp.Header); err != nil {
		return s.failAttempt(w, a, err)
	}
	if !translate.IsEventStream(resp.Header) {
		raw, err := s.readUpstreamBody(call, body)
		if err != nil {
			return s.failAttempt(w, a, err)
		}
		call.deadline.Stop()
		out, err := a.ResponseBody(raw, true)
		if err != nil {
			return s.failAttempt(w, a, err)
		}
		copyHeaders(h, resp.Header)
		h.Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
		return resp.StatusCode, nil
	}
	call.deadline.Stop()
	copyHeaders(h, resp.Header)
	return s.stream(w, a, call, body, idle, upstreamSSE)
}

// upstreamReadError reports a body that could not be read: 504 when the deadline ended it, 499
// when the client hung up first.
func upstreamReadError(call *upstreamCall, err error) error {
	ctx := call.resp.Request.Context()
	if errors.Is(context.Cause(ctx), errTimeout) {
		return translate.Errorf(http.StatusGatewayTimeout, "upstream_timeout", "the backend did not finish its response in time")
	}
	if clientGone(ctx) {
		return translate.Errorf(499, "client_closed_request", "the client went away before the backend's answer was read")
	}
	return translate.Errorf(http.StatusBadGateway, "upstream_read", "reading the backend's response: %v", err)
}

// stream relays an event stream, writing and flushing each translated chunk as it arrives. A
// stream silent for longer than idle (when set) is ended. It returns the status the request is
// recorded with: the upstream's for a stream that completed, the failure's for one that did not
// (with a *streamAborted error: the client got an error event and the response must be aborted).
func (s *Server) stream(w http.ResponseWriter, a *extproc.Attempt, call *upstreamCall, body io.Reader, idle time.Duration, upstreamSSE bool) (int, error) {
	rc := http.NewResponseController(w)
	// The headers go out with the first event, in one write, as httputil.ReverseProxy does.
	w.WriteHeader(call.resp.StatusCode)
	var idleTimer *time.Timer
	if idle > 0 {
		idleTimer = time.AfterFunc(idle, func() { call.cancel(errStreamIdle) })
		defer idleTimer.Stop()
	}
	bp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bp)
	buf := *bp
	guard := translate.SSEGuard{Max: s.limits.MaxStreamEventBytes}
	// delivered is set once the client has the stream's last event; a client may hang up then,
	// before the backend's end of stream is read, and that is a complete answer.
	endpoint, delivered := a.Stream().Endpoint(), false
	// finished is set once the request was finished ahead of its last event (below): the
	// pipeline is done with it, and whatever the backend sends or does after is read and dropped.
	finished := false
	for {
		n, rerr := body.Read(buf)
		if idleTimer != nil {
			idleTimer.Reset(idle)
		}
		if n > 0 && upstreamSSE && !finished {
			// Bounds first, so no decoder ever buffers an oversized or overly deep event.
			if err := guard.Check(buf[:n]); err != nil {
				return s.abortStream(w, rc, a, err)
			}
		}
		eos := rerr == io.EOF
		if (n > 0 || eos) && !finished {
			out, err := a.ResponseBody(buf[:n], eos)
			if len(out) > 0 {
				last := !delivered && endpoint.EndsStream(out)
				if last && !translate.HasErrorEvent(out) {
					// The usage is in: finish the request (rate limits charged, event published)
					// before the client has the last event, so that its next request, sent the
					// moment it reads it, is checked against this one's cost.
					a.Stream().Finish(call.resp.StatusCode, nil)
					finished = true
				}
				if _, werr := w.Write(out); werr != nil {
					return call.resp.StatusCode, fmt.Errorf("writing to client: %w", werr)
				}
				if ferr := rc.Flush(); ferr != nil {
					return call.resp.StatusCode, fmt.Errorf("flushing to client: %w", ferr)
				}
				delivered = delivered || last
				if translate.HasErrorEvent(out) {
					// The backend reported an error in the stream, or the translator ended it
					// with one (a truncated or unreadable stream): nothing valid follows.
					return http.StatusBadGateway, &streamAborted{errors.New("the stream ended with an error event")}
				}
			}
			if err != nil {
				return s.abortStream(w, rc, a, fmt.Errorf("translating stream: %w", err))
			}
		}
		if eos {
			return call.resp.StatusCode, nil
		}
		if rerr != nil {
			if finished {
				return call.resp.StatusCode, nil // the client has the whole stream
			}
			ctx := call.resp.Request.Context()
			if cause := context.Cause(ctx); errors.Is(cause, errStreamIdle) {
				return s.abortStream(w, rc, a, translate.Errorf(http.StatusGatewayTimeout, "upstream_stream_idle", "the backend's stream was idle for %s", idle))
			}
			if clientGone(ctx) {
				if delivered {
					return call.resp.StatusCode, nil
				}
				return 499, fmt.Errorf("the client went away mid-stream: %w", context.Cause(ctx))
			}
			return s.abortStream(w, rc, a, translate.Errorf(http.StatusBadGateway, "upstream_stream_broken", "the backend's stream broke off: %v", rerr))
		}
	}
}

// clientGone reports whether an upstream call's context ended because the client's request did
// (it hung up), rather than by the gateway's own timers, which cancel with a cause of their own.
func clientGone(ctx context.Context) bool {
	return ctx.Err() != nil && context.Cause(ctx) == context.Canceled
}

// streamAborted is a stream that failed after its status line went out: the client has an
// error event, and the handler aborts the response.
type streamAborted struct{ err error }

func (e *streamAborted) Error() string { return e.err.Error() }
func (e *streamAborted) Unwrap() error { return e.err }

// abortStream ends a stream that failed mid-way with an error event in the client's API shape
// (OpenAI `data: {"error":...}`, Anthropic `event: error`; never a [DONE]).
func (s *Server) abortStream(w http.ResponseWriter, rc *http.ResponseController, a *extproc.Attempt, err error) (int, error) {
	var te *translate.Error
	if !errors.As(err, &te) {
		te = translate.Errorf(http.StatusBadGateway, "upstream_stream_failed", "%v", err)
	}
	if _, werr := w.Write(translate.AppendStreamError(nil, a.Stream().API(), te)); werr == nil {
		_ = rc.Flush()
	}
	return te.Status, &streamAborted{err}
}

// readUpstreamBody reads a whole non-streamed upstream body, decompressed, up to the limit: a
// larger body is a 502 (never a cut one passed on as a success), as is JSON nested deeper than
// translate.MaxJSONDepth.
func (s *Server) readUpstreamBody(call *upstreamCall, body io.Reader) ([]byte, error) {
	limit := s.limits.MaxUpstreamBodyBytes
	raw, err := readLimited(body, limit, call.resp.ContentLength, call.resp.Header.Get("Content-Encoding") == "")
	if errors.Is(err, errTooLarge) {
		return nil, translate.Errorf(http.StatusBadGateway, "upstream_too_large", "the backend's response is larger than %d bytes (decompressed)", limit)
	}
	if err != nil {
		return nil, upstreamReadError(call, err)
	}
	if jsonContent(call.resp.Header.Get("Content-Type")) {
		if err := translate.CheckUpstreamJSON(raw); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// errTooLarge is readLimited's error for a body past its limit.
var errTooLarge = errors.New("body too large")

// readLimitedPiece is the unit readLimited reads an unknown-length body in.
const readLimitedPiece = 1 << 20

// readLimited reads r whole, up to limit bytes (errTooLarge past it). A body of known length
// (size >= 0, not content-coded) is read into one buffer of that size; any other is read in
// pieces joined at the end, so the memory a body over the limit costs is the limit, not the
// doubling growth of one buffer, and it is garbage as soon as the 502 is decided.
func readLimited(r io.Reader, limit, size int64, sized bool) ([]byte, error) {
	if sized && size >= 0 {
		if size > limit {
			return nil, errTooLarge
		}
		buf := make([]byte, size+1)
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil: // more than it announced
			return nil, errTooLarge
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			if int64(n) < size {
				return nil, io.ErrUnexpectedEOF
			}
			return buf[:n], nil
		}
		return nil, err
	}
	var pieces [][]byte
	var total int64
	for {
		piece := make([]byte, min(readLimitedPiece, limit+1-total))
		n, err := io.ReadFull(r, piece)
		total += int64(n)
		if n > 0 {
			pieces = append(pieces, piece[:n])
		}
		if total > limit {
			return nil, errTooLarge
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(pieces) == 1 {
		return pieces[0], nil
	}
	out := make([]byte, 0, total)
	for _, p := range pieces {
		out = append(out, p...)
	}
	return out, nil
}

// jsonContent reports whether a body of this content type is read as JSON by the translators.
// Audio and images pass through as bytes and must not be scanned for brackets.
func jsonContent(ct string) bool {
	return ct == "" || strings.Contains(ct, "json") || strings.HasPrefix(ct, "text/")
}

// fail writes err in the client's shape and returns the status it sent.
func (s *Server) fail(w http.ResponseWriter, st *extproc.Stream, err error) (int, error) {
	status, body := st.ErrorResponse(err)
	st.LimitHeaders(w.Header())
	writeJSON(w, status, body)
	return status, err
}

func (s *Server) failAttempt(w http.ResponseWriter, a *extproc.Attempt, err error) (int, error) {
	return s.fail(w, a.Stream(), err)
}

// upstreamError turns a transport failure into the client-facing 502 or 504.
func upstreamError(err error) error {
	var te *translate.Error
	if errors.As(err, &te) {
		return te
	}
	if errors.Is(err, errTimeout) {
		return &translate.Error{Status: http.StatusGatewayTimeout, Code: "upstream_timeout", Message: err.Error()}
	}
	if err == nil {
		err = errUnreachable
	}
	return &translate.Error{Status: http.StatusBadGateway, Code: "upstream_unreachable", Message: err.Error()}
}

// readBody reads the client's body up to limit, with a 413 beyond it, within the body timeout
// that withBodyDeadline set (a 408 past it); then it lifts that deadline for the response.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, translate.Errorf(http.StatusRequestEntityTooLarge, "request_too_large", "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return nil, translate.Errorf(http.StatusRequestEntityTooLarge, "request_too_large", "request body exceeds the limit of %d bytes", limit)
		case errors.As(err, &ne) && ne.Timeout():
			return nil, translate.Errorf(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive within %s", s.limits.RequestBodyTimeout)
		}
		return nil, translate.Errorf(http.StatusBadRequest, "request_read", "reading the request body: %v", err)
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	return body, nil
}

// copyHeaders copies upstream response headers to the client's. The gateway's request id stays
// X-Request-Id; a provider's own id moves to X-Upstream-Request-Id so support cases can cite it.
func copyHeaders(dst, src http.Header) {
	id := dst.Get(requestIDHeader)
	for k, v := range src {
		dst[k] = v
	}
	for _, k := range responseHopHeaders {
		dst.Del(k)
	}
	if up := src.Get(requestIDHeader); up != "" && up != id {
		dst.Set("X-Upstream-Request-Id", up)
	}
	dst.Set(requestIDHeader, id)
}

func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	r.Close()
}
