package config

import (
	"slices"
	"strconv"
	"strings"
)

// Backend settings that neither the reference's CRDs nor Envoy Gateway's have a field for are
// annotations on the AIServiceBackend, so a file stays valid for the reference (which ignores
// them) and renders unchanged to a cluster.
const (
	// maxOutputTokensAnnotation sets Backend.MaxOutputTokens: the max_tokens sent to an Anthropic
	// backend when an OpenAI client sets none.
	maxOutputTokensAnnotation = "aigw.run/max-output-tokens"
	// chatCompletionsOnlyAnnotation sets Backend.ChatCompletionsOnly: "true" for an
	// OpenAI-compatible server without the Responses API.
	chatCompletionsOnlyAnnotation = "aigw.run/chat-completions-only"
)

// chatCompletionsOnlyEnv is the environment's way to set ChatCompletionsOnly on the
// OPENAI_BASE_URL backend (a local server without the Responses API).
const chatCompletionsOnlyEnv = "AIGW_CHAT_COMPLETIONS_ONLY"

// backendAnnotations reads aigw's own annotations on an AIServiceBackend; a malformed value is
// an error, an unknown aigw.run/ annotation a warning (it is likely misspelled).
func (b *builder) backendAnnotations(ab *object[aiServiceBackendSpec], be *Backend) bool {
	ok := true
	line := b.d.line(&ab.Metadata.Annotations)
	for _, k := range slices.Sorted(mapKeys(ab.Metadata.Annotations)) {
		v := ab.Metadata.Annotations[k]
		switch {
		case k == maxOutputTokensAnnotation:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 1 {
				b.d.errorf(line, "annotation %s: %q is not a positive number of tokens", k, v)
				ok = false
				continue
			}
			be.MaxOutputTokens = n
		case k == chatCompletionsOnlyAnnotation:
			on, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				b.d.errorf(line, "annotation %s: %q is not true or false", k, v)
				ok = false
				continue
			}
			be.ChatCompletionsOnly = on
		case strings.HasPrefix(k, "aigw.run/"):
			b.d.warnf(line, "annotation %s: unknown (known: %s, %s)", k, maxOutputTokensAnnotation, chatCompletionsOnlyAnnotation)
		}
	}
	return ok
}
