package mcpstdio

import (
	"bytes"
	"io"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// This file serves the HTTP+SSE transport of the 2024-11-05 revision for clients that still
// use it: GET SSEPath opens a session and its one stream, whose first event names the
// endpoint to POST messages to (MessagePath?sessionId=...). It is built on the SDK's
// SSEServerTransport; a session on it is like any other to the multiplexer.

// sessionParam is the query parameter naming the session on MessagePath.
const sessionParam = "sessionId"

func (b *Bridge) serveSSE(w http.ResponseWriter, r *http.Request) {
	if !hostAllowed(w, r) {
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s, err := b.newSession(true)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer b.endSession(s)
	s.streams.Add(1)
	defer s.streams.Add(-1)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache, no-transform")
	t := &mcp.SSEServerTransport{
		Endpoint:            b.cfg.MessagePath + "?" + sessionParam + "=" + s.id,
		Response:            w,
		MaxRequestBodyBytes: b.cfg.MaxBodyBytes,
	}
	s.sse.Store(t)
	conn, err := t.Connect(r.Context())
	if err != nil {
		return
	}
	defer conn.Close()
	ctx := r.Context()
	go func() {
		for {
			msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			b.handle(ctx, s, msg, nil)
		}
	}()
	for {
		msg, ok := s.out.pop(ctx)
		if !ok {
			return
		}
		if err := conn.Write(ctx, msg); err != nil {
			return
		}
	}
}

// serveSSEMessage accepts one POSTed message for an HTTP+SSE session; its answer travels on
// the session's stream.
func (b *Bridge) serveSSEMessage(w http.ResponseWriter, r *http.Request) {
	if !hostAllowed(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s := b.lookup(r.URL.Query().Get(sessionParam))
	var t *mcp.SSEServerTransport
	if s != nil {
		t = s.sse.Load()
	}
	if t == nil {
		writeRPCError(w, http.StatusNotFound, jsonrpc.ID{}, codeInvalidRequest, "session not found")
		return
	}
	// Validate here so bad input gets a JSON-RPC error, then let the transport queue it.
	msg := b.readMessage(w, r)
	if msg == nil {
		return
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		writeRPCError(w, http.StatusBadRequest, msgID(msg), codeInvalidRequest, err.Error())
		return
	}
	s.touch()
	r.Body = io.NopCloser(bytes.NewReader(data))
	t.ServeHTTP(w, r)
}
