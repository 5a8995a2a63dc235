package translate

import "strings"

// The Gemini API (config.Backend.GeminiAPI) speaks Vertex AI's generateContent; the chat
// translator serves both, and refuses up front the few things only Vertex AI takes.

// gmGeminiAPIOnly refuses what only Vertex AI serves, before the Gemini API would: Enterprise web
// search and Cloud Storage file URIs (the Gemini API reads files from its Files API or from the web).
func gmGeminiAPIOnly(r *gmRequest) error {
	for _, t := range r.Tools {
		if t.EnterpriseWebSearch != nil {
			return untranslatable("tools", "enterprise_search is a Vertex AI tool; the Gemini API has google_search")
		}
	}
	for _, c := range r.Contents {
		for _, p := range c.Parts {
			if p.FileData != nil && strings.HasPrefix(p.FileData.FileURI, "gs://") {
				return untranslatable("messages", "the Gemini API cannot read gs:// files; Vertex AI can")
			}
		}
	}
	return nil
}
