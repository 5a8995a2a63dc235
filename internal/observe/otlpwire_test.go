package observe

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// wireSpans are spans with every kind of content the encoder handles: each attribute type,
// events, links, a remote parent, trace state, statuses, dropped counts, two resources and
// scopes.
func wireSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	res1 := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.37.0", attribute.String("service.name", "aigw"), attribute.String("service.version", "v1"))
	res2 := resource.NewSchemaless(attribute.String("service.name", "other"), attribute.Int("n", -3))
	scope1 := instrumentation.Scope{Name: "github.com/aigw/aigw"}
	scope2 := instrumentation.Scope{Name: "x", Version: "1.2", SchemaURL: "https://example.com/s", Attributes: attribute.NewSet(attribute.Bool("b", true))}
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ts, err := trace.ParseTraceState("vendor=a,other=b")
	if err != nil {
		t.Fatal(err)
	}
	sc := func(sid byte, remote bool) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{sid, 1, 2, 3, 4, 5, 6, 7}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: remote})
	}
	start := time.Unix(1700000000, 123456789)
	all := []attribute.KeyValue{
		attribute.String("s", "text é"), attribute.String("empty", ""), attribute.Int64("i", -42), attribute.Int64("big", 1<<62),
		attribute.Float64("f", 1.5e-7), attribute.Bool("t", true), attribute.Bool("f0", false),
		attribute.StringSlice("ss", []string{"a", "", "c"}), attribute.Int64Slice("is", []int64{0, -1, 300}),
		attribute.Float64Slice("fs", []float64{0.25, -2}), attribute.BoolSlice("bs", []bool{true, false}),
		{Key: "input.value", Value: attribute.StringValue(strings.Repeat("x", 20000))},
	}
	stubs := []tracetest.SpanStub{
		{Name: "ChatCompletion", SpanContext: sc(1, false), Parent: sc(9, true), SpanKind: trace.SpanKindServer,
			StartTime: start, EndTime: start.Add(time.Millisecond), Attributes: all,
			Events: []sdktrace.Event{{Name: "First Token Stream Event", Time: start.Add(time.Microsecond)},
				{Name: "exception", Time: start.Add(2 * time.Microsecond), Attributes: []attribute.KeyValue{attribute.String("exception.message", "boom")}, DroppedAttributeCount: 2}},
			Links:  []sdktrace.Link{{SpanContext: sc(7, true), Attributes: []attribute.KeyValue{attribute.Int("l", 1)}, DroppedAttributeCount: 1}},
			Status: sdktrace.Status{Code: codes.Error, Description: "aigw.HTTPError.502"}, DroppedAttributes: 3, DroppedEvents: 4, DroppedLinks: 5,
			ChildSpanCount: 1, Resource: res1, InstrumentationScope: scope1},
		{Name: "attempt openai", SpanContext: sc(2, false), Parent: sc(1, false), SpanKind: trace.SpanKindClient,
			StartTime: start, EndTime: start.Add(time.Millisecond), Status: sdktrace.Status{Code: codes.Ok},
			Attributes: []attribute.KeyValue{attribute.Int("aigw.attempt", 1)}, Resource: res1, InstrumentationScope: scope1},
		{Name: "root", SpanContext: sc(3, false), SpanKind: trace.SpanKindInternal, StartTime: start, EndTime: start,
			Resource: res2, InstrumentationScope: scope2},
		{Name: "unset", SpanContext: sc(4, false), StartTime: start, EndTime: start.Add(time.Second), Resource: res1, InstrumentationScope: scope2},
		{Name: "no scope", SpanContext: sc(5, false), StartTime: start, EndTime: start, Resource: res2},
	}
	return tracetest.SpanStubs(stubs).Snapshots()
}

