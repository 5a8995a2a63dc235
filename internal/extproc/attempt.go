package extproc

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

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
	obs      attemptObs

	// Parts are the requests to send instead of Upstream when the translator split it
	// (translate.Upstream.Parts), each complete and authenticated.
	Parts []*translate.Upstream
}

// Attempt is the upstream request phase for one backend: it translates the client's request to
// the backend's schema and authenticates it. Each attempt starts from the original request.
func (s *Stream) Attempt(ctx context.Context, ref *config.BackendRef) (*Attempt, error) {
	s.superseded()
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
	parts, err := s.parts(ctx, ref, up, h)
	if err != nil {
		return nil, err
	}
	up.Header = h
	if err := s.authenticate(ctx, b, up); err != nil {
		return nil, err
	}
	a := &Attempt{s: s, tr: tr, Ref: ref, Upstream: up, Parts: parts}
	a.obs.try, a.obs.start = s.ev.Attempts+1, s.p.now()
	s.last = a
	s.ev.Attempts++
	s.ev.Backend = ref.Backend.Name
	s.ev.Provider = ref.Backend.Schema.Name.ProviderName()
	s.ev.BackendModel = model
	s.started()
	s.obs.span.Attempt(s.ev.Attempts, s.ev.Backend, s.ev.Provider, model, endpointHost(b), up.Header)
	s.obs.content.Attempt()
	s.publish(&observe.Event{Kind: observe.KindAttempt, Attempt: &observe.AttemptInfo{
		Try: s.ev.Attempts, Backend: s.ev.Backend, Provider: s.ev.Provider, BackendModel: model,
	}})
	return a, nil
}

