package extproc

import (
	"net/http"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// upstreamAttempt is one upstream-filter stream: one attempt of one request at one endpoint.
type upstreamAttempt struct {
	g *GRPCServer
	r *envoyRequest
	a *Attempt
	// status and header are the backend's response status and headers.
	status int
	header http.Header
	// failed: the response is a non-2xx answer, translated once buffered.
	failed bool
	// aborted: a streamed answer failed mid-way; the client has an error event and the rest of
	// the backend's stream is dropped.
	aborted bool
	guard   translate.SSEGuard
	// upstreamSSE is whether the backend itself answered with server-sent events: the event
	// bounds apply to those, not to a binary stream (AWS event stream) the translator turns
	// into events.
	upstreamSSE bool
}

// serveUpstream is the upstream-level filter's stream: the request headers and body of one
// attempt (translated, mutated, authenticated) and the backend's answer (translated back,
// streamed).
func (g *GRPCServer) serveUpstream(srv extprocv3.ExternalProcessor_ProcessServer) error {
	u := &upstreamAttempt{g: g, guard: translate.SSEGuard{Max: g.maxEvent}}
	defer func() {
		if u.r != nil {
			u.r.mu.Lock()
			g.release(u.r)
			u.r.mu.Unlock()
		}
	}()
	for {
		req, done, err := recv(srv)
		if done {
			return err
		}
		var resp *extprocv3.ProcessingResponse
		if m, ok := req.Request.(*extprocv3.ProcessingRequest_RequestHeaders); ok && u.r == nil {
			resp = u.requestHeaders(srv, req, m.RequestHeaders)
		} else if u.r == nil {
			resp = internalError("upstream phase before the request headers")
		} else {
			u.r.mu.Lock()
			switch m := req.Request.(type) {
			case *extprocv3.ProcessingRequest_RequestBody:
				resp = u.requestBody()
			case *extprocv3.ProcessingRequest_ResponseHeaders:
				resp = u.responseHeaders(m.ResponseHeaders)
			case *extprocv3.ProcessingRequest_ResponseBody:
				resp = u.responseBody(m.ResponseBody)
			default:
				resp = continueResponse(req)
			}
			u.r.mu.Unlock()
		}
		if err := srv.Send(resp); err != nil {
			return nil
		}
	}
}

// requestHeaders finds the request the router filter registered and the backend reference of
// the endpoint Envoy picked, and makes the attempt: the translated request's path and headers
// replace the client's here; its body replaces the client's in the body phase.
func (u *upstreamAttempt) requestHeaders(srv extprocv3.ExternalProcessor_ProcessServer, req *extprocv3.ProcessingRequest, hs *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	pseudo, h := headerMap(hs)
	r := u.g.lookup(h.Get(requestIDKey))
	if r == nil {
		return internalError("no request with this x-request-id is in progress")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u.r = r
	r.streams++
	ref, err := endpointRef(r.st, req.Attributes)
	if err != nil {
		return u.fail(err)
	}
	a, err := r.st.Attempt(srv.Context(), ref)
	if err != nil {
		return u.fail(err)
	}
	u.a, r.attempt, r.answered = a, a, false
	if len(a.Parts) > 0 {
		// Envoy sends one upstream request per attempt; a request the backend takes in
		// several calls needs the builtin data plane. (The router filter leaves such a backend
		// out when another can take the request.)
		return u.fail(splitUnsupported(a.Ref, len(a.Parts)))
	}
	if l := a.Upstream.Local; l != nil {
		return u.local(l)
	}
	var mut headerEdits
	up := a.Upstream
	if pseudo[":path"] != up.Path {
		mut.set(":path", up.Path)
	}
	for name := range h {
		if _, keep := up.Header[name]; !keep {
			mut.remove(name)
		}
	}
	for name, vs := range up.Header {
		for i, v := range vs {
			if i == 0 {
				mut.set(name, v)
			} else {
				mut.add(name, v)
			}
		}
	}
	mut.set("content-length", strconv.Itoa(len(up.Body)))
	return headersResponse(&mut, false)
}

// requestBody replaces the client's body with the attempt's.
func (u *upstreamAttempt) requestBody() *extprocv3.ProcessingResponse {
	if u.a == nil {
		return continueBody(false)
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
			BodyMutation: replaceBody(u.a.Upstream.Body),
		}},
	}}
}

