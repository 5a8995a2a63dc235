package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Headers are the rate limit response headers clients read, for the limits of a request: for
// each kind (requests, tokens) the one with the least budget left. OpenAI clients read
// x-ratelimit-{limit,remaining,reset}-{requests,tokens} (reset as a duration, "1m30s");
// Anthropic clients read anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset} (reset as
// an RFC 3339 time). A denial adds retry-after (seconds) and retry-after-ms, which both SDKs
// honour when they retry.
func Headers(h http.Header, now time.Time, states []State, d *Denial, anthropic bool) {
	var req, tok *State
	for i := range states {
		s := &states[i]
		p := &req
		if s.Tokens {
			p = &tok
		}
		if *p == nil || s.Remaining() < (*p).Remaining() {
			*p = s
		}
	}
	set := func(kind string, s *State) {
		if s == nil {
			return
		}
		limit := strconv.FormatUint(s.Limit, 10)
		remaining := strconv.FormatUint(s.Remaining(), 10)
		if anthropic {
			h.Set("anthropic-ratelimit-"+kind+"-limit", limit)
			h.Set("anthropic-ratelimit-"+kind+"-remaining", remaining)
			h.Set("anthropic-ratelimit-"+kind+"-reset", s.Reset.UTC().Format(time.RFC3339))
			return
		}
		h.Set("x-ratelimit-limit-"+kind, limit)
		h.Set("x-ratelimit-remaining-"+kind, remaining)
		h.Set("x-ratelimit-reset-"+kind, resetDuration(s.Reset.Sub(now)))
	}
	set("requests", req)
	set("tokens", tok)
	if d != nil {
		h.Set("retry-after", strconv.Itoa(d.RetryAfter()))
		h.Set("retry-after-ms", strconv.FormatInt(max(d.Reset.Sub(d.Now).Milliseconds(), 1), 10))
	}
}

// resetDuration is a reset delay as OpenAI writes it: Go duration syntax, whole milliseconds.
func resetDuration(d time.Duration) string {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return d.Round(time.Millisecond).String()
}