// sdkRequest is what the OpenTelemetry SDK's OTLP/HTTP exporter sends for spans.
func sdkRequest(t *testing.T, spans []sdktrace.ReadOnlySpan) *coltrace.ExportTraceServiceRequest {
	t.Helper()
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	exp, err := otlptracehttp.New(t.Context(), otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"), otlptracehttp.WithInsecure(), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(t.Context(), spans); err != nil {
		t.Fatal(err)
	}
	_ = exp.Shutdown(t.Context())
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(got, &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

// sortResources orders a request's resource spans by their first span's name (the SDK's
// exporter emits them in map order).
func sortResources(r *coltrace.ExportTraceServiceRequest) {
	sort.Slice(r.ResourceSpans, func(i, j int) bool {
		return r.ResourceSpans[i].ScopeSpans[0].Spans[0].Name < r.ResourceSpans[j].ScopeSpans[0].Spans[0].Name
	})
}

func TestOTLPWireMatchesSDK(t *testing.T) {
	spans := wireSpans(t)
	want := sdkRequest(t, spans)
	b := appendTraceRequest(nil, spans)
	var got coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatalf("aigw's encoding does not decode: %v", err)
	}
	sortResources(want)
	sortResources(&got)
	// One intended difference: a link carries its trace state (trace.proto Span.Link.trace_state);
	// the SDK's conversion leaves it out.
	for _, rs := range got.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				for _, l := range sp.Links {
					if l.TraceState != "vendor=a,other=b" {
						t.Errorf("link trace state %q", l.TraceState)
					}
					l.TraceState = ""
				}
			}
		}
	}
	if !proto.Equal(want, &got) {
		for i, rs := range want.ResourceSpans {
			if i >= len(got.ResourceSpans) {
				t.Fatalf("resource %d missing", i)
			}
			g := got.ResourceSpans[i]
			if !proto.Equal(rs.Resource, g.Resource) || rs.SchemaUrl != g.SchemaUrl || len(rs.ScopeSpans) != len(g.ScopeSpans) {
				t.Fatalf("resource %d:\n got %v %q %d scopes\nwant %v %q %d scopes", i, g.Resource, g.SchemaUrl, len(g.ScopeSpans), rs.Resource, rs.SchemaUrl, len(rs.ScopeSpans))
			}
			for j, ss := range rs.ScopeSpans {
				gs := g.ScopeSpans[j]
				if !proto.Equal(ss.Scope, gs.Scope) || ss.SchemaUrl != gs.SchemaUrl || len(ss.Spans) != len(gs.Spans) {
					t.Fatalf("scope %d/%d:\n got %v %q\nwant %v %q", i, j, gs.Scope, gs.SchemaUrl, ss.Scope, ss.SchemaUrl)
				}
				for k, sp := range ss.Spans {
					if !proto.Equal(sp, gs.Spans[k]) {
						a, b := proto.Clone(sp).(*tracepb.Span), proto.Clone(gs.Spans[k]).(*tracepb.Span)
						a.Attributes, b.Attributes = nil, nil
						t.Errorf("span %q differs (attributes equal: %t):\n got %v\nwant %v", sp.Name, proto.Equal(&tracepb.Span{Attributes: sp.Attributes}, &tracepb.Span{Attributes: gs.Spans[k].Attributes}), b, a)
					}
				}
			}
		}
		t.FailNow()
	}
	// Decoded as equal is not enough if a size prefix were wrong and the decoder lenient: the
	// canonical encoding of the decoded request has the same length.
	var canonical coltrace.ExportTraceServiceRequest
	_ = proto.Unmarshal(b, &canonical)
	if n := proto.Size(&canonical); n != len(b) {
		t.Errorf("encoded %d bytes, canonical size %d", len(b), n)
	}
	if len(want.ResourceSpans) != 2 || len(got.ResourceSpans[0].ScopeSpans)+len(got.ResourceSpans[1].ScopeSpans) != 4 {
		t.Errorf("resources and scopes not grouped: %d resources", len(got.ResourceSpans))
	}
}

