package extproc

import (
	"net/http"
	"slices"
	"strings"

	"github.com/aigw/aigw/internal/config"
)

// Client headers reach a backend only through an allow-list of what its API defines. The rest
// of what a client sends (cookies, X-Forwarded-*, x-envoy-*, the gateway's own x-ai-eg-*
// routing headers, another provider's credentials such as X-Goog-Api-Key, hop-by-hop headers)
// stays at the gateway. Translators add the headers of the backend's API they need, backend
// `headers` and `headerMutation` in the configuration add any others explicitly, and the
// backend's credential is applied last.
var (
	// forwardAlways are forwarded to every backend: content negotiation, the OpenAI and
	// Anthropic SDKs' retry-safety and platform headers (x-stainless-*), trace context and the
	// gateway's request id, so a provider's logs can be matched with aigw's.
	forwardAlways = []string{
		"Content-Type", "Accept", "User-Agent", "Idempotency-Key",
		"Traceparent", "Tracestate", "X-Request-Id",
	}
	forwardPrefixes = []string{"X-Stainless-"}

	// forwardByAPI are the API's own request headers.
	forwardByAPI = map[config.SchemaName][]string{
		config.SchemaOpenAI:      {"OpenAI-Beta"},
		config.SchemaAzureOpenAI: {"OpenAI-Beta"},
		config.SchemaAnthropic:   {"Anthropic-Version", "Anthropic-Beta"},
	}

	// forwardWithoutCredential pass only to a backend for which aigw holds no credential (a local
	// server, or one where each client brings its own key): the client's credential and, for
	// OpenAI, the organization and project it selects. Where aigw supplies the key, a client must
	// not pick which organization or project that key is used for.
	forwardWithoutCredential = map[config.SchemaName][]string{
		config.SchemaOpenAI:      {"Authorization", "OpenAI-Organization", "OpenAI-Project"},
		config.SchemaAzureOpenAI: {"Api-Key", "Authorization"},
		config.SchemaAnthropic:   {"X-Api-Key", "Authorization"},
	}
)

// forwardHeaders returns a copy of the client headers that may go to backend b.
func forwardHeaders(client http.Header, b *config.Backend) http.Header {
	h := make(http.Header, len(client))
	keep := func(name string) {
		if v, ok := client[name]; ok {
			h[name] = slices.Clone(v)
		}
	}
	for _, name := range forwardAlways {
		keep(name)
	}
	for _, name := range forwardByAPI[b.Schema.Name] {
		keep(http.CanonicalHeaderKey(name))
	}
	if b.Auth == nil {
		names, ok := forwardWithoutCredential[b.Schema.Name]
		if !ok {
			names = []string{"Authorization"}
		}
		for _, name := range names {
			keep(http.CanonicalHeaderKey(name))
		}
	} else if o := b.Auth.Override; o != nil {
		// The per-request credential header, which backendauth reads and removes.
		keep(http.CanonicalHeaderKey(o.Header))
	}
	for name, v := range client {
		for _, p := range forwardPrefixes {
			if strings.HasPrefix(name, p) {
				h[name] = slices.Clone(v)
			}
		}
	}
	return h
}
