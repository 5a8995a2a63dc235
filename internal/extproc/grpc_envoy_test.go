package extproc_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/xds"
)

// fakeEnvoy speaks the ext_proc protocol to the server exactly as Envoy does with the filter
// chain internal/xds generates: a router-level filter (request headers, request body BUFFERED,
// response headers) and an upstream-level filter per attempt (request headers, request body
// BUFFERED, response headers, response body STREAMED unless the server overrides the mode),
// with Envoy's mutation and immediate-response rules. It forwards to the backends itself, as
// Envoy's router would, with the route's retries.
type fakeEnvoy struct {
	t      testing.TB
	client extprocv3.ExternalProcessorClient
	model  *config.Model
	http   *http.Client
	// chunk is the size the upstream body is cut into for STREAMED processing.
	chunk int
	// trace records every ext_proc message kind sent, for protocol-order assertions.
	trace []string
	// metadata is the dynamic metadata the upstream filter emitted last.
	metadata *structpb.Struct
}

// clientResponse is what the downstream client got.
type clientResponse struct {
	status int
	header http.Header
	body   []byte
}

// startGRPC serves g on a unix socket, as aigw does for Envoy, and returns a client to it.
func startGRPC(t *testing.T, g *extproc.GRPCServer) extprocv3.ExternalProcessorClient {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "extproc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(srv, g)
	go func() { _ = srv.Serve(ln) }()
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
	})
	return extprocv3.NewExternalProcessorClient(cc)
}

// headerList is an Envoy header map: lower-case keys, raw values, pseudo-headers first.
type headerList [][2]string

func (h headerList) get(k string) string {
	for _, kv := range h {
		if kv[0] == k {
			return kv[1]
		}
	}
	return ""
}

func (h headerList) proto(eos bool) *extprocv3.HttpHeaders {
	m := &corev3.HeaderMap{}
	for _, kv := range h {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
	}
	return &extprocv3.HttpHeaders{Headers: m, EndOfStream: eos}
}

// apply is Envoy's header mutation: removals, then sets (overwrite or append). Envoy ignores
// attempts to set :method, :authority, :scheme, host and x-envoy-* headers.
func (h headerList) apply(m *extprocv3.HeaderMutation) headerList {
	if m == nil {
		return h
	}
	out := slices.Clone(h)
	for _, name := range m.RemoveHeaders {
		if strings.HasPrefix(name, ":") || name == "host" {
			continue
		}
		out = slices.DeleteFunc(out, func(kv [2]string) bool { return kv[0] == name })
	}
	for _, o := range m.SetHeaders {
		k := o.Header.Key
		if k != strings.ToLower(k) {
			panic("ext_proc header keys must be lower case: " + k)
		}
		switch {
		case k == ":method" || k == ":authority" || k == ":scheme" || k == "host" || strings.HasPrefix(k, "x-envoy-"):
			continue
		}
		v := string(o.Header.RawValue)
		if o.AppendAction == corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			out = append(out, [2]string{k, v})
			continue
		}
		out = slices.DeleteFunc(out, func(kv [2]string) bool { return kv[0] == k })
		out = append(out, [2]string{k, v})
	}
	return out
}

func (h headerList) http() http.Header {
	out := http.Header{}
	for _, kv := range h {
		if !strings.HasPrefix(kv[0], ":") {
			out.Add(kv[0], kv[1])
		}
	}
	return out
}

// stream is one ext_proc gRPC stream (one filter instance).
type stream struct {
	e   *fakeEnvoy
	pc  extprocv3.ExternalProcessor_ProcessClient
	end context.CancelFunc
}

