package observe

import (
	"encoding/json"
	"strconv"
	"time"
)

// SchemaVersion is the version of the Event JSON schema (README.md, "Event stream"). Adding a
// field keeps it; renaming, removing or changing the meaning of one bumps it.
const SchemaVersion = 1

// Kind names a step of a request's life.
type Kind string

// The steps of a request's life, in order. Every request has one start and one end; attempts and
// the first token come in between when they happen.
const (
	KindStart      Kind = "start"
	KindAttempt    Kind = "attempt"
	KindFirstToken Kind = "first_token"
	KindEnd        Kind = "end"
)

// Steps added within schema version 1. KindProgress follows the first token of a stream, at most
// once per ProgressInterval; KindAttemptEnd follows an attempt whose answer did not reach the
// client (the backend was unreachable or timed out, or its status was retried elsewhere). The
// last attempt's outcome is the end event's.
const (
	KindProgress   Kind = "progress"
	KindAttemptEnd Kind = "attempt_end"
	// KindMCP is one MCP request through the MCP gateway, published when it is answered; it
	// belongs to no LLM request (ID is empty).
	KindMCP Kind = "mcp"
)

// ProgressInterval is the least time between two progress events of one request.
const ProgressInterval = 250 * time.Millisecond

// Event is one step of one request's life, as the event stream carries it. Exactly one of Start,
// Attempt, FirstToken, Progress, AttemptEnd, End and MCP is set, the one Kind names.
type Event struct {
	// V is SchemaVersion.
	V int `json:"v"`
	// Seq numbers events from 1 in publication order, per gateway process.
	Seq  uint64    `json:"seq"`
	Kind Kind      `json:"kind"`
	Time time.Time `json:"time"`
	// ID is the request id (X-Request-Id), shared by all the events of one request.
	ID string `json:"id"`

	Start      *StartInfo      `json:"start,omitempty"`
	Attempt    *AttemptInfo    `json:"attempt,omitempty"`
	FirstToken *FirstTokenInfo `json:"first_token,omitempty"`
	End        *RequestEvent   `json:"end,omitempty"`
	Progress   *ProgressInfo   `json:"progress,omitempty"`
	AttemptEnd *AttemptEndInfo `json:"attempt_end,omitempty"`
	// Content is the request's messages and its answer's, on end events when content capture
	// is on (added within schema version 1).
	Content *Content `json:"content,omitempty"`
	// MCP is set on KindMCP events (added within schema version 1).
	MCP *MCPEvent `json:"mcp,omitempty"`
}

// StartInfo is what is known when a request's body has been read.
type StartInfo struct {
	Operation    string `json:"operation"`
	Endpoint     string `json:"endpoint"`
	RequestModel string `json:"request_model,omitempty"`
	Route        string `json:"route,omitempty"`
	Stream       bool   `json:"stream"`
	TraceID      string `json:"trace_id,omitempty"`
}

// AttemptInfo is one try at one backend; Try counts from 1 across fallbacks and retries.
type AttemptInfo struct {
	Try          int    `json:"try"`
	Backend      string `json:"backend"`
	Provider     string `json:"provider,omitempty"`
	BackendModel string `json:"backend_model,omitempty"`
}

// FirstTokenInfo marks the first response bytes of a streamed answer.
type FirstTokenInfo struct {
	TimeToFirstToken time.Duration `json:"ttft_ns"`
	Backend          string        `json:"backend,omitempty"`
}

// ProgressInfo is how far a streamed answer has come. OutputTokens is the larger of the output
// tokens the provider has reported so far (some send running usage) and an estimate: the data
// events sent to the client, about one token each, counted on the chunks sampled at each progress
// event and extrapolated over the bytes sent. Estimated says the estimate was the larger. The end
// event's usage is the real count.
type ProgressInfo struct {
	OutputTokens int64 `json:"output_tokens"`
	Estimated    bool  `json:"estimated,omitempty"`
}

// AttemptEndInfo is the outcome of an attempt whose answer did not reach the client. Status is
// the backend's HTTP status, 0 when there was no response; Error is short and carries no secrets
// (URLs lose their query). Duration runs from the attempt's start to its failure.
type AttemptEndInfo struct {
	Try      int           `json:"try"`
	Backend  string        `json:"backend"`
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// USD is an amount in US dollars, or the statement that the price is unknown. In JSON it is a
// number, or the string "unknown": an unknown price is never reported as zero.
type USD struct {
	Amount  float64
	Unknown bool
}

// MarshalJSON writes the amount, or "unknown".
func (u USD) MarshalJSON() ([]byte, error) {
	if u.Unknown {
		return []byte(`"unknown"`), nil
	}
	return strconv.AppendFloat(nil, u.Amount, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (u *USD) UnmarshalJSON(b []byte) error {
	if string(b) == `"unknown"` {
		*u = USD{Unknown: true}
		return nil
	}
	*u = USD{}
	return json.Unmarshal(b, &u.Amount)
}

// String is the amount with six decimals, or "unknown".
func (u USD) String() string {
	if u.Unknown {
		return "unknown"
	}
	return strconv.FormatFloat(u.Amount, 'f', 6, 64)
}