// responseHeaders is the backend's answer: an error is buffered to be translated whole, as is a
// non-streamed answer; an event stream is translated chunk by chunk.
func (u *upstreamAttempt) responseHeaders(hs *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	if u.a == nil {
		return continueHeaders()
	}
	pseudo, h := headerMap(hs)
	u.status, _ = strconv.Atoi(pseudo[":status"])
	u.header = h
	u.r.answered = true
	var mut headerEdits
	mut.remove("content-length")
	if up := h.Get(requestIDKey); up != "" && up != u.r.id {
		mut.set("x-upstream-request-id", up)
	}
	mut.set(requestIDKey, u.r.id)
	if u.status < 200 || u.status > 299 {
		u.failed = true
		if hs.EndOfStream {
			return u.errorBody(nil, true)
		}
		return withMode(headersResponse(&mut, true), extprocfilterv3.ProcessingMode_BUFFERED)
	}
	u.upstreamSSE = translate.IsEventStream(h)
	if err := u.a.ResponseHeaders(u.status, h); err != nil {
		return u.fail(err)
	}
	if hs.EndOfStream {
		out, err := u.a.ResponseBody(nil, true)
		if err != nil {
			return u.fail(err)
		}
		u.r.respDone = true
		mut.set("content-length", strconv.Itoa(len(out)))
		resp := headersResponse(&mut, true)
		resp.GetResponseHeaders().Response.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
		resp.GetResponseHeaders().Response.BodyMutation = replaceBody(out)
		resp.DynamicMetadata = u.dynamicMetadata()
		return resp
	}
	if translate.IsEventStream(h) {
		return withMode(headersResponse(&mut, true), extprocfilterv3.ProcessingMode_STREAMED)
	}
	return withMode(headersResponse(&mut, true), extprocfilterv3.ProcessingMode_BUFFERED)
}

// responseBody translates the answer: whole for errors and non-streamed answers, one chunk at a
// time for event streams.
func (u *upstreamAttempt) responseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	switch {
	case u.a == nil:
		return continueBody(true)
	case u.failed:
		return u.errorBody(b.Body, false)
	case u.aborted:
		if b.EndOfStream {
			u.r.respDone = true
		}
		return bodyResponse(nil, replaceBody(nil))
	}
	if !translate.IsEventStream(u.header) {
		out, err := u.a.ResponseBody(b.Body, true)
		if err != nil {
			return u.fail(err)
		}
		u.r.respDone = true
		var mut headerEdits
		mut.set("content-length", strconv.Itoa(len(out)))
		resp := bodyResponse(&mut, replaceBody(out))
		resp.DynamicMetadata = u.dynamicMetadata()
		return resp
	}
	if len(b.Body) > 0 && u.upstreamSSE {
		if err := u.guard.Check(b.Body); err != nil {
			return u.abort(nil, err)
		}
	}
	out, err := u.a.ResponseBody(b.Body, b.EndOfStream)
	if err != nil {
		return u.abort(out, err)
	}
	if !u.r.delivered && len(out) > 0 {
		u.r.delivered = u.r.st.Endpoint().EndsStream(out)
	}
	if translate.HasErrorEvent(out) {
		u.aborted = true
		u.r.status, u.r.err = http.StatusBadGateway, errorf("the stream ended with an error event")
	}
	resp := bodyResponse(nil, replaceBody(out))
	if b.EndOfStream {
		u.r.respDone = true
		resp.DynamicMetadata = u.dynamicMetadata()
	}
	return resp
}

