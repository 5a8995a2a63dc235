package demo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// completionRequest is the body of the legacy POST /v1/completions.
type completionRequest struct {
	Model         *string        `json:"model"`
	Prompt        promptInput    `json:"prompt"`
	MaxTokens     *int           `json:"max_tokens"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
}

// promptInput is a prompt or embedding input: a string, an array of strings, an array of token
// ids or an array of token id arrays.
type promptInput struct {
	texts  []string
	tokens [][]int
	set    bool
}

func (p *promptInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	p.set = true
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p.texts = []string{s}
		return nil
	}
	// Decode into locals: encoding/json keeps filling a slice after a type error, so a failed
	// attempt must not leave anything behind.
	var texts []string
	if json.Unmarshal(b, &texts) == nil {
		p.texts = texts
		return nil
	}
	var one []int
	if json.Unmarshal(b, &one) == nil {
		p.tokens = [][]int{one}
		return nil
	}
	var many [][]int
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	p.tokens = many
	return nil
}

// count is the number of inputs.
func (p *promptInput) count() int { return len(p.texts) + len(p.tokens) }

// tokenCount is the input size: token arrays count exactly, text approximately.
func (p *promptInput) tokenCount() int {
	n, bytes := 0, 0
	for _, t := range p.tokens {
		n += len(t)
	}
	for _, s := range p.texts {
		bytes += len(s)
	}
	return max(1, n+tokensFor(bytes))
}

// hash is the FNV-1a hash of all inputs, which selects the answer.
func (p *promptInput) hash() uint64 {
	h := fnvOffset
	for _, s := range p.texts {
		h = fnv64(h, s)
	}
	for _, t := range p.tokens {
		for _, id := range t {
			h = splitmix64(h ^ uint64(id))
		}
	}
	return h
}

// textCompletion is a legacy completion; the field order is the one OpenAI streams.
type textCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Choices []textChoice `json:"choices"`
	Model   string       `json:"model"`
	Usage   *legacyUsage `json:"usage,omitempty"`
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

// legacyUsage is the legacy endpoint's usage: no detail objects, as OpenAI sends it there.
type legacyUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// completions serves POST /v1/completions.
func (s *Server) completions(w http.ResponseWriter, r *http.Request, start time.Time) {
	var req completionRequest
	if e := s.readJSON(w, r, &req); e != nil {
		s.openAIRequestError(w, e)
		return
	}
	switch {
	case req.Model == nil || *req.Model == "":
		s.openAIRequestError(w, badRequest("you must provide a model parameter", "", ""))
		return
	case !req.Prompt.set:
		s.openAIRequestError(w, badRequest("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"))
		return
	case req.MaxTokens != nil && *req.MaxTokens < 0:
		s.openAIRequestError(w, badRequest("Invalid 'max_tokens': integer below minimum value. Expected a value >= 0, "+
			"but got "+strconv.Itoa(*req.MaxTokens)+" instead.", "max_tokens", "integer_below_min_value"))
		return
	}
	model := *req.Model
	if modelUnknown(model) {
		s.openAIModelNotFound(w, model)
		return
	}
	limit := 0
	if req.MaxTokens != nil {
		limit = *req.MaxTokens
	}
	p := s.planFor(req.Prompt.hash(), limit, false, toolRequest{})
	if limit == 0 && req.MaxTokens != nil {
		p.text.n, p.truncated = 0, true // max_tokens 0 echoes nothing, as OpenAI does
	}
	usage := legacyUsage{PromptTokens: req.Prompt.tokenCount(), CompletionTokens: p.text.n}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens

	if sleep(r.Context(), s.opts.TimeToFirstToken) != nil {
		return
	}
	c := textCompletion{ID: s.completionID(), Object: "text_completion", Created: time.Now().Unix(), Model: model}
	finish := "stop"
	if p.truncated {
		finish = "length"
	}
	s.openAIHeaders(w, start, usage.PromptTokens)
	if !req.Stream {
		c.Choices = []textChoice{{Text: p.text.text(), FinishReason: finish}}
		c.Usage = &usage
		s.writeJSON(w, http.StatusOK, c)
		return
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage

	buf := s.getBuf()
	e := s.newSSE(r.Context(), w, *buf)
	defer func() { *buf = e.end(); s.putBuf(buf) }()
	head := append([]byte(`data: {"id":"`), c.ID...)
	head = append(head, `","object":"text_completion","created":`...)
	head = strconv.AppendInt(head, c.Created, 10)
	head = append(head, `,"choices":[`...)
	tail := append([]byte(`],"model":`), appendString(nil, model)...)
	if includeUsage {
		tail = append(tail, `,"usage":null`...)
	}
	tail = append(tail, "}\n\n"...)

	e.begin("text/event-stream")
	// OpenAI puts the finish reason on the last text chunk rather than on an empty one.
	for i := 0; i < p.text.n || i == 0; i++ {
		if e.pace() != nil {
			return
		}
		e.buf = append(e.buf, head...)
		e.buf = append(e.buf, `{"text":"`...)
		if i < p.text.n {
			e.buf = append(e.buf, p.text.at(i).escaped...)
		}
		e.buf = append(e.buf, `","index":0,"logprobs":null,"finish_reason":`...)
		if i >= p.text.n-1 {
			e.buf = appendString(e.buf, finish)
		} else {
			e.buf = append(e.buf, "null"...)
		}
		e.buf = append(e.buf, '}')
		e.buf = append(e.buf, tail...)
		if e.flush() != nil {
			return
		}
	}
	if includeUsage {
		u, err := json.Marshal(usage)
		if err != nil {
			return
		}
		e.buf = append(e.buf, head...)
		e.buf = append(e.buf, `],"model":`...)
		e.buf = appendString(e.buf, model)
		e.buf = append(e.buf, `,"usage":`...)
		e.buf = append(e.buf, u...)
		e.buf = append(e.buf, "}\n\n"...)
		if e.flush() != nil {
			return
		}
	}
	e.buf = append(e.buf, "data: [DONE]\n\n"...)
	_ = e.flush()
}
