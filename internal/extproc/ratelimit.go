package extproc

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/aigw/aigw/internal/config"
	"github.com/aigw/aigw/internal/ratelimit"
	"github.com/aigw/aigw/internal/translate"
)

// WithLimiter enforces the Model's rate limits and quotas with l (its store: memory or Redis).
// Without it, a Model with limits gets an in-memory limiter on its first limited request.
func WithLimiter(l *ratelimit.Limiter) Option {
	return func(p *Pipeline) { p.rl.l = l }
}

// limitState is the pipeline's limiter, made on first use when no option gave one.
type limitState struct {
	once sync.Once
	l    *ratelimit.Limiter
}

// Limiter is the pipeline's limiter (for its counters); nil until a limit was checked.
func (p *Pipeline) Limiter() *ratelimit.Limiter {
	p.rl.once.Do(func() {
		if p.rl.l == nil {
			p.rl.l = ratelimit.New(ratelimit.Options{})
		}
	})
	return p.rl.l
}

// streamLimits is what a Stream holds of its limits: the admission to settle at the end, the
// backends whose quota is exhausted, and the denial whose headers the client gets.
type streamLimits struct {
	adm       *ratelimit.Admission
	exhausted map[*config.BackendRef]bool
	denial    *ratelimit.Denial
	states    []ratelimit.State
}

// limitError is a refusal by a limit: the client's error, with its headers on the Stream.
type limitError struct{ te *translate.Error }

func (e *limitError) Error() string { return e.te.Error() }
func (e *limitError) Unwrap() error { return e.te }

// admit checks the request's rate limits, and the quotas of the rule's backends (their bucket
// rules by the request's headers), once the route is known. Nothing is done, at the cost of one nil check, when the Model has no limits.
func (s *Stream) admit() error {
	lim := s.model.Limits
	if lim == nil {
		return nil
	}
	l := s.p.Limiter()
	ctx := context.Background()
	adm, d := l.Admit(ctx, lim, s.route, s.req.Header.Get)
	if d != nil {
		return s.refuse(d)
	}
	s.rl.adm = adm
	if adm != nil {
		s.rl.states = adm.States
	}
	if len(lim.Quotas) == 0 {
		return nil
	}
	var last *ratelimit.Denial
	open := 0
	for _, ref := range s.rule.Backends {
		if ref.Weight <= 0 {
			continue
		}
		model := s.req.Model
		if ref.ModelNameOverride != "" {
			model = ref.ModelNameOverride
		}
		if d := l.ExhaustedFor(ctx, lim, ref.Backend, model, s.req.Header.Get); d != nil {
			if s.rl.exhausted == nil {
				s.rl.exhausted = map[*config.BackendRef]bool{}
			}
			s.rl.exhausted[ref] = true
			last = d
			continue
		}
		open++
	}
	if open == 0 && last != nil {
		adm.Settle(ctx, nil)
		s.rl.adm = nil
		if last.Status == http.StatusTooManyRequests {
			l.CountLimited()
		}
		return s.refuse(last)
	}
	return nil
}

// refuse renders a denial as the client's error and keeps it for the response headers.
func (s *Stream) refuse(d *ratelimit.Denial) error {
	s.rl.denial, s.rl.states = d, d.States
	code := d.Code
	te := translate.Errorf(d.Status, code, "%s", d.Error())
	if d.Status == http.StatusTooManyRequests {
		te.Type = "rate_limit_error"
		if code == "quota_exceeded" {
			te.Message = "every backend for this request has exhausted its quota (" + d.Name + "); try again in " + retryText(d)
		}
	}
	return &limitError{te: te}
}

func retryText(d *ratelimit.Denial) string {
	return (d.Reset.Sub(d.Now).Round(1e9)).String()
}

// LimitHeaders adds the rate limit headers of a refused request (retry-after, x-ratelimit-* or
// anthropic-ratelimit-*) to h. It adds nothing to a request no limit refused.
func (s *Stream) LimitHeaders(h http.Header) {
	d := s.rl.denial
	if d == nil {
		return
	}
	ratelimit.Headers(h, d.Now, d.States, d, s.endpoint.API() == translate.APIAnthropic)
}

// IsLimited reports whether err is a refusal by a rate limit or quota.
func IsLimited(err error) bool {
	var le *limitError
	return errors.As(err, &le)
}

// openRefs are the rule's backends whose quota is not exhausted.
func (s *Stream) openRefs() []*config.BackendRef {
	if s.rl.exhausted == nil {
		return s.rule.Backends
	}
	out := make([]*config.BackendRef, 0, len(s.rule.Backends))
	for _, r := range s.rule.Backends {
		if !s.rl.exhausted[r] {
			out = append(out, r)
		}
	}
	return out
}

// settleLimits charges a finished request: its costs replace the token reservations of its rate
// limits, and the backend that served it is charged on its quotas. A request that failed (a
// client gone mid-stream, an upstream error) is charged for the usage seen, often none; one
// that never reached a backend returns its reservations.
func (s *Stream) settleLimits(status int) {
	lim := s.model.Limits
	if lim == nil {
		return
	}
	ctx := context.Background()
	if s.last == nil || s.route == nil {
		s.rl.adm.Settle(ctx, nil)
		return
	}
	u := s.ev.Usage
	vars := config.CostVars{
		Model: s.ev.BackendModel, Backend: s.costBackend(), RouteName: s.route.Name,
		InputTokens: uint64(u.InputTokens), CachedInputTokens: uint64(u.CachedInputTokens),
		CacheCreationInputTokens: uint64(u.CacheCreationInputTokens), OutputTokens: uint64(u.OutputTokens),
		ReasoningTokens: uint64(u.ReasoningTokens), TotalTokens: uint64(u.TotalTokens),
	}
	c := s.ev.Costs
	if status >= 400 {
		c, _ = costs(s.model.GlobalCosts, s.route.Costs, vars)
	}
	s.rl.adm.Settle(ctx, c)
	if len(lim.Quotas) > 0 {
		s.p.Limiter().ChargeQuotasFor(ctx, lim, s.last.Ref.Backend, s.ev.BackendModel, vars, s.req.Header.Get)
	}
}
