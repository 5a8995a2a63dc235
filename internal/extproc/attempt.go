package extproc

import (
	"errors"
	"math"
	"net/http"

	"github.com/aigw/aigw/internal/backendauth"
	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/observe"
	"github.com/aigw/aigw/internal/translate"
)

// hopHeaders are not forwarded upstream: they describe one connection, or are recomputed
// (Content-Length) or negotiated by the data plane itself (Accept-Encoding). Expect goes too:
// the body is already read, and forwarding "100-continue" would make the upstream request wait
// for an interim answer.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Accept-Encoding", "Host", "Expect",
}

// Attempt is one try of a request at one backend.
type Attempt struct {
	s  *Stream
	tr translate.Translator
	// Ref is the backend reference tried.
	Ref *config.BackendRef
	// Upstream is the request to send, headers complete (client's, translated, authenticated).
	Upstream *translate.Upstream
	sawBody  bool
}

// Attempt is the upstream request phase for one backend: it translates the client's request to
// the backend's schema and authenticates it. Each attempt starts from the original request.
func (s *Stream) Attempt(ref *config.BackendRef) (*Attempt, error) {
	model := s.req.Model
	if ref.ModelNameOverride != "" {
		model = ref.ModelNameOverride
	}
	tr, err := translate.New(s.endpoint, translate.Target{Backend: ref.Backend, Model: model})
	if err != nil {
		return nil, err
	}
	up, err := tr.RequestBody(&s.req)
	if err != nil {
		return nil, err
	}
	b := ref.Backend
	if up.Body, err = mutateBody(up.Body, b.BodyMutation, ref.BodyMutation); err != nil {
		return nil, err
	}
	h := forwardHeaders(s.req.Header, b)
	for _, name := range hopHeaders {
		h.Del(name)
	}
	for _, name := range up.Remove {
		h.Del(name)
	}
	for k, v := range up.Header {
		h[k] = v
	}
	for _, hd := range b.Headers {
		h.Set(hd.Name, hd.Value)
	}
	mutateHeaders(h, b.HeaderMutation, ref.HeaderMutation)
	if err := backendauth.Apply(b.Auth, h); err != nil {
		if errors.Is(err, backendauth.ErrMissingCredential) {
			return nil, translate.Errorf(http.StatusUnauthorized, "missing_credential", "%v", err)
		}
		return nil, translate.Errorf(http.StatusInternalServerError, "backend_auth", "backend %s: %v", b.Name, err)
	}
	up.Header = h
	a := &Attempt{s: s, tr: tr, Ref: ref, Upstream: up}
	s.last = a
	s.ev.Attempts++
	s.ev.Backend = ref.Backend.Name
	s.ev.Provider = ref.Backend.Schema.Name.ProviderName()
	s.ev.BackendModel = model
	s.started()
	s.obs.span.Attempt(s.ev.Attempts, s.ev.Backend, s.ev.Provider, model, endpointHost(b), up.Header)
	s.publish(&observe.Event{Kind: observe.KindAttempt, Attempt: &observe.AttemptInfo{
		Try: s.ev.Attempts, Backend: s.ev.Backend, Provider: s.ev.Provider, BackendModel: model,
	}})
	return a, nil
}

// ResponseHeaders is the response-headers phase of a successful (2xx) answer.
func (a *Attempt) ResponseHeaders(status int, h http.Header) error {
	a.s.obs.span.AttemptStatus(status)
	return a.tr.ResponseHeaders(status, h)
}

// ResponseBody is the response-body phase: one chunk in, the client's bytes out.
func (a *Attempt) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	out, err := a.tr.ResponseBody(chunk, eos)
	a.s.obs.span.Response(out)
	if len(out) > 0 && !a.sawBody && a.s.req.Stream {
		a.sawBody = true
		a.s.obs.span.FirstToken()
		a.s.ev.TimeToFirstToken = a.s.p.now().Sub(a.s.ev.Start)
		a.s.publish(&observe.Event{Kind: observe.KindFirstToken, FirstToken: &observe.FirstTokenInfo{
			TimeToFirstToken: a.s.ev.TimeToFirstToken, Backend: a.Ref.Backend.Name,
		}})
	}
	return out, err
}

// ResponseError translates a non-2xx upstream body into the client's error shape.
func (a *Attempt) ResponseError(status int, h http.Header, body []byte) []byte {
	a.s.obs.span.AttemptStatus(status)
	return a.tr.ResponseError(status, h, body)
}

// weightedKey is u^(1/w), the sort key of weighted random sampling without replacement.
func weightedKey(u float64, w int) float64 { return math.Pow(u, 1/float64(w)) }

// Stream is the request this attempt belongs to.
func (a *Attempt) Stream() *Stream { return a.s }

// endpointHost is the backend's host, for the attempt span.
func endpointHost(b *config.Backend) string {
	if b.Endpoint == nil {
		return ""
	}
	return b.Endpoint.Host
}
