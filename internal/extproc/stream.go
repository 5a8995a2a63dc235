package extproc

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/translate"
)

// Stream is one client request's passage through the pipeline.
type Stream struct {
	p        *Pipeline
	model    *config.Model
	endpoint translate.Endpoint
	host     string
	req      translate.Request
	route    *config.Route
	rule     *config.Rule
	last     *Attempt
	ev       observe.RequestEvent
	done     bool
	obs      streamObs
	rl       streamLimits // see ratelimit.go
}

// MaxRequestBodyBytes is the body limit of the configuration this request runs under.
func (s *Stream) MaxRequestBodyBytes() int64 { return s.model.MaxRequestBodyBytes }

// API is the client API family, which decides the shape of errors.
func (s *Stream) API() translate.API { return s.endpoint.API() }

// Endpoint is the client endpoint the request came to.
func (s *Stream) Endpoint() translate.Endpoint { return s.endpoint }

// RequestHeaders is the request-headers phase: it records who is asking and where.
func (s *Stream) RequestHeaders(requestID, host string, h http.Header) {
	s.ev.ID = requestID
	s.host = host
	s.req.Header = h
	s.observeHeaders(h)
}

// RequestBody is the request-body phase: it reads the model, sets the routing header from it,
// and picks the route. Errors are *translate.Error values for the client (400, 404).
func (s *Stream) RequestBody(contentType string, body []byte) error {
	model, stream, err := translate.ParseRequest(s.endpoint, contentType, body)
	if err != nil {
		return err
	}
	if err := checkRoutingValue("model", model); err != nil {
		return err
	}
	s.req.Endpoint, s.req.Body, s.req.Model, s.req.Stream = s.endpoint, body, model, stream
	s.ev.RequestModel, s.ev.Stream = model, stream
	s.req.Header.Set(config.ModelHeader, model)
	route, rule := s.model.Match(s.host, s.req.Header.Get)
	if rule == nil {
		e := translate.Errorf(http.StatusNotFound, "model_not_found", "the model `%s` does not exist or no route serves it", model)
		e.Param = "model"
		return e
	}
	s.route, s.rule = route, rule
	s.ev.Route = rule.Name
	return s.admit()
}

// Timeout bounds one attempt until the response headers arrive.
func (s *Stream) Timeout() time.Duration {
	if s.rule != nil && s.rule.Timeout > 0 {
		return s.rule.Timeout
	}
	return config.DefaultRequestTimeout
}

// Candidates lists the backends to try in order: by priority, and within one priority in a
// weighted random order. Zero-weight references are never tried.
func (s *Stream) Candidates() []*config.BackendRef {
	refs := s.openRefs()
	if len(refs) == 1 && refs[0].Weight > 0 {
		return refs
	}
	type keyed struct {
		ref *config.BackendRef
		key float64
	}
	ks := make([]keyed, 0, len(refs))
	for _, r := range refs {
		if r.Weight <= 0 {
			continue
		}
		// Efraimidis–Spirakis: sorting by u^(1/w) descending is a weighted random permutation.
		ks = append(ks, keyed{r, weightedKey(rand.Float64(), r.Weight)})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.ref.Priority != b.ref.Priority {
			return a.ref.Priority - b.ref.Priority
		}
		switch {
		case a.key > b.key:
			return -1
		case a.key < b.key:
			return 1
		}
		return 0
	})
	out := make([]*config.BackendRef, len(ks))
	for i, k := range ks {
		out[i] = k.ref
	}
	return out
}

// Finish publishes the request's event once; status is what the client was sent.
func (s *Stream) Finish(status int, err error) {
	if s.done {
		return
	}
	s.done = true
	s.ev.Status = status
	s.ev.Duration = s.p.now().Sub(s.ev.Start)
	if err != nil {
		s.ev.Error = err.Error()
	}
	if a := s.last; a != nil {
		s.ev.Usage, s.ev.InvalidUsage = a.tr.Usage().NonNegative()
		s.ev.ResponseModel = a.tr.ResponseModel()
	}
	if s.ev.ResponseModel == "" {
		s.ev.ResponseModel = s.ev.BackendModel
	}
	if s.route != nil && status < 400 {
		u := s.ev.Usage
		c, err := costs(s.model.GlobalCosts, s.route.Costs, config.CostVars{
			Model: s.ev.BackendModel, Backend: s.costBackend(), RouteName: s.route.Name,
			InputTokens: uint64(u.InputTokens), CachedInputTokens: uint64(u.CachedInputTokens),
			CacheCreationInputTokens: uint64(u.CacheCreationInputTokens), OutputTokens: uint64(u.OutputTokens),
			ReasoningTokens: uint64(u.ReasoningTokens), TotalTokens: uint64(u.TotalTokens),
		})
		s.ev.Costs = c
		if err != nil && s.ev.Error == "" {
			s.ev.Error = err.Error()
		}
	}
	s.settleLimits(status)
	s.observeEnd()
	if s.p.pub != nil {
		s.p.pub.Publish(&s.ev)
	}
}

// ErrorResponse renders err for the client: a *translate.Error keeps its status; anything else
// is an internal error.
func (s *Stream) ErrorResponse(err error) (int, []byte) {
	var te *translate.Error
	if !errors.As(err, &te) {
		te = &translate.Error{Status: http.StatusInternalServerError, Message: "internal gateway error"}
	}
	return te.Status, translate.ErrorBody(s.endpoint.API(), te)
}

// Retry is the rule's retry policy, or nil.
func (s *Stream) Retry() *config.RetryPolicy { return s.rule.Retry }

// StreamIdleTimeout is how long a response stream may be silent; 0 for no limit.
func (s *Stream) StreamIdleTimeout() time.Duration { return s.rule.StreamIdleTimeout }

// costBackend is the backend's name as cost expressions know it.
func (s *Stream) costBackend() string {
	if s.last == nil {
		return ""
	}
	if b := s.last.Ref.Backend; b.QualifiedName != "" {
		return b.QualifiedName
	}
	return s.ev.Backend
}

// checkRoutingValue refuses a routing input (the model becomes the x-ai-eg-model header and part
// of upstream requests) that holds control characters: CR, LF or NUL would make an invalid
// upstream header, which is the client's error (400), not a backend failure to retry elsewhere.
func checkRoutingValue(param, v string) error {
	if !utf8.ValidString(v) {
		e := translate.Errorf(http.StatusBadRequest, "invalid_"+param, "the %s must be valid UTF-8", param)
		e.Param = param
		return e
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			e := translate.Errorf(http.StatusBadRequest, "invalid_"+param, "the %s must not contain control characters (found byte 0x%02x at offset %d)", param, c, i)
			e.Param = param
			return e
		}
	}
	return nil
}
