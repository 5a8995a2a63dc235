package extproc

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/aigw/aigw/internal/translate"
)

// The names the Envoy configuration (internal/xds) and the ext_proc server agree on.
const (
	// FilterMetadataKey is the gRPC metadata key (GrpcService.initial_metadata) that tells the
	// server which of the two ext_proc filters a stream comes from.
	FilterMetadataKey = "aigw-filter"
	// FilterRouter is the router-level filter: it parses the request and picks the route.
	FilterRouter = "router"
	// FilterUpstream is the upstream-level filter: it translates and authenticates each attempt
	// and translates the answer back.
	FilterUpstream = "upstream"
	// EndpointMetadataNamespace is the filter_metadata namespace of each Envoy endpoint: it names
	// the backend and the index of the rule's backend reference the endpoint stands for.
	EndpointMetadataNamespace = "aigw"
	// UpstreamHostMetadataAttribute is the Envoy attribute the upstream filter asks for, to learn
	// which endpoint (so which backend reference) the attempt goes to.
	UpstreamHostMetadataAttribute = "xds.upstream_host_metadata"
	// DynamicMetadataNamespace holds a request's token counts and costs, as the reference names it.
	DynamicMetadataNamespace = "io.envoy.ai_gateway"
	// RuleHeader carries the rule the router-level filter chose, so Envoy's route is the
	// pipeline's own match and the two can never disagree.
	RuleHeader = "x-aigw-rule"
	// requestIDKey is the header Envoy gives both filters for the same request.
	requestIDKey = "x-request-id"
	// extProcAttributesKey is where Envoy puts the attributes the filter asked for.
	extProcAttributesKey = "envoy.filters.http.ext_proc"
)

// GRPCServer serves the pipeline to Envoy as an ext_proc server: the router-level filter's
// streams drive a Stream, the upstream-level filter's streams drive its Attempts. The two find
// the same request by its x-request-id.
type GRPCServer struct {
	extprocv3.UnimplementedExternalProcessorServer
	p   *Pipeline
	log *slog.Logger
	// paths maps each client path to its endpoint.
	paths map[string]translate.Endpoint
	// MaxStreamEventBytes bounds one upstream stream event (0: the default).
	maxEvent int

	// passUnknown lets requests to paths outside the pipeline through (to the builtin server
	// behind Envoy's fallback route: /v1/models, MCP) instead of answering 404.
	passUnknown bool

	mu   sync.Mutex
	reqs map[string]*envoyRequest
}

// PassUnknownPaths lets requests to paths that are not LLM endpoints pass the router filter
// untouched, for Envoy's fallback route to serve.
func (g *GRPCServer) PassUnknownPaths() { g.passUnknown = true }

// NewGRPCServer returns the ext_proc server of p. log may be nil.
func NewGRPCServer(p *Pipeline, log *slog.Logger, maxStreamEventBytes int) *GRPCServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &GRPCServer{p: p, log: log, paths: map[string]translate.Endpoint{}, reqs: map[string]*envoyRequest{},
		maxEvent: maxStreamEventBytes}
	for e, ps := range translate.Endpoints() {
		for _, path := range ps {
			g.paths[path] = e
		}
	}
	return g
}

// InFlight is how many requests the server is tracking (for drains and leak checks in tests).
func (g *GRPCServer) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.reqs)
}

// envoyRequest is one client request as the two filters see it. Its mutex serialises the phases
// the two gRPC streams deliver; Envoy never runs them concurrently, but their goroutines differ.
type envoyRequest struct {
	mu sync.Mutex
	id string
	st *Stream
	// streams counts the open gRPC streams of this request; the request finishes when the router
	// stream has ended and none is open.
	streams    int
	routerDone bool
	finished   bool

	// status is what the client was sent, as the router filter saw it (0: nothing yet).
	status int
	err    error
	// attempt is the current attempt; answered says whether its response reached the upstream
	// filter (else a response the router sees is Envoy's own local reply).
	attempt  *Attempt
	answered bool
	// immediate is the status of an immediate response the upstream filter sent.
	immediate int
	// respDone is set once the final attempt's response body ended.
	respDone bool
	// delivered is set once the client has a stream's last event.
	delivered bool
}

// Process serves one gRPC stream of one filter.
func (g *GRPCServer) Process(srv extprocv3.ExternalProcessor_ProcessServer) error {
	filter := FilterRouter
	if md, ok := metadata.FromIncomingContext(srv.Context()); ok {
		if v := md.Get(FilterMetadataKey); len(v) > 0 {
			filter = v[0]
		}
	}
	switch filter {
	case FilterRouter:
		return g.serveRouter(srv)
	case FilterUpstream:
		return g.serveUpstream(srv)
	}
	return status.Errorf(codes.InvalidArgument, "unknown %s %q", FilterMetadataKey, filter)
}

// recv reads the next message; done reports the end of the stream (Envoy closed it, or the
// request went away).
func recv(srv extprocv3.ExternalProcessor_ProcessServer) (req *extprocv3.ProcessingRequest, done bool, err error) {
	req, err = srv.Recv()
	if err == nil {
		return req, false, nil
	}
	if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || srv.Context().Err() != nil {
		return nil, true, nil
	}
	return nil, true, err
}

// register adds r under its id; a duplicate id (a client-chosen x-request-id reused while the
// first request runs) is refused.
func (g *GRPCServer) register(r *envoyRequest) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.reqs[r.id]; dup {
		return false
	}
	g.reqs[r.id] = r
	return true
}

func (g *GRPCServer) lookup(id string) *envoyRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reqs[id]
}

// release ends one gRPC stream of r and finishes the request when it was the last one and the
// router's stream is over. Called with r.mu held.
func (g *GRPCServer) release(r *envoyRequest) {
	r.streams--
	if !r.routerDone || r.streams > 0 || r.finished {
		return
	}
	r.finished = true
	st, err := r.status, r.err
	switch {
	case r.immediate > 0:
		st = r.immediate
	case st == 0:
		st, err = 499, errors.New("the client went away before the response began")
	case st < 400 && r.attempt != nil && !r.respDone && !r.delivered:
		st, err = 499, errors.New("the client went away before the response ended")
	}
	if r.st != nil {
		r.st.Finish(st, err)
	}
	g.mu.Lock()
	if g.reqs[r.id] == r {
		delete(g.reqs, r.id)
	}
	g.mu.Unlock()
	if err != nil && st >= 500 {
		g.log.Warn("request failed", "id", r.id, "status", st, "error", err)
	}
}

// headerMap turns Envoy's header list into pseudo-headers and an http.Header.
func headerMap(hs *extprocv3.HttpHeaders) (pseudo map[string]string, h http.Header) {
	pseudo = map[string]string{}
	h = http.Header{}
	if hs == nil || hs.Headers == nil {
		return pseudo, h
	}
	for _, hv := range hs.Headers.Headers {
		v := string(hv.RawValue)
		if v == "" {
			v = hv.Value
		}
		if len(hv.Key) > 0 && hv.Key[0] == ':' {
			pseudo[hv.Key] = v
			continue
		}
		h.Add(hv.Key, v)
	}
	return pseudo, h
}
