package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// goldenSpan is the part of an OTLP JSON span the comparison reads.
type goldenSpan struct {
	Name       string `json:"name"`
	Attributes []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"attributes"`
	Events []struct {
		Name string `json:"name"`
	} `json:"events"`
	Status struct {
		Code string `json:"code"`
	} `json:"status"`
}

// jsonValued attributes hold JSON text, compared as JSON (the reference serialised the Python
// SDK's arguments: other spacing and key order, same content).
var jsonValued = map[string]bool{
	"input.value": true, "output.value": true, "llm.invocation_parameters": true, "embedding.invocation_parameters": true,
}

// intendedExtra are attributes aigw adds that the reference instrumentation (a client-side SDK
// wrapper) has no means to know; tracing README, "Differences from the reference".
var intendedExtra = []string{"gen_ai.", "aigw.", "llm.cost.", "llm.provider", "http.response.status_code", "error.type", "session.id"}

// TestOpenInferenceGoldenSpans relays every recorded OpenAI exchange through aigw with traces
// exported to an in-process OTLP receiver, and compares aigw's request span with the span the
// official OpenInference instrumentation recorded for the same exchange, attribute by attribute.
func TestOpenInferenceGoldenSpans(t *testing.T) {
	dir := sharedFixtures(t, "cassettes/openai")
	spansDir := sharedFixtures(t, "spans/openinference")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	served := servedPaths()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c cassette
			if err := yaml.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			goldenRaw, err := os.ReadFile(filepath.Join(spansDir, name+".json"))
			if err != nil {
				t.Skipf("no golden span: %v", err)
			}
			var golden goldenSpan
			if err := json.Unmarshal(goldenRaw, &golden); err != nil {
				t.Fatal(err)
			}
			it := c.Interactions[0]
			form := it.Request.Form
			if strings.HasSuffix(it.Request.Body, "omitted]") && form == nil {
				// The recorder kept neither the multipart body nor its fields; the fields are the
				// SDK call's arguments, which the reference span lists as invocation parameters.
				form = formFromGolden(t, golden)
			}
			got := traceOne(t, served, it.Request.URL, it.Request.Body, form, it.Request.Headers, it.Response.Code, it.Response.Headers, it.Response.Body)
			compareSpan(t, golden, got)
		})
	}
}

// traceOne replays one exchange through a gateway that exports traces over OTLP/HTTP, and
// returns the request's (server) span.
func traceOne(t *testing.T, served map[string]bool, rawURL, reqBody string, form, reqHeaders map[string][]string, code int, respHeaders map[string][]string, respBody string) *tracepb.Span {
	t.Helper()
	if strings.HasPrefix(reqBody, "[") && strings.HasSuffix(reqBody, "omitted]") {
		// The recorder left the body out (a multipart upload): rebuild it from the form.
		reqBody, reqHeaders = rebuildMultipart(t, form)
	}
	up := newRecordedUpstream(t, served, rawURL, form, code, respHeaders, respBody)
	recv, endpoint := newHTTPReceiver(t)
	kv := append([]string{"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none"}, up.env...)
	g := startGateway(t, Options{Getenv: env(kv...)})
	up.send(t, g, reqBody, reqHeaders)
	g.stop(t) // flushes the spans
	var server *tracepb.Span
	for _, s := range recv.Spans() {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span among %d received", len(recv.Spans()))
	}
	return server
}

// formFromGolden reads the form fields of a multipart request from the reference span's
// llm.invocation_parameters.
func formFromGolden(t *testing.T, golden goldenSpan) map[string][]string {
	t.Helper()
	for _, a := range golden.Attributes {
		if a.Key != "llm.invocation_parameters" {
			continue
		}
		var v struct {
			StringValue string `json:"stringValue"`
		}
		var fields map[string]any
		if json.Unmarshal(a.Value, &v) != nil || json.Unmarshal([]byte(v.StringValue), &fields) != nil {
			t.Fatalf("invocation parameters %s", a.Value)
		}
		form := map[string][]string{}
		for k, x := range fields {
			form[k] = []string{fmt.Sprint(x)}
		}
		return form
	}
	t.Skip("the request body was not recorded and the reference span does not list its fields")
	return nil
}

// rebuildMultipart writes a form as the multipart body the SDK sent; the file part's content was
// not recorded, so it is a placeholder.
func rebuildMultipart(t *testing.T, form map[string][]string) (string, map[string][]string) {
	t.Helper()
	const boundary = "aigwboundary"
	var b strings.Builder
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The SDK's field order: model first, then the rest as recorded.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "model" })
	for _, k := range keys {
		if k == "api-version" {
			continue
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, k, form[k][0])
	}
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3\r\n--%s--\r\n", boundary, boundary)
	return b.String(), map[string][]string{"Content-Type": {"multipart/form-data; boundary=" + boundary}}
}

// compareSpan requires every reference attribute with the same value (JSON text compared as
// JSON), no attribute beyond the reference's but the intended ones, the same event names, name
// and status code.
func compareSpan(t *testing.T, golden goldenSpan, got *tracepb.Span) {
	t.Helper()
	if got.Name != golden.Name {
		t.Errorf("span name %q, reference %q", got.Name, golden.Name)
	}
	ours := map[string]json.RawMessage{}
	for _, kv := range got.Attributes {
		b, err := protojson.Marshal(kv.Value)
		if err != nil {
			t.Fatal(err)
		}
		ours[kv.Key] = b
	}
	want := map[string]bool{}
	for _, a := range golden.Attributes {
		want[a.Key] = true
		v, ok := ours[a.Key]
		if !ok {
			t.Errorf("missing %s = %s", a.Key, clip(string(a.Value)))
			continue
		}
		if !sameValue(a.Key, a.Value, v) {
			t.Errorf("%s differs\n got %s\nwant %s", a.Key, clip(string(v)), clip(string(a.Value)))
		}
	}
	for k, v := range ours {
		if want[k] || isIntendedExtra(k) {
			continue
		}
		t.Errorf("unexpected %s = %s", k, clip(string(v)))
	}
	var gotEvents, wantEvents []string
	for _, e := range got.Events {
		gotEvents = append(gotEvents, e.Name)
	}
	for _, e := range golden.Events {
		wantEvents = append(wantEvents, e.Name)
	}
	if !reflect.DeepEqual(gotEvents, wantEvents) {
		t.Errorf("events %q, reference %q", gotEvents, wantEvents)
	}
	if code := got.Status.GetCode().String(); code != golden.Status.Code {
		t.Errorf("status %s, reference %s", code, golden.Status.Code)
	}
}

func isIntendedExtra(k string) bool {
	for _, p := range intendedExtra {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// sameValue compares two OTLP JSON attribute values; JSON-valued strings compare as JSON.
func sameValue(key string, want, got json.RawMessage) bool {
	var w, g map[string]any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil {
		return false
	}
	ws, wok := w["stringValue"].(string)
	gs, gok := g["stringValue"].(string)
	if wok && gok && (jsonValued[key] || strings.HasSuffix(key, ".tool.json_schema")) {
		var wj, gj any
		if json.Unmarshal([]byte(ws), &wj) == nil && json.Unmarshal([]byte(gs), &gj) == nil {
			return reflect.DeepEqual(wj, gj)
		}
	}
	return reflect.DeepEqual(w, g)
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

var _ = time.Second
