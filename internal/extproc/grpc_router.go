package extproc

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/translate"
)

// serveRouter is the router-level filter's stream: request headers, the buffered request body
// (parse, route), and the final response headers (what the client gets, after Envoy's retries).
func (g *GRPCServer) serveRouter(srv extprocv3.ExternalProcessor_ProcessServer) error {
	var r *envoyRequest
	defer func() {
		if r != nil {
			r.mu.Lock()
			r.routerDone = true
			g.release(r)
			r.mu.Unlock()
		}
	}()
	for {
		req, done, err := recv(srv)
		if done {
			return err
		}
		var resp *extprocv3.ProcessingResponse
		switch m := req.Request.(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			var nr *envoyRequest
			nr, resp = g.routerRequestHeaders(m.RequestHeaders)
			if nr != nil {
				r = nr
			}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp = g.routerRequestBody(r, m.RequestBody)
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp = g.routerResponseHeaders(r, m.ResponseHeaders)
		default:
			resp = continueResponse(req)
		}
		if err := srv.Send(resp); err != nil {
			return nil // Envoy went away; the deferred release records it
		}
	}
}

// routerRequestHeaders starts the request: it finds the endpoint and registers the Stream under
// the request id. A request no endpoint serves gets an error in its API's shape.
func (g *GRPCServer) routerRequestHeaders(hs *extprocv3.HttpHeaders) (*envoyRequest, *extprocv3.ProcessingResponse) {
	pseudo, h := headerMap(hs)
	path := pseudo[":path"]
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	e, ok := g.paths[path]
	if !ok || pseudo[":method"] != http.MethodPost {
		if g.passUnknown {
			return nil, headersResponse(nil, false)
		}
		return nil, notFound(path, pseudo[":method"], ok)
	}
	var mut headerEdits
	id := h.Get(requestIDKey)
	if id == "" || len(id) > 200 {
		id = newRequestID()
		h.Set(requestIDKey, id)
		mut.set(requestIDKey, id)
	}
	r := &envoyRequest{id: id, streams: 1, st: g.p.NewStream(e)}
	for !g.register(r) {
		// A client reused an id while its first request runs: this one gets its own, which the
		// upstream filter sees and the client gets back.
		r.id = newRequestID()
		h.Set(requestIDKey, r.id)
		mut.set(requestIDKey, r.id)
	}
	r.st.RequestHeaders(r.id, pseudo[":authority"], h)
	r.mu.Lock()
	defer r.mu.Unlock()
	if hs.EndOfStream {
		return r, r.routerBody(nil)
	}
	return r, headersResponse(&mut, false)
}

// routerRequestBody is the buffered request body: the pipeline parses it and picks the rule;
// the model and the rule go into headers that Envoy's route matches, and the route cache is
// cleared so the route is chosen again with them.
func (g *GRPCServer) routerRequestBody(r *envoyRequest, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if r == nil {
		return continueBody(false) // a request the pipeline does not serve (PassUnknownPaths)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routerBody(b.Body)
}

func (r *envoyRequest) routerBody(body []byte) *extprocv3.ProcessingResponse {
	st := r.st
	if limit := st.MaxRequestBodyBytes(); int64(len(body)) > limit {
		return r.fail(translate.Errorf(http.StatusRequestEntityTooLarge, "request_too_large", "request body of %d bytes exceeds the limit of %d bytes", len(body), limit))
	}
	if err := st.RequestBody(st.req.Header.Get("Content-Type"), body); err != nil {
		return r.fail(err)
	}
	if len(st.Candidates()) == 0 {
		return r.fail(translate.Errorf(http.StatusServiceUnavailable, "no_backend", "no backend can take this request: every backend of the rule has weight 0"))
	}
	// The backends that cannot take the request (quota exhausted, untranslatable) are left out
	// of Envoy's choice; with none left, the request is answered as the builtin plane answers it.
	lb, err := st.subsetMetadata()
	if err != nil {
		return r.fail(err)
	}
	var mut headerEdits
	mut.set(config.ModelHeader, st.req.Model)
	mut.set(RuleHeader, st.rule.Name)
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
			HeaderMutation: mut.proto(), ClearRouteCache: true,
		}},
	}, DynamicMetadata: lb}
}

// fail answers the request with err in the client's shape, recording the status. A refusal by
// a rate limit or quota carries its retry-after and limit headers, as on the builtin plane.
func (r *envoyRequest) fail(err error) *extprocv3.ProcessingResponse {
	status, body := r.st.ErrorResponse(err)
	r.status, r.err = status, err
	resp := immediate(status, body, r.id)
	h := http.Header{}
	r.st.LimitHeaders(h)
	ir := resp.GetImmediateResponse()
	for name, vs := range h {
		for i, v := range vs {
			ir.Headers.SetHeaders = append(ir.Headers.SetHeaders, headerOption(name, v, i > 0))
		}
	}
	return resp
}

// routerResponseHeaders sees the response the client gets. One that no attempt's upstream filter
// saw is Envoy's own local reply (no healthy upstream, connect failure, upstream timeout): it is
// replaced by the error the builtin plane gives, in the client's shape.
func (g *GRPCServer) routerResponseHeaders(r *envoyRequest, hs *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	if r == nil {
		return continueHeaders() // a request the pipeline does not serve (PassUnknownPaths)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pseudo, _ := headerMap(hs)
	status, _ := strconv.Atoi(pseudo[":status"])
	switch {
	case r.immediate > 0 || r.status > 0:
		// The pipeline's own immediate response, passing back through this filter.
		return continueHeaders()
	case r.attempt == nil || !r.answered:
		if status == http.StatusGatewayTimeout {
			return r.fail(translate.Errorf(http.StatusGatewayTimeout, "upstream_timeout", "the backend did not answer in time"))
		}
		if status >= 400 {
			return r.fail(translate.Errorf(http.StatusBadGateway, "upstream_unreachable", "upstream unreachable (Envoy answered %d)", status))
		}
	}
	r.status = status
	if status >= 400 && r.err == nil {
		r.err = errorf("backend %s: %d %s", r.attempt.Ref.Backend.Name, status, http.StatusText(status))
	}
	return continueHeaders()
}

// notFound is the 404 (or 405) of a path no endpoint serves, in the shape of the API the path
// belongs to.
func notFound(path, method string, known bool) *extprocv3.ProcessingResponse {
	api := translate.APIOpenAI
	if strings.HasPrefix(path, "/anthropic/") {
		api = translate.APIAnthropic
	}
	status, msg := http.StatusNotFound, "unknown path "+path
	if known {
		status, msg = http.StatusMethodNotAllowed, method+" is not allowed on "+path
	}
	return immediate(status, translate.ErrorBody(api, &translate.Error{Status: status, Message: msg}), "")
}

// newRequestID returns a random UUID-formatted (version 4) id.
func newRequestID() string {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
