package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"github.com/aigw/aigw/internal/backendauth/awsfake"
)

// fakeBedrock is a local Bedrock runtime: it verifies each request's SigV4 signature with the
// SDK's signer (403 as the service answers), decodes Converse bodies strictly into the SDK's
// types (a shape the service would reject fails the test), and answers from a script, streams
// encoded with the SDK's event-stream encoder.
type fakeBedrock struct {
	*httptest.Server
	t      *testing.T
	keys   *awsfake.Keys
	region string

	mu   sync.Mutex
	reqs []bedrockRequest
	// converse is the JSON answer of /converse; stream the frames of /converse-stream.
	converse string
	stream   []bedrockFrame
	// invoke answers /invoke; invokeStream the inner JSON of each chunk of
	// /invoke-with-response-stream.
	invoke       func(model string, body []byte) string
	invokeStream []string
}

type bedrockRequest struct {
	Model, Op string
	Header    http.Header
	Body      []byte
	// Converse is the body decoded into the SDK's input type (Converse operations only).
	Converse *bedrockruntime.ConverseInput
}

// bedrockFrame is one event-stream frame: an event, or an exception with its type.
type bedrockFrame struct {
	event, exception string
	payload          string
}

func newFakeBedrock(t *testing.T, keys *awsfake.Keys, region string) *fakeBedrock {
	f := &fakeBedrock{t: t, keys: keys, region: region}
	f.converse = `{"output":{"message":{"role":"assistant","content":[{"text":"Hello from Bedrock"}]}},"stopReason":"end_turn","usage":{"inputTokens":9,"outputTokens":4,"totalTokens":16,"cacheReadInputTokens":3},"metrics":{"latencyMs":12}}`
	f.stream = []bedrockFrame{
		{event: "messageStart", payload: `{"role":"assistant","p":"abc"}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"Hello "}}`},
		{event: "contentBlockDelta", payload: `{"contentBlockIndex":0,"delta":{"text":"from Bedrock"}}`},
		{event: "contentBlockStop", payload: `{"contentBlockIndex":0}`},
		{event: "messageStop", payload: `{"stopReason":"end_turn"}`},
		{event: "metadata", payload: `{"usage":{"inputTokens":9,"outputTokens":4,"totalTokens":16,"cacheReadInputTokens":3},"metrics":{"latencyMs":12}}`},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBedrock) port() string {
	u, _ := url.Parse(f.URL)
	return u.Port()
}

func (f *fakeBedrock) requests() []bedrockRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

func (f *fakeBedrock) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := f.keys.Verify(r, body, "bedrock", f.region); err != nil {
		awsError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	// /model/{modelId}/{op}: the id is one escaped segment.
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(parts) != 3 || parts[0] != "model" || r.Method != http.MethodPost {
		awsError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.URL.EscapedPath())
		return
	}
	model, err := url.PathUnescape(parts[1])
	if err != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "bad model id")
		return
	}
	req := bedrockRequest{Model: model, Op: parts[2], Header: r.Header.Clone(), Body: body}
	if req.Op == "converse" || req.Op == "converse-stream" {
		in, err := strictConverseInput(body)
		if err != nil {
			f.t.Errorf("the Converse body does not decode strictly into the SDK's types: %v\n%s", err, body)
			awsError(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		req.Converse = in
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	conv, frames, invoke, invokeStream := f.converse, f.stream, f.invoke, f.invokeStream
	f.mu.Unlock()
	w.Header().Set("X-Amzn-Requestid", "req-1")
	switch req.Op {
	case "converse":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, conv)
	case "converse-stream":
		writeFrames(w, frames)
	case "invoke":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, invoke(model, body))
	case "invoke-with-response-stream":
		var fr []bedrockFrame
		for _, s := range invokeStream {
			b, _ := json.Marshal(map[string][]byte{"bytes": []byte(s)})
			fr = append(fr, bedrockFrame{event: "chunk", payload: string(b)})
		}
		writeFrames(w, fr)
	default:
		awsError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+req.Op)
	}
}

// writeFrames sends frames with the SDK's encoder, flushing each as the service does.
func writeFrames(w http.ResponseWriter, frames []bedrockFrame) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	enc := eventstream.NewEncoder()
	for _, fr := range frames {
		var m eventstream.Message
		if fr.exception != "" {
			m.Headers.Set(":message-type", eventstream.StringValue("exception"))
			m.Headers.Set(":exception-type", eventstream.StringValue(fr.exception))
		} else {
			m.Headers.Set(":message-type", eventstream.StringValue("event"))
			m.Headers.Set(":event-type", eventstream.StringValue(fr.event))
		}
		m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		m.Payload = []byte(fr.payload)
		var buf bytes.Buffer
		if err := enc.Encode(&buf, m); err != nil {
			panic(err)
		}
		_, _ = w.Write(buf.Bytes())
		w.(http.Flusher).Flush()
	}
}

// converseMembers are the JSON members of a Converse request body (the model id is in the path).
var converseMembers = []string{"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
	"additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables",
	"requestMetadata", "performanceConfig", "serviceTier", "outputConfig"}

