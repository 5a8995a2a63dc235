package run

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OpenTelemetry collector: it accepts OTLP traces, metrics and logs
// over HTTP/protobuf or gRPC and keeps what it received, raw bytes included (to search them).
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics []*metricspb.ResourceMetrics
	logs    []*logspb.ResourceLogs
	raw     []byte
	headers []map[string]string
}

func (r *otlpReceiver) add(raw []byte, m proto.Message, h map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw = append(r.raw, raw...)
	r.headers = append(r.headers, h)
	switch m := m.(type) {
	case *coltrace.ExportTraceServiceRequest:
		for _, rs := range m.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
	case *colmetrics.ExportMetricsServiceRequest:
		r.metrics = append(r.metrics, m.ResourceMetrics...)
	case *collogs.ExportLogsServiceRequest:
		r.logs = append(r.logs, m.ResourceLogs...)
	}
}

// Spans returns the spans received so far.
func (r *otlpReceiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

func (r *otlpReceiver) Raw() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.raw)
}

// newHTTPReceiver serves OTLP/HTTP (protobuf) at the returned base URL.
func newHTTPReceiver(t testing.TB) (*otlpReceiver, string) {
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m proto.Message
		switch req.URL.Path {
		case "/v1/traces":
			m = &coltrace.ExportTraceServiceRequest{}
		case "/v1/metrics":
			m = &colmetrics.ExportMetricsServiceRequest{}
		case "/v1/logs":
			m = &collogs.ExportLogsServiceRequest{}
		default:
			http.NotFound(w, req)
			return
		}
		if err := proto.Unmarshal(body, m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := map[string]string{}
		for k := range req.Header {
			h[strings.ToLower(k)] = req.Header.Get(k)
		}
		r.add(body, m, h)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// newGRPCReceiver serves OTLP/gRPC at the returned host:port.
func newGRPCReceiver(t testing.TB) (*otlpReceiver, string) {
	r := &otlpReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(s, traceService{r: r})
	colmetrics.RegisterMetricsServiceServer(s, metricsService{r: r})
	collogs.RegisterLogsServiceServer(s, logsService{r: r})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return r, ln.Addr().String()
}

func grpcHeaders(ctx context.Context) map[string]string {
	h := map[string]string{}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, v := range md {
		if len(v) > 0 {
			h[k] = v[0]
		}
	}
	return h
}

// The gRPC services, one type each (their Export methods differ).
type traceService struct {
	coltrace.UnimplementedTraceServiceServer
	r *otlpReceiver
}

type metricsService struct {
	colmetrics.UnimplementedMetricsServiceServer
	r *otlpReceiver
}

type logsService struct {
	collogs.UnimplementedLogsServiceServer
	r *otlpReceiver
}

func (s traceService) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	raw, _ := proto.Marshal(req)
	s.r.add(raw, req, grpcHeaders(ctx))
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (s metricsService) Export(ctx context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	raw, _ := proto.Marshal(req)
	s.r.add(raw, req, grpcHeaders(ctx))
	return &colmetrics.ExportMetricsServiceResponse{}, nil
}

func (s logsService) Export(ctx context.Context, req *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	raw, _ := proto.Marshal(req)
	s.r.add(raw, req, grpcHeaders(ctx))
	return &collogs.ExportLogsServiceResponse{}, nil
}
