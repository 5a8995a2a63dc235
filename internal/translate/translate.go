// Package translate turns a client's request into a backend's and the backend's response back
// into the client's, chunk by chunk, extracting token usage on the way. There is one Translator
// per (client endpoint, backend schema) pair, constructed from one table (registry.go).
package translate

import (
	"bytes"
	"net/http"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/usage"
)

// API is the family of client-facing APIs an endpoint belongs to; it decides error shapes.
type API int

// Client API families.
const (
	APIOpenAI API = iota
	APIAnthropic
)

// Endpoint is one client-facing operation the gateway serves.
type Endpoint string

// Endpoints served to clients.
const (
	EndpointChatCompletions Endpoint = "chat_completions" // POST /v1/chat/completions
	EndpointCompletions     Endpoint = "completions"      // POST /v1/completions
	EndpointEmbeddings      Endpoint = "embeddings"       // POST /v1/embeddings
	EndpointMessages        Endpoint = "messages"         // POST /anthropic/v1/messages, /v1/messages
	// EndpointCountTokens is POST /anthropic/v1/messages/count_tokens, /v1/messages/count_tokens.
	EndpointCountTokens         Endpoint = "count_tokens"
	EndpointResponses           Endpoint = "responses"            // POST /v1/responses
	EndpointImageGenerations    Endpoint = "image_generations"    // POST /v1/images/generations
	EndpointAudioSpeech         Endpoint = "audio_speech"         // POST /v1/audio/speech
	EndpointAudioTranscriptions Endpoint = "audio_transcriptions" // POST /v1/audio/transcriptions (multipart)
	EndpointAudioTranslations   Endpoint = "audio_translations"   // POST /v1/audio/translations (multipart)
	EndpointRerank              Endpoint = "rerank"               // POST /cohere/v2/rerank
)

// endpointInfo is what is known about an endpoint, as data.
type endpointInfo struct {
	api       API
	operation string   // gen_ai.operation.name, with the reference gateway's values
	paths     []string // where clients send it
	// parse finds the model and stream flag in a request body.
	parse func(contentType string, body []byte) (model string, stream bool, err error)
}

var endpoints = map[Endpoint]endpointInfo{
	EndpointChatCompletions: {APIOpenAI, "chat", []string{"/v1/chat/completions"}, parseJSONRequest},
	EndpointCompletions:     {APIOpenAI, "completion", []string{"/v1/completions"}, parseJSONRequest},
	EndpointEmbeddings:      {APIOpenAI, "embedding", []string{"/v1/embeddings"}, parseJSONRequest},
	EndpointMessages:        {APIAnthropic, "messages", []string{"/anthropic/v1/messages", "/v1/messages"}, parseJSONRequest},
	// The reference gateway has no operation for count_tokens; the others are its values.
	EndpointCountTokens:         {APIAnthropic, "count_tokens", []string{"/anthropic/v1/messages/count_tokens", "/v1/messages/count_tokens"}, parseJSONRequest},
	EndpointResponses:           {APIOpenAI, "responses", []string{"/v1/responses"}, parseJSONRequest},
	EndpointImageGenerations:    {APIOpenAI, "image_generation", []string{"/v1/images/generations"}, parseJSONRequest},
	EndpointAudioSpeech:         {APIOpenAI, "speech", []string{"/v1/audio/speech"}, parseJSONRequest},
	EndpointAudioTranscriptions: {APIOpenAI, "transcription", []string{"/v1/audio/transcriptions"}, parseMultipartRequest},
	EndpointAudioTranslations:   {APIOpenAI, "translation", []string{"/v1/audio/translations"}, parseMultipartRequest},
	EndpointRerank:              {APIOpenAI, "rerank", []string{"/cohere/v2/rerank"}, parseJSONRequest},
}

// API is the client API family of the endpoint.
func (e Endpoint) API() API { return endpoints[e].api }

// EndsStream reports whether out, bytes sent to a client of the endpoint, holds the last event
// of a complete stream ([DONE], message_stop, response.completed or .incomplete): a client may
// hang up as soon as it has read it, and a stream that got that far was delivered whole. Both data
// planes ask it of every chunk until it is true.
func (e Endpoint) EndsStream(out []byte) bool {
	var ends [][]byte
	switch e {
	case EndpointChatCompletions, EndpointCompletions:
		ends = streamEndDone
	case EndpointMessages:
		ends = streamEndMessages
	case EndpointResponses:
		ends = streamEndResponses
	}
	for _, m := range ends {
		if bytes.Contains(out, m) {
			return true
		}
	}
	return false
}