// strictConverseInput decodes a Converse body into the SDK's ConverseInput with the SDK's own
// JSON deserializers, then serializes that input with the SDK's serializer and requires the same
// JSON back: a member the SDK does not know, a wrong type or a union with two members set is lost
// or changed on the way and fails.
func strictConverseInput(body []byte) (*bedrockruntime.ConverseInput, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	in := &bedrockruntime.ConverseInput{}
	for k, raw := range top {
		var err error
		switch k {
		case "messages":
			var msgs []json.RawMessage
			if err = json.Unmarshal(raw, &msgs); err == nil {
				for _, m := range msgs {
					var v types.Message
					if err = sdkDecode(m, &v); err != nil {
						break
					}
					in.Messages = append(in.Messages, v)
				}
			}
		case "system":
			var blocks []map[string]json.RawMessage
			if err = json.Unmarshal(raw, &blocks); err == nil {
				for _, b := range blocks {
					if len(b) != 1 {
						err = fmt.Errorf("a system block must set exactly one member: %v", b)
						break
					}
					switch {
					case b["text"] != nil:
						var s string
						err = json.Unmarshal(b["text"], &s)
						in.System = append(in.System, &types.SystemContentBlockMemberText{Value: s})
					case b["cachePoint"] != nil:
						var cp types.CachePointBlock
						err = sdkDecode(b["cachePoint"], &cp)
						in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: cp})
					default:
						err = fmt.Errorf("system block member not used by aigw: %v", b)
					}
				}
			}
		case "inferenceConfig":
			in.InferenceConfig = &types.InferenceConfiguration{}
			err = sdkDecode(raw, in.InferenceConfig)
		case "toolConfig":
			in.ToolConfig = &types.ToolConfiguration{}
			err = sdkDecode(raw, in.ToolConfig)
		case "guardrailConfig":
			in.GuardrailConfig = &types.GuardrailConfiguration{}
			err = sdkDecode(raw, in.GuardrailConfig)
		case "performanceConfig":
			in.PerformanceConfig = &types.PerformanceConfiguration{}
			err = sdkDecode(raw, in.PerformanceConfig)
		case "serviceTier":
			in.ServiceTier = &types.ServiceTier{}
			err = sdkDecode(raw, in.ServiceTier)
		case "requestMetadata":
			err = json.Unmarshal(raw, &in.RequestMetadata)
		case "additionalModelResponseFieldPaths":
			err = json.Unmarshal(raw, &in.AdditionalModelResponseFieldPaths)
		case "additionalModelRequestFields":
			if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
				err = fmt.Errorf("additionalModelRequestFields must be an object")
			}
		default:
			err = fmt.Errorf("unknown member %q (Converse takes %s)", k, strings.Join(converseMembers, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	// additionalModelRequestFields is a free-form document: compared as JSON, not re-serialized.
	extra := top["additionalModelRequestFields"]
	delete(top, "additionalModelRequestFields")
	back, err := sdkEncode(in)
	if err != nil {
		return nil, err
	}
	var got map[string]any
	if err := json.Unmarshal(back, &got); err != nil {
		return nil, err
	}
	delete(got, "modelId")
	var want map[string]any
	rest, _ := json.Marshal(top)
	_ = json.Unmarshal(rest, &want)
	if !sdkJSONEqual(got, want) {
		return nil, fmt.Errorf("the SDK reads the body differently:\n sent %s\n SDK  %s", rest, back)
	}
	if extra != nil && !json.Valid(extra) {
		return nil, fmt.Errorf("additionalModelRequestFields is not JSON")
	}
	return in, nil
}

// sdkJSONEqual compares decoded JSON; numbers within float32 precision are equal (the SDK holds
// temperature and topP as float32).
func sdkJSONEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sdkJSONEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sdkJSONEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.Abs(x-y) <= 1e-6*math.Max(math.Abs(x), math.Abs(y)))
	}
	return reflect.DeepEqual(a, b)
}

// sdkDecode deserializes one JSON value into an SDK type with the SDK's JSON codec (carried in
// an event-stream frame, the one public door to it).
func sdkDecode(raw []byte, out smithy.Deserializable) error {
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue("initial-response"))
	m.Payload = raw
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		return err
	}
	return restjson1.New(nil).DeserializeInitialResponse(nil, &buf, out) // one per call: its codec has a buffer
}

// sdkEncode serializes an SDK value as the SDK's JSON.
func sdkEncode(v smithy.Serializable) ([]byte, error) {
	var buf bytes.Buffer
	if err := restjson1.New(nil).SerializeInitialRequest(nil, v, &buf); err != nil {
		return nil, err
	}
	m, err := eventstream.NewDecoder().Decode(&buf, nil)
	if err != nil {
		return nil, err
	}
	return m.Payload, nil
}

// TestStrictConverseInput holds the fake to what the service would refuse.
func TestStrictConverseInput(t *testing.T) {
	good := `{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"default"}}]}],"system":[{"text":"s"}],"inferenceConfig":{"maxTokens":5,"temperature":0.2},"toolConfig":{"tools":[{"toolSpec":{"name":"x","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`
	if _, err := strictConverseInput([]byte(good)); err != nil {
		t.Fatalf("a valid body was refused: %v", err)
	}
	for _, bad := range []string{
		`{"messages":[{"role":"user","content":[{"txt":"a"}]}]}`,
		`{"messages":[{"role":"user","content":[{"text":"a","cachePoint":{"type":"default"}}]}]}`,
		`{"messages":[{"role":"user","content":[{"text":"a"}],"name":"x"}]}`,
		`{"inferenceConfig":{"maxTokens":"5"}}`,
		`{"inferenceConfig":{"max_tokens":5}}`,
		`{"toolConfig":{"tools":[{"toolSpec":{"name":"x","inputSchema":{"json":{}},"parameters":{}}}]}}`,
		`{"system":[{"text":"a","cachePoint":{"type":"default"}}]}`,
		`{"stop":["x"]}`,
	} {
		if _, err := strictConverseInput([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