// parts makes the requests of a split upstream request (translate.Upstream.Parts): each with
// up's method and path, a copy of its headers h (before authentication) and its own body, mutated
// and authenticated as up is.
func (s *Stream) parts(ctx context.Context, ref *config.BackendRef, up *translate.Upstream, h http.Header) ([]*translate.Upstream, error) {
	var out []*translate.Upstream
	for _, body := range up.Parts {
		body, err := mutateBody(body, ref.Backend.BodyMutation, ref.BodyMutation)
		if err != nil {
			return nil, err
		}
		p := &translate.Upstream{Method: up.Method, Path: up.Path, Header: h.Clone(), Body: body}
		if err := s.authenticate(ctx, ref.Backend, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// authenticate runs the backend's credential handler over the final upstream request.
func (s *Stream) authenticate(ctx context.Context, b *config.Backend, up *translate.Upstream) error {
	h, err := s.p.auth.For(b)
	if err == nil {
		err = h.Do(ctx, up)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, backendauth.ErrMissingCredential) {
		return translate.Errorf(http.StatusUnauthorized, "missing_credential", "%v", err)
	}
	var te *translate.Error
	if errors.As(err, &te) {
		return te
	}
	return translate.Errorf(http.StatusInternalServerError, "backend_auth", "backend %s: %v", b.Name, err)
}

// ResponseHeaders is the response-headers phase of a successful (2xx) answer.
func (a *Attempt) ResponseHeaders(status int, h http.Header) error {
	a.obs.status = status
	a.s.obs.span.AttemptStatus(status)
	return a.tr.ResponseHeaders(status, h)
}

// ResponseBody is the response-body phase: one chunk in, the client's bytes out.
func (a *Attempt) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	out, err := a.tr.ResponseBody(chunk, eos)
	a.s.obs.span.Response(out)
	a.s.obs.content.Response(out)
	if len(out) > 0 && !a.sawBody && a.s.req.Stream {
		a.sawBody = true
		a.s.obs.span.FirstToken()
		a.s.ev.TimeToFirstToken = a.s.p.now().Sub(a.s.ev.Start)
		a.s.publish(&observe.Event{Kind: observe.KindFirstToken, FirstToken: &observe.FirstTokenInfo{
			TimeToFirstToken: a.s.ev.TimeToFirstToken, Backend: a.Ref.Backend.Name,
		}})
		a.obs.progressAt = a.s.ev.Start.Add(a.s.ev.TimeToFirstToken)
	}
	if len(out) > 0 && a.sawBody && a.s.p.hub != nil {
		a.progress(out)
	}
	return out, err
}

// ResponseError translates a non-2xx upstream body into the client's error shape.
func (a *Attempt) ResponseError(status int, h http.Header, body []byte) []byte {
	a.obs.status = status
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

// attemptObs is what an Attempt keeps for the event stream: its outcome and its progress.
type attemptObs struct {
	try    int
	start  time.Time
	status int // the backend's status, once seen
	ended  bool
	// sent counts the bytes sent to the client; sampled and events count the bytes and data
	// events of the chunks looked at when a progress event was due, for the estimate.
	sent, sampled, events int64
	progressAt            time.Time
	tokens                int64
}

// progress counts a chunk sent to the client and, at most once per observe.ProgressInterval,
// publishes how many output tokens the stream has produced. Between events it costs an addition
// and a monotonic clock reading; the chunk is only looked at when an event is due.
func (a *Attempt) progress(out []byte) {
	a.obs.sent += int64(len(out))
	if a.s.p.since(a.obs.progressAt) < observe.ProgressInterval {
		return
	}
	now := a.s.p.now()
	a.obs.progressAt = now
	a.obs.sampled += int64(len(out))
	a.obs.events += int64(bytes.Count(out, dataField))
	var estimate int64
	if a.obs.sampled > 0 {
		estimate = a.obs.sent * a.obs.events / a.obs.sampled
	}
	tokens, estimated := a.tr.Usage().OutputTokens, false
	if estimate > tokens {
		tokens, estimated = estimate, true
	}
	if tokens <= a.obs.tokens {
		return
	}
	a.obs.tokens = tokens
	a.s.publish(&observe.Event{Kind: observe.KindProgress, Time: now, Progress: &observe.ProgressInfo{
		OutputTokens: tokens, Estimated: estimated,
	}})
}

// dataField starts the data line of a server-sent event; each event the client gets has one.
var dataField = []byte("data:")

// Done reports the outcome of an attempt whose answer does not reach the client: status is the
// backend's HTTP status (0 when it did not answer) and err why the attempt failed. It publishes
// the attempt_end event; only the first report of an attempt counts.
func (a *Attempt) Done(status int, err error) {
	if a.obs.ended {
		return
	}
	a.obs.ended = true
	if status > 0 && status != a.obs.status {
		a.obs.status = status
		a.s.obs.span.AttemptStatus(status)
	}
	if a.s.p.hub == nil {
		return
	}
	info := &observe.AttemptEndInfo{Try: a.obs.try, Backend: a.Ref.Backend.Name, Status: status,
		Duration: a.s.p.now().Sub(a.obs.start)}
	if err != nil {
		info.Error = shortError(err.Error())
	}
	a.s.publish(&observe.Event{Kind: observe.KindAttemptEnd, AttemptEnd: info})
}

// superseded ends the previous attempt, when another begins and the data plane did not report
// its outcome, with the status it saw, if any.
func (s *Stream) superseded() {
	if a := s.last; a != nil && !a.obs.ended {
		a.Done(a.obs.status, nil)
	}
}

// maxEventError bounds an attempt's error in the event stream.
const maxEventError = 240

// shortError makes an error fit for the event stream: URLs lose their query (which can carry
// a key) and the text is cut to maxEventError bytes, at a rune boundary.
func shortError(msg string) string {
	var b strings.Builder
	for rest := msg; ; {
		i := strings.Index(rest, "://")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		end := i + strings.IndexFunc(rest[i:], func(r rune) bool { return r == '"' || r == ' ' || r == '\'' })
		if end < i {
			end = len(rest)
		}
		url := rest[:end]
		if q := strings.IndexAny(url[i:], "?#"); q >= 0 {
			url = url[:i+q]
		}
		b.WriteString(url)
		rest = rest[end:]
	}
	msg = b.String()
	if len(msg) <= maxEventError {
		return msg
	}
	cut := maxEventError
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
