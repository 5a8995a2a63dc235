package config

// GeminiAPI reports whether b is Google's Gemini API (generativelanguage.googleapis.com) rather
// than Vertex AI: a GCPVertexAI backend authenticated with an APIKey policy, the Gemini API's key.
// Both speak generateContent with the same types; the credential decides where requests go (the
// Gemini API's /v1beta/models/<model> instead of a project and region) and how they are
// authenticated (x-goog-api-key). Embeddings differ: batchEmbedContents instead of predict.
func (b *Backend) GeminiAPI() bool {
	return b.Schema.Name == SchemaGCPVertexAI && b.Auth != nil && b.Auth.Type == AuthAPIKey
}

// geminiAPIHint completes the error of a GCPVertexAI backend without GCPCredentials: an APIKey
// policy makes it the Gemini API.
func geminiAPIHint(s SchemaName) string {
	if s != SchemaGCPVertexAI {
		return ""
	}
	return ", or of type APIKey for the Gemini API (generativelanguage.googleapis.com)"
}
