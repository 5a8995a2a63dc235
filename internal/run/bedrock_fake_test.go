package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

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
	invoke func(model string, body []byte) string
	// invokeError, when set and answering a status, makes /invoke fail with it and the type.
	invokeError  func(body []byte) (status int, typ string)
	invokeStream []string
	// pause, when set, holds a Converse stream after pauseAfter frames until it is closed.
	pause      chan struct{}
	pauseAfter int
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
		in, err := awsfake.StrictConverseInput(body)
		if err != nil {
			f.t.Errorf("the Converse body does not decode strictly into the SDK's types: %v\n%s", err, body)
			awsError(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		req.Converse = in
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	conv, frames, invoke, invokeStream, pause, pauseAfter := f.converse, f.stream, f.invoke, f.invokeStream, f.pause, f.pauseAfter
	invokeError := f.invokeError
	f.mu.Unlock()
	w.Header().Set("X-Amzn-Requestid", "req-1")
	if invokeError != nil && req.Op == "invoke" {
		if status, typ := invokeError(body); status != 0 {
			awsError(w, status, typ, "refused "+string(body))
			return
		}
	}
	switch req.Op {
	case "converse":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, conv)
	case "converse-stream":
		writeFrames(w, frames, pauseAfter, pause)
	case "invoke":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, invoke(model, body))
	case "invoke-with-response-stream":
		var fr []bedrockFrame
		for _, s := range invokeStream {
			b, _ := json.Marshal(map[string][]byte{"bytes": []byte(s)})
			fr = append(fr, bedrockFrame{event: "chunk", payload: string(b)})
		}
		writeFrames(w, fr, 0, nil)
	default:
		awsError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+req.Op)
	}
}

// writeFrames sends frames with the SDK's encoder, flushing each as the service does; with a
// pause channel it waits after pauseAfter frames until the channel is closed.
func writeFrames(w http.ResponseWriter, frames []bedrockFrame, pauseAfter int, pause chan struct{}) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	enc := eventstream.NewEncoder()
	for i, fr := range frames {
		if pause != nil && i == pauseAfter {
			select {
			case <-pause:
			case <-time.After(10 * time.Second):
				return
			}
		}
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

// TestStrictConverseInput holds the fake to what the service would refuse.
func TestStrictConverseInput(t *testing.T) {
	good := `{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"default"}}]}],"system":[{"text":"s"}],"inferenceConfig":{"maxTokens":5,"temperature":0.2},"toolConfig":{"tools":[{"toolSpec":{"name":"x","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`
	if _, err := awsfake.StrictConverseInput([]byte(good)); err != nil {
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
		if _, err := awsfake.StrictConverseInput([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
