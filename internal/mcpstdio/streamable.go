package mcpstdio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// HTTP header names of the streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
)

// keepAliveEvery sends an SSE comment on idle streams so dead connections are noticed.
const keepAliveEvery = 25 * time.Second

func (b *Bridge) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(b.cfg.Path, b.serveStreamable)
	mux.HandleFunc(b.cfg.SSEPath, b.serveSSE)
	mux.HandleFunc(b.cfg.MessagePath, b.serveSSEMessage)
	return mux
}

// serveStreamable is the streamable HTTP endpoint: POST carries client messages, GET opens a
// session's standalone stream, DELETE ends a session.
func (b *Bridge) serveStreamable(w http.ResponseWriter, r *http.Request) {
	if !hostAllowed(w, r) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		b.servePOST(w, r)
	case http.MethodGet:
		b.serveGET(w, r)
	case http.MethodDelete:
		sid := r.Header.Get(headerSessionID)
		s := b.lookup(sid)
		if s == nil {
			writeRPCError(w, http.StatusNotFound, jsonrpc.ID{}, codeInvalidRequest, "session not found")
			return
		}
		b.endSession(s)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// readMessage reads and decodes one POSTed JSON-RPC message, answering bad input itself
// (415, 413, or 400 with a JSON-RPC error) and returning nil then.
func (b *Bridge) readMessage(w http.ResponseWriter, r *http.Request) jsonrpc.Message {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeRPCError(w, http.StatusUnsupportedMediaType, jsonrpc.ID{}, codeInvalidRequest, "Content-Type must be application/json")
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeRPCError(w, http.StatusRequestEntityTooLarge, jsonrpc.ID{}, codeInvalidRequest,
				fmt.Sprintf("request body exceeds %d bytes", mbe.Limit))
			return nil
		}
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, codeParseError, "reading the body: "+err.Error())
		return nil
	}
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, codeParseError, "the body is not valid JSON")
		return nil
	}
	if len(body) > 0 && body[0] == '[' {
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, codeInvalidRequest, "JSON-RPC batches are not supported")
		return nil
	}
	msg, err := jsonrpc.DecodeMessage(body)
	if err != nil {
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, codeInvalidRequest, "not a JSON-RPC 2.0 message: "+err.Error())
		return nil
	}
	switch m := msg.(type) {
	case *jsonrpc.Request:
		if m.Method == "" {
			writeRPCError(w, http.StatusBadRequest, m.ID, codeInvalidRequest, "missing method")
			return nil
		}
	case *jsonrpc.Response:
		// A response carries exactly one of result and error; without either the message is
		// neither a request, a notification nor a response.
		if (m.Result == nil) == (m.Error == nil) || !m.ID.IsValid() {
			writeRPCError(w, http.StatusBadRequest, m.ID, codeInvalidRequest,
				"not a JSON-RPC request, notification or response (a response needs an id and exactly one of result and error)")
			return nil
		}
	}
	return msg
}

func (b *Bridge) servePOST(w http.ResponseWriter, r *http.Request) {
	if !acceptsBoth(r) {
		writeRPCError(w, http.StatusNotAcceptable, jsonrpc.ID{}, codeInvalidRequest,
			"the Accept header must allow both application/json and text/event-stream")
		return
	}
	msg := b.readMessage(w, r)
	if msg == nil {
		return
	}
	req, isReq := msg.(*jsonrpc.Request)
	if sid := r.Header.Get(headerSessionID); sid != "" {
		s := b.lookup(sid)
		if s == nil {
			// 404 tells the client to start a new session with initialize.
			writeRPCError(w, http.StatusNotFound, msgID(msg), codeInvalidRequest, "session not found")
			return
		}
		if v := r.Header.Get(headerProtocolVersion); v != "" && !isLegacyVersion(v) {
			writeRPCError(w, http.StatusBadRequest, msgID(msg), codeInvalidRequest,
				fmt.Sprintf("unsupported %s %q in a session (supported: %s)", headerProtocolVersion, v, strings.Join(legacyVersions, ", ")))
			return
		}
		if isReq && req.Method == methodInitialize {
			writeRPCError(w, http.StatusBadRequest, req.ID, codeInvalidRequest, errAlreadyInitialized.Error())
			return
		}
		b.postToSession(w, r, s, msg)
		return
	}
	if isStateless(r, msg) {
		// A 2026-07-28 request (even an initialize, which that revision no longer has).
		b.serveStateless(w, r, msg)
		return
	}
	if v := r.Header.Get(headerProtocolVersion); v != "" && !supportedVersion(v) {
		writeRPCError(w, http.StatusBadRequest, msgID(msg), codeInvalidRequest,
			fmt.Sprintf("unsupported %s %q (supported: %s, %s)", headerProtocolVersion, v, version20260728, strings.Join(legacyVersions, ", ")))
		return
	}
	switch {
	case isReq && req.Method == methodInitialize:
		s, err := b.newSession(false)
		if err == nil {
			if err = b.bind(r.Context(), s, req); err != nil {
				b.endSession(s)
			}
		}
		if err != nil {
			writeRPCError(w, http.StatusServiceUnavailable, req.ID, codeUnavailable, err.Error())
			return
		}
		w.Header().Set(headerSessionID, s.id)
		b.postToSession(w, r, s, msg)
	default:
		writeRPCError(w, http.StatusBadRequest, msgID(msg), codeInvalidRequest,
			"missing Mcp-Session-Id header: send initialize first")
	}
}