func (e *fakeEnvoy) open(filter string) *stream {
	ctx, cancel := context.WithCancel(context.Background())
	ctx = metadata.AppendToOutgoingContext(ctx, extproc.FilterMetadataKey, filter)
	pc, err := e.client.Process(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return &stream{e: e, pc: pc, end: cancel}
}

func (s *stream) send(req *extprocv3.ProcessingRequest, kind string) *extprocv3.ProcessingResponse {
	s.e.trace = append(s.e.trace, kind)
	if err := s.pc.Send(req); err != nil {
		s.e.t.Fatalf("send %s: %v", kind, err)
	}
	resp, err := s.pc.Recv()
	if err != nil {
		s.e.t.Fatalf("recv after %s: %v", kind, err)
	}
	return resp
}

// close ends the stream as Envoy does when the filter is destroyed: half-close, then reset.
func (s *stream) close() {
	_ = s.pc.CloseSend()
	s.end()
}

// request is what the client sends.
type request struct {
	path   string
	header headerList
	body   []byte
}

// do runs one request through the filter chain.
func (e *fakeEnvoy) do(req request) clientResponse {
	e.trace = nil
	router := e.open(extproc.FilterRouter)
	defer router.close()
	h := append(headerList{{":method", "POST"}, {":path", req.path}, {":authority", "gateway.local"}, {":scheme", "http"}}, req.header...)
	if h.get("x-request-id") == "" {
		h = append(h, [2]string{"x-request-id", fmt.Sprintf("req-%d", time.Now().UnixNano())})
	}
	resp := router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(len(req.body) == 0)}}, "router:request_headers")
	if ir := resp.GetImmediateResponse(); ir != nil {
		return e.routerLocal(router, ir)
	}
	h = h.apply(resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
	var lb *structpb.Struct // the request's envoy.lb dynamic metadata
	if len(req.body) > 0 {
		resp = router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: req.body, EndOfStream: true}}}, "router:request_body")
		if ir := resp.GetImmediateResponse(); ir != nil {
			return e.routerLocal(router, ir)
		}
		lb = resp.GetDynamicMetadata().GetFields()[extproc.LBMetadataNamespace].GetStructValue()
		cr := resp.GetRequestBody().GetResponse()
		h = h.apply(cr.GetHeaderMutation())
		if !cr.GetClearRouteCache() {
			e.t.Error("the router filter did not clear the route cache after setting the routing headers")
		}
	}
	// Envoy's route: the route of the rule the router filter named; its cluster's endpoints are
	// the rule's backend references, by priority.
	rule := e.findRule(h.get(extproc.RuleHeader))
	if rule == nil {
		return e.finish(router, clientResponse{status: 404, header: http.Header{}, body: []byte("route not found")}, false)
	}
	refs := e.endpoints(rule, lb)
	if len(refs) == 0 {
		// The subset load balancer found no host: Envoy's local reply.
		return e.finish(router, clientResponse{status: 503, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("no healthy upstream")}, true)
	}
	tries := len(refs)
	if p := rule.Retry; p != nil && 1+p.NumRetries > tries {
		tries = 1 + p.NumRetries
	}
	var last clientResponse
	for i := 0; i < tries; i++ {
		idx := refs[min(i, len(refs)-1)]
		out, retry := e.attempt(rule, idx, h, req.body, i == tries-1)
		last = out
		if !retry {
			break
		}
	}
	return e.finish(router, last, true)
}

// routerLocal is an immediate response of the router filter: Envoy sends it to the client
// without calling the filter again.
func (e *fakeEnvoy) routerLocal(router *stream, ir *extprocv3.ImmediateResponse) clientResponse {
	out := clientResponse{status: int(ir.Status.Code), header: headerList(nil).apply(ir.Headers).http(), body: ir.Body}
	router.close()
	return out
}

// finish passes the final response headers through the router filter, as Envoy's encoder
// chain does, and applies what it answers.
func (e *fakeEnvoy) finish(router *stream, out clientResponse, viaRouter bool) clientResponse {
	if !viaRouter {
		return out
	}
	h := headerList{{":status", strconv.Itoa(out.status)}}
	for k, vs := range out.header {
		for _, v := range vs {
			h = append(h, [2]string{strings.ToLower(k), v})
		}
	}
	resp := router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: h.proto(len(out.body) == 0)}}, "router:response_headers")
	if ir := resp.GetImmediateResponse(); ir != nil {
		return clientResponse{status: int(ir.Status.Code), header: headerList(nil).apply(ir.Headers).http(), body: ir.Body}
	}
	h = h.apply(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())
	out.header = h.http()
	return out
}

