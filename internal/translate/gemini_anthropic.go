package translate

import "strings"

// newAnthropicToGemini serves Anthropic Messages from Gemini on Vertex AI, so Claude clients
// (Claude Code, the Anthropic SDKs) reach Gemini models: Messages → Chat Completions through the
// Anthropic↔OpenAI bridge (anthropic_openai*.go), then Chat Completions → generateContent
// (gemini_openai*.go), and the answers back the same way, event by event.
//
// The bridge carries Gemini's thought signatures, which Gemini 3 requires back on the next turn,
// as the chat translation carries them in thinking_blocks (gemini_openai.go): a signed thought
// summary is a thinking block with its signature, an unsigned one a thinking block with an empty
// signature, a text part's signature a thinking block of its own with no thinking and the
// signature gmTextSignaturePrefix marks (after the text, whole and streamed), and a function
// call's signature rides in the tool_use id. The blocks a client sends back unchanged go back to
// Gemini as the parts they came from.
func newAnthropicToGemini(t Target) Translator {
	outer := newAnthropicToOpenAI(t).(*anthropicToOpenAI)
	outer.carryAnthropic = true
	outer.carryRequest = carryGeminiRequest
	return &chained{outer: outer, inner: newOpenAIToGemini(t), via: EndpointChatCompletions}
}

// carryGeminiRequest keeps what the Gemini chat translation reads of Anthropic's fields: the
// signed thinking blocks (already in thinking_blocks), and a thinking budget as the client sent
// it, which Gemini 2.5 takes as its thinkingBudget (reasoning_effort would round it to a level;
// Gemini 3, which takes levels, still gets the level of the budget). cache_control is dropped:
// Gemini caches prompts by itself, or through cached_content, and has no per-block marks.
func carryGeminiRequest(_ Target, in *anRequest, out *oaChatRequest) {
	dropCacheControl(out)
	if th := in.Thinking; th != nil && th.Type == "enabled" && th.BudgetTokens != nil {
		out.Thinking = &anThinking{Type: th.Type, BudgetTokens: th.BudgetTokens}
		out.ReasoningEffort = ""
	}
}

// isGeminiTextSignature reports whether a thinking block's signature is a Gemini text part's
// (gmTextSignaturePrefix): its block stands apart from any thought's.
func isGeminiTextSignature(sig string) bool {
	return strings.HasPrefix(sig, gmTextSignaturePrefix)
}

// newResponsesToGemini serves the Responses API from Gemini through its chat translation.
func newResponsesToGemini(t Target) Translator {
	return &responsesToChat{target: t, inner: newOpenAIToGemini(t)}
}