// postToSession hands one message to a session and, for a request, streams the replies.
func (b *Bridge) postToSession(w http.ResponseWriter, r *http.Request, s *session, msg jsonrpc.Message) {
	s.streams.Add(1)
	defer s.streams.Add(-1)
	defer s.touch()
	req, ok := msg.(*jsonrpc.Request)
	if !ok || !req.IsCall() {
		b.handle(r.Context(), s, msg, nil)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	q := newQueue(maxPerRequest)
	// Closing q when the HTTP request ends makes later messages of the request fall back to
	// the session's standalone stream.
	defer q.close()
	b.handle(r.Context(), s, req, q)
	streamReplies(w, r.Context(), q, req.ID, nil)
}

// streamReplies writes what a request's stream carries until its response. A response that
// comes first and alone is sent as application/json; anything before it (progress, log
// messages, requests to the client) turns the reply into an SSE stream.
// shape, if set, completes the response (2026-07-28) and names its HTTP status, which only a
// response sent alone can carry.
func streamReplies(w http.ResponseWriter, ctx context.Context, q *queue, id jsonrpc.ID, shape func(*jsonrpc.Response) int) bool {
	first, ok := q.pop(ctx)
	if !ok {
		w.WriteHeader(http.StatusAccepted)
		return false
	}
	final := func(msg jsonrpc.Message) (*jsonrpc.Response, int) {
		resp, isResp := msg.(*jsonrpc.Response)
		if !isResp || resp.ID != id {
			return nil, 0
		}
		status := 0
		if shape != nil {
			status = shape(resp)
		}
		return resp, status
	}
	if resp, status := final(first); resp != nil {
		writeRPCResponse(w, status, resp)
		return true
	}
	sse := newSSEWriter(w)
	msg := first
	for {
		resp, _ := final(msg)
		if err := sse.message(msg); err != nil {
			return false
		}
		if resp != nil {
			return true
		}
		if msg, ok = sse.next(ctx, q); !ok {
			return false
		}
	}
}

// serveGET streams a session's messages that belong to no request.
func (b *Bridge) serveGET(w http.ResponseWriter, r *http.Request) {
	sid := r.Header.Get(headerSessionID)
	if sid == "" {
		w.Header().Set("Allow", "POST")
		http.Error(w, "GET needs an Mcp-Session-Id header", http.StatusMethodNotAllowed)
		return
	}
	s := b.lookup(sid)
	if s == nil {
		writeRPCError(w, http.StatusNotFound, jsonrpc.ID{}, codeInvalidRequest, "session not found")
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		http.Error(w, "GET must accept text/event-stream", http.StatusNotAcceptable)
		return
	}
	if !s.getOpen.CompareAndSwap(false, true) {
		http.Error(w, "this session already has a GET stream", http.StatusConflict)
		return
	}
	defer s.getOpen.Store(false)
	s.streams.Add(1)
	defer s.streams.Add(-1)
	defer s.touch()
	sse := newSSEWriter(w)
	sse.flush()
	for {
		msg, ok := sse.next(r.Context(), s.out)
		if !ok {
			return
		}
		if err := sse.message(msg); err != nil {
			return
		}
	}
}

// sseWriter writes JSON-RPC messages as server-sent events.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) flush() { _ = s.rc.Flush() }

func (s *sseWriter) message(msg jsonrpc.Message) error {
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + 24)
	buf.WriteString("event: message\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
	if _, err := s.w.Write(buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// next waits for the next message of q, writing keep-alive comments while it waits.
func (s *sseWriter) next(ctx context.Context, q *queue) (jsonrpc.Message, bool) {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, keepAliveEvery)
		msg, ok := q.pop(waitCtx)
		cancel()
		if ok {
			return msg, true
		}
		if ctx.Err() != nil || waitCtx.Err() == nil {
			return nil, false // the client left, or the queue was closed
		}
		if _, err := io.WriteString(s.w, ": keep-alive\n\n"); err != nil {
			return nil, false
		}
		s.flush()
	}
}

// writeRPCError answers with a JSON-RPC error object and an HTTP status.
func writeRPCError(w http.ResponseWriter, status int, id jsonrpc.ID, code int64, msg string) {
	data, _ := jsonrpc.EncodeMessage(errorResponse(id, code, msg))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// msgID is the id of a request or response, the zero ID for notifications.
func msgID(msg jsonrpc.Message) jsonrpc.ID {
	switch m := msg.(type) {
	case *jsonrpc.Request:
		return m.ID
	case *jsonrpc.Response:
		return m.ID
	}
	return jsonrpc.ID{}
}

// hostAllowed refuses what a browser may send on a web page's behalf (DNS-rebinding
// protection, which the transport says servers MUST have): a request to a loopback listener
// that names a non-loopback Host, and a request whose Origin is neither a loopback origin nor
// the origin of the Host it names. Clients that are not browsers send no Origin.
func hostAllowed(w http.ResponseWriter, r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if ok && isLoopback(local.String()) && !isLoopback(r.Host) {
		http.Error(w, fmt.Sprintf("forbidden: Host %q is not a loopback name", r.Host), http.StatusForbidden)
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") &&
		(isLoopback(u.Host) || strings.EqualFold(u.Host, r.Host)) {
		return true
	}
	http.Error(w, fmt.Sprintf("forbidden: Origin %q is not allowed", origin), http.StatusForbidden)
	return false
}

// acceptsBoth reports whether a POST's Accept header allows both answers the transport may
// give, application/json and text/event-stream, as the transport requires of clients.
func acceptsBoth(r *http.Request) bool {
	var jsonOK, sseOK bool
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*":
			jsonOK, sseOK = true, true
		case "application/*", "application/json":
			jsonOK = true
		case "text/*", "text/event-stream":
			sseOK = true
		}
	}
	return jsonOK && sseOK
}

// supportedVersion reports whether v is a protocol revision the bridge speaks.
func supportedVersion(v string) bool {
	return v == version20260728 || isLegacyVersion(v)
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
