package awsfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
)

// converseMembers are the JSON members of a Converse request body (the model id is in the path).
var converseMembers = []string{"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
	"additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables",
	"requestMetadata", "performanceConfig", "serviceTier", "outputConfig"}

// StrictConverseInput decodes a Converse body into the SDK's ConverseInput with the SDK's own
// JSON deserializers, then serializes that input with the SDK's serializer and requires the same
// JSON back: a member the SDK does not know, a wrong type or a union with two members set is lost
// or changed on the way and fails.
func StrictConverseInput(body []byte) (*bedrockruntime.ConverseInput, error) {
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
		case "outputConfig":
			in.OutputConfig = &types.OutputConfig{}
			err = sdkDecode(raw, in.OutputConfig)
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
