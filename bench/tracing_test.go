package main

import (
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestCountSpans(t *testing.T) {
	spans := func(n int) []*tracepb.Span {
		var out []*tracepb.Span
		for range n {
			out = append(out, &tracepb.Span{Name: "ChatCompletion", TraceId: make([]byte, 16), SpanId: make([]byte, 8),
				Attributes: []*commonpb.KeyValue{{Key: "input.value", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "{}"}}}}})
		}
		return out
	}
	req := &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		{Resource: &resourcepb.Resource{}, ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans(3)}, {Spans: spans(2)}}, SchemaUrl: "s"},
		{ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "x"}, Spans: spans(4)}}},
	}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if n := countSpans(b); n != 9 {
		t.Errorf("counted %d spans, want 9", n)
	}
	if n := countSpans(b[:len(b)/2]); n > 9 {
		t.Errorf("counted %d spans in a truncated request", n)
	}
	if n := countSpans(nil); n != 0 {
		t.Errorf("counted %d spans in nothing", n)
	}
}
