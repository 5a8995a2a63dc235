package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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
	"github.com/aigw/aigw/internal/proxy"
)

// Targets of the extproc section.
const (
	kindBuiltin = "builtin"
	kindExtProc = "extproc"
)

// extprocSection measures the Envoy data plane's ext_proc hop without Envoy (none is at hand on
// the development machines): a client that speaks ext_proc as Envoy does with aigw's filter
// chain (router filter: request headers, buffered body, response headers; upstream filter per
// attempt: request headers and body, response headers, the body buffered or streamed as the
// server says) drives aigw's ext_proc server over a unix socket and forwards to the simulator
// itself, as Envoy's router would. Beside it, the builtin data plane serves the same Model over
// HTTP. Both planes' added p50 over the simulator is reported, with the ext_proc round trips
// (one message and its answer) per second and per request.
func extprocSection(ctx context.Context, cfg Config) error {
	tmp, simURL, cleanup, err := sectionSetup(ctx, cfg, "aigw-bench-extproc-")
	if err != nil {
		return err
	}
	defer cleanup()
	model := func() (*config.Model, error) {
		return config.FromEnv(func(k string) string {
			return map[string]string{"OPENAI_BASE_URL": simURL + "/v1", "OPENAI_API_KEY": "sk-bench"}[k]
		})
	}

	mb, err := model()
	if err != nil {
		return err
	}
	builtinURL, stopBuiltin, err := startBuiltinPlane(mb)
	if err != nil {
		return err
	}
	defer stopBuiltin()

	me, err := model()
	if err != nil {
		return err
	}
	ep, stopExtProc, err := startExtProc(me, filepath.Join(tmp, "extproc.sock"))
	if err != nil {
		return err
	}
	defer stopExtProc()

	const bodyFormat = `{"model":%q,"max_tokens":%d,"stream":%t,"messages":[{"role":"user","content":"Say something short."}]}`
	want := map[bool][]byte{true: []byte("[DONE]"), false: []byte(`"choices"`)}
	var cells []*cell
	var clients []*envoyClient
	for _, stream := range []bool{false, true} {
		body := fmt.Appendf(nil, bodyFormat, llmModel, cfg.OutputTokens, stream)
		for _, c := range cfg.Concurrency {
			ec := &envoyClient{ep: ep, model: me, http: newClient(c)}
			clients = append(clients, ec)
			cells = append(cells, &cell{scenario: scenarioName("chat", stream), stream: stream, conc: c, targets: []target{
				{kindDirect, httpCall(newClient(c), simURL+"/v1/chat/completions", nil, body, want[stream])},
				{kindBuiltin, httpCall(newClient(c), builtinURL+"/v1/chat/completions", nil, body, want[stream])},
				{kindExtProc, ec.call("/v1/chat/completions", body, want[stream])},
			}})
		}
	}
	warm(ctx, cfg, cells)
	for _, ec := range clients {
		ec.msgs.Store(0) // count the measured rounds only
	}
	if err := runRounds(ctx, cfg, cells, nil); err != nil {
		return err
	}
	return extprocReport(cfg, cells, clients)
}

// extprocReport prints each plane's added p50 and the ext_proc round trips.
func extprocReport(cfg Config, cells []*cell, clients []*envoyClient) error {
	var errs []error
	t := &Table{
		Title: fmt.Sprintf("Envoy data plane ext_proc hop (fake-Envoy client): %d round(s) x %s per target, %d output tokens", cfg.Rounds, cfg.Duration, cfg.OutputTokens),
		Header: []string{"scenario", "conc", "direct p50", "builtin +p50", "extproc +p50", "extproc p99",
			"builtin req/s", "extproc req/s", "round trips/s", "round trips/req"},
		Notes: []string{
			"builtin = aigw's builtin data plane (HTTP); extproc = a Go client speaking ext_proc as Envoy does drives aigw's ext_proc server over a unix socket and calls the simulator itself",
			"+p50 = p50 minus the simulator's own p50; the extproc column includes the Go client's own share (gRPC client, the upstream call), which a real Envoy does in C++",
			"a round trip is one ext_proc message and its answer, over both filters' streams",
		},
	}
	for i, c := range cells {
		conc := strconv.Itoa(c.conc)
		if c.err != nil {
			t.Add(c.scenario, conc, "NOT MEASURED", c.err.Error())
			errs = append(errs, fmt.Errorf("%s c=%d: %w", c.scenario, c.conc, c.err))
			continue
		}
		direct, builtin, ep := summarize(c.results[0]), summarize(c.results[1]), summarize(c.results[2])
		for k, s := range []stats{direct, builtin, ep} {
			if s.errs > 0 {
				errs = append(errs, fmt.Errorf("%s c=%d %s: %d failed calls; first: %w", c.scenario, c.conc, c.targets[k].kind, s.errs, s.firstErr))
			}
		}
		var elapsed time.Duration
		for _, r := range c.results[2] {
			elapsed += r.elapsed
		}
		msgs := float64(clients[i].msgs.Load())
		perReq := msgs / float64(max(ep.n, 1))
		t.Add(c.scenario, conc, fmtDur(direct.p50), fmtAdded(builtin.p50-direct.p50), fmtAdded(ep.p50-direct.p50), fmtDur(ep.p99),
			fmt.Sprintf("%.0f", builtin.rps), fmt.Sprintf("%.0f", ep.rps), fmt.Sprintf("%.0f", msgs/max(elapsed.Seconds(), 1e-9)), fmt.Sprintf("%.1f", perReq))
	}
	errs = append(errs, t.Fprint(cfg.Out))
	return errors.Join(errs...)
}

