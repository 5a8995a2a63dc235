package demo

import (
	"net/http"
	"strings"
	"time"
)

// modelInfo is one advertised model: what GET /v1/models lists.
type modelInfo struct {
	id      string
	ownedBy string
	created int64
}

// catalog lists the advertised models. It is a function rather than a package variable so no
// caller can mutate what another sees.
func catalog() []modelInfo {
	return []modelInfo{
		{"gpt-5.5", "system", 1779148800},
		{"gpt-5.4", "system", 1772668800},
		{"gpt-5.4-mini", "system", 1773705600},
		{"gpt-5.4-nano", "system", 1773705600},
		{"gpt-5.2", "system", 1765411200},
		{"gpt-5.1", "system", 1762992000},
		{"gpt-5.1-codex", "system", 1762992000},
		{"gpt-5", "system", 1754425777},
		{"gpt-5-mini", "system", 1754425928},
		{"gpt-5-nano", "system", 1754426384},
		{"gpt-4.1", "system", 1744316542},
		{"gpt-4.1-mini", "system", 1744318173},
		{"gpt-4o", "system", 1715367049},
		{"gpt-4o-mini", "system", 1721172741},
		{"o3", "system", 1744225308},
		{"o4-mini", "system", 1744225351},
		{"gpt-3.5-turbo-instruct", "system", 1692901427},
		{"babbage-002", "system", 1692634615},
		{"text-embedding-3-small", "system", 1705948997},
		{"text-embedding-3-large", "system", 1705953180},
		{"text-embedding-ada-002", "openai-internal", 1671217299},
		{"claude-opus-5", "anthropic", 1776729600},
		{"claude-sonnet-5", "anthropic", 1776729600},
		{"claude-opus-4-8", "anthropic", 1771891200},
		{"claude-sonnet-4-6", "anthropic", 1770681600},
		{"claude-haiku-4-5", "anthropic", 1760486400},
		{"claude-sonnet-4-5", "anthropic", 1759104000},
	}
}

// Models lists the model ids the simulator advertises (OpenAI-style and Claude-style).
// The simulator answers for any other name too, except the deliberately unknown ones.
func Models() []string {
	c := catalog()
	ids := make([]string, len(c))
	for i, m := range c {
		ids[i] = m.id
	}
	return ids
}

// modelUnknown reports the names reserved for exercising not-found paths: everything else is
// accepted so a gateway configuration can use whichever model names it likes.
func modelUnknown(model string) bool {
	return model == "unknown-model" || strings.HasPrefix(model, "does-not-exist")
}

// modelReasons reports whether the model family spends hidden reasoning tokens, which OpenAI
// reports in completion_tokens_details.reasoning_tokens.
func modelReasons(model string) bool {
	return strings.HasPrefix(model, "o") || strings.HasPrefix(model, "gpt-5")
}

// embeddingDimensions is the native vector size of an embedding model.
func embeddingDimensions(model string) int {
	if strings.HasPrefix(model, "text-embedding-3-large") {
		return 3072
	}
	return 1536
}

// modelObject is one entry of GET /v1/models.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// modelList is the OpenAI list envelope.
type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request, start time.Time) {
	c := catalog()
	list := modelList{Object: "list", Data: make([]modelObject, len(c))}
	for i, m := range c {
		list.Data[i] = modelObject{ID: m.id, Object: "model", Created: m.created, OwnedBy: m.ownedBy}
	}
	s.openAIHeaders(w, start, 0)
	s.writeJSON(w, http.StatusOK, list)
}