// collector is an OTLP/HTTP receiver whose answers a test scripts.
type collector struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []*coltrace.ExportTraceServiceRequest
	answers  []func(w http.ResponseWriter)
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, _ := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	n := len(c.requests)
	c.requests = append(c.requests, r)
	c.bodies = append(c.bodies, &req)
	c.mu.Unlock()
	if n < len(c.answers) {
		c.answers[n](w)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func TestHTTPSpanExporter(t *testing.T) {
	spans := wireSpans(t)[:2]
	unavailable := func(w http.ResponseWriter) { http.Error(w, "busy", http.StatusServiceUnavailable) }
	throttled := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}
	partial := func(w http.ResponseWriter) {
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{PartialSuccess: &coltrace.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "too old"}})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}
	for _, tc := range []struct {
		name        string
		answers     []func(http.ResponseWriter)
		compression string
		requests    int
		err         string
		minTook     time.Duration
	}{
		{name: "accepted", requests: 1},
		{name: "gzip", compression: "gzip", requests: 1},
		{name: "retried after 503", answers: []func(http.ResponseWriter){unavailable, unavailable}, requests: 3, minTook: time.Second},
		{name: "retry-after", answers: []func(http.ResponseWriter){throttled}, requests: 2, minTook: time.Second},
		{name: "bad request not retried", answers: []func(http.ResponseWriter){func(w http.ResponseWriter) { http.Error(w, "no", http.StatusBadRequest) }}, requests: 1, err: "400 Bad Request: no"},
		{name: "partial success", answers: []func(http.ResponseWriter){partial}, requests: 1, err: "rejected 1 spans: too old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &collector{answers: tc.answers}
			srv := httptest.NewServer(c)
			defer srv.Close()
			vars := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_EXPORTER_OTLP_HEADERS": "x-team=ai%20gw"}
			s, err := otlpFor(func(k string) string { return vars[k] }, "TRACES", "/v1/traces")
			if err != nil {
				t.Fatal(err)
			}
			exp, err := newHTTPSpanExporter(s, tlsSettings{}, tc.compression)
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			t0 := time.Now()
			err = exp.ExportSpans(t.Context(), spans)
			took := time.Since(t0)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if len(c.requests) != tc.requests {
				t.Fatalf("%d requests, want %d", len(c.requests), tc.requests)
			}
			if took < tc.minTook {
				t.Errorf("took %s, want at least %s (backoff)", took, tc.minTook)
			}
			r := c.requests[len(c.requests)-1]
			if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || r.Header.Get("X-Team") != "ai gw" {
				t.Errorf("request %s %v", r.URL.Path, r.Header)
			}
			if got := c.bodies[len(c.bodies)-1].ResourceSpans[0].ScopeSpans[0].Spans; len(got) != 2 || got[0].Name != "ChatCompletion" {
				t.Errorf("spans received: %v", got)
			}
		})
	}
	t.Run("unsupported compression", func(t *testing.T) {
		if _, err := newHTTPSpanExporter(otlpSettings{endpoint: "http://x"}, tlsSettings{}, "zstd"); err == nil {
			t.Fatal("zstd accepted")
		}
	})
	t.Run("shut down", func(t *testing.T) {
		exp, err := newHTTPSpanExporter(otlpSettings{endpoint: "http://127.0.0.1:1", insecure: true, timeout: time.Second}, tlsSettings{}, "")
		if err != nil {
			t.Fatal(err)
		}
		_ = exp.Shutdown(context.Background())
		if err := exp.ExportSpans(t.Context(), spans); err == nil {
			t.Fatal("exported after shutdown")
		}
	})
}

// BenchmarkOTLPEncode compares aigw's encoding of a typical request span with the SDK's
// conversion and marshalling (go test ./internal/observe -run '^$' -bench OTLPEncode).
func BenchmarkOTLPEncode(b *testing.B) {
	spans := wireSpans(&testing.T{})[:2]
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendTraceRequest(buf[:0], spans)
	}
}

// TestBatchOptions: the OTEL_BSP_* variables reach the batch processor, read through getenv;
// nonsense is ignored.
func TestBatchOptions(t *testing.T) {
	vars := map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "250", "OTEL_BSP_MAX_QUEUE_SIZE": "8192",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1024", "OTEL_BSP_EXPORT_TIMEOUT": "x"}
	var o sdktrace.BatchSpanProcessorOptions
	for _, opt := range batchOptions(batchSettingsFromEnv(func(k string) string { return vars[k] })) {
		opt(&o)
	}
	if o.BatchTimeout != 250*time.Millisecond || o.MaxQueueSize != 8192 || o.MaxExportBatchSize != 1024 || o.ExportTimeout != 30*time.Second {
		t.Errorf("options %+v", o)
	}
	s := batchSettingsFromEnv(func(string) string { return "" })
	if s != (batchSettings{delay: time.Second, timeout: 30 * time.Second, maxQueue: 2048, maxBatch: 512}) {
		t.Errorf("defaults %+v", s)
	}
	if s := batchSettingsFromEnv(func(k string) string { return map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "100"}[k] }); s.maxBatch != 100 {
		t.Errorf("batch %d larger than the queue of 100", s.maxBatch)
	}
}
