package observe

import (
	"strings"
	"testing"

	"github.com/aigw/aigw/internal/translate"
)

func attrMap(a *attrs) map[string]string {
	m := map[string]string{}
	for _, kv := range a.kv {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// TestRerankSpanAttributes: a rerank is an OpenInference RERANKER span with its query, model,
// top_k, input documents and the scored output documents.
func TestRerankSpanAttributes(t *testing.T) {
	a := &attrs{p: &Privacy{}}
	requestAttrs(a, translate.EndpointRerank, "application/json",
		[]byte(`{"model":"rerank-v3.5","query":"capital of France","top_n":2,"documents":["Paris is the capital.",{"text":"Berlin is in Germany."}]}`))
	responseAttrs(a, translate.EndpointRerank, []byte(`{"id":"r1","results":[{"index":0,"relevance_score":0.98},{"index":1,"relevance_score":0.02}],"meta":{"billed_units":{"search_units":1}}}`), "")
	m := attrMap(a)
	for k, v := range map[string]string{
		"openinference.span.kind": "RERANKER", "reranker.query": "capital of France", "reranker.model_name": "rerank-v3.5",
		"reranker.top_k": "2", "reranker.input_documents.0.document.content": "Paris is the capital.",
		"reranker.input_documents.1.document.content": "Berlin is in Germany.",
		"reranker.output_documents.0.document.id":     "0", "reranker.output_documents.0.document.score": "0.98",
		"reranker.output_documents.1.document.id": "1", "aigw.rerank.search_units": "1",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
}

// TestImageSpanKeepsNoPixels: an image generation's span has its usage and the response with
// each image's base64 replaced by its size.
func TestImageSpanKeepsNoPixels(t *testing.T) {
	b64 := strings.Repeat("iVBORw0KGgo", 10000)
	a := &attrs{p: &Privacy{}}
	responseAttrs(a, translate.EndpointImageGenerations, []byte(`{"created":1,"data":[{"b64_json":"`+b64+`","revised_prompt":"a cat"}],"usage":{"input_tokens":12,"output_tokens":4160,"total_tokens":4172}}`), "")
	m := attrMap(a)
	out := m["output.value"]
	if strings.Contains(out, "iVBORw0KGgo") || !strings.Contains(out, "[base64 image, 110000 bytes]") || !strings.Contains(out, "a cat") {
		t.Errorf("output.value: %.200s", out)
	}
	if m["llm.token_count.prompt"] != "12" || m["llm.token_count.completion"] != "4160" || m["llm.token_count.total"] != "4172" {
		t.Errorf("token counts: %v", m)
	}
}