// startBuiltinPlane serves m with the builtin data plane on 127.0.0.1.
func startBuiltinPlane(m *config.Model) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("builtin plane listener: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: proxy.New(extproc.New(m, nil), proxy.Options{Transport: gatewayTransport()}).Handler()}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close(); <-done }, nil
}

// startExtProc serves m's pipeline as aigw's ext_proc server on a unix socket and returns a
// client to it.
func startExtProc(m *config.Model, sock string) (extprocv3.ExternalProcessorClient, func(), error) {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ext_proc listener: %w", err)
	}
	g := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(g, extproc.NewGRPCServer(extproc.New(m, nil), nil, 0))
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(ln) }()
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		g.Stop()
		<-done
		return nil, nil, err
	}
	return extprocv3.NewExternalProcessorClient(cc), func() { cc.Close(); g.Stop(); <-done }, nil
}

// envoyClient plays Envoy's part of the exchange for one request at a time per call.
type envoyClient struct {
	ep    extprocv3.ExternalProcessorClient
	model *config.Model
	http  *http.Client
	msgs  atomic.Int64
	seq   atomic.Uint64
}

// filterStream is one ext_proc stream (one filter instance).
type filterStream struct {
	c      *envoyClient
	pc     extprocv3.ExternalProcessor_ProcessClient
	cancel context.CancelFunc
}

func (c *envoyClient) open(ctx context.Context, filter string) (*filterStream, error) {
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, extproc.FilterMetadataKey, filter))
	pc, err := c.ep.Process(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &filterStream{c: c, pc: pc, cancel: cancel}, nil
}

// roundTrip sends one message and reads its answer; an immediate response is an error here
// (the bench's requests all succeed).
func (s *filterStream) roundTrip(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
	s.c.msgs.Add(1)
	if err := s.pc.Send(req); err != nil {
		return nil, err
	}
	resp, err := s.pc.Recv()
	if err != nil {
		return nil, err
	}
	if ir := resp.GetImmediateResponse(); ir != nil {
		return nil, fmt.Errorf("immediate response %d: %.200s", ir.GetStatus().GetCode(), ir.GetBody())
	}
	return resp, nil
}

func (s *filterStream) close() {
	_ = s.pc.CloseSend()
	s.cancel()
}

// headers is an Envoy header map in order, lower-case keys.
type headers [][2]string

func (h headers) get(k string) string {
	for _, kv := range h {
		if kv[0] == k {
			return kv[1]
		}
	}
	return ""
}

func (h headers) proto() *extprocv3.HttpHeaders {
	m := &corev3.HeaderMap{}
	for _, kv := range h {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
	}
	return &extprocv3.HttpHeaders{Headers: m}
}

// apply is Envoy's header mutation (removals, then sets; system headers are not set).
func (h headers) apply(m *extprocv3.HeaderMutation) headers {
	if m == nil {
		return h
	}
	out := h[:0:0]
	for _, kv := range h {
		removed := false
		for _, r := range m.RemoveHeaders {
			removed = removed || (r == kv[0] && !strings.HasPrefix(r, ":"))
		}
		if !removed {
			out = append(out, kv)
		}
	}
	for _, o := range m.SetHeaders {
		k, v := o.Header.Key, string(o.Header.RawValue)
		if k == ":authority" || k == ":method" || k == "host" {
			continue
		}
		if o.AppendAction != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			for i := len(out) - 1; i >= 0; i-- {
				if out[i][0] == k {
					out = append(out[:i], out[i+1:]...)
				}
			}
		}
		out = append(out, [2]string{k, v})
	}
	return out
}