var (
	streamEndDone      = [][]byte{[]byte("[DONE]")}
	streamEndMessages  = [][]byte{[]byte("message_stop")}
	streamEndResponses = [][]byte{[]byte(`"response.completed"`), []byte(`"response.incomplete"`)}
)

// Operation is the OpenTelemetry gen_ai.operation.name of the endpoint.
func (e Endpoint) Operation() string { return endpoints[e].operation }

// Endpoints lists every client endpoint with the paths it is served at (POST).
func Endpoints() map[Endpoint][]string {
	m := make(map[Endpoint][]string, len(endpoints))
	for e, i := range endpoints {
		m[e] = i.paths
	}
	return m
}

// ParseRequest finds the model and the stream flag in a client body, with a 400 Error in the
// client's shape when the body is malformed or names no model.
func ParseRequest(e Endpoint, contentType string, body []byte) (model string, stream bool, err error) {
	return endpoints[e].parse(contentType, body)
}

// Request is the client's request as the pipeline parsed it. Translators must not modify it.
type Request struct {
	Endpoint Endpoint
	// Body is the client's body as received.
	Body []byte
	// Model is the model the client asked for.
	Model string
	// Stream reports whether the client asked for a streamed response.
	Stream bool
	// Header is the client's request headers.
	Header http.Header
}

// Target is the backend one attempt goes to.
type Target struct {
	Backend *config.Backend
	// Model is the model to ask the backend for (the client's, or the reference's override).
	Model string
}

// Upstream is the request to send to the backend.
type Upstream struct {
	Method string
	// Path is the path and query to request on the backend's endpoint.
	Path string
	// Header holds headers to set on the upstream request, replacing the client's.
	Header http.Header
	// Remove names client headers that must not reach this backend (another API's headers).
	Remove []string
	// Body is the body to send.
	Body []byte
	// Parts, when not empty, split the request into several the backend takes one per call
	// (Titan embeds one text per call). The data plane then sends the parts instead of this
	// request: each with this request's method, path and headers and its own body, mutated and
	// authenticated as this one is; at most MaxPartsInFlight at once. If every part is answered
	// 2xx, the translator's response phases get one 200 answer whose JSON body is the array of
	// the parts' bodies, in order; otherwise they get the first failed part's answer (in part
	// order) as the backend's error. A data plane that cannot send several requests for one
	// (Envoy's, one upstream request per attempt) refuses the request with a 422.
	Parts [][]byte
	// Local, when set, is the backend's answer made by the translator itself (a token count
	// estimated in process): nothing is sent, and the data plane hands Local to the
	// translator's response phases as if the backend had answered it.
	Local *LocalResponse
}

// MaxPartsInFlight bounds how many parts of one request (Upstream.Parts) are at the backend at
// once.
const MaxPartsInFlight = 4

// LocalResponse is an answer a translator makes without the backend.
type LocalResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// Translator carries one attempt's request to a backend and its response back to the client.
// Its methods follow Envoy's ext_proc phases and are called in that order, from one goroutine.
type Translator interface {
	// RequestBody builds the upstream request from the client's.
	RequestBody(req *Request) (*Upstream, error)
	// ResponseHeaders sees a successful upstream response's status and headers, and may edit them.
	ResponseHeaders(status int, h http.Header) error
	// ResponseBody translates one chunk of a successful response body; eos marks the last call.
	// It returns the bytes to send to the client, which may be empty while an event is incomplete.
	ResponseBody(chunk []byte, eos bool) ([]byte, error)
	// ResponseError translates a whole non-2xx upstream body into the client's error shape.
	ResponseError(status int, h http.Header, body []byte) []byte
	// Usage is the token usage seen so far.
	Usage() Usage
	// ResponseModel is the model the backend said it used, or "".
	ResponseModel() string
}

// Usage is the token counts of one answer (package usage, a leaf that observers import too).
type Usage = usage.Usage

// vendorHeaders are each client API's own request headers; a translator to another API removes
// them so, say, an Anthropic beta flag never reaches OpenAI.
var vendorHeaders = map[API][]string{
	APIOpenAI:    {"OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta"},
	APIAnthropic: {"Anthropic-Version", "Anthropic-Beta", "Anthropic-Dangerous-Direct-Browser-Access"},
}
