package translate

// newAnthropicToGemini serves Anthropic Messages from Gemini on Vertex AI, so Claude clients
// (Claude Code, the Anthropic SDKs) reach Gemini models: Messages → Chat Completions through the
// Anthropic↔OpenAI bridge (anthropic_openai*.go), then Chat Completions → generateContent
// (gemini_openai*.go), and the answers back the same way, event by event.
func newAnthropicToGemini(t Target) Translator {
	return &chained{outer: newAnthropicToOpenAI(t), inner: newOpenAIToGemini(t), via: EndpointChatCompletions}
}

// newResponsesToGemini serves the Responses API from Gemini through its chat translation.
func newResponsesToGemini(t Target) Translator {
	return &responsesToChat{target: t, inner: newOpenAIToGemini(t)}
}