func (e *fakeEnvoy) findRule(name string) *config.Rule {
	for _, r := range e.model.Routes {
		for _, rule := range r.Rules {
			if rule.Name == name {
				return rule
			}
		}
	}
	return nil
}

// endpoints orders the endpoints of the rule's cluster, as internal/xds generates it, the way
// Envoy's priority load balancer does for a fresh request: priority 0 first. With the
// request's envoy.lb metadata (from the router-level filter) and a cluster with subsets, only
// the endpoints of the named subset are candidates, matched as the subset load balancer does
// with list_as_any. (Weighted choice within a priority is Envoy's; these tests use one
// reference per priority.) It returns the references the endpoints name.
func (e *fakeEnvoy) endpoints(rule *config.Rule, lb *structpb.Struct) []int {
	res, err := xds.Build(e.model, xds.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	var idx []int
	for _, c := range res.Clusters {
		if c.Name != "aigw-rule/"+rule.Name {
			continue
		}
		for _, group := range c.LoadAssignment.Endpoints { // in priority order
			for _, ep := range group.LbEndpoints {
				md := ep.Metadata.FilterMetadata
				if sc := c.GetLbSubsetConfig(); sc != nil && lb != nil {
					want := lb.Fields[extproc.SubsetKey].GetStringValue()
					in := slices.ContainsFunc(md[extproc.LBMetadataNamespace].GetFields()[extproc.SubsetKey].GetListValue().GetValues(),
						func(v *structpb.Value) bool { return sc.ListAsAny && v.GetStringValue() == want })
					if !in {
						continue
					}
				}
				idx = append(idx, int(md[extproc.EndpointMetadataNamespace].Fields["ref"].GetNumberValue()))
			}
		}
	}
	return idx
}

// attempt is one upstream try through the upstream-level filter. retry reports whether Envoy's
// retry policy (or priority failover) asks for another try.
func (e *fakeEnvoy) attempt(rule *config.Rule, ref int, h headerList, body []byte, last bool) (out clientResponse, retry bool) {
	up := e.open(extproc.FilterUpstream)
	defer up.close()
	b := rule.Backends[ref].Backend
	attrs := map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{
		extproc.UpstreamHostMetadataAttribute: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"filterMetadata": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				extproc.EndpointMetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
					"backend": structpb.NewStringValue(b.Name),
					"ref":     structpb.NewNumberValue(float64(ref)),
				}}),
			}}),
		}}),
	}}}
	resp := up.send(&extprocv3.ProcessingRequest{Attributes: attrs, Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(false)}}, "upstream:request_headers")
	if ir := resp.GetImmediateResponse(); ir != nil {
		return clientResponse{status: int(ir.Status.Code), header: headerList(nil).apply(ir.Headers).http(), body: ir.Body}, false
	}
	h = h.apply(resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
	resp = up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}}, "upstream:request_body")
	if ir := resp.GetImmediateResponse(); ir != nil {
		return clientResponse{status: int(ir.Status.Code), header: headerList(nil).apply(ir.Headers).http(), body: ir.Body}, false
	}
	cr := resp.GetRequestBody().GetResponse()
	h = h.apply(cr.GetHeaderMutation())
	if bm := cr.GetBodyMutation(); bm != nil {
		body = bm.GetBody()
		if bm.GetClearBody() {
			body = nil
		}
	}
	// Envoy's router sends the request; auto_host_rewrite puts the endpoint's host in :authority.
	hreq, err := http.NewRequest(h.get(":method"), b.Endpoint.Scheme+"://"+b.Endpoint.Host+h.get(":path"), bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	hreq.Header = h.http()
	if cl := hreq.Header.Get("content-length"); cl != strconv.Itoa(len(body)) {
		e.t.Errorf("content-length %q after mutation, body has %d bytes", cl, len(body))
	}
	hreq.Header.Del("content-length")
	hresp, err := e.http.Do(hreq)
	if err != nil {
		// Envoy's local reply for a connect failure; it does not pass the upstream filter.
		return clientResponse{status: 503, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("upstream connect error or disconnect/reset before headers")}, !last
	}
	defer hresp.Body.Close()
	if p := rule.Retry; !last && (hresp.StatusCode >= 500 || hresp.StatusCode == 429 || (p != nil && slices.Contains(p.Statuses, hresp.StatusCode))) {
		// Upstream filters see the response headers of an attempt the router then retries.
		rh := headerList{{":status", strconv.Itoa(hresp.StatusCode)}}
		up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto(false)}}, "upstream:response_headers")
		return clientResponse{}, true
	}
	return e.response(up, hresp), false
}

