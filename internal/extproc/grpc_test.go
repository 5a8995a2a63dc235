package extproc_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/extproc"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/proxy"
)

// events records the request events a pipeline publishes.
type events struct {
	mu  sync.Mutex
	evs []*observe.RequestEvent
}

func (e *events) Publish(ev *observe.RequestEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) last(t *testing.T) *observe.RequestEvent {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		e.mu.Lock()
		n := len(e.evs)
		var ev *observe.RequestEvent
		if n > 0 {
			ev = e.evs[n-1]
		}
		e.mu.Unlock()
		if ev != nil {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatal("no request event published")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *events) reset() {
	e.mu.Lock()
	e.evs = nil
	e.mu.Unlock()
}

const (
	openAIStream = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}

data: [DONE]

`
	openAIJSON      = `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-up","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
	anthropicStream = `event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-up","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}

event: message_stop
data: {"type":"message_stop"}

`
)

// provider is a fake backend that records what it received.
type provider struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request
	body [][]byte
}

func newProvider(t testing.TB, status int) *provider {
	p := &provider{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.seen, p.body = append(p.seen, r), append(p.body, body)
		p.mu.Unlock()
		w.Header().Set("X-Request-Id", "provider-id")
		if status != 200 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"error":{"message":"backend says no","type":"server_error"}}`)
			return
		}
		stream := bytes.Contains(body, []byte(`"stream":true`))
		switch {
		case r.URL.Path == "/v1/messages" && stream:
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, anthropicStream)
		case r.URL.Path == "/v1/chat/completions" && stream:
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, openAIStream)
		case r.URL.Path == "/v1/chat/completions":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, openAIJSON)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func backend(name string, schema config.SchemaName, u string) *config.Backend {
	ep, _ := url.Parse(u)
	return &config.Backend{Name: name, Schema: config.Schema{Name: schema, Prefix: "/v1"}, Endpoint: ep,
		Auth: &config.Auth{Type: config.AuthAPIKey, Key: config.Secret("sk-" + name)}}
}

func testModel(rules ...*config.Rule) *config.Model {
	return &config.Model{MaxRequestBodyBytes: 1 << 20, Routes: []*config.Route{{Name: "r", Rules: rules}}}
}

func rule(name, model string, refs ...*config.BackendRef) *config.Rule {
	return &config.Rule{Name: name, Matches: []config.Match{{Headers: []config.HeaderMatch{{Name: config.ModelHeader, Exact: model}}}}, Backends: refs}
}

// planes runs one request through both data planes over the same Model and backends.
type planes struct {
	t       *testing.T
	envoy   *fakeEnvoy
	grpc    *extproc.GRPCServer
	builtin http.Handler
	evEnvoy *events
	evBuilt *events
	// anyMessage compares error bodies without their message: Envoy's own failures (a refused
	// connection) do not carry the dial error the builtin plane reports.
	anyMessage bool
	// builtinHeader is the builtin plane's response header of the last request.
	builtinHeader http.Header
}

func newPlanes(t *testing.T, m *config.Model) *planes {
	pl := &planes{t: t, evEnvoy: &events{}, evBuilt: &events{}}
	pe := extproc.New(m, pl.evEnvoy)
	pl.grpc = extproc.NewGRPCServer(pe, nil, 0)
	pl.envoy = &fakeEnvoy{t: t, client: startGRPC(t, pl.grpc), model: m, http: &http.Client{}, chunk: 37}
	pl.builtin = proxy.New(extproc.New(m, pl.evBuilt), proxy.Options{}).Handler()
	return pl
}

// both sends the request to each plane and checks they answer alike: status, content type and
// body (timestamps and generated ids aside), and the same request event.
func (pl *planes) both(path, body string, hdr ...[2]string) (clientResponse, *observe.RequestEvent) {
	t := pl.t
	t.Helper()
	pl.evEnvoy.reset()
	pl.evBuilt.reset()
	got := pl.envoy.do(request{path: path, header: append(headerList{{"content-type", "application/json"}}, hdr...), body: []byte(body)})
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for _, h := range hdr {
		req.Header.Set(h[0], h[1])
	}
	rec := httptest.NewRecorder()
	pl.builtin.ServeHTTP(rec, req)
	pl.builtinHeader = rec.Header()
	if got.status != rec.Code {
		t.Errorf("%s: envoy plane status %d, builtin %d\nenvoy body: %s\nbuiltin body: %s", path, got.status, rec.Code, got.body, rec.Body.Bytes())
	}
	a, b := normalize(got.body), normalize(rec.Body.Bytes())
	if pl.anyMessage {
		a, b = message.ReplaceAllString(a, `"message":_`), message.ReplaceAllString(b, `"message":_`)
	}
	if a != b {
		t.Errorf("%s: bodies differ\nenvoy:   %s\nbuiltin: %s", path, a, b)
	}
	if a, b := mediaType(got.header.Get("Content-Type")), mediaType(rec.Header().Get("Content-Type")); a != b {
		t.Errorf("content type: envoy %q, builtin %q", a, b)
	}
	ee, eb := pl.evEnvoy.last(t), pl.evBuilt.last(t)
	if ee.Status != eb.Status || ee.Attempts != eb.Attempts || ee.Usage != eb.Usage || ee.Backend != eb.Backend || ee.RequestModel != eb.RequestModel || ee.Route != eb.Route {
		t.Errorf("events differ:\nenvoy:   status %d attempts %d usage %+v backend %q route %q err %q\nbuiltin: status %d attempts %d usage %+v backend %q route %q err %q",
			ee.Status, ee.Attempts, ee.Usage, ee.Backend, ee.Route, ee.Error, eb.Status, eb.Attempts, eb.Usage, eb.Backend, eb.Route, eb.Error)
	}
	waitIdle(t, pl.grpc)
	return got, ee
}

var volatile = regexp.MustCompile(`"(created|id)":\s*("[^"]*"|\d+)`)

var message = regexp.MustCompile(`"message":"[^"]*"`)

func normalize(b []byte) string { return volatile.ReplaceAllString(string(b), `"$1":_`) }

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

// waitIdle checks the server dropped every request it tracked once Envoy closed the streams.
func waitIdle(t *testing.T, g *extproc.GRPCServer) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for g.InFlight() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still tracked after their streams ended", g.InFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGRPCMatchesBuiltin drives the ext_proc server as Envoy does and checks that the client and
// the request events see what the builtin plane gives for the same exchanges.
func TestGRPCMatchesBuiltin(t *testing.T) {
	oa, an, broken := newProvider(t, 200), newProvider(t, 200), newProvider(t, 503)
	bad := newProvider(t, 400)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + ln.Addr().String()
	ln.Close()
	m := testModel(
		rule("r/0", "gpt", &config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, oa.srv.URL), Weight: 1, ModelNameOverride: "gpt-up"}),
		rule("r/1", "claude", &config.BackendRef{Backend: backend("an", config.SchemaAnthropic, an.srv.URL), Weight: 1}),
		rule("r/2", "fallback",
			&config.BackendRef{Backend: backend("broken", config.SchemaOpenAI, broken.srv.URL), Weight: 1},
			&config.BackendRef{Backend: backend("oa2", config.SchemaOpenAI, oa.srv.URL), Weight: 1, Priority: 1}),
		rule("r/3", "bad", &config.BackendRef{Backend: backend("bad", config.SchemaOpenAI, bad.srv.URL), Weight: 1}),
		rule("r/4", "dead", &config.BackendRef{Backend: backend("dead", config.SchemaOpenAI, deadURL), Weight: 1}),
	)
	pl := newPlanes(t, m)
	const chat = "/v1/chat/completions"

	t.Run("chat", func(t *testing.T) {
		pl.t = t
		got, ev := pl.both(chat, `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`)
		if got.status != 200 || ev.Usage.TotalTokens != 5 {
			t.Fatalf("status %d usage %+v body %s", got.status, ev.Usage, got.body)
		}
		md := pl.envoy.metadata.Fields[extproc.DynamicMetadataNamespace].GetStructValue()
		if md.Fields["llm_total_token"].GetNumberValue() != 5 || md.Fields["llm_input_token"].GetNumberValue() != 3 {
			t.Errorf("dynamic metadata %v", md)
		}
		// The backend got the translated, authenticated request and not the routing headers.
		oa.mu.Lock()
		r, body := oa.seen[len(oa.seen)-1], oa.body[len(oa.body)-1]
		oa.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer sk-oa" || r.Header.Get(config.ModelHeader) != "" || r.Header.Get(extproc.RuleHeader) != "" {
			t.Errorf("upstream headers %v", r.Header)
		}
		if !bytes.Contains(body, []byte(`"model":"gpt-up"`)) {
			t.Errorf("upstream body %s", body)
		}
		if got.header.Get("X-Upstream-Request-Id") != "provider-id" {
			t.Errorf("response headers %v", got.header)
		}
	})
	t.Run("stream translated", func(t *testing.T) {
		pl.t = t
		got, ev := pl.both(chat, `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if got.status != 200 || !bytes.Contains(got.body, []byte("data: [DONE]")) || ev.Usage.OutputTokens != 7 {
			t.Fatalf("status %d usage %+v body %s", got.status, ev.Usage, got.body)
		}
		if !strings.HasPrefix(got.header.Get("Content-Type"), "text/event-stream") {
			t.Errorf("content type %q", got.header.Get("Content-Type"))
		}
	})
	t.Run("stream passthrough", func(t *testing.T) {
		pl.t = t
		pl.both(chat, `{"model":"gpt","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	})
	t.Run("anthropic client to anthropic backend", func(t *testing.T) {
		pl.t = t
		got, _ := pl.both("/anthropic/v1/messages", `{"model":"claude","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if !bytes.Contains(got.body, []byte("event: message_stop")) {
			t.Errorf("body %s", got.body)
		}
	})
	t.Run("fallback to the next priority", func(t *testing.T) {
		pl.t = t
		got, ev := pl.both(chat, `{"model":"fallback","messages":[{"role":"user","content":"hi"}]}`)
		if got.status != 200 || ev.Attempts != 2 || ev.Backend != "oa2" {
			t.Fatalf("status %d attempts %d backend %s", got.status, ev.Attempts, ev.Backend)
		}
	})
	t.Run("upstream error", func(t *testing.T) {
		pl.t = t
		got, _ := pl.both(chat, `{"model":"bad","messages":[]}`)
		if got.status != 400 || !bytes.Contains(got.body, []byte("backend says no")) {
			t.Fatalf("status %d body %s", got.status, got.body)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		pl.t, pl.anyMessage = t, true
		defer func() { pl.anyMessage = false }()
		got, _ := pl.both(chat, `{"model":"dead","messages":[]}`)
		var e struct {
			Error struct{ Code string }
		}
		if got.status != 502 || json.Unmarshal(got.body, &e) != nil || e.Error.Code != "upstream_unreachable" {
			t.Fatalf("status %d body %s", got.status, got.body)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		pl.t = t
		got, _ := pl.both(chat, `{"model":"nope","messages":[]}`)
		if got.status != 404 {
			t.Fatalf("status %d", got.status)
		}
	})
	t.Run("malformed body", func(t *testing.T) {
		pl.t = t
		got, _ := pl.both(chat, `{"model":`)
		if got.status != 400 {
			t.Fatalf("status %d", got.status)
		}
	})
	t.Run("anthropic error shape", func(t *testing.T) {
		pl.t = t
		got, _ := pl.both("/anthropic/v1/messages", `{"model":"nope","max_tokens":1,"messages":[]}`)
		if got.status != 404 || !bytes.Contains(got.body, []byte(`"type":"error"`)) {
			t.Fatalf("status %d body %s", got.status, got.body)
		}
	})
}

// TestGRPCProtocolOrder checks the phases each filter is asked for, in Envoy's order, and that
// the upstream filter switches a non-streamed answer to BUFFERED and leaves a stream STREAMED.
func TestGRPCProtocolOrder(t *testing.T) {
	oa := newProvider(t, 200)
	m := testModel(rule("r/0", "gpt", &config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, oa.srv.URL), Weight: 1}))
	pl := newPlanes(t, m)
	pl.envoy.chunk = 16
	pl.envoy.do(request{path: "/v1/chat/completions", header: headerList{{"content-type", "application/json"}}, body: []byte(`{"model":"gpt","stream":true,"messages":[]}`)})
	trace := strings.Join(pl.envoy.trace, ",")
	want := "router:request_headers,router:request_body,upstream:request_headers,upstream:request_body,upstream:response_headers"
	if !strings.HasPrefix(trace, want+",upstream:response_body,upstream:response_body,") || !strings.HasSuffix(trace, "upstream:response_body,router:response_headers") {
		t.Errorf("stream trace %s", trace)
	}
	pl.envoy.do(request{path: "/v1/chat/completions", header: headerList{{"content-type", "application/json"}}, body: []byte(`{"model":"gpt","messages":[]}`)})
	if trace := strings.Join(pl.envoy.trace, ","); trace != want+",upstream:response_body,router:response_headers" {
		t.Errorf("buffered trace %s", trace)
	}
	waitIdle(t, pl.grpc)
}

// TestGRPCUnknownPath: a path no endpoint serves is a 404 in the API's shape, from the router
// filter, without a request being tracked.
func TestGRPCUnknownPath(t *testing.T) {
	pl := newPlanes(t, testModel())
	got := pl.envoy.do(request{path: "/v1/nothing", body: []byte(`{}`)})
	if got.status != 404 || !bytes.Contains(got.body, []byte("unknown path /v1/nothing")) {
		t.Fatalf("status %d body %s", got.status, got.body)
	}
	if pl.grpc.InFlight() != 0 {
		t.Fatal("a request was tracked")
	}
}

// TestGRPCPassUnknownPaths: with PassUnknownPaths, a path outside the pipeline passes the router
// filter untouched in every phase (Envoy's fallback route serves it) and nothing is tracked.
func TestGRPCPassUnknownPaths(t *testing.T) {
	pl := newPlanes(t, testModel())
	pl.grpc.PassUnknownPaths()
	router := pl.envoy.open(extproc.FilterRouter)
	defer router.close()
	h := headerList{{":method", "GET"}, {":path", "/v1/models"}, {":authority", "x"}, {"x-request-id", "pass-1"}}
	resp := router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(false)}}, "router:request_headers")
	if resp.GetRequestHeaders() == nil || resp.GetRequestHeaders().GetResponse().GetHeaderMutation() != nil {
		t.Fatalf("headers answer %v", resp)
	}
	resp = router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte("{}"), EndOfStream: true}}}, "router:request_body")
	if resp.GetRequestBody() == nil || resp.GetRequestBody().GetResponse().GetBodyMutation() != nil {
		t.Fatalf("body answer %v", resp)
	}
	rh := headerList{{":status", "200"}}
	resp = router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto(false)}}, "router:response_headers")
	if resp.GetResponseHeaders() == nil {
		t.Fatalf("response headers answer %v", resp)
	}
	if pl.grpc.InFlight() != 0 {
		t.Fatal("a request was tracked")
	}
}

// TestGRPCClientGoneMidStream: when Envoy resets both streams before the response ends (the
// client hung up), the request is recorded as 499 and forgotten.
func TestGRPCClientGoneMidStream(t *testing.T) {
	oa := newProvider(t, 200)
	m := testModel(rule("r/0", "gpt", &config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, oa.srv.URL), Weight: 1}))
	pl := newPlanes(t, m)
	e := pl.envoy
	router := e.open(extproc.FilterRouter)
	h := headerList{{":method", "POST"}, {":path", "/v1/chat/completions"}, {":authority", "x"}, {"x-request-id", "gone-1"}, {"content-type", "application/json"}}
	router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(false)}}, "router:request_headers")
	resp := router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{"model":"gpt","stream":true,"messages":[]}`), EndOfStream: true}}}, "router:request_body")
	h = h.apply(resp.GetRequestBody().GetResponse().GetHeaderMutation())
	up := e.open(extproc.FilterUpstream)
	attrs := map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{
		extproc.UpstreamHostMetadataAttribute: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"filter_metadata": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				extproc.EndpointMetadataNamespace: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
					"backend": structpb.NewStringValue("oa"), "ref": structpb.NewNumberValue(0),
				}}),
			}}),
		}}),
	}}}
	up.send(&extprocv3.ProcessingRequest{Attributes: attrs, Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(false)}}, "upstream:request_headers")
	up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{}`), EndOfStream: true}}}, "upstream:request_body")
	rh := headerList{{":status", "200"}, {"content-type", "text/event-stream"}}
	up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto(false)}}, "upstream:response_headers")
	up.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: []byte(openAIStream[:40])}}}, "upstream:response_body")
	router.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: rh.proto(false)}}, "router:response_headers")
	up.end()
	router.end()
	ev := pl.evEnvoy.last(t)
	if ev.Status != 499 || ev.Attempts != 1 {
		t.Errorf("event status %d attempts %d error %q", ev.Status, ev.Attempts, ev.Error)
	}
	waitIdle(t, pl.grpc)
}

// TestGRPCStreamErrorEvent: an event larger than the limit ends the stream with an error event
// in the client's shape; what the backend sends after it is dropped, and the request is a 502.
func TestGRPCStreamErrorEvent(t *testing.T) {
	big := "data: {\"x\":\"" + strings.Repeat("a", 2000) + "\"}\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, openAIStream[:strings.Index(openAIStream, "\n\n")+2]+big+"data: [DONE]\n\n")
	}))
	defer srv.Close()
	m := testModel(rule("r/0", "gpt", &config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, srv.URL), Weight: 1}))
	ev := &events{}
	g := extproc.NewGRPCServer(extproc.New(m, ev), nil, 1000)
	e := &fakeEnvoy{t: t, client: startGRPC(t, g), model: m, http: &http.Client{}, chunk: 64}
	got := e.do(request{path: "/v1/chat/completions", header: headerList{{"content-type", "application/json"}}, body: []byte(`{"model":"gpt","stream":true,"messages":[]}`)})
	if !bytes.Contains(got.body, []byte(`"error"`)) || bytes.Contains(got.body, []byte("[DONE]")) || bytes.Contains(got.body, []byte("aaaa")) {
		t.Errorf("client got %s", got.body)
	}
	if st := ev.last(t).Status; st != 502 {
		t.Errorf("event status %d", st)
	}
	waitIdle(t, g)
}

// BenchmarkGRPCRoundTrips drives whole requests through the fake Envoy and reports what the
// ext_proc hop costs: ext_proc messages per second and the latency it adds to each request
// (the time per request less a direct call to the same backend).
func BenchmarkGRPCRoundTrips(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name := "chat"
		body := `{"model":"gpt","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			name, body = "stream", `{"model":"gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		b.Run(name, func(b *testing.B) {
			oa := newProvider(b, 200)
			m := testModel(rule("r/0", "gpt", &config.BackendRef{Backend: backend("oa", config.SchemaOpenAI, oa.srv.URL), Weight: 1}))
			g := extproc.NewGRPCServer(extproc.New(m, nil), nil, 0)
			e := &fakeEnvoy{t: b, client: startGRPCBench(b, g), model: m, http: &http.Client{}, chunk: 64}
			direct := func() {
				resp, err := e.http.Post(oa.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			start := time.Now()
			for i := 0; i < 200; i++ {
				direct()
			}
			directPer := time.Since(start) / 200
			msgs := 0
			b.ResetTimer()
			start = time.Now()
			for i := 0; i < b.N; i++ {
				got := e.do(request{path: "/v1/chat/completions", header: headerList{{"content-type", "application/json"}}, body: []byte(body)})
				if got.status != 200 {
					b.Fatalf("status %d: %s", got.status, got.body)
				}
				msgs += len(e.trace)
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(msgs)/elapsed.Seconds(), "extproc-msgs/s")
			b.ReportMetric(float64(elapsed/time.Duration(b.N)-directPer)/1e3, "added-µs/req")
		})
	}
}

// startGRPCBench is startGRPC for a benchmark.
func startGRPCBench(b *testing.B, g *extproc.GRPCServer) extprocv3.ExternalProcessorClient {
	sock := filepath.Join(b.TempDir(), "extproc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(srv, g)
	go func() { _ = srv.Serve(ln) }()
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cc.Close()
		srv.Stop()
	})
	return extprocv3.NewExternalProcessorClient(cc)
}

// TestGRPCDuplicateRequestID: a second request with the id of one in progress gets an id of its
// own (so the two filters of each find their own request), set on the request and answered.
func TestGRPCDuplicateRequestID(t *testing.T) {
	pl := newPlanes(t, testModel())
	h := headerList{{":method", "POST"}, {":path", "/v1/chat/completions"}, {":authority", "x"}, {"x-request-id", "dup"}}
	a, b := pl.envoy.open(extproc.FilterRouter), pl.envoy.open(extproc.FilterRouter)
	ra := a.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(false)}}, "a")
	rb := b.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h.proto(false)}}, "b")
	if ra.GetRequestHeaders().GetResponse().GetHeaderMutation() != nil {
		t.Errorf("the first request's id was changed: %v", ra)
	}
	if id := h.apply(rb.GetRequestHeaders().GetResponse().GetHeaderMutation()).get("x-request-id"); id == "dup" || id == "" {
		t.Errorf("the second request kept id %q", id)
	}
	if n := pl.grpc.InFlight(); n != 2 {
		t.Errorf("%d requests tracked, want 2", n)
	}
	a.close()
	b.close()
	waitIdle(t, pl.grpc)
}