// call returns a bench call that runs one request through both filters and the simulator.
func (c *envoyClient) call(path string, body, want []byte) func(context.Context) error {
	return func(ctx context.Context) error {
		out, err := c.do(ctx, path, body)
		if err != nil {
			return err
		}
		if !bytes.Contains(out, want) {
			return fmt.Errorf("response lacks %q: %.200s", want, out)
		}
		return nil
	}
}

func (c *envoyClient) do(ctx context.Context, path string, body []byte) ([]byte, error) {
	router, err := c.open(ctx, extproc.FilterRouter)
	if err != nil {
		return nil, err
	}
	defer router.close()
	h := headers{{":method", "POST"}, {":path", path}, {":authority", "gateway.local"}, {":scheme", "http"},
		{"content-type", "application/json"}, {"x-request-id", "bench-" + strconv.FormatUint(c.seq.Add(1), 10)}}
	resp, err := router.roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto()}})
	if err != nil {
		return nil, err
	}
	h = h.apply(resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
	resp, err = router.roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}})
	if err != nil {
		return nil, err
	}
	h = h.apply(resp.GetRequestBody().GetResponse().GetHeaderMutation())
	rule := c.rule(h.get(extproc.RuleHeader))
	if rule == nil {
		return nil, fmt.Errorf("no route for rule %q", h.get(extproc.RuleHeader))
	}
	out, status, err := c.attempt(ctx, rule, h, body)
	if err != nil {
		return nil, err
	}
	rh := headers{{":status", strconv.Itoa(status)}}
	if _, err := router.roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto()}}); err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", status, out)
	}
	return out, nil
}

func (c *envoyClient) rule(name string) *config.Rule {
	for _, r := range c.model.Routes {
		for _, rule := range r.Rules {
			if rule.Name == name {
				return rule
			}
		}
	}
	return nil
}

// attempt is one upstream try at the rule's first backend, through the upstream filter.
func (c *envoyClient) attempt(ctx context.Context, rule *config.Rule, h headers, body []byte) ([]byte, int, error) {
	up, err := c.open(ctx, extproc.FilterUpstream)
	if err != nil {
		return nil, 0, err
	}
	defer up.close()
	b := rule.Backends[0].Backend
	attrs := map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{
		extproc.UpstreamHostMetadataAttribute: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"filter_metadata": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				extproc.EndpointMetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
					"backend": structpb.NewStringValue(b.Name), "ref": structpb.NewNumberValue(0),
				}}),
			}}),
		}}),
	}}}
	resp, err := up.roundTrip(&extprocv3.ProcessingRequest{Attributes: attrs, Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto()}})
	if err != nil {
		return nil, 0, err
	}
	h = h.apply(resp.GetRequestHeaders().GetResponse().GetHeaderMutation())
	resp, err = up.roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}})
	if err != nil {
		return nil, 0, err
	}
	if bm := resp.GetRequestBody().GetResponse().GetBodyMutation(); bm != nil {
		body = bm.GetBody()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.Endpoint.Scheme+"://"+b.Endpoint.Host+h.get(":path"), bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	for _, kv := range h {
		if !strings.HasPrefix(kv[0], ":") && kv[0] != "content-length" {
			req.Header.Add(kv[0], kv[1])
		}
	}
	hresp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer hresp.Body.Close()
	rh := headers{{":status", strconv.Itoa(hresp.StatusCode)}, {"content-type", hresp.Header.Get("Content-Type")}}
	resp, err = up.roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto()}})
	if err != nil {
		return nil, 0, err
	}
	mode := extprocfilterv3.ProcessingMode_STREAMED
	if mo := resp.ModeOverride; mo != nil {
		mode = mo.ResponseBodyMode
	}
	var out []byte
	send := func(chunk []byte, eos bool) error {
		resp, err := up.roundTrip(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: eos}}})
		if err != nil {
			return err
		}
		if bm := resp.GetResponseBody().GetResponse().GetBodyMutation(); bm != nil {
			out = append(out, bm.GetBody()...)
		} else {
			out = append(out, chunk...)
		}
		return nil
	}
	if mode == extprocfilterv3.ProcessingMode_BUFFERED {
		raw, err := io.ReadAll(hresp.Body)
		if err != nil {
			return nil, 0, err
		}
		if err := send(raw, true); err != nil {
			return nil, 0, err
		}
		return out, hresp.StatusCode, nil
	}
	buf := make([]byte, 16<<10)
	for {
		n, rerr := hresp.Body.Read(buf)
		if n > 0 {
			if err := send(buf[:n], false); err != nil {
				return nil, 0, err
			}
		}
		if errors.Is(rerr, io.EOF) {
			if err := send(nil, true); err != nil {
				return nil, 0, err
			}
			return out, hresp.StatusCode, nil
		}
		if rerr != nil {
			return nil, 0, rerr
		}
	}
}