// response passes the backend's answer through the upstream filter: headers, then the body in
// the mode in force (STREAMED by default, or what the server's mode_override says).
func (e *fakeEnvoy) response(up *stream, hresp *http.Response) clientResponse {
	rh := headerList{{":status", strconv.Itoa(hresp.StatusCode)}}
	for k, vs := range hresp.Header {
		for _, v := range vs {
			rh = append(rh, [2]string{strings.ToLower(k), v})
		}
	}
	raw, _ := io.ReadAll(hresp.Body)
	resp := up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto(len(raw) == 0)}}, "upstream:response_headers")
	if ir := resp.GetImmediateResponse(); ir != nil {
		return clientResponse{status: int(ir.Status.Code), header: headerList(nil).apply(ir.Headers).http(), body: ir.Body}
	}
	e.metadata = mergeMetadata(e.metadata, resp.DynamicMetadata)
	cr := resp.GetResponseHeaders().GetResponse()
	rh = rh.apply(cr.GetHeaderMutation())
	var body []byte
	if cr.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		body = cr.GetBodyMutation().GetBody()
		return e.toClient(rh, body)
	}
	mode := extprocfilterv3.ProcessingMode_STREAMED
	if mo := resp.ModeOverride; mo != nil {
		mode = mo.ResponseBodyMode
	}
	if len(raw) == 0 {
		return e.toClient(rh, nil)
	}
	if mode == extprocfilterv3.ProcessingMode_BUFFERED {
		resp = up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: raw, EndOfStream: true}}}, "upstream:response_body")
		if ir := resp.GetImmediateResponse(); ir != nil {
			return clientResponse{status: int(ir.Status.Code), header: headerList(nil).apply(ir.Headers).http(), body: ir.Body}
		}
		e.metadata = mergeMetadata(e.metadata, resp.DynamicMetadata)
		cr := resp.GetResponseBody().GetResponse()
		rh = rh.apply(cr.GetHeaderMutation())
		return e.toClient(rh, mutated(raw, cr.GetBodyMutation()))
	}
	// STREAMED: chunk by chunk, the last one with end_of_stream; header mutations are not
	// allowed any more (the headers are on their way to the client).
	for off := 0; off < len(raw); off += e.chunk {
		chunk := raw[off:min(off+e.chunk, len(raw))]
		eos := off+e.chunk >= len(raw)
		resp = up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: eos}}}, "upstream:response_body")
		if resp.GetImmediateResponse() != nil {
			e.t.Fatal("immediate response after the response headers were sent")
		}
		e.metadata = mergeMetadata(e.metadata, resp.DynamicMetadata)
		cr := resp.GetResponseBody().GetResponse()
		if cr.GetHeaderMutation() != nil {
			e.t.Error("header mutation in STREAMED mode")
		}
		body = append(body, mutated(chunk, cr.GetBodyMutation())...)
	}
	return e.toClient(rh, body)
}

func (e *fakeEnvoy) toClient(h headerList, body []byte) clientResponse {
	status, _ := strconv.Atoi(h.get(":status"))
	return clientResponse{status: status, header: h.http(), body: body}
}

func mutated(b []byte, m *extprocv3.BodyMutation) []byte {
	switch {
	case m == nil:
		return b
	case m.GetClearBody():
		return nil
	}
	return m.GetBody()
}

func mergeMetadata(old, m *structpb.Struct) *structpb.Struct {
	if m == nil {
		return old
	}
	return m
}