// abort ends a stream that failed mid-way with an error event in the client's shape; what the
// backend sends after it is dropped.
func (u *upstreamAttempt) abort(out []byte, err error) *extprocv3.ProcessingResponse {
	te := asTranslateError(err, http.StatusBadGateway, "upstream_stream_failed")
	u.aborted = true
	u.r.immediate = 0
	u.r.status, u.r.err = te.Status, err
	out = translate.AppendStreamError(out, u.r.st.API(), te)
	return bodyResponse(nil, replaceBody(out))
}

// errorBody translates a non-2xx answer into the client's error shape once it is whole. An
// error without a body is answered at its headers.
func (u *upstreamAttempt) errorBody(body []byte, atHeaders bool) *extprocv3.ProcessingResponse {
	out := u.a.ResponseError(u.status, u.header, body)
	u.r.respDone = true
	var mut headerEdits
	mut.set("content-type", "application/json")
	mut.set("content-length", strconv.Itoa(len(out)))
	mut.set(requestIDKey, u.r.id)
	if up := u.header.Get(requestIDKey); up != "" && up != u.r.id {
		mut.set("x-upstream-request-id", up)
	}
	if !atHeaders {
		return bodyResponse(&mut, replaceBody(out))
	}
	resp := headersResponse(&mut, true)
	resp.GetResponseHeaders().Response.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
	resp.GetResponseHeaders().Response.BodyMutation = replaceBody(out)
	return resp
}

// local answers with a translator's own response (a token count made in process): nothing goes
// to the backend.
func (u *upstreamAttempt) local(l *translate.LocalResponse) *extprocv3.ProcessingResponse {
	u.r.answered = true
	h := l.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if err := u.a.ResponseHeaders(l.Status, h); err != nil {
		return u.fail(err)
	}
	out, err := u.a.ResponseBody(l.Body, true)
	if err != nil {
		return u.fail(err)
	}
	u.r.respDone = true
	u.r.immediate = l.Status
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	resp := immediate(l.Status, out, u.r.id)
	resp.GetImmediateResponse().Headers.SetHeaders = append(resp.GetImmediateResponse().Headers.SetHeaders, headerOption("content-type", ct, false))
	resp.DynamicMetadata = u.dynamicMetadata()
	return resp
}

// fail answers the attempt with err in the client's shape, at once: nothing is sent upstream.
func (u *upstreamAttempt) fail(err error) *extprocv3.ProcessingResponse {
	status, body := u.r.st.ErrorResponse(err)
	u.r.immediate, u.r.err = status, err
	return immediate(status, body, u.r.id)
}

// dynamicMetadata is the request's token counts and costs under DynamicMetadataNamespace, for
// Envoy's access log and rate limits, as the reference emits them.
func (u *upstreamAttempt) dynamicMetadata() *structpb.Struct {
	use, _ := u.a.tr.Usage().NonNegative()
	fields := map[string]*structpb.Value{
		"llm_input_token":  structpb.NewNumberValue(float64(use.InputTokens)),
		"llm_output_token": structpb.NewNumberValue(float64(use.OutputTokens)),
		"llm_total_token":  structpb.NewNumberValue(float64(use.TotalTokens)),
		"backend_name":     structpb.NewStringValue(u.a.Ref.Backend.Name),
		"model":            structpb.NewStringValue(u.r.st.ev.BackendModel),
	}
	st := u.r.st
	if st.route != nil {
		c, _ := costs(st.model.GlobalCosts, st.route.Costs, config.CostVars{
			Model: st.ev.BackendModel, Backend: st.costBackend(), RouteName: st.route.Name,
			InputTokens: uint64(use.InputTokens), CachedInputTokens: uint64(use.CachedInputTokens),
			CacheCreationInputTokens: uint64(use.CacheCreationInputTokens), OutputTokens: uint64(use.OutputTokens),
			ReasoningTokens: uint64(use.ReasoningTokens), TotalTokens: uint64(use.TotalTokens),
		})
		for k, v := range c {
			fields[k] = structpb.NewNumberValue(float64(v))
		}
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		DynamicMetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: fields}),
	}}
}
